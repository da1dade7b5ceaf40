// musclecsa batch: bad archives (malformed files, a crashing and a hanging case), resume after
// SIGKILL at any moment, -j2 equal to -j1, an existing database never overwritten.

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
    r = run_batch(bad_archive(), dir, "-j 2 --timeout-s 5");
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

}  // namespace
}  // namespace musclecsa
