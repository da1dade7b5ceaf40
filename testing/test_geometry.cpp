#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "musclecsa/core/error.h"
#include "musclecsa/core/geometry.h"

using namespace musclecsa;

namespace {

/// Direction matrix of a rotation by Euler angles (z, then y, then x), columns = axes.
std::array<double, 9> rotation(double az, double ay, double ax) {
  const double cz = std::cos(az), sz = std::sin(az), cy = std::cos(ay), sy = std::sin(ay), cx = std::cos(ax),
               sx = std::sin(ax);
  const double rz[9] = {cz, -sz, 0, sz, cz, 0, 0, 0, 1};
  const double ry[9] = {cy, 0, sy, 0, 1, 0, -sy, 0, cy};
  const double rx[9] = {1, 0, 0, 0, cx, -sx, 0, sx, cx};
  auto mul = [](const double* a, const double* b) {
    std::array<double, 9> c{};
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j)
        for (int k = 0; k < 3; ++k) c[3 * i + j] += a[3 * i + k] * b[3 * k + j];
    return c;
  };
  const auto zy = mul(rz, ry);
  return mul(zy.data(), rx);
}

}  // namespace

TEST(Geometry, IndexToLpsFollowsDirectionColumnsForAnObliqueGrid) {
  Geometry g;
  g.size = {10, 20, 30};
  g.spacing_mm = {0.5, 0.75, 2.0};
  g.origin_lps_mm = {-100, 50, 10};
  // Axial rotated 30 degrees about z: axis i = (cos, sin, 0), axis j = (-sin, cos, 0).
  const double c = std::cos(std::numbers::pi / 6), s = std::sin(std::numbers::pi / 6);
  g.direction = {c, -s, 0, s, c, 0, 0, 0, 1};
  const Vec3 p = g.index_to_lps({2, 3, 4});
  // By hand: origin + 2*0.5*(c, s, 0) + 3*0.75*(-s, c, 0) + 4*2*(0, 0, 1).
  EXPECT_NEAR(p.x, -100 + 1.0 * c - 2.25 * s, 1e-9);
  EXPECT_NEAR(p.y, 50 + 1.0 * s + 2.25 * c, 1e-9);
  EXPECT_NEAR(p.z, 10 + 8.0, 1e-9);
}

TEST(Geometry, LpsToIndexInvertsIndexToLpsForObliqueDirectionCosines) {
  Geometry g;
  g.size = {64, 64, 40};
  g.spacing_mm = {0.8, 0.9, 3.0};
  g.origin_lps_mm = {12.5, -40, 300};
  g.direction = rotation(0.4, -0.3, 0.2);
  ASSERT_NO_THROW(g.validate("oblique grid"));
  for (const Vec3 index : {Vec3{0, 0, 0}, Vec3{63, 0, 0}, Vec3{10.5, 20.25, 7.75}, Vec3{-3, 70, 39}}) {
    const Vec3 back = g.lps_to_index(g.index_to_lps(index));
    EXPECT_NEAR(back.x, index.x, 1e-9);
    EXPECT_NEAR(back.y, index.y, 1e-9);
    EXPECT_NEAR(back.z, index.z, 1e-9);
  }
  // A step of one voxel along k moves spacing_mm[2] along the slice normal (column 2).
  const Vec3 step = g.index_to_lps({0, 0, 1}) - g.index_to_lps({0, 0, 0});
  EXPECT_NEAR(norm(step), 3.0, 1e-9);
  EXPECT_NEAR(dot(step, g.axis(2)), 3.0, 1e-9);
}

TEST(Geometry, ValidateRejectsZeroSpacingAndNamesTheSource) {
  Geometry g = make_axial_geometry({4, 4, 4}, {1, 0, 1}, {});
  try {
    g.validate("series 7");
    FAIL() << "zero spacing accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_EQ(e.input(), "series 7");
    EXPECT_NE(std::string(e.what()).find("spacing"), std::string::npos);
  }
}

TEST(Geometry, ValidateRejectsNegativeSpacingEmptySizeAndSkewedAxes) {
  EXPECT_THROW(make_axial_geometry({4, 4, 4}, {1, 1, -2}, {}).validate("x"), Error);
  EXPECT_THROW(make_axial_geometry({4, 0, 4}, {1, 1, 1}, {}).validate("x"), Error);
  Geometry skewed = make_axial_geometry({4, 4, 4}, {1, 1, 1}, {});
  skewed.direction = {1, 0.2, 0, 0, 1, 0, 0, 0, 1};
  EXPECT_THROW(skewed.validate("x"), Error);
}

TEST(Geometry, SameGridAsComparesWithinTolerance) {
  const Geometry a = make_axial_geometry({8, 8, 8}, {1, 1, 2}, {0, 0, 0});
  Geometry b = a;
  b.origin_lps_mm.x += 5e-4;
  EXPECT_TRUE(a.same_grid_as(b));
  b.origin_lps_mm.x += 0.1;
  EXPECT_FALSE(a.same_grid_as(b));
  Geometry c = a;
  c.size[2] = 9;
  EXPECT_FALSE(a.same_grid_as(c));
}
