// musclecsa batch: bad archives (malformed files, a crashing and a hanging case), resume after
// SIGKILL at any moment, -j2 equal to -j1, an existing database never overwritten; scale-out:
// --plan, shards of a manifest, the Slurm script, merge (testing/slurm_integration.sh runs it on Slurm).

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "child_process.h"  // modules/batch (private)
#include "musclecsa/batch/batch.h"
#include "musclecsa/core/progress.h"
#include "musclecsa/phantom/phantom.h"
#include "test_support.h"

namespace musclecsa {
namespace {

using testing::CommandResult;
using testing::quoted;
using testing::run_command;
using testing::TempDir;

const std::filesystem::path kBinary = MUSCLECSA_BINARY;
const char* const kFaults = "crash:FAULT-CRASH;hang:FAULT-HANG";

/// Writes a small phantom series (160x160x24, 2.5 mm pixels, 20 mm apart) and moves its DICOM
/// folder to `archive_folder`; returns the folder.
std::filesystem::path write_series(const std::filesystem::path& staging, const std::filesystem::path& archive_folder,
                                   std::uint64_t seed, phantom::PhantomModality modality) {
  phantom::PhantomParams p;
  p.anatomy = phantom::Anatomy::Thigh;
  p.modality = modality;
  p.seed = seed;
  p.columns = 160;
  p.pixel_spacing_mm = 2.5;
  p.slices = 24;
  p.slice_spacing_mm = 20;
  NullProgress progress;
  const auto out = staging / ("seed" + std::to_string(seed));
  phantom::write_phantom(phantom::make_phantom(phantom::resolve_defaults(p), progress), out, progress);
  std::filesystem::create_directories(archive_folder.parent_path());
  std::filesystem::rename(out / "dicom" / (modality == phantom::PhantomModality::CT ? "ct" : "t1"), archive_folder);
  return archive_folder;
}

void set_description(const std::filesystem::path& folder, const std::string& description) {
  const auto r = run_command("dcmodify -nb -m '(0008,103E)=" + description + "' " + quoted(folder) + "/*");
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

/// Archives shared by the suite: `good` holds three CT phantoms, an MR phantom and malformed files;
/// `bad` holds the same plus a series that crashes and one that hangs (under kFaults).
class Batch : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new TempDir();
    const auto staging = *root_ / "staging";
    const auto good = *root_ / "good";
    for (std::uint64_t seed : {1, 2, 3})
      write_series(staging, good / ("ct" + std::to_string(seed)), seed, phantom::PhantomModality::CT);
    write_series(staging, good / "mr", 5, phantom::PhantomModality::MrT1);
    // Malformed files: a truncated DICOM, a text file named .dcm, an empty file.
    {
      std::ifstream in(good / "ct1" / "IM_00001.dcm", std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), {});
      std::filesystem::create_directories(good / "junk");
      std::ofstream(good / "junk" / "truncated.dcm", std::ios::binary) << bytes.substr(0, bytes.size() / 3);
      std::ofstream(good / "junk" / "notes.dcm") << "this is not DICOM\n";
      std::ofstream(good / "junk" / "empty.dcm");
    }
    const auto bad = *root_ / "bad";
    std::filesystem::copy(good, bad, std::filesystem::copy_options::recursive);
    set_description(write_series(staging, bad / "crash", 6, phantom::PhantomModality::CT), "Phantom FAULT-CRASH");
    set_description(write_series(staging, bad / "hang", 7, phantom::PhantomModality::CT), "Phantom FAULT-HANG");
  }
  static void TearDownTestSuite() {
    delete root_;
    root_ = nullptr;
  }
  static std::filesystem::path good_archive() { return *root_ / "good"; }
  static std::filesystem::path bad_archive() { return *root_ / "bad"; }

  static TempDir* root_;
};
TempDir* Batch::root_ = nullptr;

/// Sets an environment variable for the scope (children inherit it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

CommandResult run_batch(const std::filesystem::path& archive, const std::filesystem::path& out, const std::string& extra = "") {
  return run_command(quoted(kBinary) + " batch " + quoted(archive) + " --out " + quoted(out) + " " + extra);
}

