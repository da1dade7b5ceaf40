#pragma once
// musclecsa analyze on MRI: a T1/T2-weighted axial series or a Dixon set.

#include <CLI/CLI.hpp>
#include <optional>

#include "input.h"
#include "musclecsa/core/progress.h"

namespace musclecsa::app {

struct AnalyzeOptions;

struct MrAnalyzeOptions {};

/// Registers the MRI-only options of `musclecsa analyze`.
void add_mr_analyze_options(CLI::App& analyze, MrAnalyzeOptions& o);

/// Runs an MRI analysis that needs more than one series (e.g. a Dixon set) before the input is
/// loaded as a single series; nullopt when the input is not such a case.
std::optional<int> run_mr_analysis_before_loading(const AnalyzeOptions& o, Progress& progress);

/// Analyses a loaded single MR series.
int run_mr_analysis(const AnalyzeOptions& o, LoadedInput& in, Progress& progress);

}  // namespace musclecsa::app
