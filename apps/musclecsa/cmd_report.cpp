// musclecsa report: HTML pages from analysed case folders: one per case, and one for a batch.

#include <iostream>

#include "commands.h"
#include "musclecsa/core/error.h"
#include "musclecsa/report/html_report.h"

namespace musclecsa::app {
namespace {

struct ReportOptions {
  std::vector<std::string> cases;
  std::string out;
  bool quiet = false;
};

int run_report(const ReportOptions& o) {
  if (o.out.empty()) {
    // Case pages only, written into each case folder.
    for (const auto& dir : o.cases) report::write_case_report(dir);
    if (!o.quiet)
      for (const auto& dir : o.cases) std::cout << (std::filesystem::path(dir) / "report.html").string() << "\n";
    return 0;
  }
  std::vector<report::BatchCaseSummary> cases;
  for (const auto& dir : o.cases) {
    if (!std::filesystem::is_directory(dir)) throw Error(ErrorCode::InputNotFound, dir, "not a folder");
    cases.push_back(report::summarise_case(dir));
  }
  report::write_batch_report(cases, o.out);
  if (!o.quiet) {
    int failed = 0;
    for (const auto& c : cases) failed += c.analysed ? 0 : 1;
    std::cout << "MuscleCSA report: " << cases.size() << " case(s), " << failed << " failed: "
              << (std::filesystem::path(o.out) / "index.html").string() << "\n";
  }
  return 0;
}

}  // namespace

Command add_report_command(CLI::App& app) {
  auto options = std::make_shared<ReportOptions>();
  auto& o = *options;
  CLI::App* cmd = app.add_subcommand("report", "HTML report pages from analysed folders (musclecsa analyze --out)");
  cmd->add_option("cases", o.cases, "case folders (each holding results.json, or error.txt for a failed case)")->required();
  cmd->add_option("--out", o.out, "write a batch page (index.html) with every case into this folder; "
                                  "without it, each case folder gets its report.html");
  cmd->add_flag("--quiet", o.quiet, "print nothing on success");
  return {cmd, [options] { return run_report(*options); }};
}

}  // namespace musclecsa::app