/// Rows of an SQL query, each row's columns joined by '|' (quote() keeps NULL and numbers distinct).
std::vector<std::string> query(const std::filesystem::path& db_path, const std::string& sql) {
  std::vector<std::string> rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return rows;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK) {
    while (sqlite3_step(statement) == SQLITE_ROW) {
      std::string row;
      for (int c = 0; c < sqlite3_column_count(statement); ++c) {
        const auto* text = sqlite3_column_text(statement, c);
        row += (c ? "|" : "") + std::string(text ? reinterpret_cast<const char*>(text) : "NULL");
      }
      rows.push_back(row);
    }
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return rows;
}

std::map<std::string, std::string> case_status(const std::filesystem::path& db) {
  std::map<std::string, std::string> status;
  for (const auto& row : query(db, "SELECT series_description || ' ' || series_instance_uid, status || ':' || reason_code FROM cases")) {
    const auto bar = row.find('|');
    status[row.substr(0, bar)] = row.substr(bar + 1);
  }
  return status;
}

/// Everything a finished batch's database holds that must not depend on timing: cases with their
/// status, reason and count, every measurement, every skipped item.
std::vector<std::string> database_content(const std::filesystem::path& db) {
  auto rows = query(db, "SELECT case_id, series_instance_uid, status, reason_code, measurement_count, protocol_hash"
                        " FROM cases ORDER BY case_id");
  for (const auto& r : query(db, "SELECT case_id, seq, quantity, quote(value), unit, structure, structure_code, side, level,"
                                 " quote(slice), quote(z_mm) FROM measurements ORDER BY case_id, seq"))
    rows.push_back(r);
  for (const auto& r : query(db, "SELECT kind, item, reason_code FROM skipped ORDER BY kind, item")) rows.push_back(r);
  return rows;
}

std::vector<std::filesystem::path> partial_folders(const std::filesystem::path& out) {
  std::vector<std::filesystem::path> found;
  if (!std::filesystem::exists(out / "cases")) return found;
  for (const auto& e : std::filesystem::directory_iterator(out / "cases"))
    if (e.path().extension() == ".partial") found.push_back(e.path());
  return found;
}

/// The uninterrupted -j1 run of the good archive, computed once.
const std::vector<std::string>& reference_content(const std::filesystem::path& archive) {
  static std::vector<std::string> content;
  static TempDir out;
  if (content.empty()) {
    const auto r = run_batch(archive, out / "run", "-j 1");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    content = database_content(out / "run" / "batch.sqlite");
  }
  return content;
}

std::size_t done_cases(const std::filesystem::path& db) {
  if (!std::filesystem::exists(db)) return 0;
  const auto rows = query(db, "SELECT COUNT(*) FROM cases WHERE status = 'done'");
  return rows.empty() ? 0 : std::stoul(rows.front());
}

