// STL reading and voxelisation by ray parity.

#include "mesh.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include "musclecsa/core/error.h"

namespace musclecsa::atlas::detail {
namespace {

std::size_t count_open_edges(const std::vector<std::array<Vec3, 3>>& triangles) {
  using Key = std::tuple<double, double, double>;
  std::map<Key, int> ids;
  auto id_of = [&](const Vec3& v) {
    auto [it, added] = ids.emplace(Key{v.x, v.y, v.z}, static_cast<int>(ids.size()));
    return it->second;
  };
  std::map<std::pair<int, int>, int> edges;
  for (const auto& t : triangles) {
    const int a = id_of(t[0]), b = id_of(t[1]), c = id_of(t[2]);
    for (auto [u, v] : {std::pair{a, b}, std::pair{b, c}, std::pair{c, a}}) ++edges[{std::min(u, v), std::max(u, v)}];
  }
  std::size_t open = 0;
  for (const auto& [edge, uses] : edges)
    if (uses == 1) ++open;
  return open;
}

bool finite(const Vec3& v) { return std::isfinite(v.x) && std::isfinite(v.y) && std::isfinite(v.z); }

}  // namespace

Mesh read_stl(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::InputNotFound, path.string(), "cannot open the surface file");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Mesh mesh;
  mesh.path = path;
  const bool ascii = bytes.rfind("solid", 0) == 0 && bytes.find("facet") != std::string::npos &&
                     bytes.find("vertex") != std::string::npos;
  if (ascii) {
    std::istringstream text(bytes);
    std::string word;
    std::vector<Vec3> vertices;
    while (text >> word) {
      if (word != "vertex") continue;
      Vec3 v;
      if (!(text >> v.x >> v.y >> v.z))
        throw Error(ErrorCode::InvalidInput, path.string(), "an ASCII STL vertex line does not hold three numbers");
      vertices.push_back(v);
    }
    if (vertices.size() % 3 != 0)
      throw Error(ErrorCode::InvalidInput, path.string(), "the ASCII STL has a facet without three vertices");
    for (std::size_t n = 0; n + 2 < vertices.size(); n += 3)
      mesh.triangles.push_back({vertices[n], vertices[n + 1], vertices[n + 2]});
  } else {
    if (bytes.size() < 84)
      throw Error(ErrorCode::InvalidInput, path.string(), "too short for a binary STL (" + std::to_string(bytes.size()) +
                                                              " bytes, the header alone is 84)");
    std::uint32_t count = 0;
    std::memcpy(&count, bytes.data() + 80, 4);
    const std::size_t expected = 84 + 50 * static_cast<std::size_t>(count);
    if (bytes.size() < expected)
      throw Error(ErrorCode::InvalidInput, path.string(),
                  "truncated binary STL: the header announces " + std::to_string(count) + " triangles (" +
                      std::to_string(expected) + " bytes) but the file has " + std::to_string(bytes.size()) + " bytes");
    for (std::uint32_t t = 0; t < count; ++t) {
      float v[12];
      std::memcpy(v, bytes.data() + 84 + 50 * static_cast<std::size_t>(t), sizeof v);
      mesh.triangles.push_back({Vec3{v[3], v[4], v[5]}, Vec3{v[6], v[7], v[8]}, Vec3{v[9], v[10], v[11]}});
    }
  }
  if (mesh.triangles.size() < 4)
    throw Error(ErrorCode::InvalidInput, path.string(),
                "the surface has " + std::to_string(mesh.triangles.size()) + " triangles; a closed surface needs at least 4");
  for (const auto& t : mesh.triangles)
    for (const auto& v : t)
      if (!finite(v)) throw Error(ErrorCode::InvalidInput, path.string(), "a vertex coordinate is not a finite number");
  mesh.open_edges = count_open_edges(mesh.triangles);
  return mesh;
}

void transform(Mesh& mesh, const std::function<Vec3(const Vec3&)>& f) {
  for (auto& t : mesh.triangles)
    for (auto& v : t) v = f(v);
}

void Bounds::add(const Vec3& p) {
  min = {std::min(min.x, p.x), std::min(min.y, p.y), std::min(min.z, p.z)};
  max = {std::max(max.x, p.x), std::max(max.y, p.y), std::max(max.z, p.z)};
}
void Bounds::add(const Bounds& b) {
  if (b.empty()) return;
  add(b.min);
  add(b.max);
}

Bounds bounds_of(const Mesh& mesh) {
  Bounds b;
  for (const auto& t : mesh.triangles)
    for (const auto& v : t) b.add(v);
  return b;
}

