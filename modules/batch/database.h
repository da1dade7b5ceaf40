#pragma once
// A small RAII layer over SQLite for the batch state database (private to the batch module).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace musclecsa::batch {

/// One prepared statement. Bind positions start at 1; columns at 0.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql, const std::filesystem::path& db_path);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int position, const std::string& text);
  Statement& bind(int position, double value);
  Statement& bind(int position, std::int64_t value);
  Statement& bind_null(int position);
  /// Advances: true while a row is available, false when done. Throws Error(OutputFailed).
  bool step();
  /// Runs to completion and resets the statement for new bindings.
  void run();
  void reset();

  std::string text(int column) const;
  double real(int column) const;
  std::int64_t integer(int column) const;
  bool is_null(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* statement_ = nullptr;
  std::filesystem::path db_path_;
};

/// An open database in WAL mode with a busy timeout.
class Database {
 public:
  explicit Database(const std::filesystem::path& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /// Runs one or more statements without results. Throws Error(OutputFailed, path, sqlite message).
  void exec(const std::string& sql);
  Statement prepare(const std::string& sql) { return Statement(db_, sql, path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
};

/// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed without commit().
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool committed_ = false;
};

}  // namespace musclecsa::batch
