#pragma once
// musclecsa analyze on ultrasound (B-mode DICOM or a picture with --pixel-size-mm).

#include <CLI/CLI.hpp>
#include <optional>

#include "input.h"
#include "musclecsa/core/progress.h"

namespace musclecsa::app {

struct AnalyzeOptions;

struct UsAnalyzeOptions {
  std::optional<double> pixel_size_mm;  ///< calibration of a picture without one
};

/// Registers the ultrasound-only options of `musclecsa analyze`.
void add_us_analyze_options(CLI::App& analyze, UsAnalyzeOptions& o);

/// Analyses a loaded ultrasound image (modality US, or a picture).
int run_us_analysis(const AnalyzeOptions& o, LoadedInput& in, Progress& progress);

}  // namespace musclecsa::app