void voxelize(const Mesh& mesh, const Geometry& grid, std::vector<std::uint8_t>& mask, std::uint8_t value) {
  const auto nx = static_cast<long>(grid.size[0]), ny = static_cast<long>(grid.size[1]),
             nz = static_cast<long>(grid.size[2]);
  const double sx = grid.spacing_mm[0], sy = grid.spacing_mm[1], sz = grid.spacing_mm[2];
  const Vec3 o = grid.origin_lps_mm;
  // Ray (y, z) sample points are nudged off the voxel centres by amounts no vertex shares, so a ray
  // never passes exactly through a vertex or an edge.
  const double ey = 1.17e-5, ez = 2.31e-5;
  std::vector<std::vector<double>> crossings(static_cast<std::size_t>(ny * nz));
  for (const auto& t : mesh.triangles) {
    const double y0 = t[0].y, z0 = t[0].z, y1 = t[1].y, z1 = t[1].z, y2 = t[2].y, z2 = t[2].z;
    const double area = (y1 - y0) * (z2 - z0) - (y2 - y0) * (z1 - z0);
    if (area == 0) continue;  // edge-on to the rays
    const long j_lo = std::max(0L, static_cast<long>(std::ceil((std::min({y0, y1, y2}) - o.y - ey) / sy)));
    const long j_hi = std::min(ny - 1, static_cast<long>(std::floor((std::max({y0, y1, y2}) - o.y - ey) / sy)));
    const long k_lo = std::max(0L, static_cast<long>(std::ceil((std::min({z0, z1, z2}) - o.z - ez) / sz)));
    const long k_hi = std::min(nz - 1, static_cast<long>(std::floor((std::max({z0, z1, z2}) - o.z - ez) / sz)));
    for (long k = k_lo; k <= k_hi; ++k)
      for (long j = j_lo; j <= j_hi; ++j) {
        const double py = o.y + j * sy + ey, pz = o.z + k * sz + ez;
        const double w0 = ((y1 - py) * (z2 - pz) - (y2 - py) * (z1 - pz)) / area;
        const double w1 = ((y2 - py) * (z0 - pz) - (y0 - py) * (z2 - pz)) / area;
        const double w2 = 1 - w0 - w1;
        if (w0 < 0 || w1 < 0 || w2 < 0) continue;
        crossings[static_cast<std::size_t>(j + ny * k)].push_back(w0 * t[0].x + w1 * t[1].x + w2 * t[2].x);
      }
  }
  for (long k = 0; k < nz; ++k)
    for (long j = 0; j < ny; ++j) {
      auto& xs = crossings[static_cast<std::size_t>(j + ny * k)];
      if (xs.size() < 2) continue;
      std::sort(xs.begin(), xs.end());
      for (std::size_t n = 0; n + 1 < xs.size(); n += 2) {
        const long i_lo = std::max(0L, static_cast<long>(std::ceil((xs[n] - o.x) / sx)));
        const long i_hi = std::min(nx - 1, static_cast<long>(std::ceil((xs[n + 1] - o.x) / sx)) - 1);
        for (long i = i_lo; i <= i_hi; ++i) mask[static_cast<std::size_t>(i + nx * (j + ny * k))] = value;
      }
    }
}

std::vector<Vec3> vertices_of(const Mesh& mesh) {
  std::vector<Vec3> points;
  points.reserve(mesh.triangles.size() * 3);
  for (const auto& t : mesh.triangles)
    for (const auto& v : t) points.push_back(v);
  return points;
}

Axis principal_axis(const std::vector<Vec3>& points) {
  Axis axis;
  if (points.empty()) return axis;
  Vec3 c;
  for (const auto& p : points) c = c + p;
  c = (1.0 / static_cast<double>(points.size())) * c;
  double m[3][3] = {};
  for (const auto& p : points) {
    const double d[3] = {p.x - c.x, p.y - c.y, p.z - c.z};
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) m[a][b] += d[a] * d[b];
  }
  double v[3] = {0.3, 0.5, 1.0};  // power iteration; the long axis dominates strongly for a bone
  for (int iteration = 0; iteration < 200; ++iteration) {
    double w[3] = {};
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) w[a] += m[a][b] * v[b];
    const double n = std::sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]);
    if (n == 0) break;
    for (int a = 0; a < 3; ++a) v[a] = w[a] / n;
  }
  axis.centroid = c;
  axis.direction = {v[0], v[1], v[2]};
  return axis;
}

}  // namespace musclecsa::atlas::detail