/// Starts `musclecsa batch` as a child process (output to `log`), for killing it.
pid_t start_batch(const std::filesystem::path& archive, const std::filesystem::path& out, bool resume,
                  const std::filesystem::path& log) {
  std::vector<std::string> args = {kBinary.string(), "batch", archive.string(), "--out", out.string(), "-j", "1"};
  if (resume) args.push_back("--resume");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

TEST(BatchChild, CaseProcessGetsTheGivenEnvironmentOnTopOfItsOwn) {
  TempDir dir;
  ::setenv("MUSCLECSA_TEST_INHERITED", "kept", 1);
  ::setenv("MUSCLECSA_THREADS", "7", 1);
  const pid_t pid = batch::start_child({"/bin/sh", "-c", "echo \"$MUSCLECSA_THREADS $MUSCLECSA_TEST_INHERITED\" >&2"},
                                       dir / "err.txt", 0, {"MUSCLECSA_THREADS=2"});
  ::unsetenv("MUSCLECSA_TEST_INHERITED");
  ::unsetenv("MUSCLECSA_THREADS");
  std::optional<batch::ChildExit> exit;
  for (int i = 0; i < 500 && !exit; ++i) {
    exit = batch::poll_child(pid);
    if (!exit) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(exit.has_value());
  std::ifstream in(dir / "err.txt");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "2 kept") << "the batch's value replaces the inherited one; the rest is inherited";
}

TEST_F(Batch, CaseIdsAreStableAndFolderSafe) {
  EXPECT_EQ(batch::case_id_for("1.2.840.10008.5"), "1.2.840.10008.5");
  EXPECT_EQ(batch::case_id_for("1.2.840.10008.5#2"), "1.2.840.10008.5_s2");
  const std::string odd = batch::case_id_for("no-series-uid:/data/a b#0:CT");
  EXPECT_EQ(odd, batch::case_id_for("no-series-uid:/data/a b#0:CT"));
  EXPECT_EQ(odd.find_first_of("/: #"), std::string::npos) << odd;
  EXPECT_NE(odd, batch::case_id_for("no-series-uid:/data/a_b#0:CT"));
}

TEST_F(Batch, BadArchiveFinishesWithEveryGoodCaseDoneAndEveryBadOneExplained) {
  TempDir out;
  const auto dir = out / "batch";
  CommandResult r;
  {
    ScopedEnv faults("MUSCLECSA_INJECT_FAULT", kFaults);
    // A good case takes 5-20 s of CPU with the atlas prior (more under ctest -j2); the hang is killed at 120 s.
    r = run_batch(bad_archive(), dir, "-j 2 --timeout-s 120");
  }
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 done, 2 failed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("timeout 1"), std::string::npos) << r.output;
  const auto db = dir / "batch.sqlite";

  std::size_t done = 0;
  for (const auto& [series, status] : case_status(db)) {
    if (series.find("FAULT-CRASH") != std::string::npos) EXPECT_EQ(status, "failed:crashed_signal_6") << series;
    else if (series.find("FAULT-HANG") != std::string::npos) EXPECT_EQ(status, "failed:timeout") << series;
    else {
      EXPECT_EQ(status, "done:") << series;
      ++done;
    }
  }
  EXPECT_EQ(done, 3u);
  // Every done case has all its measurements, exactly once; failed ones have none.
  EXPECT_TRUE(query(db, "SELECT c.case_id FROM cases c WHERE c.measurement_count !="
                        " (SELECT COUNT(*) FROM measurements m WHERE m.case_id = c.case_id)").empty());
  EXPECT_TRUE(query(db, "SELECT case_id FROM cases WHERE status = 'done' AND measurement_count < 100").empty());
  const auto stderr_tails = query(db, "SELECT stderr_tail FROM cases WHERE reason_code LIKE 'crashed%'");
  ASSERT_EQ(stderr_tails.size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(dir / "logs"));

  const auto skipped = query(db, "SELECT item, reason_code FROM skipped ORDER BY item");
  std::map<std::string, std::string> reason_of;
  for (const auto& row : skipped) reason_of[row.substr(0, row.find('|'))] = row.substr(row.find('|') + 1);
  EXPECT_EQ(reason_of[(bad_archive() / "junk" / "truncated.dcm").string()], "unreadable_file");
  EXPECT_EQ(reason_of[(bad_archive() / "junk" / "empty.dcm").string()], "unreadable_file");
  EXPECT_EQ(reason_of[(bad_archive() / "junk" / "notes.dcm").string()], "not_dicom");
  EXPECT_EQ(query(db, "SELECT COUNT(*) FROM skipped WHERE kind = 'series' AND reason_code = 'not_ct'"),
            std::vector<std::string>{"1"});
  EXPECT_EQ(skipped.size(), 4u);

  // The aggregated CSV: every measurement of the done cases, none of the failed ones.
  std::ifstream csv(dir / "results.csv");
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line.rfind("case_id,study_instance_uid,series_instance_uid,", 0), 0u) << line;
  std::size_t rows = 0;
  std::set<std::string> csv_cases;
  while (std::getline(csv, line)) {
    ++rows;
    csv_cases.insert(line.substr(0, line.find(',')));
  }
  EXPECT_EQ(std::to_string(rows), query(db, "SELECT COUNT(*) FROM measurements").front());
  EXPECT_EQ(csv_cases.size(), 3u);
  for (const auto& id : query(db, "SELECT case_id FROM cases WHERE status = 'failed'")) {
    EXPECT_EQ(csv_cases.count(id), 0u) << id;
    EXPECT_TRUE(std::filesystem::exists(dir / "cases" / id / "error.txt")) << id;
  }
  for (const auto& id : query(db, "SELECT case_id FROM cases WHERE status = 'done'"))
    EXPECT_TRUE(std::filesystem::exists(dir / "cases" / id / "results.json")) << id;
  EXPECT_TRUE(partial_folders(dir).empty());
}

