// merge_batches: shard databases (or any batches of one protocol) into one batch folder. The
// merged database is built under a temporary name, the case folders are copied, and only then is
// it renamed to batch.sqlite, so an interrupted merge leaves no database and can simply be re-run.

#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "batch_state.h"
#include "database.h"
#include "musclecsa/batch/batch.h"
#include "musclecsa/core/error.h"
#include "musclecsa/version.h"

namespace musclecsa::batch {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

void remove_path(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) throw Error(ErrorCode::OutputFailed, path.string(), "cannot remove: " + ec.message());
}

/// Removes the temporary database (and its WAL files) unless released.
class TemporaryDatabaseFile {
 public:
  explicit TemporaryDatabaseFile(fs::path path) : path_(std::move(path)) { remove_all_parts(); }
  ~TemporaryDatabaseFile() {
    if (!released_) remove_all_parts();
  }
  TemporaryDatabaseFile(const TemporaryDatabaseFile&) = delete;
  TemporaryDatabaseFile& operator=(const TemporaryDatabaseFile&) = delete;
  void release() { released_ = true; }
  const fs::path& path() const { return path_; }

 private:
  void remove_all_parts() {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(path_.string() + suffix, ec);
  }
  fs::path path_;
  bool released_ = false;
};

std::string info_value(Database& db, const std::string& key) {
  auto q = db.prepare("SELECT value FROM src.batch_info WHERE key = ?1");
  q.bind(1, key);
  return q.step() ? q.text(0) : std::string();
}

/// "manifest ID shard I/N" -> (ID, I, N); false for other sources.
bool parse_shard_source(const std::string& source, std::string& manifest_id, Shard& shard) {
  const std::string prefix = "manifest ";
  const auto shard_word = source.find(" shard ");
  if (source.rfind(prefix, 0) != 0 || shard_word == std::string::npos) return false;
  manifest_id = source.substr(prefix.size(), shard_word - prefix.size());
  try {
    shard = parse_shard(source.substr(shard_word + 7));
  } catch (const Error&) {
    return false;
  }
  return true;
}

/// Copies `from` (a case folder or log file) to `to` through `to`.partial and a rename.
void copy_into_place(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  if (!fs::exists(from, ec)) return;
  const fs::path partial = to.string() + ".partial";
  remove_path(partial);
  fs::create_directories(to.parent_path(), ec);
  fs::copy(from, partial, fs::copy_options::recursive, ec);
  if (ec) throw Error(ErrorCode::OutputFailed, to.string(), "cannot copy " + from.string() + ": " + ec.message());
  remove_path(to);
  fs::rename(partial, to, ec);
  if (ec) throw Error(ErrorCode::OutputFailed, to.string(), "cannot rename the copy into place: " + ec.message());
}

}  // namespace

