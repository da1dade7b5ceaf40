#pragma once
// A case opened for the viewer (issue 19: the viewer's save goes through the pipeline): the scan,
// the label map of a results folder and, for a CT or ultrasound analysis, the re-measurement of
// edited labels and the writing of corrected results, as the analysis itself measures and writes
// them (remeasure_ct and write_ct_outputs; the ultrasound analysis on the edited outline).

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "musclecsa/render/viewer.h"

namespace musclecsa::pipeline {

/// What to open: the scan (`input`, `series`, `pixel_size_mm` as analyze takes them), the analysis
/// folder (`results`, may be empty), the window `preset` ("" from the modality) and the pseudonym
/// map the analysis used (needed to save its results).
struct OpenCaseOptions {
  std::string input, results, series, preset, pseudonym_map;
  std::optional<double> pixel_size_mm;
};

/// Loads the input and its results into a viewer model; Save writes corrected results into
/// `save_dir` (empty: nothing can be saved). Throws Error for a missing or mismatched results folder.
std::unique_ptr<render::ViewerModel> open_case_for_viewing(const OpenCaseOptions& open, const std::filesystem::path& save_dir);

}  // namespace musclecsa::pipeline