TEST_F(Batch, MemoryLimitFailsTheCaseAsOutOfMemoryAndTheBatchGoesOn) {
  TempDir out;
  const auto r = run_batch(good_archive() / "ct1", out / "batch", "--memory-mb 100");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(query(out / "batch" / "batch.sqlite", "SELECT status, reason_code FROM cases"),
            std::vector<std::string>{"failed|out_of_memory"});
}

TEST_F(Batch, ParallelCasesGiveTheSameDatabaseAsOneAtATime) {
  const auto& reference = reference_content(good_archive());
  ASSERT_FALSE(reference.empty());
  TempDir out;
  const auto r = run_batch(good_archive(), out / "batch", "-j 2 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "");  // --quiet prints nothing when there is no error
  EXPECT_EQ(database_content(out / "batch" / "batch.sqlite"), reference);
}

TEST_F(Batch, ResumeAfterSigkillOnceACaseIsDoneFinishesWithoutDuplicates) {
  const auto& reference = reference_content(good_archive());
  ASSERT_FALSE(reference.empty());
  TempDir out;
  const auto dir = out / "batch";
  const pid_t pid = start_batch(good_archive(), dir, false, out / "log.txt");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (done_cases(dir / "batch.sqlite") < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill_and_reap(pid);
  const std::size_t done_before = done_cases(dir / "batch.sqlite");
  ASSERT_GE(done_before, 1u);
  ASSERT_LT(done_before, 3u) << "the batch finished before it could be killed";

  const auto r = run_batch(good_archive(), dir, "--resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(std::to_string(done_before) + " already done"), std::string::npos) << r.output;
  EXPECT_EQ(database_content(dir / "batch.sqlite"), reference);
  EXPECT_TRUE(partial_folders(dir).empty());
}

TEST_F(Batch, KillingAtRandomMomentsConvergesToTheUninterruptedResult) {
  const auto& reference = reference_content(good_archive());
  ASSERT_FALSE(reference.empty());
  TempDir out;
  const auto dir = out / "batch";
  std::mt19937 random(20240509);
  std::uniform_int_distribution<int> delay_ms(50, 1500);
  for (int attempt = 0; attempt < 4; ++attempt) {
    const pid_t pid = start_batch(good_archive(), dir, attempt > 0, out / "log.txt");
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(random)));
    kill_and_reap(pid);
  }
  const auto r = run_batch(good_archive(), dir, "--resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(database_content(dir / "batch.sqlite"), reference);
  EXPECT_TRUE(partial_folders(dir).empty());
  EXPECT_EQ(query(dir / "batch.sqlite", "SELECT COUNT(*) FROM cases WHERE attempts < 1"), std::vector<std::string>{"0"});
}

TEST_F(Batch, ExistingDatabaseIsRefusedWithoutResume) {
  TempDir out;
  const auto dir = out / "batch";
  ASSERT_EQ(run_batch(good_archive() / "ct1", dir, "--quiet").exit_code, 0);
  const auto before = database_content(dir / "batch.sqlite");
  const auto r = run_batch(good_archive(), dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("batch.sqlite"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--resume"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("another --out folder"), std::string::npos) << r.output;
  EXPECT_EQ(database_content(dir / "batch.sqlite"), before);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

void execute(const std::filesystem::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

TEST_F(Batch, PlanWritesTheManifestAndAnalysesNothing) {
  TempDir out;
  const auto dir = out / "plan";
  const auto r = run_batch(good_archive(), dir, "--plan");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 case(s); 1 series and 3 file(s) skipped"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "batch.sqlite"));
  EXPECT_FALSE(std::filesystem::exists(dir / "cases"));
  const auto manifest = nlohmann::json::parse(read_file(dir / "manifest.json"));
  ASSERT_EQ(manifest["cases"].size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& c = manifest["cases"][i];
    EXPECT_EQ(c["index"], i);
    EXPECT_EQ(c["files"].size(), 24u);
    EXPECT_EQ(c["case_id"], batch::case_id_for(c["series_id"]));
    for (const auto& f : c["files"]) EXPECT_TRUE(std::filesystem::path(f.get<std::string>()).is_absolute()) << f;
  }
  EXPECT_EQ(manifest["skipped"].size(), 4u);
  // A manifest is never overwritten: shards may be running from it.
  const auto again = run_batch(good_archive(), dir, "--plan");
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_NE(again.output.find("manifest.json"), std::string::npos) << again.output;
  // A shard needs a manifest; a shard index must be below the count.
  EXPECT_EQ(run_batch(good_archive(), out / "x", "--shard 0/2").exit_code, 2);
  const auto bad_shard = run_command(quoted(kBinary) + " batch --manifest " + quoted(dir / "manifest.json") + " --shard 2/2 --out " +
                                     quoted(out / "x"));
  EXPECT_EQ(bad_shard.exit_code, 2) << bad_shard.output;
  EXPECT_NE(bad_shard.output.find("--shard 2/2"), std::string::npos) << bad_shard.output;
  // A file that is not a manifest is named with the problem.
  std::ofstream(out / "not-a-manifest.json") << "{\"format\": \"something else\"}";
  const auto bad_manifest = run_command(quoted(kBinary) + " batch --manifest " + quoted(out / "not-a-manifest.json") + " --out " +
                                        quoted(out / "y"));
  EXPECT_EQ(bad_manifest.exit_code, 4) << bad_manifest.output;
  EXPECT_NE(bad_manifest.output.find("not-a-manifest.json: not a musclecsa batch manifest"), std::string::npos) << bad_manifest.output;
  EXPECT_FALSE(std::filesystem::exists(out / "y" / "batch.sqlite"));
}

TEST_F(Batch, SlurmScriptRunsOneShardPerArrayTaskWithScaledLimits) {
  TempDir out;
  const auto dir = out / "plan";
  const auto r = run_batch(good_archive(), dir, "--slurm 2 -j 2 --timeout-s 100 --memory-mb 1000 --protocol thigh-ct");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(std::filesystem::exists(dir / "manifest.json"));  // --slurm plans too
  const std::string script = read_file(dir / "batch.sbatch");
  EXPECT_EQ(script.rfind("#!/bin/bash\n", 0), 0u);
  EXPECT_NE(script.find("#SBATCH --array=0-1\n"), std::string::npos) << script;
  // 3 cases on 2 tasks: at most 2 per task, -j 2: one round of 100 s, plus 600 s for the task.
  EXPECT_NE(script.find("#SBATCH --time=0-00:11:40\n"), std::string::npos) << script;
  EXPECT_NE(script.find("#SBATCH --mem=2512M\n"), std::string::npos) << script;  // 2 x 1000 MB + 512 MB
  EXPECT_NE(script.find("#SBATCH --cpus-per-task=2\n"), std::string::npos) << script;
  const auto absolute = std::filesystem::absolute(dir).lexically_normal();
  EXPECT_NE(script.find("#SBATCH --output=" + (absolute / "shards/%a/slurm-%A_%a.out").string()), std::string::npos) << script;
  EXPECT_NE(script.find("--shard \"$task/2\" --out '" + (absolute / "shards").string() + "'/\"$task\" --resume --protocol 'thigh-ct' -j 2 "
                        "--timeout-s 100 --memory-mb 1000"),
            std::string::npos)
      << script;
  // Slurm does not create the folders of its output files.
  EXPECT_TRUE(std::filesystem::is_directory(dir / "shards" / "0"));
  EXPECT_TRUE(std::filesystem::is_directory(dir / "shards" / "1"));
  EXPECT_TRUE((std::filesystem::status(dir / "batch.sbatch").permissions() & std::filesystem::perms::owner_exec) !=
              std::filesystem::perms::none);
  // Outside a job array the script refuses to run.
  const auto outside = run_command("bash " + quoted(dir / "batch.sbatch"));
  EXPECT_NE(outside.exit_code, 0);
  EXPECT_NE(outside.output.find("run this script with sbatch"), std::string::npos) << outside.output;
  // A script for an existing manifest (another shard count) without planning again.
  const auto rescript = run_command(quoted(kBinary) + " batch --manifest " + quoted(dir / "manifest.json") + " --slurm 3 --out " +
                                    quoted(dir));
  ASSERT_EQ(rescript.exit_code, 0) << rescript.output;
  EXPECT_NE(read_file(dir / "batch.sbatch").find("#SBATCH --array=0-2\n"), std::string::npos);
}

TEST_F(Batch, ShardsMergedEqualTheLocalRun) {
  const auto& reference = reference_content(good_archive());
  ASSERT_FALSE(reference.empty());
  TempDir out;
  const auto dir = out / "run";
  ASSERT_EQ(run_batch(good_archive(), dir, "--plan --quiet").exit_code, 0);
  const auto manifest = dir / "manifest.json";
  const auto shard = [&](const std::string& which, const std::filesystem::path& shard_dir, const std::string& extra = "") {
    return run_command(quoted(kBinary) + " batch --manifest " + quoted(manifest) + " --shard " + which + " --out " +
                       quoted(shard_dir) + " --quiet " + extra);
  };
  ASSERT_EQ(shard("0/2", dir / "shards" / "0").exit_code, 0);
  ASSERT_EQ(shard("1/2", dir / "shards" / "1", "-j 2").exit_code, 0);
  // Case i of the manifest is in shard i % 2.
  const auto ids = nlohmann::json::parse(read_file(manifest))["cases"];
  EXPECT_EQ(query(dir / "shards" / "0" / "batch.sqlite", "SELECT case_id FROM cases ORDER BY case_id"),
            (std::vector<std::string>{ids[0]["case_id"], ids[2]["case_id"]}));
  EXPECT_EQ(query(dir / "shards" / "1" / "batch.sqlite", "SELECT case_id FROM cases"), std::vector<std::string>{ids[1]["case_id"]});
  // A shard folder resumes only as the same shard of the same manifest.
  const auto wrong = shard("0/2", dir / "shards" / "1", "--resume");
  EXPECT_EQ(wrong.exit_code, 2) << wrong.output;
  EXPECT_NE(wrong.output.find("shard 1/2, not of manifest"), std::string::npos) << wrong.output;
  const auto resumed = shard("1/2", dir / "shards" / "1", "--resume");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;

  const auto r = run_command(quoted(kBinary) + " merge " + quoted(dir / "shards" / "0") + " " + quoted(dir / "shards" / "1") +
                             " --out " + quoted(dir));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("2 folder(s), 3 case(s): 3 done, 0 failed; 1 series and 3 file(s) skipped"), std::string::npos) << r.output;
  EXPECT_EQ(database_content(dir / "batch.sqlite"), reference);
  for (const auto& id : query(dir / "batch.sqlite", "SELECT case_id FROM cases")) {
    EXPECT_TRUE(std::filesystem::exists(dir / "cases" / id / "results.json")) << id;
    EXPECT_TRUE(std::filesystem::exists(dir / "logs" / (id + ".stderr.txt"))) << id;
  }
  // The shards are copied, not moved: they stay complete.
  EXPECT_EQ(query(dir / "shards" / "0" / "batch.sqlite", "SELECT COUNT(*) FROM cases"), std::vector<std::string>{"2"});
  std::ifstream csv(dir / "results.csv");
  std::size_t rows = 0;
  for (std::string line; std::getline(csv, line);) ++rows;
  EXPECT_EQ(std::to_string(rows - 1), query(dir / "batch.sqlite", "SELECT COUNT(*) FROM measurements").front());
  // Merging into a folder that holds a database is refused.
  const auto twice = run_command(quoted(kBinary) + " merge " + quoted(dir / "shards" / "0") + " --out " + quoted(dir));
  EXPECT_EQ(twice.exit_code, 2) << twice.output;

  // A missing shard is warned about; an identical duplicate is kept once.
  const auto partial = run_command(quoted(kBinary) + " merge " + quoted(dir / "shards" / "0") + " " + quoted(dir / "shards" / "0") +
                                   " --out " + quoted(out / "partial"));
  ASSERT_EQ(partial.exit_code, 0) << partial.output;
  EXPECT_NE(partial.output.find("shard(s) 1 of 2 are not among the merged folders"), std::string::npos) << partial.output;
  EXPECT_NE(partial.output.find("2 case(s) were in more than one folder, identical: kept once"), std::string::npos) << partial.output;
  EXPECT_EQ(query(out / "partial" / "batch.sqlite", "SELECT COUNT(*) FROM cases"), std::vector<std::string>{"2"});

  // A conflicting duplicate (one measurement differs) is refused before anything is written.
  std::filesystem::copy(dir / "shards" / "0", out / "changed", std::filesystem::copy_options::recursive);
  execute(out / "changed" / "batch.sqlite", "UPDATE measurements SET value = value + 1 WHERE seq = 7");
  const auto conflict = run_command(quoted(kBinary) + " merge " + quoted(dir / "shards" / "0") + " " + quoted(out / "changed") +
                                    " --out " + quoted(out / "conflict"));
  EXPECT_EQ(conflict.exit_code, 4) << conflict.output;
  EXPECT_NE(conflict.output.find((out / "changed").string() + ": case "), std::string::npos) << conflict.output;
  EXPECT_NE(conflict.output.find("conflicting duplicate, nothing merged"), std::string::npos) << conflict.output;
  EXPECT_FALSE(std::filesystem::exists(out / "conflict" / "batch.sqlite"));
  EXPECT_FALSE(std::filesystem::exists(out / "conflict" / "results.csv"));
  // So is a case done in one folder and failed in another.
  execute(out / "changed" / "batch.sqlite", "UPDATE cases SET status = 'failed', reason_code = 'timeout'");
  const auto status_conflict = run_command(quoted(kBinary) + " merge " + quoted(dir / "shards" / "0") + " " +
                                           quoted(out / "changed") + " --out " + quoted(out / "conflict"));
  EXPECT_EQ(status_conflict.exit_code, 4) << status_conflict.output;
  EXPECT_NE(status_conflict.output.find("is failed timeout"), std::string::npos) << status_conflict.output;
  // Batches of different protocols are not merged.
  execute(out / "changed" / "batch.sqlite", "UPDATE batch_info SET value = 'calf-ct' WHERE key = 'protocol'");
  const auto protocols = run_command(quoted(kBinary) + " merge " + quoted(dir / "shards" / "0") + " " + quoted(out / "changed") +
                                     " --out " + quoted(out / "conflict"));
  EXPECT_EQ(protocols.exit_code, 2) << protocols.output;
  EXPECT_NE(protocols.output.find("only batches of one protocol are merged"), std::string::npos) << protocols.output;
  // A folder without a database is named.
  const auto missing = run_command(quoted(kBinary) + " merge " + quoted(out / "nothing") + " --out " + quoted(out / "m"));
  EXPECT_EQ(missing.exit_code, 3) << missing.output;
  EXPECT_NE(missing.output.find((out / "nothing").string() + ": no batch.sqlite here"), std::string::npos) << missing.output;
}

// MR with --include-mr: the T1 series of the shared archive and a Dixon set (its four series one
// case, named after the water series) are analysed with the MR protocol of the CT protocol's
// region; a Dixon set without its fat series is skipped, saying why. Without the flag MR is skipped.
TEST_F(Batch, IncludeMrAnalysesWeightedSeriesAndDixonSetsAsCases) {
  TempDir out;
  const auto archive = out / "archive";
  std::filesystem::create_directories(archive);
  std::filesystem::copy(good_archive() / "ct1", archive / "ct1", std::filesystem::copy_options::recursive);
  std::filesystem::copy(good_archive() / "mr", archive / "t1", std::filesystem::copy_options::recursive);
  NullProgress progress;
  for (const auto& [name, seed] : {std::pair{std::string("dixon"), 8}, std::pair{std::string("dixon_no_fat"), 9}}) {
    phantom::PhantomParams p;
    p.anatomy = phantom::Anatomy::Thigh;
    p.modality = phantom::PhantomModality::MrDixon;
    p.seed = std::uint64_t(seed);
    p.columns = 128;
    p.pixel_spacing_mm = 3;
    p.slices = 6;
    p.slice_spacing_mm = 20;
    phantom::write_phantom(phantom::make_phantom(phantom::resolve_defaults(p), progress), out / name, progress);
    std::filesystem::rename(out / name / "dicom", archive / name);
  }
  std::filesystem::remove_all(archive / "dixon_no_fat" / "fat");

  const auto ct_only = run_batch(archive, out / "ct-only", "-j 2");
  ASSERT_EQ(ct_only.exit_code, 0) << ct_only.output;
  EXPECT_NE(ct_only.output.find("1 case(s): 1 done"), std::string::npos) << ct_only.output;
  EXPECT_EQ(query(out / "ct-only/batch.sqlite", "SELECT COUNT(*) FROM skipped WHERE reason_code = 'not_ct'"),
            std::vector<std::string>{"8"});  // the T1 series and 4 + 3 Dixon series

  const auto dir = out / "with-mr";
  const auto r = run_batch(archive, dir, "-j 2 --include-mr --protocol thigh-ct");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 case(s): 3 done, 0 failed"), std::string::npos) << r.output;
  const auto db = dir / "batch.sqlite";
  const auto cases = query(db, "SELECT series_description, status, protocol FROM cases ORDER BY series_description");
  ASSERT_EQ(cases.size(), 3u);
  std::map<std::string, std::string> protocol_of;
  for (const auto& row : cases) {
    const auto first = row.find('|'), second = row.rfind('|');
    EXPECT_EQ(row.substr(first + 1, second - first - 1), "done") << row;
    protocol_of[row.substr(0, first)] = row.substr(second + 1);
  }
  EXPECT_EQ(protocol_of["Phantom thigh CT"], "thigh-ct");
  EXPECT_EQ(protocol_of["Phantom thigh t1_tse_tra"], "thigh-mr");
  EXPECT_EQ(protocol_of["Phantom thigh t1_dixon_tra_W"], "thigh-mr");
  // The Dixon case analysed water and fat together: its results say Dixon and carry a fat fraction.
  const auto dixon_id = query(db, "SELECT case_id FROM cases WHERE series_description LIKE '%dixon_tra_W'");
  ASSERT_EQ(dixon_id.size(), 1u);
  const auto results = nlohmann::json::parse(read_file(dir / "cases" / dixon_id.front() / "results.json"));
  EXPECT_EQ(results["mri"]["kind"], "dixon");
  EXPECT_NE(results["measurements"].dump().find("mean_fat_fraction"), std::string::npos);
  EXPECT_TRUE(query(db, "SELECT case_id FROM cases WHERE status = 'done' AND measurement_count < 100").empty());
  const auto incomplete = query(db, "SELECT COUNT(*), MIN(message) FROM skipped WHERE reason_code = 'dixon_incomplete'");
  ASSERT_EQ(incomplete.size(), 1u);
  EXPECT_EQ(incomplete.front().substr(0, 2), "3|") << incomplete.front();
  EXPECT_NE(incomplete.front().find("without a fat series"), std::string::npos) << incomplete.front();

  // Resuming with another MR protocol is refused; the manifest records each case's modality.
  const auto other = run_batch(archive, dir, "--resume --include-mr --protocol thigh-ct --mr-protocol calf-mr");
  EXPECT_EQ(other.exit_code, 2) << other.output;
  EXPECT_NE(other.output.find("ran its MR cases with thigh-mr"), std::string::npos) << other.output;
  const auto plan = run_batch(archive, out / "plan", "--plan --include-mr");
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  std::map<std::string, int> modalities;
  const auto manifest = nlohmann::json::parse(read_file(out / "plan" / "manifest.json"));
  for (const auto& c : manifest["cases"]) ++modalities[c["modality"].get<std::string>()];
  EXPECT_EQ(modalities["CT"], 1);
  EXPECT_EQ(modalities["MR"], 2);
  // The job-array script passes the MR protocol on to its tasks (and only when there are MR cases).
  const auto slurm = run_batch(archive, out / "slurm", "--slurm 2 --include-mr --protocol thigh-ct");
  ASSERT_EQ(slurm.exit_code, 0) << slurm.output;
  const std::string script = read_file(out / "slurm" / "batch.sbatch");
  EXPECT_NE(script.find("--mr-protocol"), std::string::npos) << script;
  EXPECT_NE(script.find("thigh-mr"), std::string::npos) << script;
  ASSERT_EQ(run_batch(archive, out / "slurm-ct", "--slurm 2 --protocol thigh-ct").exit_code, 0);
  EXPECT_EQ(read_file(out / "slurm-ct" / "batch.sbatch").find("--mr-protocol"), std::string::npos);
  // Batches whose MR cases ran with other protocols are not merged.
  ASSERT_EQ(run_batch(archive / "ct1", out / "calf-mr", "--protocol thigh-ct --mr-protocol calf-mr").exit_code, 0);
  const auto merged = run_command(quoted(kBinary) + " merge " + quoted(dir) + " " + quoted(out / "calf-mr") + " --out " +
                                  quoted(out / "merged"));
  EXPECT_EQ(merged.exit_code, 2) << merged.output;
  EXPECT_NE(merged.output.find("ran its MR cases with calf-mr"), std::string::npos) << merged.output;
}

}  // namespace
}  // namespace musclecsa
