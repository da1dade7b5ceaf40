#include "mask2d.h"

#include <algorithm>
#include <cmath>
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

std::vector<Component> components(const Mask2D& mask) { return components(mask, bounding_box(mask)); }

std::vector<Component> components(const Mask2D& mask, const Box& box) {
  // Run-based labelling: runs of on pixels per row, joined (union-find) with the runs they touch in
  // the row above (4-connectivity: shared columns). Components are numbered in raster order of
  // their first pixel, as a flood from each unseen pixel in raster order numbers them, so the same
  // components come out in the same order; pixels are listed in raster order (callers use them
  // as a set) and centroids are exact integer sums.
  std::vector<Component> out;
  if (box.empty) return out;
  struct Run {
    std::uint32_t j, i0, i1, label;  // pixels i0..i1 of row j
  };
  std::vector<Run> runs;
  std::vector<std::uint32_t> parent;
  const auto find = [&](std::uint32_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  std::size_t above_begin = 0, above_end = 0;  // runs of the previous row
  for (std::size_t j = box.j0; j <= box.j1; ++j) {
    const std::uint8_t* row = mask.on.data() + mask.nx * j;
    const std::size_t row_begin = runs.size();
    std::size_t above = above_begin;
    for (std::size_t i = box.i0; i <= box.i1;) {
      if (!row[i]) {
        ++i;
        continue;
      }
      std::size_t end = i;
      while (end < box.i1 && row[end + 1]) ++end;
      const auto label = std::uint32_t(parent.size());
      parent.push_back(label);
      runs.push_back({std::uint32_t(j), std::uint32_t(i), std::uint32_t(end), label});
      // Runs above that share a column with [i, end] (both rows' runs are sorted by column).
      if (above_end > above_begin && runs[above_begin].j + 1 == j) {
        while (above < above_end && runs[above].i1 < i) ++above;
        for (std::size_t a = above; a < above_end && runs[a].i0 <= end; ++a) {
          const std::uint32_t ra = find(runs[a].label), rb = find(label);
          if (ra != rb) parent[std::max(ra, rb)] = std::min(ra, rb);
        }
      }
      i = end + 1;
    }
    if (runs.size() > row_begin) above_begin = row_begin, above_end = runs.size();
  }
  // Number the components by their first run in raster order; sizes first, then the pixels.
  std::vector<std::uint32_t> index(parent.size(), std::uint32_t(-1));
  std::vector<std::uint64_t> sum_i, sum_j;
  for (const Run& run : runs) {
    const std::uint32_t root = find(run.label);
    if (index[root] == std::uint32_t(-1)) {
      index[root] = std::uint32_t(out.size());
      out.emplace_back();
      out.back().box = Box{run.i0, run.i1, run.j, run.j, false};
      sum_i.push_back(0), sum_j.push_back(0);
    }
    const std::uint32_t c = index[root];
    Box& b = out[c].box;
    b.i0 = std::min<std::size_t>(b.i0, run.i0), b.i1 = std::max<std::size_t>(b.i1, run.i1), b.j1 = run.j;
    const std::uint64_t n = run.i1 - run.i0 + 1;
    sum_i[c] += (std::uint64_t(run.i0) + run.i1) * n / 2;
    sum_j[c] += std::uint64_t(run.j) * n;
    out[c].centroid_i += double(n);  // pixel count for now
  }
  for (Component& c : out) c.pixels.reserve(std::size_t(c.centroid_i));
  for (const Run& run : runs) {
    auto& pixels = out[index[find(run.label)]].pixels;
    const std::size_t o = mask.nx * run.j;
    for (std::size_t i = run.i0; i <= run.i1; ++i) pixels.push_back(o + i);
  }
  for (std::size_t c = 0; c < out.size(); ++c) {
    const double n = double(out[c].pixels.size());
    out[c].centroid_i = double(sum_i[c]) / n;
    out[c].centroid_j = double(sum_j[c]) / n;
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
  std::vector<std::pair<std::uint32_t, std::uint32_t>> stack;  // (a, b): no division per pixel
  auto on = [&](std::size_t a, std::size_t b) { return mask.on[std::size_t(i0) + a + mask.nx * (std::size_t(j0) + b)] != 0; };
  auto seed = [&](std::size_t a, std::size_t b) {
    const std::size_t q = a + w * b;
    if (!on(a, b) && !outside[q]) {
      outside[q] = 1;
      stack.push_back({std::uint32_t(a), std::uint32_t(b)});
    }
  };
  for (std::size_t a = 0; a < w; ++a) seed(a, 0), seed(a, h - 1);
  for (std::size_t b = 0; b < h; ++b) seed(0, b), seed(w - 1, b);
  while (!stack.empty()) {
    const std::size_t a = stack.back().first, b = stack.back().second;
    stack.pop_back();
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
  const auto general = [&] { box3_each(image, nx, ny, [&](std::size_t o, float v) { out.on[o] = v > threshold; }); };
  if (nx < 3 || ny < 3 || !(std::abs(threshold) < 1e7)) {
    general();
    return out;
  }
  // CT values are usually whole numbers (HU). Then box3's double sum of nine of them is exact, so
  // it equals their integer sum S (summed in any order, here column sums first) and an interior
  // pixel is on exactly when float(S / 9.0) > threshold, i.e. S >= s_min (that is monotonic in S).
  // Edge pixels and slices with other values take box3's own arithmetic.
  // Whole-number rows as int32, three at a time (rows j-1, j, j+1 in a ring).
  std::vector<std::int32_t> ring(3 * nx), column(nx);
  const auto whole_row = [&](std::size_t j) {  // false when a value is not a whole number in range
    std::int32_t* dst = ring.data() + nx * (j % 3);
    const float* src = image + nx * j;
    std::int32_t fractional = 0;
    for (std::size_t i = 0; i < nx; ++i) {
      const float v = src[i];
      const float c = v > -16777216.0f && v < 16777216.0f ? v : 0.5f;  // out of range or NaN: not whole
      const auto t = static_cast<std::int32_t>(c);
      fractional |= static_cast<std::int32_t>(static_cast<float>(t) != c);
      dst[i] = t;
    }
    return fractional == 0;
  };
  if (!whole_row(0) || !whole_row(1)) {
    general();
    return out;
  }
  const auto above = [&](std::int64_t sum) { return static_cast<float>(double(sum) / 9) > threshold; };
  auto s_min = static_cast<std::int64_t>(std::floor(9 * threshold));
  while (above(s_min - 1)) --s_min;
  while (!above(s_min)) ++s_min;
  const auto limit = static_cast<std::int32_t>(s_min);
  for (std::size_t i = 0; i < nx; ++i) out.on[i] = box3_edge(image, nx, ny, i, 0) > threshold;
  for (std::size_t j = 1; j + 1 < ny; ++j) {
    if (!whole_row(j + 1)) {
      general();
      return out;
    }
    const std::int32_t* up = ring.data() + nx * ((j - 1) % 3);
    const std::int32_t* mid = ring.data() + nx * (j % 3);
    const std::int32_t* down = ring.data() + nx * ((j + 1) % 3);
    for (std::size_t i = 0; i < nx; ++i) column[i] = up[i] + mid[i] + down[i];
    std::uint8_t* row = out.on.data() + nx * j;
    for (std::size_t i = 1; i + 1 < nx; ++i) row[i] = column[i - 1] + column[i] + column[i + 1] >= limit;
    row[0] = box3_edge(image, nx, ny, 0, j) > threshold;
    row[nx - 1] = box3_edge(image, nx, ny, nx - 1, j) > threshold;
  }
  for (std::size_t i = 0; i < nx; ++i) out.on[i + nx * (ny - 1)] = box3_edge(image, nx, ny, i, ny - 1) > threshold;
  return out;
}

}  // namespace musclecsa::segment::detail
