// run_batch: the case loop. Each case runs `musclecsa analyze` in a child process; its outputs are
// written to cases/<id>.partial, renamed to cases/<id> when complete, and then its status and every
// measurement are committed to batch.sqlite in one transaction (docs/batch.md).

#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "batch_state.h"
#include "child_process.h"
#include "database.h"
#include "musclecsa/batch/batch.h"
#include "musclecsa/core/error.h"
#include "musclecsa/core/parallel.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/version.h"

namespace musclecsa::batch {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr std::size_t kStderrTailBytes = 4096;


void remove_tree(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) throw Error(ErrorCode::OutputFailed, path.string(), "cannot remove the stale folder: " + ec.message());
}

std::string last_line(const std::string& text) {
  std::istringstream lines(text);
  std::string line, last;
  while (std::getline(lines, line))
    if (!line.empty()) last = line;
  return last;
}

/// Standard-error signs that a case ran out of its address space (RLIMIT_AS): a failed allocation,
/// a thread stack that could not be mapped, or shared libraries that could not be loaded at all.
bool hit_memory_limit(const std::string& stderr_text) {
  for (const char* sign : {"out of memory", "bad_alloc", "Cannot allocate memory", "failed to map segment",
                           "pthread_create has failed: Resource temporarily unavailable"})
    if (stderr_text.find(sign) != std::string::npos) return true;
  return false;
}

/// `value` when it is one of the built-in names, else the absolute path of an existing file.
std::string builtin_or_file(const std::string& value, const std::string& a, const std::string& b, const std::string& option,
                            const std::string& file_kind) {
  if (value == "auto" || value == a || value == b) return value;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(value, ec))
    throw Error(ErrorCode::InputNotFound, option + " " + value,
                "neither " + a + ", " + b + ", auto nor an existing " + file_kind + " JSON file");
  return std::filesystem::absolute(value).lexically_normal().string();
}

void check_options(const BatchOptions& o) {
  if (o.archives.empty() && o.manifest.empty())
    throw Error(ErrorCode::InvalidArgument, "ARCHIVE", "name at least one file or folder to process, or a --manifest");
  if (!o.archives.empty() && !o.manifest.empty())
    throw Error(ErrorCode::InvalidArgument, "--manifest", "a manifest already names the cases: give no ARCHIVE with it");
  if (o.shard.count < 1 || o.shard.index >= o.shard.count)
    throw Error(ErrorCode::InvalidArgument, "--shard", "the shard index must be below the shard count");
  if (o.shard.count > 1 && o.manifest.empty())
    throw Error(ErrorCode::InvalidArgument, "--shard", "shards are parts of a manifest: add --manifest (written by --plan)");
  if (o.out_dir.empty()) throw Error(ErrorCode::InvalidArgument, "--out", "an output folder is required");
  if (o.parallel_cases < 1 || o.parallel_cases > 256)
    throw Error(ErrorCode::InvalidArgument, "-j " + std::to_string(o.parallel_cases), "must be 1..256 cases at a time");
  if (o.threads_per_case > 1024)
    throw Error(ErrorCode::InvalidArgument, "--threads-per-case " + std::to_string(o.threads_per_case), "must be 1..1024, or 0 for automatic");
  if (!(o.timeout_s > 0)) throw Error(ErrorCode::InvalidArgument, "--timeout-s", "must be a positive number of seconds");
  if (o.memory_limit_mb != 0 && o.memory_limit_mb < 64)
    throw Error(ErrorCode::InvalidArgument, "--memory-mb " + std::to_string(o.memory_limit_mb),
                "must be at least 64 (MB), or 0 for no limit");
}

struct RunningCase {
  const CaseSpec* spec = nullptr;
  pid_t pid = 0;
  Clock::time_point start;
  Clock::time_point end;  ///< when its process was found ended
  std::string started_utc;
};

