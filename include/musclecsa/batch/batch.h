#pragma once
// Batch processing of scan archives: discover every series, select the analysable CT (and MR) series,
// analyse each one in its own child process (time and memory limits), keep the state and every
// measurement in an SQLite database in the output folder, resume after an interruption
// (docs/batch.md).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "musclecsa/core/progress.h"

namespace musclecsa::batch {

/// One series chosen for analysis: a case.
struct CaseSpec {
  std::string case_id;                    ///< stable folder and database key (from the series id, see case_id_for)
  std::string series_id;                  ///< dicom::Series::id (Series Instance UID, "#n" for split series)
  std::string series_instance_uid, study_instance_uid;
  std::string series_description;
  int series_number = 0;
  std::size_t slice_count = 0;
  std::vector<std::filesystem::path> files;  ///< the series' DICOM files, sorted, each once
                                             ///< (a Dixon case: the files of all its series)
  std::string modality = "CT";            ///< "CT" or "MR" (MR cases run with the MR protocol)
};

/// A series or file that is not analysed, and why.
struct SkippedItem {
  std::string kind;                       ///< "series" or "file"
  std::string item;                       ///< series id, or the file/folder path
  std::string series_instance_uid;        ///< "" for files
  std::string description;                ///< series description, "" for files
  std::string reason_code;                ///< stable code (docs/batch.md): not_ct, not_axial, unreadable_file, ...
  std::string message;                    ///< human-readable detail
};

/// What an archive holds for a batch: the cases to run and everything skipped.
struct Discovery {
  std::vector<CaseSpec> cases;            ///< sorted by case_id
  std::vector<SkippedItem> skipped;       ///< sorted by kind, then item
  std::size_t files_seen = 0;
};

/// Largest angle between the slice normal and the patient's head-foot axis still called axial.
inline constexpr double kAxialToleranceDeg = 15.0;
/// Smallest image (rows and columns) analysed.
inline constexpr std::uint32_t kMinimumMatrixPixels = 64;

/// Which series become cases besides CT.
struct DiscoveryOptions {
  /// MR too: a weighted (T1/T2) series is a case; the Dixon series of one study and grid (water,
  /// fat, in/opposed phase, FF map) are one case, named after the water series.
  bool include_mr = false;
};

/// Scans the archives (files, folders, DICOMDIRs), assembles series and applies the selection
/// rules (docs/batch.md). Never throws for bad content: it is listed in `skipped`.
/// Throws Error(InputNotFound, path) when an archive path does not exist.
Discovery discover_cases(const std::vector<std::filesystem::path>& archives, Progress& progress,
                         const DiscoveryOptions& options = {});

/// The CT protocol handed to each CT case: thigh-ct, calf-ct or auto as given, or a protocol file
/// made absolute. Throws Error(InputNotFound) for a file that does not exist.
std::string resolve_protocol(const std::string& protocol);

/// The MR protocol of MR cases: `mr_protocol` when given (thigh-mr, calf-mr, auto or an MR protocol
/// file, made absolute), otherwise the region of the CT protocol (thigh-ct -> thigh-mr, calf-ct ->
/// calf-mr, anything else -> auto). Throws Error(InputNotFound) for a file that does not exist.
std::string mr_protocol_for(const std::string& ct_protocol, const std::string& mr_protocol);

/// A deterministic folder-safe case id from a series id: the Series Instance UID itself when it
/// is made of [0-9A-Za-z.-], "UID_sN" for the split-series id "UID#N", otherwise a sanitised
/// prefix plus a hash of the whole id (so different ids never share a case id).
std::string case_id_for(const std::string& series_id);

/// Cases planned with `batch --plan`: the discovery written to DIR/manifest.json (docs/batch.md).
struct Manifest {
  std::string manifest_id;                ///< hash of the manifest file's text: which plan a shard ran
  std::vector<std::filesystem::path> archives;
  Discovery discovery;                    ///< cases in manifest order (their index decides the shard)
};

/// Writes `discovery` of `archives` to `path` as a manifest (JSON, written under a temporary name
/// then renamed). Throws Error(InvalidArgument) when `path` exists, Error(OutputFailed) when it
/// cannot be written.
void write_manifest(const std::filesystem::path& path, const std::vector<std::filesystem::path>& archives,
                    const Discovery& discovery);

/// Reads a manifest. Throws Error(InputNotFound) when missing, Error(InvalidInput) naming the file
/// and the problem when it is not a readable manifest.
Manifest read_manifest(const std::filesystem::path& path);

/// A shard: the cases whose manifest index i has i % count == index.
struct Shard {
  std::size_t index = 0, count = 1;
};

/// Parses "I/N" (0 <= I < N). Throws Error(InvalidArgument) naming the text otherwise.
Shard parse_shard(const std::string& text);

struct SlurmOptions {
  std::filesystem::path manifest;         ///< absolute path of the manifest the tasks run
  std::filesystem::path out_dir;          ///< the script goes to out_dir/batch.sbatch, shards to out_dir/shards/<i>/
  std::size_t shard_count = 1;            ///< array tasks 0..shard_count-1
  std::size_t case_count = 0;             ///< cases in the manifest (for the time limit)
  std::string protocol = "auto";
  std::string mr_protocol;                ///< "" when the batch has no MR cases
  std::size_t parallel_cases = 1;         ///< -j of each task
  double timeout_s = 600;
  std::size_t memory_limit_mb = 4096;
  std::filesystem::path musclecsa;        ///< absolute path of the musclecsa binary the tasks run
};

/// The sbatch job-array script for a manifest (docs/batch.md: time and memory per shard).
std::string slurm_script(const SlurmOptions& options);

/// Writes slurm_script() to out_dir/batch.sbatch (executable) and creates out_dir/shards/ for the
/// tasks' output files. Returns the script's path. Throws Error(OutputFailed).
std::filesystem::path write_slurm_script(const SlurmOptions& options);

struct BatchOptions {
  std::vector<std::filesystem::path> archives;
  std::filesystem::path manifest;         ///< instead of archives: run the cases of this manifest (of `shard`)
  Shard shard;                            ///< with a manifest: the part of its cases run here
  std::filesystem::path out_dir;
  std::string protocol = "auto";          ///< thigh-ct, calf-ct, auto or a protocol JSON file (passed to analyze)
  bool include_mr = false;                ///< MR series become cases too (DiscoveryOptions)
  std::string mr_protocol;                ///< for MR cases; "" = from `protocol` (mr_protocol_for)
  std::size_t parallel_cases = 1;         ///< cases analysed at the same time (-j)
  std::size_t threads_per_case = 0;       ///< analysis threads of each case process; 0: the CPUs this
                                          ///< process may use divided by parallel_cases (at least 1)
  bool resume = false;                    ///< continue the batch in out_dir (its batch.sqlite)
  double timeout_s = 600;                 ///< per-case wall-clock limit; the case's process group is killed after it
  std::size_t memory_limit_mb = 4096;     ///< per-case address-space limit (RLIMIT_AS), 0 = none
  std::filesystem::path analyzer = "/proc/self/exe";  ///< the musclecsa binary run as `analyzer analyze ...`
};

/// Status of a case in the database: "pending", "running", "done" or "failed".
struct CaseOutcome {
  std::string case_id;
  std::string series_description;
  std::string status;
  std::string reason_code;                ///< "" when done
  std::string message;
  double duration_s = 0;                  ///< wall-clock time of the child process
  std::size_t measurement_count = 0;
};

/// Counts of the whole batch (database content at the end of the run).
struct BatchSummary {
  std::size_t case_count = 0;
  std::size_t cases_run = 0;              ///< cases run in this invocation (not skipped as done)
  std::map<std::string, std::size_t> by_status;        ///< "done", "failed", ...
  std::map<std::string, std::size_t> by_reason;        ///< failed cases and skipped items by reason code
  std::size_t skipped_series = 0, skipped_files = 0;
  std::filesystem::path database, results_csv;
};

/// Receives the batch's progress (called from the thread that runs run_batch).
class BatchObserver {
 public:
  virtual ~BatchObserver() = default;
  /// Before the first case: total cases, those already done (resume), and what was skipped.
  virtual void started(std::size_t case_count, std::size_t already_done, std::size_t already_failed,
                       const Discovery& discovery) {}
  /// After each case run in this invocation.
  virtual void case_finished(const CaseOutcome& outcome, std::size_t done, std::size_t failed, std::size_t total) {}
  /// Now and then while cases run (about every second), for redrawing a progress display.
  virtual void tick(std::size_t done, std::size_t failed, std::size_t total) {}
  /// True to stop: running cases are killed and left to be re-run by --resume.
  virtual bool cancelled() const { return false; }
};

/// Runs the batch. Throws Error(InvalidArgument) for bad options, or when out_dir already holds
/// a batch database and `resume` is false; Error(OutputFailed) when the database or the folder
/// cannot be written; Error(Cancelled) when the observer cancels. Failed cases are not errors:
/// they are in the summary and the database.
BatchSummary run_batch(const BatchOptions& options, BatchObserver& observer);

/// What merge_batches did.
struct MergeSummary {
  std::size_t inputs = 0;
  std::size_t case_count = 0;
  std::size_t identical_duplicates = 0;   ///< cases found identical in more than one input (kept once)
  std::map<std::string, std::size_t> by_status;
  std::size_t skipped_series = 0, skipped_files = 0;
  std::vector<std::string> warnings;      ///< e.g. shards of a manifest missing from the inputs
  std::filesystem::path database, results_csv;
};

/// Merges the batch folders `inputs` (shards, or any batches run with the same protocol) into
/// out_dir: one batch.sqlite, one results.csv, and a copy of every case's folder and log. A case
/// found in several inputs must be identical in all (status, reason, every measurement), or the
/// merge is refused before anything is written: Error(InvalidInput) naming the case and the two
/// folders. Throws Error(InvalidArgument) when out_dir already holds a batch database or the
/// inputs were run with different protocols, Error(InputNotFound) when an input has no
/// batch.sqlite, Error(OutputFailed) when out_dir cannot be written.
MergeSummary merge_batches(const std::vector<std::filesystem::path>& inputs, const std::filesystem::path& out_dir);

}  // namespace musclecsa::batch
