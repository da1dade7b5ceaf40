// musclecsa batch: every analysable CT (and with --include-mr MR) series of an archive, each case in its own child process,
// state and measurements in DIR/batch.sqlite, resumable (docs/batch.md).

#include <algorithm>
#include <csignal>
#include <iostream>
#include <memory>

#include "commands.h"
#include "musclecsa/batch/batch.h"
#include "musclecsa/batch/console_observer.h"
#include "musclecsa/core/error.h"
#include "musclecsa/core/progress.h"

namespace musclecsa::app {
namespace {

struct BatchCommandOptions {
  std::vector<std::string> archives;
  std::string out, protocol = "auto", mr_protocol;
  bool include_mr = false;
  std::string manifest, shard;
  bool plan = false;
  std::size_t slurm_shards = 0;
  std::size_t parallel_cases = 1;
  std::size_t threads_per_case = 0;
  bool resume = false, quiet = false;
  double timeout_s = 600;
  std::size_t memory_limit_mb = 4096;
};

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_interrupt(int) { g_interrupted = 1; }

/// SIGINT/SIGTERM stop the batch cleanly (running cases killed and left for --resume) while installed.
class InterruptGuard {
 public:
  InterruptGuard() {
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~InterruptGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

/// --plan and --slurm: the manifest of the archives and/or the job-array script; nothing is analysed.
int plan_batch_command(const BatchCommandOptions& o) {
  if (!o.shard.empty()) throw Error(ErrorCode::InvalidArgument, "--shard", "a shard is run, not planned: leave out --plan and --slurm");
  if (o.resume) throw Error(ErrorCode::InvalidArgument, "--resume", "planning runs nothing to resume: leave out --plan and --slurm");
  const std::string protocol = batch::resolve_protocol(o.protocol);
  const std::filesystem::path out = o.out;
  std::filesystem::path manifest_path;
  std::vector<batch::CaseSpec> cases;  // the planned cases, or the given manifest's
  if (!o.archives.empty()) {
    if (!o.manifest.empty())
      throw Error(ErrorCode::InvalidArgument, "--manifest", "--plan writes a new manifest of the archives: give either ARCHIVE or --manifest");
    std::vector<std::filesystem::path> archives(o.archives.begin(), o.archives.end());
    NullProgress progress;
    const batch::Discovery discovery = batch::discover_cases(archives, progress, {o.include_mr});
    manifest_path = std::filesystem::absolute(out / "manifest.json").lexically_normal();
    batch::write_manifest(manifest_path, archives, discovery);
    cases = discovery.cases;
    std::size_t series = 0, files = 0;
    for (const auto& s : discovery.skipped) (s.kind == "series" ? series : files)++;
    if (!o.quiet)
      std::cout << "MuscleCSA batch plan: " << cases.size() << " case(s); " << series << " series and " << files
                << " file(s) skipped\n  manifest: " << manifest_path.string() << "\n";
  } else if (!o.manifest.empty()) {
    if (o.slurm_shards == 0)
      throw Error(ErrorCode::InvalidArgument, "--plan", "a manifest is planned from archives: name ARCHIVE (or add --slurm N to script this manifest)");
    manifest_path = std::filesystem::absolute(o.manifest).lexically_normal();
    cases = batch::read_manifest(manifest_path).discovery.cases;
  } else {
    throw Error(ErrorCode::InvalidArgument, "ARCHIVE", "name the files or folders to plan, or a --manifest to script");
  }
  if (o.slurm_shards == 0) return 0;
  batch::SlurmOptions slurm;
  slurm.manifest = manifest_path;
  slurm.out_dir = out;
  slurm.shard_count = o.slurm_shards;
  slurm.case_count = cases.size();
  slurm.protocol = protocol;
  // The MR protocol goes into the script when the manifest has MR cases (a file made absolute).
  if (std::any_of(cases.begin(), cases.end(), [](const batch::CaseSpec& c) { return c.modality == "MR"; }))
    slurm.mr_protocol = batch::mr_protocol_for(o.protocol, o.mr_protocol);
  slurm.parallel_cases = o.parallel_cases;
  slurm.timeout_s = o.timeout_s;
  slurm.memory_limit_mb = o.memory_limit_mb;
  slurm.musclecsa = std::filesystem::read_symlink("/proc/self/exe");
  const auto script = batch::write_slurm_script(slurm);
  if (!o.quiet)
    std::cout << "  slurm:    " << script.string() << " (" << o.slurm_shards << " array task(s), shards in "
              << (std::filesystem::absolute(out).lexically_normal() / "shards").string() << "/<task>/)\n"
              << "  submit:   sbatch " << script.string() << "\n  then:     musclecsa merge "
              << (std::filesystem::absolute(out).lexically_normal() / "shards").string() << "/* --out "
              << std::filesystem::absolute(out).lexically_normal().string() << "\n";
  return 0;
}

int run_batch_command(const BatchCommandOptions& o) {
  if (o.plan || o.slurm_shards > 0) return plan_batch_command(o);
  batch::BatchOptions options;
  for (const auto& a : o.archives) options.archives.emplace_back(a);
  options.manifest = o.manifest;
  if (!o.shard.empty()) options.shard = batch::parse_shard(o.shard);
  options.out_dir = o.out;
  options.protocol = o.protocol;
  options.include_mr = o.include_mr;
  options.mr_protocol = o.mr_protocol;
  options.parallel_cases = o.parallel_cases;
  options.threads_per_case = o.threads_per_case;
  options.resume = o.resume;
  options.timeout_s = o.timeout_s;
  options.memory_limit_mb = o.memory_limit_mb;

  g_interrupted = 0;
  InterruptGuard guard;
  batch::ConsoleBatchObserver console(o.quiet, [] { return g_interrupted != 0; });
  const batch::BatchSummary summary = batch::run_batch(options, console);
  console.clear();
  if (o.quiet) return 0;

  const auto count = [&](const char* status) {
    const auto it = summary.by_status.find(status);
    return it == summary.by_status.end() ? std::size_t(0) : it->second;
  };
  std::cout << "MuscleCSA batch: " << summary.case_count << " case(s): " << count("done") << " done, " << count("failed")
            << " failed";
  const std::size_t other = summary.case_count - count("done") - count("failed");
  if (other > 0) std::cout << ", " << other << " not run";
  std::cout << " (" << summary.cases_run << " run now); " << summary.skipped_series << " series and "
            << summary.skipped_files << " file(s) skipped\n";
  if (!summary.by_reason.empty()) {
    std::cout << "  by reason:";
    for (const auto& [reason, n] : summary.by_reason) std::cout << " " << reason << " " << n << ";";
    std::cout << "\n";
  }
  if (count("failed") > 0)
    std::cout << "  failed cases: the reason and the end of standard error are in " << (std::filesystem::path(o.out) / "cases").string()
              << "/<case_id>/error.txt and the database's cases table; --resume runs them again\n";
  std::cout << "  database: " << summary.database.string() << "\n  results:  " << summary.results_csv.string() << "\n";
  return 0;
}

}  // namespace

Command add_batch_command(CLI::App& app) {
  auto options = std::make_shared<BatchCommandOptions>();
  auto& o = *options;
  CLI::App* cmd = app.add_subcommand(
      "batch", "analyse every CT series (and MR with --include-mr) of scan archives, each case in its own process; state in DIR/batch.sqlite");
  cmd->add_option("archives", o.archives, "files, folders or DICOMDIRs to search for series");
  cmd->add_option("--out", o.out, "output folder: batch.sqlite, results.csv, cases/<case_id>/")->required();
  cmd->add_option("--protocol", o.protocol, "thigh-ct, calf-ct, auto (from the bones) or a protocol JSON file");
  cmd->add_flag("--include-mr", o.include_mr,
                "analyse MR series too: each T1/T2-weighted series, and each Dixon set (water + fat of one study and grid)");
  cmd->add_option("--mr-protocol", o.mr_protocol,
                  "protocol of the MR cases: thigh-mr, calf-mr, auto or an MR protocol file (default: the region of --protocol)");
  cmd->add_option("-j,--jobs", o.parallel_cases, "cases analysed at the same time")->check(CLI::Range(1, 256));
  cmd->add_option("--threads-per-case", o.threads_per_case,
                  "analysis threads of each case; default: the CPUs this process may use divided by -j (at least 1)")
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--resume", o.resume, "continue the batch in --out: finished cases are kept, the others run again");
  cmd->add_option("--timeout-s", o.timeout_s, "per-case time limit in seconds; the case's processes are killed after it")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--memory-mb", o.memory_limit_mb, "per-case memory (address space) limit in MB; 0 = none");
  cmd->add_flag("--quiet", o.quiet, "print only errors");
  cmd->add_flag("--plan", o.plan, "only write the case manifest DIR/manifest.json (cases and skipped items); analyse nothing");
  cmd->add_option("--slurm", o.slurm_shards, "write DIR/batch.sbatch, a Slurm job array of N tasks, one shard each (plans too)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--manifest", o.manifest, "run the cases of this manifest (from --plan) instead of scanning archives");
  cmd->add_option("--shard", o.shard, "with --manifest: run only shard I of N (cases whose manifest index % N == I)");
  return {cmd, [options] { return run_batch_command(*options); }};
}

}  // namespace musclecsa::app
