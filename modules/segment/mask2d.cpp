#include "mask2d.h"

#include <algorithm>

namespace musclecsa::segment::detail {

std::vector<Component> components(const Mask2D& mask) {
  std::vector<int> seen(mask.on.size(), 0);
  std::vector<Component> out;
  std::vector<std::size_t> stack;
  for (std::size_t start = 0; start < mask.on.size(); ++start) {
    if (!mask.on[start] || seen[start]) continue;
    Component c;
    stack.push_back(start);
    seen[start] = 1;
    double si = 0, sj = 0;
    while (!stack.empty()) {
      const std::size_t o = stack.back();
      stack.pop_back();
      c.pixels.push_back(o);
      const long i = long(o % mask.nx), j = long(o / mask.nx);
      si += double(i);
      sj += double(j);
      const long ni[4] = {i - 1, i + 1, i, i}, nj[4] = {j, j, j - 1, j + 1};
      for (int n = 0; n < 4; ++n) {
        if (!mask.at(ni[n], nj[n])) continue;
        const std::size_t q = std::size_t(ni[n]) + mask.nx * std::size_t(nj[n]);
        if (!seen[q]) {
          seen[q] = 1;
          stack.push_back(q);
        }
      }
    }
    c.centroid_i = si / double(c.pixels.size());
    c.centroid_j = sj / double(c.pixels.size());
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const Component& a, const Component& b) { return a.pixels.size() > b.pixels.size(); });
  return out;
}

Mask2D fill_holes(const Mask2D& mask) {
  // Flood the background from the border; what the flood does not reach is inside.
  Mask2D outside(mask.nx, mask.ny);
  std::vector<std::size_t> stack;
  auto seed = [&](std::size_t i, std::size_t j) {
    const std::size_t o = i + mask.nx * j;
    if (!mask.on[o] && !outside.on[o]) {
      outside.on[o] = 1;
      stack.push_back(o);
    }
  };
  for (std::size_t i = 0; i < mask.nx; ++i) seed(i, 0), seed(i, mask.ny - 1);
  for (std::size_t j = 0; j < mask.ny; ++j) seed(0, j), seed(mask.nx - 1, j);
  while (!stack.empty()) {
    const std::size_t o = stack.back();
    stack.pop_back();
    const long i = long(o % mask.nx), j = long(o / mask.nx);
    const long ni[4] = {i - 1, i + 1, i, i}, nj[4] = {j, j, j - 1, j + 1};
    for (int n = 0; n < 4; ++n) {
      if (ni[n] < 0 || nj[n] < 0 || ni[n] >= long(mask.nx) || nj[n] >= long(mask.ny)) continue;
      seed(std::size_t(ni[n]), std::size_t(nj[n]));
    }
  }
  Mask2D filled(mask.nx, mask.ny);
  for (std::size_t o = 0; o < filled.on.size(); ++o) filled.on[o] = !outside.on[o];
  return filled;
}

std::vector<float> box3(const float* image, std::size_t nx, std::size_t ny) {
  std::vector<float> out(nx * ny);
  for (std::size_t j = 0; j < ny; ++j)
    for (std::size_t i = 0; i < nx; ++i) {
      double sum = 0;
      int n = 0;
      for (long dj = -1; dj <= 1; ++dj)
        for (long di = -1; di <= 1; ++di) {
          const long a = long(i) + di, b = long(j) + dj;
          if (a < 0 || b < 0 || a >= long(nx) || b >= long(ny)) continue;
          sum += image[std::size_t(a) + nx * std::size_t(b)];
          ++n;
        }
      out[i + nx * j] = static_cast<float>(sum / n);
    }
  return out;
}

}  // namespace musclecsa::segment::detail
