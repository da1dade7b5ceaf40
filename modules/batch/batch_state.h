#pragma once
// What batch runs and merges share (private to the batch module): the database schema, the
// aggregated CSV, timestamps and hashes.

#include <cstdint>
#include <filesystem>
#include <string>

#include "database.h"

namespace musclecsa::batch {

inline constexpr int kSchemaVersion = 1;

/// The batch database's tables (docs/batch.md), created when missing.
extern const char* const kSchema;

/// Now in UTC, e.g. 2024-05-09T12:00:00Z.
std::string utc_now();

/// Shortest text that reads back to the same double.
std::string format_number(double value);

/// Holds an exclusive lock on DIR/batch.lock so two batches (or merges) never share one output
/// folder. The kernel releases it when the process ends, however it ends.
class FolderLock {
 public:
  /// Throws Error(InvalidArgument) when another process holds the lock, Error(OutputFailed) when
  /// the lock file cannot be created.
  explicit FolderLock(const std::filesystem::path& path);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

/// DIR/results.csv from the database's done cases, one measurement per row, written under a
/// temporary name and renamed. Returns the path. Throws Error(OutputFailed).
std::filesystem::path write_results_csv(Database& db, const std::filesystem::path& out_dir);

}  // namespace musclecsa::batch
