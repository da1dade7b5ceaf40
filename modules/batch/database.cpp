#include "database.h"

#include <sqlite3.h>

#include "musclecsa/core/error.h"

namespace musclecsa::batch {

Statement::Statement(sqlite3* db, const std::string& sql, const std::filesystem::path& db_path)
    : db_(db), db_path_(db_path) {
  if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &statement_, nullptr) != SQLITE_OK)
    throw Error(ErrorCode::Internal, db_path_.string(), std::string("SQL statement refused: ") + sqlite3_errmsg(db_));
}

Statement::~Statement() { sqlite3_finalize(statement_); }

Statement& Statement::bind(int position, const std::string& text) {
  sqlite3_bind_text(statement_, position, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind(int position, double value) {
  sqlite3_bind_double(statement_, position, value);
  return *this;
}
Statement& Statement::bind(int position, std::int64_t value) {
  sqlite3_bind_int64(statement_, position, value);
  return *this;
}
Statement& Statement::bind_null(int position) {
  sqlite3_bind_null(statement_, position);
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw Error(ErrorCode::OutputFailed, db_path_.string(), std::string("database write failed: ") + sqlite3_errmsg(db_));
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

std::string Statement::text(int column) const {
  const auto* p = sqlite3_column_text(statement_, column);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p));
}
double Statement::real(int column) const { return sqlite3_column_double(statement_, column); }
std::int64_t Statement::integer(int column) const { return sqlite3_column_int64(statement_, column); }
bool Statement::is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }

Database::Database(const std::filesystem::path& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    const std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw Error(ErrorCode::OutputFailed, path.string(), "cannot open the batch database: " + why);
  }
  sqlite3_busy_timeout(db_, 10000);
  exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
}

Database::~Database() { sqlite3_close(db_); }

void Database::exec(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string why = message != nullptr ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    throw Error(ErrorCode::OutputFailed, path_.string(), "database error: " + why);
  }
}

Transaction::~Transaction() {
  if (committed_) return;
  try {
    db_.exec("ROLLBACK");
  } catch (const Error&) {
    // Nothing more to do: SQLite rolls back an unfinished transaction when the connection closes.
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  committed_ = true;
}

}  // namespace musclecsa::batch
