#pragma once
// Voxel grid geometry in patient LPS coordinates (DICOM convention): +x towards the patient's
// left, +y towards posterior, +z towards the head. All lengths are millimetres.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace musclecsa {

/// A point or vector in patient LPS millimetres (or a continuous voxel index, where named so).
struct Vec3 {
  double x = 0, y = 0, z = 0;
};

Vec3 operator+(const Vec3& a, const Vec3& b);
Vec3 operator-(const Vec3& a, const Vec3& b);
Vec3 operator*(double s, const Vec3& a);
double dot(const Vec3& a, const Vec3& b);
Vec3 cross(const Vec3& a, const Vec3& b);
double norm(const Vec3& a);

/// Geometry of a 3-D voxel grid. Voxel (i, j, k) has its centre at
/// origin_lps_mm + i*spacing_mm[0]*axis(0) + j*spacing_mm[1]*axis(1) + k*spacing_mm[2]*axis(2),
/// where axis(n) is the n-th column of the direction matrix (a unit vector in LPS).
/// i runs along image columns (DICOM row direction), j along rows, k across slices.
struct Geometry {
  std::array<std::size_t, 3> size{0, 0, 0};            ///< voxels along i, j, k
  std::array<double, 3> spacing_mm{1, 1, 1};           ///< centre-to-centre distance along i, j, k
  Vec3 origin_lps_mm{};                                ///< centre of voxel (0, 0, 0)
  std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1};  ///< row-major 3x3; column n is axis n

  /// Unit vector (LPS) of grid axis n (0 = i, 1 = j, 2 = k).
  Vec3 axis(int n) const;
  /// Patient LPS position (mm) of a continuous voxel index.
  Vec3 index_to_lps(const Vec3& continuous_index) const;
  /// Continuous voxel index of a patient LPS position (mm); inverse of index_to_lps.
  Vec3 lps_to_index(const Vec3& point_lps_mm) const;

  std::size_t voxel_count() const { return size[0] * size[1] * size[2]; }
  std::size_t slice_voxel_count() const { return size[0] * size[1]; }
  /// In-plane area of one voxel (mm2).
  double pixel_area_mm2() const { return spacing_mm[0] * spacing_mm[1]; }
  /// Volume of one voxel (mm3).
  double voxel_volume_mm3() const { return spacing_mm[0] * spacing_mm[1] * spacing_mm[2]; }
  /// Linear offset of voxel (i, j, k) in an i-fastest buffer.
  std::size_t offset(std::size_t i, std::size_t j, std::size_t k) const {
    return i + size[0] * (j + size[1] * k);
  }

  /// Throws Error(InvalidInput, source, ...) unless sizes are positive, spacings positive and finite,
  /// and the direction matrix orthonormal (tolerance 1e-4).
  void validate(std::string_view source) const;

  /// True when both grids have the same size and agree in spacing, origin and direction
  /// within tolerance_mm (positions) and 1e-4 (direction cosines).
  bool same_grid_as(const Geometry& other, double tolerance_mm = 1e-3) const;
};

/// Geometry with identity direction (axial, LPS-aligned) — the usual axial CT/MR grid.
Geometry make_axial_geometry(std::array<std::size_t, 3> size, std::array<double, 3> spacing_mm,
                             Vec3 origin_lps_mm);

}  // namespace musclecsa
