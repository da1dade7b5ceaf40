#pragma once
// QC images: a slice with its label overlay, contours, legend and key numbers, as PNG.

#include <filesystem>
#include <string>
#include <vector>

#include "musclecsa/core/image.h"

namespace musclecsa::report {

/// Display window in the image's units (HU for CT): values from centre - width/2 to
/// centre + width/2 map to black..white.
struct Window {
  double centre = 40, width = 400;  ///< default: a soft-tissue/muscle window for CT
};

struct QcImageOptions {
  Window window;
  double overlay_opacity = 0.35;      ///< label colour blended over the grey image (0..1)
  std::vector<std::string> text;      ///< lines printed in the legend panel (title, key numbers, flags)
  int minimum_width = 700;            ///< the slice is enlarged (nearest neighbour) to at least this width
};

/// Draws slice k of `image` (radiological display: patient right on the left, anterior up) with
/// the catalog colours of `labels` blended over it, the outline of each labelled region, and a
/// legend of the structures present plus `options.text`. Written atomically as PNG.
/// Throws Error(InvalidArgument) for mismatched grids or k out of range, Error(OutputFailed, path).
void write_qc_image(const ScalarVolume& image, const LabelMap& labels, std::size_t k, const QcImageOptions& options,
                    const std::filesystem::path& png_path);

}  // namespace musclecsa::report
