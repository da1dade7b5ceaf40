// musclecsa analyze on MRI.

#include "analyze.h"
#include "musclecsa/core/error.h"

namespace musclecsa::app {

void add_mr_analyze_options(CLI::App& analyze, MrAnalyzeOptions& o) {}

std::optional<int> run_mr_analysis_before_loading(const AnalyzeOptions& o, Progress& progress) { return std::nullopt; }

int run_mr_analysis(const AnalyzeOptions& o, LoadedInput& in, Progress& progress) {
  throw Error(ErrorCode::InvalidInput, o.input, "analyze handles CT so far; MRI analysis is not available in this version");
}

}  // namespace musclecsa::app
