// Exact Euclidean distance transform (Felzenszwalb & Huttenlocher 2012: separable lower envelope
// of parabolas), with anisotropic pixel spacing.

#include "musclecsa/core/distance_transform.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace musclecsa {
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

std::vector<float> distance_to_nonzero(const std::vector<std::uint8_t>& mask, int nx, int ny, double sx, double sy) {
  std::vector<double> g(static_cast<std::size_t>(nx) * ny);
  std::vector<int> v;
  std::vector<double> z;
  std::vector<double> f(static_cast<std::size_t>(std::max(nx, ny))), d(f.size());
  for (int i = 0; i < nx; ++i) {  // columns (along j)
    for (int j = 0; j < ny; ++j) f[static_cast<std::size_t>(j)] = mask[static_cast<std::size_t>(i + nx * j)] ? 0 : kFar;
    dt_1d(f.data(), ny, sy, d.data(), v, z);
    for (int j = 0; j < ny; ++j) g[static_cast<std::size_t>(i + nx * j)] = d[static_cast<std::size_t>(j)];
  }
  std::vector<float> out(g.size());
  for (int j = 0; j < ny; ++j) {  // rows (along i)
    dt_1d(g.data() + static_cast<std::size_t>(nx) * j, nx, sx, d.data(), v, z);
    for (int i = 0; i < nx; ++i)
      out[static_cast<std::size_t>(i + nx * j)] = static_cast<float>(std::sqrt(std::min(d[static_cast<std::size_t>(i)], kFar)));
  }
  return out;
}

}  // namespace musclecsa
