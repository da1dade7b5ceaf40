#include "mask2d.h"

#include <algorithm>
#include <cstring>

namespace musclecsa::segment::detail {

Box bounding_box(const Mask2D& mask) {
  Box box{mask.nx, 0, mask.ny, 0, true};
  for (std::size_t j = 0; j < mask.ny; ++j) {
    const std::uint8_t* row = mask.on.data() + mask.nx * j;
    // Skip empty 8-byte words: leg masks cover a fraction of the slice.
    std::size_t i = 0;
    for (std::uint64_t word; i + 8 <= mask.nx; i += 8) {
      std::memcpy(&word, row + i, 8);
      if (word) break;
    }
    while (i < mask.nx && !row[i]) ++i;
    if (i == mask.nx) continue;
    std::size_t end = mask.nx;  // one past the last on pixel
    for (std::uint64_t word; end >= i + 8; end -= 8) {
      std::memcpy(&word, row + end - 8, 8);
      if (word) break;
    }
    while (!row[end - 1]) --end;
    box.i0 = std::min(box.i0, i), box.i1 = std::max(box.i1, end - 1);
    box.j0 = std::min(box.j0, j), box.j1 = std::max(box.j1, j);
    box.empty = false;
  }
  if (box.empty) box = Box{};
  return box;
}

Box bounding_box(const std::vector<std::size_t>& pixels, std::size_t nx) {
  if (pixels.empty()) return Box{};
  Box box{nx, 0, std::size_t(-1), 0, false};
  for (std::size_t o : pixels) {
    const std::size_t j = o / nx, i = o - j * nx;
    box.i0 = std::min(box.i0, i), box.i1 = std::max(box.i1, i);
    box.j0 = std::min(box.j0, j), box.j1 = std::max(box.j1, j);
  }
  return box;
}

std::vector<Component> components(const Mask2D& mask) { return components(mask, bounding_box(mask)); }

std::vector<Component> components(const Mask2D& mask, const Box& box) {
  // Depth-first flood from each unseen pixel in raster order (the same visiting order as a plain
  // stack fill over the whole mask, so the same components, pixels and order); byte flags over
  // the box only, one division per pixel.
  std::vector<Component> out;
  if (box.empty) return out;
  const std::size_t nx = mask.nx;
  const std::size_t w = box.i1 - box.i0 + 1, h = box.j1 - box.j0 + 1;
  std::vector<std::uint8_t> seen(w * h, 0);  // index (i - i0) + w * (j - j0)
  std::vector<std::size_t> stack;
  const std::uint8_t* on = mask.on.data();
  for (std::size_t j = box.j0; j <= box.j1; ++j)
    for (std::size_t i = box.i0; i <= box.i1; ++i) {
      const std::size_t start = i + nx * j;
      if (!on[start] || seen[(i - box.i0) + w * (j - box.j0)]) continue;
      Component c;
      stack.push_back(start);
      seen[(i - box.i0) + w * (j - box.j0)] = 1;
      double si = 0, sj = 0;
      while (!stack.empty()) {
        const std::size_t o = stack.back();
        stack.pop_back();
        c.pixels.push_back(o);
        const std::size_t pj = o / nx, pi = o - pj * nx;
        si += double(pi);
        sj += double(pj);
        const std::size_t s = (pi - box.i0) + w * (pj - box.j0);
        auto visit = [&](std::size_t q, std::size_t sq) {
          if (on[q] && !seen[sq]) {
            seen[sq] = 1;
            stack.push_back(q);
          }
        };
        if (pi > box.i0) visit(o - 1, s - 1);
        if (pi < box.i1) visit(o + 1, s + 1);
        if (pj > box.j0) visit(o - nx, s - w);
        if (pj < box.j1) visit(o + nx, s + w);
      }
      c.centroid_i = si / double(c.pixels.size());
      c.centroid_j = sj / double(c.pixels.size());
      out.push_back(std::move(c));
    }
  std::sort(out.begin(), out.end(), [](const Component& a, const Component& b) { return a.pixels.size() > b.pixels.size(); });
  return out;
}

Mask2D fill_holes(const Mask2D& mask) { return fill_holes(mask, bounding_box(mask)); }

Mask2D fill_holes(const Mask2D& mask, const Box& box) {
  // Flood the background from the border of the box (plus a one-pixel margin); what the flood
  // does not reach is inside. Work stays proportional to the object, not the image.
  Mask2D filled(mask.nx, mask.ny);
  if (box.empty) return filled;
  const long i0 = std::max(0L, long(box.i0) - 1), j0 = std::max(0L, long(box.j0) - 1);
  const long i1 = std::min(long(mask.nx) - 1, long(box.i1) + 1), j1 = std::min(long(mask.ny) - 1, long(box.j1) + 1);
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

namespace {

/// Mean of the 3x3 neighbourhood of (i, j): summed in double in the same order (rows j-1..j+1,
/// columns i-1..i+1) everywhere, so interior and edge pixels give exactly what the plain loop gave.
inline float box3_edge(const float* image, std::size_t nx, std::size_t ny, std::size_t i, std::size_t j) {
  double sum = 0;
  int n = 0;
  for (long dj = -1; dj <= 1; ++dj)
    for (long di = -1; di <= 1; ++di) {
      const long a = long(i) + di, b = long(j) + dj;
      if (a < 0 || b < 0 || a >= long(nx) || b >= long(ny)) continue;
      sum += image[std::size_t(a) + nx * std::size_t(b)];
      ++n;
    }
  return static_cast<float>(sum / n);
}

/// Calls emit(offset, mean) for every pixel; interior pixels without bounds checks.
template <class Emit>
void box3_each(const float* image, std::size_t nx, std::size_t ny, Emit&& emit) {
  for (std::size_t j = 0; j < ny; ++j) {
    if (j == 0 || j + 1 >= ny || nx < 3) {
      for (std::size_t i = 0; i < nx; ++i) emit(i + nx * j, box3_edge(image, nx, ny, i, j));
      continue;
    }
    const float* up = image + nx * (j - 1);
    const float* mid = image + nx * j;
    const float* down = image + nx * (j + 1);
    emit(nx * j, box3_edge(image, nx, ny, 0, j));
    for (std::size_t i = 1; i + 1 < nx; ++i) {
      double sum = 0;
      sum += up[i - 1];
      sum += up[i];
      sum += up[i + 1];
      sum += mid[i - 1];
      sum += mid[i];
      sum += mid[i + 1];
      sum += down[i - 1];
      sum += down[i];
      sum += down[i + 1];
      emit(i + nx * j, static_cast<float>(sum / 9));
    }
    emit(nx - 1 + nx * j, box3_edge(image, nx, ny, nx - 1, j));
  }
}

}  // namespace

std::vector<float> box3(const float* image, std::size_t nx, std::size_t ny) {
  std::vector<float> out(nx * ny);
  box3_each(image, nx, ny, [&](std::size_t o, float v) { out[o] = v; });
  return out;
}

Mask2D box3_above(const float* image, std::size_t nx, std::size_t ny, double threshold) {
  Mask2D out(nx, ny);
  box3_each(image, nx, ny, [&](std::size_t o, float v) { out.on[o] = v > threshold; });
  return out;
}

}  // namespace musclecsa::segment::detail