class BatchRun {
 public:
  BatchRun(const BatchOptions& options, BatchObserver& observer, Database& db, std::string protocol, std::string mr_protocol)
      : o_(options), observer_(observer), db_(db), protocol_(std::move(protocol)), mr_protocol_(std::move(mr_protocol)),
        threads_per_case_(options.threads_per_case > 0
                              ? options.threads_per_case
                              : std::max<std::size_t>(1, worker_thread_count() / options.parallel_cases)) {}

  std::filesystem::path cases_dir() const { return o_.out_dir / "cases"; }
  std::filesystem::path partial_dir(const CaseSpec& c) const { return cases_dir() / (c.case_id + ".partial"); }
  std::filesystem::path final_dir(const CaseSpec& c) const { return cases_dir() / c.case_id; }
  std::filesystem::path stderr_file(const CaseSpec& c) const { return o_.out_dir / "logs" / (c.case_id + ".stderr.txt"); }
  std::filesystem::path manifest_file(const CaseSpec& c) const { return o_.out_dir / "manifests" / (c.case_id + ".txt"); }

  /// Records the discovery: new cases as pending (known ones keep their status), skipped items replaced.
  void record_discovery(const Discovery& d) {
    Transaction t(db_);
    auto insert = db_.prepare(
        "INSERT INTO cases (case_id, series_id, series_instance_uid, study_instance_uid, series_description,"
        " series_number, slice_count, file_count, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending')"
        " ON CONFLICT (case_id) DO UPDATE SET series_id = ?2, series_instance_uid = ?3, study_instance_uid = ?4,"
        " series_description = ?5, series_number = ?6, slice_count = ?7, file_count = ?8");
    for (const auto& c : d.cases) {
      insert.bind(1, c.case_id).bind(2, c.series_id).bind(3, c.series_instance_uid).bind(4, c.study_instance_uid);
      insert.bind(5, c.series_description).bind(6, std::int64_t(c.series_number));
      insert.bind(7, std::int64_t(c.slice_count)).bind(8, std::int64_t(c.files.size()));
      insert.run();
    }
    db_.exec("DELETE FROM skipped");
    auto skip = db_.prepare(
        "INSERT OR REPLACE INTO skipped (kind, item, series_instance_uid, description, reason_code, message)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    for (const auto& s : d.skipped) {
      skip.bind(1, s.kind).bind(2, s.item).bind(3, s.series_instance_uid).bind(4, s.description);
      skip.bind(5, s.reason_code).bind(6, s.message);
      skip.run();
    }
    t.commit();
  }

  std::string status_of(const std::string& case_id) {
    auto q = db_.prepare("SELECT status FROM cases WHERE case_id = ?1");
    q.bind(1, case_id);
    return q.step() ? q.text(0) : std::string();
  }

  RunningCase start(const CaseSpec& c) {
    // A case is always run from scratch: whatever an interrupted run left is removed first.
    remove_tree(partial_dir(c));
    remove_tree(final_dir(c));
    std::string list;
    for (const auto& f : c.files) list += f.string() + "\n";
    io::write_text_atomically(manifest_file(c), list);
    std::filesystem::create_directories(stderr_file(c).parent_path());
    RunningCase r;
    r.spec = &c;
    r.started_utc = utc_now();
    {
      auto q = db_.prepare(
          "UPDATE cases SET status = 'running', reason_code = '', message = '', exit_code = NULL, signal = NULL,"
          " stderr_tail = '', attempts = attempts + 1, started_utc = ?2, finished_utc = NULL, duration_s = NULL"
          " WHERE case_id = ?1");
      q.bind(1, c.case_id).bind(2, r.started_utc);
      q.run();
    }
    const std::vector<std::string> argv = {o_.analyzer.string(), "analyze", manifest_file(c).string(), "--files-from",
                                           "--out", partial_dir(c).string(), "--protocol",
                                           c.modality == "MR" ? mr_protocol_ : protocol_, "--quiet"};
    r.start = Clock::now();
    r.pid = start_child(argv, stderr_file(c), o_.memory_limit_mb, {"MUSCLECSA_THREADS=" + std::to_string(threads_per_case_)});
    return r;
  }

