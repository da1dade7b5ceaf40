#pragma once
// HTML reports: one page per analysed case (from its results.json and QC images), and one page
// per batch of cases (one row each, thumbnails, sortable, failures with their reasons). Each is
// self-contained in one folder: inline style and script, images next to the page.

#include <filesystem>
#include <string>
#include <vector>

namespace musclecsa::report {

/// Writes `case_dir`/report.html from `case_dir`/results.json and the QC images it names.
/// Throws Error(InputNotFound / InvalidInput, results.json, ...) when the results are missing or not
/// MuscleCSA results, Error(OutputFailed, path, ...) when the page cannot be written.
void write_case_report(const std::filesystem::path& case_dir);

/// One case of a batch page: a folder holding results.json (analysed) or not (failed).
struct BatchCaseSummary {
  std::string name;                 ///< shown in the table (the folder name by default)
  std::filesystem::path dir;
  bool analysed = false;
  std::string failure_reason;       ///< why there are no results (from error.txt, or what is missing)
};

/// Reads what a case folder holds: results.json (analysed), else error.txt (its first line is the
/// reason), else "no results.json".
BatchCaseSummary summarise_case(const std::filesystem::path& case_dir);

/// Writes `out_dir`/index.html for the cases, copying each analysed case's report page and QC
/// images into `out_dir`/cases/<n>/ so that the folder stands alone. Case names must be unique
/// (the folder names are used; duplicates get a numeric suffix). Throws Error(OutputFailed, ...).
void write_batch_report(const std::vector<BatchCaseSummary>& cases, const std::filesystem::path& out_dir);

}  // namespace musclecsa::report
