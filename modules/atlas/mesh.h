#pragma once
// Triangle surfaces (STL) and their voxelisation: internal to the atlas module.

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include "musclecsa/core/geometry.h"

namespace musclecsa::atlas::detail {

struct Mesh {
  std::vector<std::array<Vec3, 3>> triangles;
  std::filesystem::path path;
  /// Number of edges used by only one triangle (0 for a closed surface).
  std::size_t open_edges = 0;
};

/// Reads a binary or ASCII STL file. Throws Error(InputNotFound / InvalidInput, path, ...) for a
/// missing, truncated, empty or non-finite file. Coordinates are returned as stored.
Mesh read_stl(const std::filesystem::path& path);

/// Applies `f` to every vertex.
void transform(Mesh& mesh, const std::function<Vec3(const Vec3&)>& f);

struct Bounds {
  Vec3 min{1e300, 1e300, 1e300}, max{-1e300, -1e300, -1e300};
  void add(const Vec3& p);
  void add(const Bounds& b);
  bool empty() const { return min.x > max.x; }
};
Bounds bounds_of(const Mesh& mesh);

/// Sets to `value` the mask voxels (i-fastest, on an axial identity-direction grid) whose centres
/// lie inside the closed surface (even-odd rule along rays in +x).
void voxelize(const Mesh& mesh, const Geometry& grid, std::vector<std::uint8_t>& mask, std::uint8_t value = 1);

/// Principal axis (unit vector, largest variance) and centroid of the mesh vertices.
struct Axis {
  Vec3 centroid, direction;
};
Axis principal_axis(const std::vector<Vec3>& points);
std::vector<Vec3> vertices_of(const Mesh& mesh);

}  // namespace musclecsa::atlas::detail