  CaseOutcome finish(const RunningCase& r, const ChildExit& exit, bool timed_out) {
    const CaseSpec& c = *r.spec;
    CaseOutcome outcome;
    outcome.case_id = c.case_id;
    outcome.series_description = c.series_description;
    outcome.duration_s = std::chrono::duration<double>(r.end - r.start).count();
    const std::string tail = tail_of_file(stderr_file(c), kStderrTailBytes);
    const std::string last = last_line(tail);

    if (timed_out) {
      outcome.reason_code = "timeout";
      outcome.message = "no result within " + format_number(o_.timeout_s) + " s: the case's processes were killed";
    } else if (exit.signalled) {
      outcome.reason_code = "crashed_signal_" + std::to_string(exit.signal);
      outcome.message = std::string("the analysis crashed (") + strsignal(exit.signal) + ")" + (last.empty() ? "" : ": " + last);
    } else if (exit.exit_code != 0) {
      const bool memory = o_.memory_limit_mb > 0 && hit_memory_limit(tail);
      if (memory) outcome.reason_code = "out_of_memory";
      else if (exit.exit_code == 127 && tail.find("musclecsa batch: cannot") != std::string::npos) outcome.reason_code = "spawn_failed";
      else outcome.reason_code = "analysis_error";
      outcome.message = "exit code " + std::to_string(exit.exit_code) + (last.empty() ? "" : ": " + last);
      if (memory) outcome.message += " (memory limit " + std::to_string(o_.memory_limit_mb) + " MB)";
    }
    json results;
    if (outcome.reason_code.empty()) {
      try {
        results = json::parse(io::read_text(partial_dir(c) / "results.json"));
        if (!results.contains("measurements") || !results["measurements"].is_array())
          throw Error(ErrorCode::InvalidInput, "results.json", "no measurements array");
      } catch (const std::exception& e) {
        outcome.reason_code = "results_unreadable";
        outcome.message = std::string("the analysis ended without readable results.json: ") + e.what();
      }
    }
    if (!outcome.reason_code.empty()) {
      fail(c, r, outcome, exit, tail);
      return outcome;
    }
    // Success: the folder is renamed first (atomic), then the database learns of it in one transaction.
    std::error_code ec;
    std::filesystem::rename(partial_dir(c), final_dir(c), ec);
    if (ec) throw Error(ErrorCode::OutputFailed, final_dir(c).string(), "cannot rename the case folder: " + ec.message());
    outcome.status = "done";
    commit_done(c, r, outcome, results);
    return outcome;
  }

  void fail(const CaseSpec& c, const RunningCase& r, CaseOutcome& outcome, const ChildExit& exit, const std::string& tail) {
    outcome.status = "failed";
    remove_tree(partial_dir(c));
    // A folder with error.txt (first line: the reason) is what `musclecsa report` shows as a failed case.
    io::write_text_atomically(final_dir(c) / "error.txt", outcome.reason_code + ": " + outcome.message + "\n\n" +
                                                            "series: " + c.series_id + "\nstandard error (end):\n" + tail);
    Transaction t(db_);
    db_.prepare("DELETE FROM measurements WHERE case_id = ?1").bind(1, c.case_id).run();
    auto q = db_.prepare(
        "UPDATE cases SET status = 'failed', reason_code = ?2, message = ?3, exit_code = ?4, signal = ?5,"
        " stderr_tail = ?6, measurement_count = 0, finished_utc = ?7, duration_s = ?8 WHERE case_id = ?1");
    q.bind(1, c.case_id).bind(2, outcome.reason_code).bind(3, outcome.message);
    if (exit.signalled) q.bind_null(4).bind(5, std::int64_t(exit.signal));
    else q.bind(4, std::int64_t(exit.exit_code)).bind_null(5);
    q.bind(6, tail).bind(7, utc_now()).bind(8, outcome.duration_s);
    q.run();
    t.commit();
  }

