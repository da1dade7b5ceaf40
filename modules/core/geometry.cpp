#include "musclecsa/core/geometry.h"

#include <cmath>
#include <sstream>

#include "musclecsa/core/error.h"

namespace musclecsa {

Vec3 operator+(const Vec3& a, const Vec3& b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
Vec3 operator-(const Vec3& a, const Vec3& b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
Vec3 operator*(double s, const Vec3& a) { return {s * a.x, s * a.y, s * a.z}; }
double dot(const Vec3& a, const Vec3& b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}
double norm(const Vec3& a) { return std::sqrt(dot(a, a)); }

Vec3 Geometry::axis(int n) const { return {direction[n], direction[3 + n], direction[6 + n]}; }

Vec3 Geometry::index_to_lps(const Vec3& index) const {
  const double u[3] = {index.x * spacing_mm[0], index.y * spacing_mm[1], index.z * spacing_mm[2]};
  Vec3 p = origin_lps_mm;
  for (int n = 0; n < 3; ++n) p = p + u[n] * axis(n);
  return p;
}

Vec3 Geometry::lps_to_index(const Vec3& point) const {
  // The direction matrix is orthonormal (validate()), so its inverse is its transpose.
  const Vec3 d = point - origin_lps_mm;
  return {dot(axis(0), d) / spacing_mm[0], dot(axis(1), d) / spacing_mm[1], dot(axis(2), d) / spacing_mm[2]};
}

void Geometry::validate(std::string_view source) const {
  auto fail = [&](const std::string& problem) {
    throw Error(ErrorCode::InvalidInput, std::string(source), problem);
  };
  for (int n = 0; n < 3; ++n) {
    if (size[n] == 0) fail("image size is zero along axis " + std::to_string(n));
    if (!(spacing_mm[n] > 0) || !std::isfinite(spacing_mm[n])) {
      std::ostringstream s;
      s << "voxel spacing along axis " << n << " is " << spacing_mm[n] << " mm (must be positive)";
      fail(s.str());
    }
  }
  for (int a = 0; a < 3; ++a) {
    for (int b = a; b < 3; ++b) {
      const double expected = a == b ? 1.0 : 0.0;
      if (std::abs(dot(axis(a), axis(b)) - expected) > 1e-4)
        fail("direction cosines are not orthonormal (axes " + std::to_string(a) + " and " + std::to_string(b) + ")");
    }
  }
}

bool Geometry::same_grid_as(const Geometry& other, double tolerance_mm) const {
  if (size != other.size) return false;
  for (int n = 0; n < 3; ++n)
    if (std::abs(spacing_mm[n] - other.spacing_mm[n]) > tolerance_mm) return false;
  if (norm(origin_lps_mm - other.origin_lps_mm) > tolerance_mm) return false;
  for (int n = 0; n < 9; ++n)
    if (std::abs(direction[n] - other.direction[n]) > 1e-4) return false;
  return true;
}

Geometry make_axial_geometry(std::array<std::size_t, 3> size, std::array<double, 3> spacing_mm, Vec3 origin_lps_mm) {
  Geometry g;
  g.size = size;
  g.spacing_mm = spacing_mm;
  g.origin_lps_mm = origin_lps_mm;
  return g;
}

}  // namespace musclecsa
