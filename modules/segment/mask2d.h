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

/// Inclusive pixel rectangle [i0, i1] x [j0, j1]; empty when nothing is on.
struct Box {
  std::size_t i0 = 0, i1 = 0, j0 = 0, j1 = 0;
  bool empty = true;
};

/// The tightest box around the mask's on pixels.
Box bounding_box(const Mask2D& mask);

struct Component {
  std::vector<std::size_t> pixels;  ///< offsets i + nx*j
  double centroid_i = 0, centroid_j = 0;
  Box box;                          ///< tightest box around the pixels
};

/// 4-connected components of a mask, largest first.
std::vector<Component> components(const Mask2D& mask);
/// The same for a mask whose on pixels all lie in `box` (work proportional to the box).
std::vector<Component> components(const Mask2D& mask, const Box& box);

/// The mask with holes (background not connected to the border) filled.
Mask2D fill_holes(const Mask2D& mask);
/// The same for a mask whose on pixels all lie in `box`; the filled pixels lie in it too.
Mask2D fill_holes(const Mask2D& mask, const Box& box);

/// 3x3 mean filter (edges use the available neighbours).
std::vector<float> box3(const float* image, std::size_t nx, std::size_t ny);

/// Pixels whose box3 mean is above the threshold (box3 without the float image).
Mask2D box3_above(const float* image, std::size_t nx, std::size_t ny, double threshold);

}  // namespace musclecsa::segment::detail