  void commit_done(const CaseSpec& c, const RunningCase& r, CaseOutcome& outcome, const json& results) {
    std::string qc_flags;
    if (results.contains("qc_flags") && results["qc_flags"].is_array())
      for (const auto& flag : results["qc_flags"]) qc_flags += (qc_flags.empty() ? "" : ";") + flag.get<std::string>();
    const json protocol = results.value("protocol", json::object());
    Transaction t(db_);
    db_.prepare("DELETE FROM measurements WHERE case_id = ?1").bind(1, c.case_id).run();
    auto insert = db_.prepare(
        "INSERT INTO measurements (case_id, seq, quantity, value, unit, structure, structure_code, side, level, slice, z_mm)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    std::int64_t seq = 0;
    for (const auto& m : results["measurements"]) {
      insert.bind(1, c.case_id).bind(2, seq++).bind(3, m.value("quantity", ""));
      if (m.contains("value") && m["value"].is_number()) insert.bind(4, m["value"].get<double>());
      else insert.bind_null(4);
      insert.bind(5, m.value("unit", "")).bind(6, m.value("structure", "")).bind(7, m.value("structure_code", ""));
      insert.bind(8, m.value("side", "")).bind(9, m.value("level", ""));
      if (m.contains("slice") && m["slice"].is_number_integer()) insert.bind(10, m["slice"].get<std::int64_t>());
      else insert.bind_null(10);
      if (m.contains("z_mm") && m["z_mm"].is_number()) insert.bind(11, m["z_mm"].get<double>());
      else insert.bind_null(11);
      insert.run();
    }
    auto q = db_.prepare(
        "UPDATE cases SET status = 'done', reason_code = '', message = '', exit_code = 0, signal = NULL, stderr_tail = '',"
        " protocol = ?2, protocol_hash = ?3, qc_flags = ?4, measurement_count = ?5, finished_utc = ?6, duration_s = ?7"
        " WHERE case_id = ?1");
    q.bind(1, c.case_id).bind(2, protocol.value("name", "")).bind(3, protocol.value("hash", "")).bind(4, qc_flags);
    q.bind(5, seq).bind(6, utc_now()).bind(7, outcome.duration_s);
    q.run();
    t.commit();
    outcome.measurement_count = std::size_t(seq);
  }

  /// A case killed because the batch was cancelled goes back to pending, with nothing left behind.
  void abandon(const RunningCase& r) {
    remove_tree(partial_dir(*r.spec));
    db_.prepare("UPDATE cases SET status = 'pending', message = 'interrupted: run again with --resume' WHERE case_id = ?1")
        .bind(1, r.spec->case_id)
        .run();
  }

  std::pair<std::size_t, std::size_t> counts() {
    auto q = db_.prepare("SELECT SUM(status = 'done'), SUM(status = 'failed') FROM cases");
    q.step();
    return {std::size_t(q.integer(0)), std::size_t(q.integer(1))};
  }

  std::size_t run_cases(const std::vector<const CaseSpec*>& queue, std::size_t total) {
    std::vector<RunningCase> running;
    std::size_t next = 0, finished = 0;
    auto last_tick = Clock::now();
    const auto timeout = std::chrono::duration<double>(o_.timeout_s);
    while (next < queue.size() || !running.empty()) {
      if (observer_.cancelled()) {
        for (const auto& r : running) {
          kill_child(r.pid);
          abandon(r);
        }
        throw Error(ErrorCode::Cancelled, o_.out_dir.string(),
                    "batch interrupted; " + std::to_string(queue.size() - finished) +
                        " case(s) not finished: run the same command with --resume to continue");
      }
      while (running.size() < o_.parallel_cases && next < queue.size()) running.push_back(start(*queue[next++]));
      // Cases that ended are taken out of `running`, the next ones started, and only then are the
      // ended ones' results read into the database: the next analysis does not wait for that.
      struct Ended {
        RunningCase run;
        ChildExit exit;
        bool timed_out = false;
      };
      std::vector<Ended> ended;
      for (auto it = running.begin(); it != running.end();) {
        std::optional<ChildExit> exit = poll_child(it->pid);
        bool timed_out = false;
        if (!exit && Clock::now() - it->start > timeout) {
          exit = kill_child(it->pid);
          timed_out = true;
        }
        if (!exit) {
          ++it;
          continue;
        }
        ended.push_back({*it, *exit, timed_out});
        ended.back().run.end = Clock::now();
        it = running.erase(it);
      }
      if (!ended.empty() && !observer_.cancelled())
        while (running.size() < o_.parallel_cases && next < queue.size()) running.push_back(start(*queue[next++]));
      const bool any_finished = !ended.empty();
      for (const Ended& e : ended) {
        const CaseOutcome outcome = finish(e.run, e.exit, e.timed_out);
        ++finished;
        const auto [done, failed] = counts();
        observer_.case_finished(outcome, done, failed, total);
      }
      if (Clock::now() - last_tick > std::chrono::seconds(1)) {
        const auto [done, failed] = counts();
        observer_.tick(done, failed, total);
        last_tick = Clock::now();
      }
      if (!any_finished) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return finished;
  }

 private:
  const BatchOptions& o_;
  BatchObserver& observer_;
  Database& db_;
  std::string protocol_;
  std::string mr_protocol_;       ///< the protocol of MR cases
  std::size_t threads_per_case_;  ///< MUSCLECSA_THREADS of each case process
};

/// batch_info: schema version, protocol and source; a resumed batch must use the same protocol and
/// source (the archives, or the same manifest and shard).
void check_batch_info(Database& db, const std::string& protocol, const std::string& mr_protocol, const std::string& source) {
  auto get = db.prepare("SELECT value FROM batch_info WHERE key = ?1");
  get.bind(1, std::string("schema_version"));
  if (get.step() && get.text(0) != std::to_string(kSchemaVersion))
    throw Error(ErrorCode::InvalidInput, db.path().string(),
                "the batch database has schema version " + get.text(0) + "; this musclecsa writes version " +
                    std::to_string(kSchemaVersion) + ": use another --out folder");
  get.reset();
  get.bind(1, std::string("protocol"));
  if (get.step() && get.text(0) != protocol)
    throw Error(ErrorCode::InvalidArgument, "--protocol " + protocol,
                "the batch in " + db.path().parent_path().string() + " was run with --protocol " + get.text(0) +
                    ": resume it with the same protocol, or choose another --out folder");
  get.reset();
  get.bind(1, std::string("mr_protocol"));
  if (get.step() && get.text(0) != mr_protocol)
    throw Error(ErrorCode::InvalidArgument, "--mr-protocol " + mr_protocol,
                "the batch in " + db.path().parent_path().string() + " ran its MR cases with " + get.text(0) +
                    ": resume it with the same MR protocol, or choose another --out folder");
  get.reset();
  get.bind(1, std::string("source"));
  if (get.step() && get.text(0) != source)
    throw Error(ErrorCode::InvalidArgument, db.path().parent_path().string(),
                "this batch folder holds the batch of " + get.text(0) + ", not of " + source +
                    ": resume it as it was started, or choose another --out folder");
  get.reset();
  auto put = db.prepare("INSERT OR IGNORE INTO batch_info (key, value) VALUES (?1, ?2)");
  const std::vector<std::pair<std::string, std::string>> info = {{"schema_version", std::to_string(kSchemaVersion)},
                                                                 {"protocol", protocol},
                                                                 {"mr_protocol", mr_protocol},
                                                                 {"source", source},
                                                                 {"created_utc", utc_now()},
                                                                 {"software", "MuscleCSA " MUSCLECSA_VERSION_STRING}};
  for (const auto& [key, value] : info) put.bind(1, key).bind(2, value).run();
}

}  // namespace

std::string resolve_protocol(const std::string& protocol) {
  return builtin_or_file(protocol, "thigh-ct", "calf-ct", "--protocol", "protocol");
}

std::string mr_protocol_for(const std::string& ct_protocol, const std::string& mr_protocol) {
  if (mr_protocol.empty()) return ct_protocol == "thigh-ct" ? "thigh-mr" : ct_protocol == "calf-ct" ? "calf-mr" : "auto";
  return builtin_or_file(mr_protocol, "thigh-mr", "calf-mr", "--mr-protocol", "MR protocol");
}

BatchSummary run_batch(const BatchOptions& options, BatchObserver& observer) {
  check_options(options);
  const std::string protocol = resolve_protocol(options.protocol);
  const std::string mr_protocol = mr_protocol_for(options.protocol, options.mr_protocol);
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir / "cases", ec);
  if (ec) throw Error(ErrorCode::OutputFailed, options.out_dir.string(), "cannot create the output folder: " + ec.message());
  FolderLock lock(options.out_dir / "batch.lock");

