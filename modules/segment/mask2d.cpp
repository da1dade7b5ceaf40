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
  // Flood the background from the border of the mask's bounding box (plus a one-pixel margin);
  // what the flood does not reach is inside. Work stays proportional to the object, not the image.
  long i0 = long(mask.nx), j0 = long(mask.ny), i1 = -1, j1 = -1;
  for (std::size_t o = 0; o < mask.on.size(); ++o)
    if (mask.on[o]) {
      const long i = long(o % mask.nx), j = long(o / mask.nx);
      i0 = std::min(i0, i), i1 = std::max(i1, i), j0 = std::min(j0, j), j1 = std::max(j1, j);
    }
  Mask2D filled(mask.nx, mask.ny);
  if (i1 < 0) return filled;
  i0 = std::max(0L, i0 - 1), j0 = std::max(0L, j0 - 1);
  i1 = std::min(long(mask.nx) - 1, i1 + 1), j1 = std::min(long(mask.ny) - 1, j1 + 1);
  const std::size_t w = std::size_t(i1 - i0 + 1), h = std::size_t(j1 - j0 + 1);
  std::vector<std::uint8_t> outside(w * h, 0);
  std::vector<std::size_t> stack;
  auto on = [&](std::size_t a, std::size_t b) { return mask.on[std::size_t(i0) + a + mask.nx * (std::size_t(j0) + b)] != 0; };
  auto seed = [&](std::size_t a, std::size_t b) {
    const std::size_t q = a + w * b;
    if (!on(a, b) && !outside[q]) {
      outside[q] = 1;
      stack.push_back(q);
    }
  };
  for (std::size_t a = 0; a < w; ++a) seed(a, 0), seed(a, h - 1);
  for (std::size_t b = 0; b < h; ++b) seed(0, b), seed(w - 1, b);
  while (!stack.empty()) {
    const std::size_t q = stack.back();
    stack.pop_back();
    const std::size_t a = q % w, b = q / w;
    if (a > 0) seed(a - 1, b);
    if (a + 1 < w) seed(a + 1, b);
    if (b > 0) seed(a, b - 1);
    if (b + 1 < h) seed(a, b + 1);
  }
  for (std::size_t b = 0; b < h; ++b)
    for (std::size_t a = 0; a < w; ++a)
      if (!outside[a + w * b]) filled.on[std::size_t(i0) + a + mask.nx * (std::size_t(j0) + b)] = 1;
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
