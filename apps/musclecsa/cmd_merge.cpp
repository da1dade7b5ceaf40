// musclecsa merge: shard folders of a batch (batch --shard, e.g. from a Slurm job array) into one
// batch folder with one database and one results.csv (docs/batch.md).

#include <iostream>
#include <memory>

#include "commands.h"
#include "musclecsa/batch/batch.h"

namespace musclecsa::app {
namespace {

struct MergeCommandOptions {
  std::vector<std::string> inputs;
  std::string out;
  bool quiet = false;
};

int run_merge_command(const MergeCommandOptions& o) {
  const std::vector<std::filesystem::path> inputs(o.inputs.begin(), o.inputs.end());
  const batch::MergeSummary summary = batch::merge_batches(inputs, o.out);
  for (const auto& warning : summary.warnings) std::cerr << "musclecsa merge: warning: " << warning << "\n";
  if (o.quiet) return 0;
  const auto count = [&](const char* status) {
    const auto it = summary.by_status.find(status);
    return it == summary.by_status.end() ? std::size_t(0) : it->second;
  };
  std::cout << "MuscleCSA merge: " << summary.inputs << " folder(s), " << summary.case_count << " case(s): " << count("done")
            << " done, " << count("failed") << " failed";
  const std::size_t other = summary.case_count - count("done") - count("failed");
  if (other > 0) std::cout << ", " << other << " not finished";
  std::cout << "; " << summary.skipped_series << " series and " << summary.skipped_files << " file(s) skipped\n";
  if (summary.identical_duplicates > 0)
    std::cout << "  " << summary.identical_duplicates << " case(s) were in more than one folder, identical: kept once\n";
  std::cout << "  database: " << summary.database.string() << "\n  results:  " << summary.results_csv.string() << "\n";
  return 0;
}

}  // namespace

Command add_merge_command(CLI::App& app) {
  auto options = std::make_shared<MergeCommandOptions>();
  auto& o = *options;
  CLI::App* cmd = app.add_subcommand(
      "merge", "merge batch shard folders into one batch folder: one batch.sqlite, one results.csv, the case folders copied");
  cmd->add_option("folders", o.inputs, "batch or shard folders (each holding batch.sqlite)")->required();
  cmd->add_option("--out", o.out, "output folder (must not hold a batch.sqlite yet)")->required();
  cmd->add_flag("--quiet", o.quiet, "print only errors and warnings");
  return {cmd, [options] { return run_merge_command(*options); }};
}

}  // namespace musclecsa::app
