#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "musclecsa/phantom/phantom.h"

using namespace musclecsa;
using namespace musclecsa::phantom;

namespace {
Phantom make_us(PhantomParams p) {
  p.modality = PhantomModality::US;
  NullProgress progress;
  return make_phantom(p, progress);
}
}  // namespace

TEST(UltrasoundPhantom, TruthMatchesTheMaskAndTheImage) {
  PhantomParams p;
  p.seed = 3;
  const Phantom ph = make_us(p);
  const auto& u = ph.ultrasound;
  const auto& g = ph.labels.geometry;
  const LabelId target = LabelCatalog::standard().label_id("rectus_femoris", Side::Right);
  std::size_t count = 0, column = 0;
  double grey = 0;
  for (std::size_t j = 0; j < g.size[1]; ++j)
    for (std::size_t i = 0; i < g.size[0]; ++i)
      if (ph.labels.at(i, j, 0) == target) {
        ++count;
        grey += ph.series[0].image.at(i, j, 0);
        if (static_cast<int>(i) == u.centre_column) ++column;
      }
  EXPECT_DOUBLE_EQ(u.acsa_mm2, count * g.pixel_area_mm2());
  EXPECT_NEAR(u.echo_intensity, grey / count, 1e-9);
  EXPECT_DOUBLE_EQ(u.muscle_thickness_mm, column * g.spacing_mm[1]);
  // Default rectus femoris: 44 mm x 20 mm lens, area pi/4 * 44 * 20 = 691 mm2 (adult range 5-40 cm2).
  EXPECT_NEAR(u.acsa_mm2, std::numbers::pi / 4 * 44 * 20, 0.02 * u.acsa_mm2);
  EXPECT_NEAR(u.muscle_thickness_mm, 20, 0.3);
  EXPECT_NEAR(u.sat_thickness_mm, 8, 8 * 0.13);
  // Grey levels of a plausible B-mode: muscle darker than fascia, brighter than black border.
  EXPECT_GT(u.echo_intensity, 30);
  EXPECT_LT(u.echo_intensity, 140);
}

TEST(UltrasoundPhantom, ImagedRegionIsInsideABlackBorderWithAnnotationsOutsideIt) {
  const Phantom ph = make_us({});
  const auto& u = ph.ultrasound;
  const auto& img = ph.series[0].image;
  const auto& g = img.geometry;
  EXPECT_GT(u.region_min_x, 0);
  EXPECT_LT(u.region_max_x, static_cast<int>(g.size[0]) - 1);
  std::size_t labelled_outside = 0, bright_outside = 0;
  for (std::size_t j = 0; j < g.size[1]; ++j)
    for (std::size_t i = 0; i < g.size[0]; ++i) {
      const bool inside = int(i) >= u.region_min_x && int(i) <= u.region_max_x && int(j) >= u.region_min_y &&
                          int(j) <= u.region_max_y;
      if (inside) continue;
      if (ph.labels.at(i, j, 0) != 0) ++labelled_outside;
      if (img.at(i, j, 0) > 100) ++bright_outside;
    }
  EXPECT_EQ(labelled_outside, 0u);
  EXPECT_GT(bright_outside, 100u);  // burned-in text and depth scale
}

TEST(UltrasoundPhantom, FatInfiltrationRaisesEchoIntensity) {
  PhantomParams p;
  p.us_muscle = "vastus_lateralis";
  const Phantom healthy = make_us(p);
  p.infiltration["vastus_lateralis"] = {0.3, FatPattern::Diffuse};
  const Phantom fatty = make_us(p);
  EXPECT_GT(fatty.ultrasound.echo_intensity, healthy.ultrasound.echo_intensity + 15);
  EXPECT_NEAR(fatty.ultrasound.acsa_mm2, healthy.ultrasound.acsa_mm2, 1e-9);
}

TEST(UltrasoundPhantom, CalfGastrocnemiusAndAtrophyScaleTheArea) {
  PhantomParams p;
  p.anatomy = Anatomy::Calf;
  const Phantom normal = make_us(p);
  EXPECT_EQ(normal.ultrasound.muscle_key, "gastrocnemius_medial");
  p.muscle_area_scale = 0.6;
  const Phantom atrophied = make_us(p);
  EXPECT_NEAR(atrophied.ultrasound.acsa_mm2 / normal.ultrasound.acsa_mm2, 0.6, 0.02);
}