  const auto db_path = options.out_dir / "batch.sqlite";
  if (std::filesystem::exists(db_path) && !options.resume)
    throw Error(ErrorCode::InvalidArgument, db_path.string(),
                "a batch database is already here: add --resume to continue that batch, or choose another --out folder "
                "(it is never overwritten)");
  // The cases: discovered in the archives, or this shard's part of a manifest (read before the
  // database is created, so a bad manifest leaves nothing behind).
  Discovery discovery;
  std::string source = "archives";
  if (!options.manifest.empty()) {
    Manifest manifest = read_manifest(options.manifest);
    source = "manifest " + manifest.manifest_id + " shard " + std::to_string(options.shard.index) + "/" +
             std::to_string(options.shard.count);
    discovery.skipped = std::move(manifest.discovery.skipped);
    discovery.files_seen = manifest.discovery.files_seen;
    for (std::size_t i = 0; i < manifest.discovery.cases.size(); ++i)
      if (i % options.shard.count == options.shard.index) discovery.cases.push_back(std::move(manifest.discovery.cases[i]));
  } else {
    NullProgress scan_progress;
    discovery = discover_cases(options.archives, scan_progress, {options.include_mr});
  }

  Database db(db_path);
  {
    Transaction t(db);
    db.exec(kSchema);
    check_batch_info(db, protocol, mr_protocol, source);
    t.commit();
  }
  BatchRun run(options, observer, db, protocol, mr_protocol);
  run.record_discovery(discovery);

