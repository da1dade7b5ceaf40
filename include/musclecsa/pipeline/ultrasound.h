#pragma once
// The ultrasound analysis of a case (B-mode DICOM, single- or multi-frame, or a picture with
// --pixel-size-mm): field of view, automatic / assisted / manual segmentation of the protocol's
// muscle, ACSA, thickness, fat thickness, echo intensity (raw and corrected), texture, QC image
// (docs/ultrasound.md).

#include <optional>
#include <string>

#include "musclecsa/pipeline/input.h"
#include "musclecsa/core/progress.h"

namespace musclecsa::pipeline {

struct AnalyzeOptions;

struct UsAnalyzeOptions {
  std::optional<double> pixel_size_mm;           ///< calibration of a picture without one (mm)
  std::string points;                            ///< assisted: "x,y;x,y;..." in pixels
  std::string points_file;                       ///< assisted: the points in a JSON file
  std::string outline;                           ///< manual: polygon (JSON, CSV, ImageJ ROI/XY) or mask picture
  std::optional<double> hyperechoic_threshold;   ///< grey level 0-255 (protocol default 150)
  std::optional<int> glcm_levels;                ///< GLCM grey levels (protocol default 32)
  std::optional<int> glcm_distance_px;           ///< GLCM offset in pixels (protocol default 1)
  std::optional<std::size_t> frame;              ///< frame of a multi-frame image (0-based)
  std::string side;                              ///< "right", "left" or "" (not recorded)
};

/// Exit status of an ultrasound analysis whose automatic contour failed its plausibility check: not
/// an error (every output is written, the measurements withheld, status needs_review), so it is no
/// musclecsa::ErrorCode (docs/exit-codes.md).
inline constexpr int kExitNeedsReview = 7;

/// Analyses a loaded ultrasound image (modality US, or a picture) and writes results.json,
/// results.csv, mask.png, qc.png and protocol.json into `o.out`. Returns the exit code: 0, or
/// kExitNeedsReview when the automatic contour failed its plausibility check.
int run_us_analysis(const AnalyzeOptions& o, LoadedInput& in, Progress& progress);

}  // namespace musclecsa::pipeline
