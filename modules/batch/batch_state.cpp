// Shared by batch runs and merges: schema, aggregated CSV, timestamps, hashes.

#include "batch_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <fstream>

#include "musclecsa/core/error.h"

namespace musclecsa::batch {
namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

const char* const kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS batch_info (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
  case_id TEXT PRIMARY KEY,
  series_id TEXT NOT NULL,
  series_instance_uid TEXT NOT NULL,
  study_instance_uid TEXT NOT NULL,
  series_description TEXT NOT NULL,
  series_number INTEGER NOT NULL,
  slice_count INTEGER NOT NULL,
  file_count INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
  reason_code TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '',
  exit_code INTEGER,
  signal INTEGER,
  stderr_tail TEXT NOT NULL DEFAULT '',
  protocol TEXT NOT NULL DEFAULT '',
  protocol_hash TEXT NOT NULL DEFAULT '',
  qc_flags TEXT NOT NULL DEFAULT '',
  measurement_count INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  started_utc TEXT,
  finished_utc TEXT,
  duration_s REAL);
CREATE TABLE IF NOT EXISTS skipped (
  kind TEXT NOT NULL CHECK (kind IN ('series', 'file')),
  item TEXT NOT NULL,
  series_instance_uid TEXT NOT NULL,
  description TEXT NOT NULL,
  reason_code TEXT NOT NULL,
  message TEXT NOT NULL,
  PRIMARY KEY (kind, item));
CREATE TABLE IF NOT EXISTS measurements (
  case_id TEXT NOT NULL REFERENCES cases (case_id),
  seq INTEGER NOT NULL,
  quantity TEXT NOT NULL,
  value REAL,
  unit TEXT NOT NULL,
  structure TEXT NOT NULL,
  structure_code TEXT NOT NULL,
  side TEXT NOT NULL,
  level TEXT NOT NULL,
  slice INTEGER,
  z_mm REAL,
  PRIMARY KEY (case_id, seq));
)SQL";

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string format_number(double value) {
  char text[32];
  const auto r = std::to_chars(text, text + sizeof text, value);
  return std::string(text, r.ptr);
}

FolderLock::FolderLock(const std::filesystem::path& path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(ErrorCode::OutputFailed, path.string(), std::string("cannot create the lock file: ") + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    throw Error(ErrorCode::InvalidArgument, path.parent_path().string(),
                "another musclecsa batch or merge is running in this folder; wait for it or choose another --out folder");
  }
}

FolderLock::~FolderLock() { ::close(fd_); }

std::filesystem::path write_results_csv(Database& db, const std::filesystem::path& out_dir) {
  const auto path = out_dir / "results.csv";
  const auto temporary = out_dir / (".results.csv.tmp-" + std::to_string(::getpid()));
  {
    std::ofstream csv(temporary, std::ios::binary | std::ios::trunc);
    if (!csv) throw Error(ErrorCode::OutputFailed, temporary.string(), "cannot create the file");
    csv << "case_id,study_instance_uid,series_instance_uid,series_description,protocol,protocol_hash,level,slice,z_mm,"
           "side,structure,structure_code,quantity,value,unit\n";
    auto q = db.prepare(
        "SELECT c.case_id, c.study_instance_uid, c.series_instance_uid, c.series_description, c.protocol, c.protocol_hash,"
        " m.level, m.slice, m.z_mm, m.side, m.structure, m.structure_code, m.quantity, m.value, m.unit"
        " FROM measurements m JOIN cases c ON c.case_id = m.case_id WHERE c.status = 'done'"
        " ORDER BY c.case_id, m.seq");
    while (q.step()) {
      for (int col : {0, 1, 2, 3, 4, 5, 6}) csv << csv_field(q.text(col)) << ",";
      csv << (q.is_null(7) ? "" : std::to_string(q.integer(7))) << ",";
      csv << (q.is_null(8) ? "" : format_number(q.real(8))) << ",";
      for (int col : {9, 10, 11, 12}) csv << csv_field(q.text(col)) << ",";
      csv << (q.is_null(13) ? "" : format_number(q.real(13))) << "," << csv_field(q.text(14)) << "\n";
    }
    csv.flush();
    if (!csv) {
      std::error_code ec;
      std::filesystem::remove(temporary, ec);
      throw Error(ErrorCode::OutputFailed, path.string(), "writing failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) throw Error(ErrorCode::OutputFailed, path.string(), "cannot rename the finished file into place: " + ec.message());
  return path;
}

}  // namespace musclecsa::batch
