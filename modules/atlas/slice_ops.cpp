// Distance (core's exact transform), closing and hole filling on one slice.

#include "slice_ops.h"

#include "musclecsa/core/distance_transform.h"

#include <cmath>
#include <limits>

namespace musclecsa::atlas::detail {

std::vector<float> distance_to(const std::vector<std::uint8_t>& mask, const SliceShape& shape) {
  return distance_to_nonzero(mask, shape.nx, shape.ny, shape.sx, shape.sy);
}

std::vector<std::uint8_t> close_and_fill(const std::vector<std::uint8_t>& mask, const SliceShape& shape,
                                         double radius_mm) {
  const std::size_t n = mask.size();
  std::vector<std::uint8_t> dilated(n), closed(n);
  const std::vector<float> to_mask = distance_to(mask, shape);
  for (std::size_t p = 0; p < n; ++p) dilated[p] = to_mask[p] <= radius_mm ? 0 : 1;  // complement of the dilation
  const std::vector<float> to_outside = distance_to(dilated, shape);
  for (std::size_t p = 0; p < n; ++p) closed[p] = (mask[p] || to_outside[p] > radius_mm) ? 1 : 0;
  // Fill holes: flood the background from the border.
  const int nx = shape.nx, ny = shape.ny;
  std::vector<std::uint8_t> outside(n, 0);
  std::vector<int> stack;
  auto push = [&](int i, int j) {
    const std::size_t p = static_cast<std::size_t>(i + nx * j);
    if (!closed[p] && !outside[p]) {
      outside[p] = 1;
      stack.push_back(static_cast<int>(p));
    }
  };
  for (int i = 0; i < nx; ++i) push(i, 0), push(i, ny - 1);
  for (int j = 0; j < ny; ++j) push(0, j), push(nx - 1, j);
  while (!stack.empty()) {
    const int p = stack.back();
    stack.pop_back();
    const int i = p % nx, j = p / nx;
    if (i > 0) push(i - 1, j);
    if (i + 1 < nx) push(i + 1, j);
    if (j > 0) push(i, j - 1);
    if (j + 1 < ny) push(i, j + 1);
  }
  for (std::size_t p = 0; p < n; ++p) closed[p] = outside[p] ? 0 : 1;
  return closed;
}

int connected_components(const std::vector<std::uint8_t>& mask, const SliceShape& shape, std::vector<int>& labels) {
  const int nx = shape.nx, ny = shape.ny;
  labels.assign(mask.size(), 0);
  int count = 0;
  std::vector<int> stack;
  for (std::size_t start = 0; start < mask.size(); ++start) {
    if (!mask[start] || labels[start]) continue;
    ++count;
    labels[start] = count;
    stack.push_back(static_cast<int>(start));
    while (!stack.empty()) {
      const int p = stack.back();
      stack.pop_back();
      const int i = p % nx, j = p / nx;
      const int next[4][2] = {{i - 1, j}, {i + 1, j}, {i, j - 1}, {i, j + 1}};
      for (const auto& q : next) {
        if (q[0] < 0 || q[1] < 0 || q[0] >= nx || q[1] >= ny) continue;
        const std::size_t o = static_cast<std::size_t>(q[0] + nx * q[1]);
        if (mask[o] && !labels[o]) {
          labels[o] = count;
          stack.push_back(static_cast<int>(o));
        }
      }
    }
  }
  return count;
}

}  // namespace musclecsa::atlas::detail
