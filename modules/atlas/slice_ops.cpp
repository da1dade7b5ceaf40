// Exact Euclidean distance transform (Felzenszwalb & Huttenlocher 2012, separable lower envelope of
// parabolas, with anisotropic pixel spacing), closing and hole filling on one slice.

#include "slice_ops.h"

#include <cmath>
#include <limits>

namespace musclecsa::atlas::detail {
namespace {

constexpr double kFar = 1e20;

/// One-dimensional squared distance transform of f (n samples, spacing h) into d.
void dt_1d(const double* f, int n, double h, double* d, std::vector<int>& v, std::vector<double>& z) {
  v.assign(static_cast<std::size_t>(n), 0);
  z.assign(static_cast<std::size_t>(n) + 1, 0);
  int k = 0;
  v[0] = 0;
  z[0] = -std::numeric_limits<double>::infinity();
  z[1] = std::numeric_limits<double>::infinity();
  auto pos = [h](int q) { return q * h; };
  auto meet = [&](int q, int p) {
    return ((f[q] + pos(q) * pos(q)) - (f[p] + pos(p) * pos(p))) / (2 * (pos(q) - pos(p)));
  };
  for (int q = 1; q < n; ++q) {
    double s = meet(q, v[static_cast<std::size_t>(k)]);
    while (s <= z[static_cast<std::size_t>(k)]) {  // z[0] is -infinity, so k never drops below 0
      --k;
      s = meet(q, v[static_cast<std::size_t>(k)]);
    }
    ++k;
    v[static_cast<std::size_t>(k)] = q;
    z[static_cast<std::size_t>(k)] = s;
    z[static_cast<std::size_t>(k) + 1] = std::numeric_limits<double>::infinity();
  }
  k = 0;
  for (int q = 0; q < n; ++q) {
    while (z[static_cast<std::size_t>(k) + 1] < pos(q)) ++k;
    const int p = v[static_cast<std::size_t>(k)];
    d[q] = (pos(q) - pos(p)) * (pos(q) - pos(p)) + f[p];
  }
}

}  // namespace

std::vector<float> distance_to(const std::vector<std::uint8_t>& mask, const SliceShape& shape) {
  const int nx = shape.nx, ny = shape.ny;
  std::vector<double> g(static_cast<std::size_t>(nx) * ny);
  std::vector<int> v;
  std::vector<double> z;
  std::vector<double> f(static_cast<std::size_t>(std::max(nx, ny))), d(f.size());
  for (int i = 0; i < nx; ++i) {  // columns (along j)
    for (int j = 0; j < ny; ++j) f[static_cast<std::size_t>(j)] = mask[static_cast<std::size_t>(i + nx * j)] ? 0 : kFar;
    dt_1d(f.data(), ny, shape.sy, d.data(), v, z);
    for (int j = 0; j < ny; ++j) g[static_cast<std::size_t>(i + nx * j)] = d[static_cast<std::size_t>(j)];
  }
  std::vector<float> out(g.size());
  for (int j = 0; j < ny; ++j) {  // rows (along i)
    dt_1d(g.data() + static_cast<std::size_t>(nx) * j, nx, shape.sx, d.data(), v, z);
    for (int i = 0; i < nx; ++i)
      out[static_cast<std::size_t>(i + nx * j)] = static_cast<float>(std::sqrt(std::min(d[static_cast<std::size_t>(i)], kFar)));
  }
  return out;
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