MergeSummary merge_batches(const std::vector<fs::path>& inputs, const fs::path& out_dir) {
  if (inputs.empty()) throw Error(ErrorCode::InvalidArgument, "BATCH_DIR", "name at least one batch (shard) folder to merge");
  if (out_dir.empty()) throw Error(ErrorCode::InvalidArgument, "--out", "an output folder is required");
  for (const auto& input : inputs) {
    std::error_code ec;
    if (!fs::is_regular_file(input / "batch.sqlite", ec))
      throw Error(ErrorCode::InputNotFound, input.string(), "no batch.sqlite here: not a batch or shard folder");
  }
  const fs::path db_path = out_dir / "batch.sqlite";
  if (fs::exists(db_path))
    throw Error(ErrorCode::InvalidArgument, db_path.string(),
                "a batch database is already here (it is never overwritten): merge into another --out folder");
  std::error_code ec;
  fs::create_directories(out_dir / "cases", ec);
  if (ec) throw Error(ErrorCode::OutputFailed, out_dir.string(), "cannot create the output folder: " + ec.message());
  FolderLock lock(out_dir / "batch.lock");

  TemporaryDatabaseFile temporary(out_dir / (".batch.sqlite.merging-" + std::to_string(::getpid())));
  MergeSummary summary;
  summary.inputs = inputs.size();
  std::map<std::string, std::size_t> origin;  // case id -> the input it is taken from
  {
    Database db(temporary.path());
    db.exec(kSchema);
    std::string protocol, mr_protocol;
    std::map<std::string, std::pair<std::size_t, std::set<std::size_t>>> shards_of;  // manifest id -> (N, shards seen)
    json merged_from = json::array();
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const fs::path& input = inputs[i];
      const std::string name = input.string();
      merged_from.push_back(fs::absolute(input).lexically_normal().string());
      db.prepare("ATTACH DATABASE ?1 AS src").bind(1, (input / "batch.sqlite").string()).run();
      {
        const std::string version = info_value(db, "schema_version");
        if (version != std::to_string(kSchemaVersion))
          throw Error(ErrorCode::InvalidInput, (input / "batch.sqlite").string(),
                      "batch database schema version '" + version + "'; this musclecsa merges version " +
                          std::to_string(kSchemaVersion));
        const std::string input_protocol = info_value(db, "protocol");
        if (i == 0) protocol = input_protocol;
        else if (input_protocol != protocol)
          throw Error(ErrorCode::InvalidArgument, name,
                      "run with --protocol " + input_protocol + " but " + inputs[0].string() + " with --protocol " + protocol +
                          ": only batches of one protocol are merged");
        // Batches written before MR cases existed have no MR protocol: they agree with any.
        const std::string input_mr_protocol = info_value(db, "mr_protocol");
        if (mr_protocol.empty()) mr_protocol = input_mr_protocol;
        else if (!input_mr_protocol.empty() && input_mr_protocol != mr_protocol)
          throw Error(ErrorCode::InvalidArgument, name,
                      "ran its MR cases with " + input_mr_protocol + " but " + inputs[0].string() + " with " + mr_protocol +
                          ": only batches of one protocol are merged");
        std::string manifest_id;
        Shard shard;
        if (parse_shard_source(info_value(db, "source"), manifest_id, shard)) {
          auto& [count, seen] = shards_of[manifest_id];
          count = std::max(count, shard.count);
          seen.insert(shard.index);
        }

        Transaction t(db);
        // A case already merged from an earlier input must be the same result, or nothing is merged.
        auto conflict = db.prepare(
            "SELECT s.case_id, s.status || ' ' || s.reason_code || ' (' || s.measurement_count || ' measurements)',"
            " m.status || ' ' || m.reason_code || ' (' || m.measurement_count || ' measurements)'"
            " FROM src.cases s JOIN main.cases m ON m.case_id = s.case_id"
            " WHERE NOT (s.series_id IS m.series_id AND s.status IS m.status AND s.reason_code IS m.reason_code"
            " AND s.measurement_count IS m.measurement_count AND s.protocol_hash IS m.protocol_hash) LIMIT 1");
        if (conflict.step()) {
          const std::string id = conflict.text(0);
          throw Error(ErrorCode::InvalidInput, name,
                      "case " + id + " is " + conflict.text(1) + " here but " + conflict.text(2) + " in " +
                          inputs[origin.at(id)].string() + ": conflicting duplicate, nothing merged");
        }
        auto measurement_conflict = db.prepare(
            "SELECT case_id FROM (SELECT case_id, seq, quantity, value, unit, structure, structure_code, side, level, slice,"
            " z_mm FROM src.measurements WHERE case_id IN (SELECT case_id FROM main.cases)"
            " EXCEPT SELECT case_id, seq, quantity, value, unit, structure, structure_code, side, level, slice, z_mm"
            " FROM main.measurements) LIMIT 1");
        if (measurement_conflict.step()) {
          const std::string id = measurement_conflict.text(0);
          throw Error(ErrorCode::InvalidInput, name,
                      "case " + id + " has different measurement values here than in " + inputs[origin.at(id)].string() +
                          ": conflicting duplicate, nothing merged");
        }
        auto skipped_conflict = db.prepare(
            "SELECT s.kind, s.item, s.reason_code, m.reason_code FROM src.skipped s JOIN main.skipped m"
            " ON m.kind = s.kind AND m.item = s.item WHERE s.reason_code IS NOT m.reason_code LIMIT 1");
        if (skipped_conflict.step())
          throw Error(ErrorCode::InvalidInput, name,
                      "skipped " + skipped_conflict.text(0) + " " + skipped_conflict.text(1) + " has reason " +
                          skipped_conflict.text(2) + " here but " + skipped_conflict.text(3) +
                          " in an earlier folder: conflicting duplicate, nothing merged");

        {
          auto duplicates = db.prepare("SELECT COUNT(*) FROM src.cases WHERE case_id IN (SELECT case_id FROM main.cases)");
          duplicates.step();
          summary.identical_duplicates += std::size_t(duplicates.integer(0));
        }
        db.exec("CREATE TEMP TABLE new_cases AS SELECT case_id FROM src.cases WHERE case_id NOT IN (SELECT case_id FROM main.cases)");
        {
          auto ids = db.prepare("SELECT case_id FROM temp.new_cases");
          while (ids.step()) origin.emplace(ids.text(0), i);
        }
        db.exec("INSERT INTO main.cases SELECT * FROM src.cases WHERE case_id IN (SELECT case_id FROM temp.new_cases);"
                "INSERT INTO main.measurements SELECT * FROM src.measurements WHERE case_id IN (SELECT case_id FROM temp.new_cases);"
                "INSERT OR IGNORE INTO main.skipped SELECT * FROM src.skipped;"
                "DROP TABLE temp.new_cases;");
        t.commit();
      }
      db.exec("DETACH DATABASE src");
    }
    {
      Transaction t(db);
      auto put = db.prepare("INSERT INTO batch_info (key, value) VALUES (?1, ?2)");
      const std::vector<std::pair<std::string, std::string>> info = {
          {"schema_version", std::to_string(kSchemaVersion)}, {"protocol", protocol}, {"mr_protocol", mr_protocol},
          {"created_utc", utc_now()},                          {"software", "MuscleCSA " MUSCLECSA_VERSION_STRING},
          {"source", "merge"},                                  {"merged_from", merged_from.dump()}};
      for (const auto& [key, value] : info) put.bind(1, key).bind(2, value).run();
      t.commit();
    }

    for (const auto& [manifest_id, shards] : shards_of) {
      std::string missing;
      for (std::size_t s = 0; s < shards.first; ++s)
        if (!shards.second.count(s)) missing += (missing.empty() ? "" : ", ") + std::to_string(s);
      if (!missing.empty())
        summary.warnings.push_back("manifest " + manifest_id + ": shard(s) " + missing + " of " +
                                   std::to_string(shards.first) + " are not among the merged folders: their cases are missing");
    }
    {
      auto q = db.prepare("SELECT status, COUNT(*) FROM cases GROUP BY status");
      while (q.step()) summary.by_status[q.text(0)] = std::size_t(q.integer(1));
      for (const auto& [status, count] : summary.by_status) summary.case_count += count;
      const std::size_t unfinished = summary.case_count - summary.by_status["done"] - summary.by_status["failed"];
      if (unfinished > 0)
        summary.warnings.push_back(std::to_string(unfinished) +
                                   " case(s) were not finished in their folder (pending or running): run that shard again "
                                   "with --resume, then merge again into a new folder");
    }
    {
      auto q = db.prepare("SELECT SUM(kind = 'series'), SUM(kind = 'file') FROM skipped");
      q.step();
      summary.skipped_series = std::size_t(q.integer(0));
      summary.skipped_files = std::size_t(q.integer(1));
    }

    // Case folders and logs are copied (the shards stay complete), each through a .partial name.
    for (const auto& [id, i] : origin) {
      copy_into_place(inputs[i] / "cases" / id, out_dir / "cases" / id);
      copy_into_place(inputs[i] / "logs" / (id + ".stderr.txt"), out_dir / "logs" / (id + ".stderr.txt"));
    }
    summary.results_csv = write_results_csv(db, out_dir);
  }  // the database is closed (and its WAL checkpointed) before it is renamed into place
  fs::rename(temporary.path(), db_path, ec);
  if (ec) throw Error(ErrorCode::OutputFailed, db_path.string(), "cannot rename the merged database into place: " + ec.message());
  temporary.release();
  summary.database = db_path;
  return summary;
}

}  // namespace musclecsa::batch
