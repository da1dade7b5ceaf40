// musclecsa_score: scores one `musclecsa analyze` output folder against a truth and writes the
// records as one JSON array (docs/accuracy.md).
//
//   musclecsa_score --result R --truth-phantom P --out score.json [--case-id ID] [--subject S]
//                   [--modality M] [--tag key=value ...]
//   musclecsa_score --result R --truth-labels thighNNN_labels_nnunet.nii.gz --out score.json ...
//
// The output is written under a temporary name and renamed when complete. Exit codes as
// musclecsa's (docs/exit-codes.md): 2 bad arguments, 3 missing input, 4 corrupt input, 5 output
// failed; the message names the file.

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "musclecsa/core/error.h"
#include "musclecsa/io/text_file.h"
#include "scoring.h"

namespace {

struct Options {
  std::string result, truth_phantom, truth_labels, out;
  musclecsa::accuracy::CaseInfo info;
  std::vector<std::string> tags;
  bool quiet = false;
};

int run(const Options& options) {
  using namespace musclecsa;
  accuracy::CaseInfo info = options.info;
  for (const std::string& tag : options.tags) {
    const auto eq = tag.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error(ErrorCode::InvalidArgument, "--tag " + tag, "expected key=value");
    info.tags[tag.substr(0, eq)] = tag.substr(eq + 1);
  }
  const accuracy::Result result = accuracy::read_result(options.result);
  const accuracy::Truth truth = options.truth_phantom.empty() ? accuracy::read_reference_truth(options.truth_labels)
                                                              : accuracy::read_phantom_truth(options.truth_phantom);
  const auto records = accuracy::score(truth, result);
  if (records.empty())
    throw Error(ErrorCode::InvalidInput, truth.source, "the truth holds no muscle of the catalog: nothing to score");
  io::write_text_atomically(options.out, accuracy::to_json(records, info, truth, result).dump(1) + "\n");
  if (!options.quiet) std::cout << "musclecsa_score: " << records.size() << " records -> " << options.out << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Scores one musclecsa analyze result folder against a phantom's truth or a reference label map"};
  Options options;
  app.add_option("--result", options.result, "analyze output folder (labels.nii.gz, results.json, fat_fraction.nii.gz)")->required();
  auto* phantom = app.add_option("--truth-phantom", options.truth_phantom,
                                 "phantom folder written by musclecsa phantom --out (truth/labels.nii.gz, truth.json, fat_fraction.nii.gz)");
  auto* labels = app.add_option("--truth-labels", options.truth_labels,
                                "reference label map in the 11-label thigh scheme (e.g. thighNNN_labels_nnunet.nii.gz)");
  phantom->excludes(labels);
  labels->excludes(phantom);
  app.add_option("--out", options.out, "score file to write (JSON array of records)")->required();
  app.add_option("--case-id", options.info.case_id, "case id written into every record");
  app.add_option("--subject", options.info.subject, "subject written into every record");
  app.add_option("--modality", options.info.modality, "modality written into every record (default: from results.json)");
  app.add_option("--tag", options.tags, "condition tag key=value (repeatable)");
  app.add_flag("--quiet", options.quiet, "print nothing on success");
  try {
    app.parse(argc, argv);
    if (options.truth_phantom.empty() == options.truth_labels.empty())
      throw CLI::ValidationError("give one of --truth-phantom and --truth-labels");
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    return run(options);
  } catch (const musclecsa::Error& e) {
    std::cerr << "musclecsa_score: error: " << e.what() << "\n";
    return musclecsa::exit_code_for(e.code());
  } catch (const std::exception& e) {
    std::cerr << "musclecsa_score: internal error: " << e.what() << "\n";
    return 70;
  }
}
