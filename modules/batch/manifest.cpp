// Planning for a cluster: the case manifest (batch --plan), shards of it (batch --shard I/N) and
// the Slurm job-array script that runs one shard per task (batch --slurm N), docs/batch.md.

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "batch_state.h"
#include "musclecsa/batch/batch.h"
#include "musclecsa/core/error.h"
#include "musclecsa/core/text_hash.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/version.h"

namespace musclecsa::batch {
namespace {

using json = nlohmann::json;

constexpr const char* kManifestFormat = "musclecsa-batch-manifest";
constexpr int kManifestVersion = 1;
/// Added to each array task's time limit: reading the manifest, starting, writing results.csv.
constexpr double kTaskMarginS = 600;
/// Added to each array task's memory: the batch process itself (it holds no images).
constexpr std::size_t kTaskMarginMb = 512;

/// A word for a POSIX shell: single-quoted, embedded quotes escaped.
std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// Slurm's D-HH:MM:SS.
std::string slurm_duration(double seconds) {
  const auto s = static_cast<long long>(std::ceil(seconds));
  char text[48];
  std::snprintf(text, sizeof text, "%lld-%02lld:%02lld:%02lld", s / 86400, (s / 3600) % 24, (s / 60) % 60, s % 60);
  return text;
}

std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

}  // namespace

void write_manifest(const std::filesystem::path& path, const std::vector<std::filesystem::path>& archives,
                    const Discovery& discovery) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec))
    throw Error(ErrorCode::InvalidArgument, path.string(),
                "a manifest is already here (shards may be running from it): it is never overwritten; choose another --out folder");
  json m;
  m["format"] = kManifestFormat;
  m["version"] = kManifestVersion;
  m["software"] = "MuscleCSA " MUSCLECSA_VERSION_STRING;
  m["created_utc"] = utc_now();
  m["archives"] = json::array();
  for (const auto& a : archives) m["archives"].push_back(std::filesystem::absolute(a).lexically_normal().string());
  m["files_seen"] = discovery.files_seen;
  m["cases"] = json::array();
  for (std::size_t i = 0; i < discovery.cases.size(); ++i) {
    const CaseSpec& c = discovery.cases[i];
    json files = json::array();
    for (const auto& f : c.files) files.push_back(f.string());
    m["cases"].push_back({{"index", i},
                          {"case_id", c.case_id},
                          {"series_id", c.series_id},
                          {"series_instance_uid", c.series_instance_uid},
                          {"study_instance_uid", c.study_instance_uid},
                          {"series_description", c.series_description},
                          {"series_number", c.series_number},
                          {"slice_count", c.slice_count},
                          {"modality", c.modality},
                          {"files", std::move(files)}});
  }
  m["skipped"] = json::array();
  for (const auto& s : discovery.skipped)
    m["skipped"].push_back({{"kind", s.kind},
                            {"item", s.item},
                            {"series_instance_uid", s.series_instance_uid},
                            {"description", s.description},
                            {"reason_code", s.reason_code},
                            {"message", s.message}});
  io::write_text_atomically(path, m.dump(1) + "\n");
}

Manifest read_manifest(const std::filesystem::path& path) {
  const std::string text = io::read_text(path);
  Manifest manifest;
  manifest.manifest_id = fnv1a_64_hex(text);
  try {
    const json m = json::parse(text);
    if (m.value("format", "") != kManifestFormat)
      throw Error(ErrorCode::InvalidInput, path.string(), "not a musclecsa batch manifest (written by batch --plan)");
    if (m.at("version").get<int>() != kManifestVersion)
      throw Error(ErrorCode::InvalidInput, path.string(),
                  "manifest version " + m.at("version").dump() + "; this musclecsa reads version " +
                      std::to_string(kManifestVersion) + ": plan the batch again");
    for (const auto& a : m.at("archives")) manifest.archives.emplace_back(a.get<std::string>());
    manifest.discovery.files_seen = m.value("files_seen", std::size_t(0));
    const auto& cases = m.at("cases");
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const json& j = cases[i];
      if (j.at("index").get<std::size_t>() != i)
        throw Error(ErrorCode::InvalidInput, path.string(), "case " + std::to_string(i) + " has index " + j.at("index").dump());
      CaseSpec c;
      c.case_id = j.at("case_id").get<std::string>();
      c.series_id = j.at("series_id").get<std::string>();
      c.series_instance_uid = j.at("series_instance_uid").get<std::string>();
      c.study_instance_uid = j.at("study_instance_uid").get<std::string>();
      c.series_description = j.at("series_description").get<std::string>();
      c.series_number = j.at("series_number").get<int>();
      c.slice_count = j.at("slice_count").get<std::size_t>();
      c.modality = j.value("modality", std::string("CT"));
      if (c.modality != "CT" && c.modality != "MR")
        throw Error(ErrorCode::InvalidInput, path.string(), "case " + std::to_string(i) + " has modality " + c.modality + " (CT or MR)");
      for (const auto& f : j.at("files")) c.files.emplace_back(f.get<std::string>());
      if (c.case_id.empty() || c.case_id != case_id_for(c.series_id) || c.files.empty())
        throw Error(ErrorCode::InvalidInput, path.string(),
                    "case " + std::to_string(i) + " (" + c.case_id + "): the case id does not match its series id, or it has no files");
      manifest.discovery.cases.push_back(std::move(c));
    }
    for (const auto& j : m.at("skipped"))
      manifest.discovery.skipped.push_back({j.at("kind").get<std::string>(), j.at("item").get<std::string>(),
                                            j.at("series_instance_uid").get<std::string>(),
                                            j.at("description").get<std::string>(), j.at("reason_code").get<std::string>(),
                                            j.at("message").get<std::string>()});
  } catch (const json::exception& e) {
    throw Error(ErrorCode::InvalidInput, path.string(), std::string("not a readable batch manifest: ") + e.what());
  }
  return manifest;
}

