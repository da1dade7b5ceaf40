#pragma once
// Small 2-D mask helpers for slice-wise segmentation (internal to the segment module).

#include <cstdint>
#include <vector>

namespace musclecsa::segment::detail {

/// A 2-D binary mask, row-major (i fastest).
struct Mask2D {
  std::size_t nx = 0, ny = 0;
  std::vector<std::uint8_t> on;
  Mask2D() = default;
  Mask2D(std::size_t x, std::size_t y) : nx(x), ny(y), on(x * y, 0) {}
  bool at(long i, long j) const {
    return i >= 0 && j >= 0 && i < long(nx) && j < long(ny) && on[std::size_t(i) + nx * std::size_t(j)];
  }
};

struct Component {
  std::vector<std::size_t> pixels;  ///< offsets i + nx*j
  double centroid_i = 0, centroid_j = 0;
};

/// 4-connected components of a mask, largest first.
std::vector<Component> components(const Mask2D& mask);

/// The mask with holes (background not connected to the border) filled.
Mask2D fill_holes(const Mask2D& mask);

/// 3x3 mean filter (edges use the available neighbours).
std::vector<float> box3(const float* image, std::size_t nx, std::size_t ny);

}  // namespace musclecsa::segment::detail
