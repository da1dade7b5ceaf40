#pragma once
// 2-D operations on one axial slice of a mask (i-fastest): distance transform, closing, hole filling,
// connected components. Internal to the atlas module.

#include <cstdint>
#include <vector>

namespace musclecsa::atlas::detail {

struct SliceShape {
  int nx = 0, ny = 0;
  double sx = 1, sy = 1;  ///< pixel spacing (mm)
};

/// Euclidean distance (mm) from each pixel to the nearest pixel where `mask` is nonzero (0 on them).
std::vector<float> distance_to(const std::vector<std::uint8_t>& mask, const SliceShape& shape);
/// Morphological closing with a disc of `radius_mm`, then every hole (background not connected to
/// the slice border) filled.
std::vector<std::uint8_t> close_and_fill(const std::vector<std::uint8_t>& mask, const SliceShape& shape,
                                         double radius_mm);
/// 4-connected components of nonzero pixels: label per pixel (0 background, 1..n) and their count.
int connected_components(const std::vector<std::uint8_t>& mask, const SliceShape& shape, std::vector<int>& labels);

}  // namespace musclecsa::atlas::detail
