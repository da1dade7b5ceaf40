// musclecsa retest: test-retest repeatability (within-subject SD, CV, ICC, least significant change)
// from analysed cases that measured the same subjects more than once at one visit
// (musclecsa/longitudinal/retest.h, docs/longitudinal.md).

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "commands.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/longitudinal/retest.h"

namespace musclecsa::app {
namespace {

namespace fs = std::filesystem;

struct RetestCommandOptions {
  std::vector<std::string> cases;
  std::string out, subjects_file, subject;
  bool allow_mixed_protocols = false, quiet = false;
};

/// --subjects FILE: "case folder,subject" per line (blank lines and a "folder,subject" header skipped).
std::map<fs::path, std::string> read_subjects(const std::string& file) {
  std::map<fs::path, std::string> subjects;
  std::istringstream lines(io::read_text(file));
  int number = 0;
  for (std::string line; std::getline(lines, line);) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line == "folder,subject") continue;
    const auto comma = line.rfind(',');
    if (comma == std::string::npos || comma == 0 || comma + 1 == line.size())
      throw Error(ErrorCode::InvalidInput, file, "line " + std::to_string(number) + " is not \"case folder,subject\"");
    subjects[fs::weakly_canonical(line.substr(0, comma))] = line.substr(comma + 1);
  }
  return subjects;
}

int run_retest_command(const RetestCommandOptions& o) {
  if (!o.subjects_file.empty() && !o.subject.empty())
    throw Error(ErrorCode::InvalidArgument, "--subject", "give --subject or --subjects, not both");
  const auto subjects = o.subjects_file.empty() ? std::map<fs::path, std::string>() : read_subjects(o.subjects_file);
  std::vector<longitudinal::CaseRecord> cases;
  for (const auto& folder : o.cases) {
    std::string subject = o.subject;
    if (!subjects.empty()) {
      const auto it = subjects.find(fs::weakly_canonical(folder));
      if (it == subjects.end()) throw Error(ErrorCode::InvalidArgument, folder, "is not in --subjects " + o.subjects_file);
      subject = it->second;
    }
    cases.push_back(longitudinal::read_case(folder, subject));
  }
  const auto measures = longitudinal::repeatability(cases, o.allow_mixed_protocols);
  if (measures.empty())
    throw Error(ErrorCode::InvalidInput, o.cases.front(),
                "no measure was made twice for any subject: repeatability needs repeated cases of the same subjects");
  longitudinal::write_repeatability(o.out, cases, measures);
  if (o.quiet) return 0;
  std::size_t withheld = 0;
  for (const auto& c : cases) withheld += c.withheld;
  std::cout << "MuscleCSA retest: " << cases.size() << " case(s), " << measures.size() << " measure(s) repeated";
  if (withheld > 0) std::cout << "; " << withheld << " withheld value(s) left out";
  std::cout << "\n";
  std::printf("  %-52s %4s %4s %11s %10s %7s %6s %11s\n", "measure", "subj", "n", "mean", "within SD", "CV %", "ICC", "LSC");
  for (const auto& r : measures) {
    std::string name = r.quantity + " " + r.structure;
    if (r.side != "none" && !r.side.empty()) name += " " + r.side;
    if (!r.level.empty()) name += " @" + r.level;
    const std::string icc = r.icc ? [&] { char t[16]; std::snprintf(t, sizeof t, "%.3f", *r.icc); return std::string(t); }() : "-";
    std::printf("  %-52s %4zu %4zu %11.4g %10.4g %7.2f %6s %7.4g %s\n", name.c_str(), r.subjects, r.measurements, r.mean,
                r.within_subject_sd, r.cv_percent, icc.c_str(), r.lsc, r.unit.c_str());
  }
  std::fflush(stdout);
  std::cout << "  Outputs: " << (fs::path(o.out) / "retest.json").string() << ", retest.csv\n";
  return 0;
}

}  // namespace

Command add_retest_command(CLI::App& app) {
  auto options = std::make_shared<RetestCommandOptions>();
  auto& o = *options;
  CLI::App* cmd = app.add_subcommand(
      "retest", "Test-retest repeatability (within-subject SD, CV, ICC, least significant change) of repeated analyses");
  cmd->add_option("cases", o.cases, "analysed case folders (each holding results.json): the same subjects measured again")
      ->required();
  cmd->add_option("--out", o.out, "output folder for retest.json and retest.csv")->required();
  cmd->add_option("--subjects", o.subjects_file,
                  "CSV of \"case folder,subject\": who each case is (default: the pseudonym or Patient ID in results.json)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--subject", o.subject, "all cases are this one subject (e.g. repeated images of one person)");
  cmd->add_flag("--allow-mixed-protocols", o.allow_mixed_protocols,
                "go on when the cases were analysed with different protocols (their values may not compare)");
  cmd->add_flag("--quiet", o.quiet, "print nothing on success");
  return {cmd, [options] { return run_retest_command(*options); }};
}

}  // namespace musclecsa::app