Shard parse_shard(const std::string& text) {
  Shard shard;
  const auto slash = text.find('/');
  const auto number = [&](std::size_t from, std::size_t to, std::size_t& value) {
    const char* first = text.data() + from;
    const char* last = text.data() + to;
    const auto r = std::from_chars(first, last, value);
    return first != last && r.ec == std::errc() && r.ptr == last;
  };
  if (slash == std::string::npos || !number(0, slash, shard.index) || !number(slash + 1, text.size(), shard.count) ||
      shard.count < 1 || shard.index >= shard.count)
    throw Error(ErrorCode::InvalidArgument, "--shard " + text, "expected I/N with 0 <= I < N, e.g. 0/4");
  return shard;
}

std::string slurm_script(const SlurmOptions& o) {
  if (o.shard_count < 1) throw Error(ErrorCode::InvalidArgument, "--slurm", "at least one shard (array task) is needed");
  const std::size_t per_task = std::max<std::size_t>(1, ceil_div(o.case_count, o.shard_count));
  const std::size_t waves = ceil_div(per_task, std::max<std::size_t>(1, o.parallel_cases));
  const auto out_dir = std::filesystem::absolute(o.out_dir).lexically_normal();
  const auto shards = out_dir / "shards";
  std::string s = "#!/bin/bash\n";
  s += "# MuscleCSA batch on Slurm: one array task per shard of " + o.manifest.string() + "\n";
  s += "# (" + std::to_string(o.case_count) + " case(s), at most " + std::to_string(per_task) +
       " per task). Submit: sbatch " + (out_dir / "batch.sbatch").string() + "\n";
  s += "# then, when every task has finished: musclecsa merge " + shards.string() + "/* --out " + out_dir.string() + "\n";
  s += "# A task that was stopped continues where it was when the script is submitted again (--resume).\n";
  s += "# sbatch options on the command line override the lines below (e.g. --partition, --account).\n";
  s += "#SBATCH --job-name=musclecsa-batch\n";
  s += "#SBATCH --array=0-" + std::to_string(o.shard_count - 1) + "\n";
  s += "#SBATCH --ntasks=1\n";
  s += "#SBATCH --cpus-per-task=" + std::to_string(o.parallel_cases) + "\n";
  s += "#SBATCH --time=" + slurm_duration(double(waves) * o.timeout_s + kTaskMarginS) + "\n";
  if (o.memory_limit_mb > 0)
    s += "#SBATCH --mem=" + std::to_string(o.parallel_cases * o.memory_limit_mb + kTaskMarginMb) + "M\n";
  else s += "# no --mem: the cases have no memory limit (--memory-mb 0), the partition's default applies\n";
  s += "#SBATCH --output=" + (shards / "%a" / "slurm-%A_%a.out").string() + "\n";
  s += "#SBATCH --error=" + (shards / "%a" / "slurm-%A_%a.err").string() + "\n";
  s += "set -euo pipefail\n";
  s += "task=\"${SLURM_ARRAY_TASK_ID:?run this script with sbatch: it is a job array}\"\n";
  s += "exec " + shell_quote(o.musclecsa.string()) + " batch --manifest " + shell_quote(o.manifest.string()) +
       " --shard \"$task/" + std::to_string(o.shard_count) + "\" --out " + shell_quote(shards.string()) +
       "/\"$task\" --resume --protocol " + shell_quote(o.protocol) +
       (o.mr_protocol.empty() ? std::string() : " --mr-protocol " + shell_quote(o.mr_protocol)) + " -j " +
       std::to_string(o.parallel_cases) +
       " --timeout-s " + format_number(o.timeout_s) + " --memory-mb " + std::to_string(o.memory_limit_mb) + "\n";
  return s;
}

std::filesystem::path write_slurm_script(const SlurmOptions& o) {
  const std::string script = slurm_script(o);
  const auto out_dir = std::filesystem::absolute(o.out_dir).lexically_normal();
  // Slurm does not create the folder of --output/--error (the task's shard folder): a task would
  // fail without a trace.
  for (std::size_t task = 0; task < o.shard_count; ++task) {
    const auto folder = out_dir / "shards" / std::to_string(task);
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) throw Error(ErrorCode::OutputFailed, folder.string(), "cannot create the folder: " + ec.message());
  }
  const auto path = out_dir / "batch.sbatch";
  io::write_text_atomically(path, script);
  if (::chmod(path.c_str(), 0755) != 0)
    throw Error(ErrorCode::OutputFailed, path.string(), "cannot make the script executable");
  return path;
}

}  // namespace musclecsa::batch