  // Folders an interrupted run left half-written are removed; their cases are not done, so they run again.
  for (const auto& entry : std::filesystem::directory_iterator(options.out_dir / "cases"))
    if (entry.path().extension() == ".partial") remove_tree(entry.path());

  std::vector<const CaseSpec*> queue;
  std::size_t already_done = 0, already_failed = 0;
  for (const auto& c : discovery.cases) {
    const std::string status = run.status_of(c.case_id);
    if (status == "done") ++already_done;
    else queue.push_back(&c);
    if (status == "failed") ++already_failed;
  }
  observer.started(discovery.cases.size(), already_done, already_failed, discovery);

  BatchSummary summary;
  summary.cases_run = run.run_cases(queue, discovery.cases.size());
  summary.database = db_path;
  summary.results_csv = write_results_csv(db, options.out_dir);
  {
    auto q = db.prepare("SELECT status, COUNT(*) FROM cases GROUP BY status");
    while (q.step()) summary.by_status[q.text(0)] = std::size_t(q.integer(1));
  }
  {
    auto q = db.prepare(
        "SELECT reason_code, COUNT(*) FROM (SELECT reason_code FROM cases WHERE status = 'failed'"
        " UNION ALL SELECT reason_code FROM skipped) GROUP BY reason_code");
    while (q.step()) summary.by_reason[q.text(0)] = std::size_t(q.integer(1));
  }
  {
    auto q = db.prepare("SELECT COUNT(*), SUM(kind = 'series'), SUM(kind = 'file') FROM skipped");
    q.step();
    summary.skipped_series = std::size_t(q.integer(1));
    summary.skipped_files = std::size_t(q.integer(2));
  }
  for (const auto& [status, count] : summary.by_status) summary.case_count += count;
  return summary;
}

}  // namespace musclecsa::batch
