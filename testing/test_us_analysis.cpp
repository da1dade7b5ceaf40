// Ultrasound analysis in-process: field of view, automatic and assisted segmentation and the
// measurements against the phantoms' ground truth; GLCM, rasterisation and outline formats
// against known values.

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numbers>
#include <random>

#include "musclecsa/core/error.h"
#include "musclecsa/phantom/phantom.h"
#include "musclecsa/ultrasound/us_analysis.h"
#include "test_support.h"
#include "us_synthetic.h"

using namespace musclecsa;
using namespace musclecsa::ultrasound;

namespace {

struct UsCase {
  phantom::Phantom ph;
  GreyImage image;
  Mask truth;
};

UsCase make_case(const std::string& muscle, std::uint64_t seed, double sat_mm = 0) {
  phantom::PhantomParams p;
  p.modality = phantom::PhantomModality::US;
  p.us_muscle = muscle;
  p.seed = seed;
  if (muscle == "gastrocnemius_medial") p.anatomy = phantom::Anatomy::Calf;
  if (sat_mm > 0) p.sat_thickness_mm = sat_mm;
  NullProgress progress;
  UsCase c{phantom::make_phantom(p, progress), {}, {}};
  const auto& img = c.ph.series[0].image;
  c.image.width = int(img.geometry.size[0]);
  c.image.height = int(img.geometry.size[1]);
  c.image.grey = img.voxels;
  c.image.pixel_width_mm = img.geometry.spacing_mm[0];
  c.image.pixel_height_mm = img.geometry.spacing_mm[1];
  c.image.calibrated = true;
  c.truth = Mask(c.image.width, c.image.height);
  const LabelId target = LabelCatalog::standard().label_id(muscle, Side::Right);
  for (std::size_t n = 0; n < img.voxels.size(); ++n) c.truth.on[n] = c.ph.labels.voxels[n] == target;
  return c;
}

std::string protocol_for(const std::string& muscle) {
  if (muscle == "rectus_femoris") return "rf-us";
  if (muscle == "vastus_lateralis") return "vl-us";
  return "gastrocnemius-us";
}

/// Dice overlap of two masks.
double dice(const Mask& a, const Mask& b) {
  std::size_t both = 0, na = 0, nb = 0;
  for (std::size_t n = 0; n < a.on.size(); ++n) {
    na += a.on[n] != 0, nb += b.on[n] != 0, both += a.on[n] && b.on[n];
  }
  return 2.0 * double(both) / double(na + nb);
}

/// Points on the truth mask's outline, evenly spaced along it.
std::vector<Point2> border_points(const Mask& truth, std::size_t count) {
  const auto outline = mask_outline(truth);
  std::vector<Point2> points;
  for (std::size_t k = 0; k < count; ++k) points.push_back(outline[k * outline.size() / count]);
  return points;
}

/// With MUSCLECSA_US_DEBUG_DIR set, QC pictures of the phantom runs are written there to look at.
void debug_picture(const UsCase& c, const FieldOfView& fov, const UsSegmentation& s, const UsMeasures& m, const std::string& name) {
  const char* dir = std::getenv("MUSCLECSA_US_DEBUG_DIR");
  if (dir == nullptr) return;
  UsSegmentation truth = segment_manual(c.image, c.truth, "truth");
  write_qc_image(c.image, fov, s, m, {name}, std::filesystem::path(dir) / (name + ".png"));
}

}  // namespace

TEST(UsFieldOfView, FindsTheImagedRegionAndLeavesOutBorderTextAndScale) {
  const UsCase c = make_case("rectus_femoris", 11);
  const FieldOfView fov = detect_field_of_view(c.image);
  const auto& t = c.ph.ultrasound;
  // Within a few pixels of the true region (edge eroded 2 px), and no pixel of the text or scale.
  EXPECT_NEAR(fov.min_x, t.region_min_x, 4);
  EXPECT_NEAR(fov.max_x, t.region_max_x, 4);
  EXPECT_NEAR(fov.min_y, t.region_min_y, 4);
  EXPECT_NEAR(fov.max_y, t.region_max_y, 12);  // the bone's acoustic shadow is black at the bottom
  for (int j = 0; j < c.image.height; ++j)
    for (int i = 0; i < c.image.width; ++i)
      if (fov.mask.at(i, j)) {
        ASSERT_GE(i, t.region_min_x);
        ASSERT_LE(i, t.region_max_x);
        ASSERT_GE(j, t.region_min_y);
        ASSERT_LE(j, t.region_max_y);
      }
}

TEST(UsFieldOfView, ColouredOverlayPixelsAreLeftOut) {
  const UsCase c = make_case("rectus_femoris", 12);
  Mask overlay(c.image.width, c.image.height);
  for (int j = 200; j < 220; ++j)
    for (int i = 300; i < 340; ++i) overlay.on[std::size_t(i) + std::size_t(c.image.width) * j] = 1;
  const FieldOfView fov = detect_field_of_view(c.image, &overlay);
  EXPECT_EQ(fov.overlay_pixels_removed, 800u);
  EXPECT_FALSE(fov.mask.at(310, 210));
}

TEST(UsFieldOfView, ABlackPictureIsRefusedWithAClearError) {
  GreyImage black;
  black.width = 200, black.height = 150;
  black.grey.assign(200 * 150, 0.f);
  try {
    detect_field_of_view(black);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_NE(std::string(e.what()).find("no imaged region"), std::string::npos);
  }
}

class UsPhantomSegmentation : public ::testing::TestWithParam<std::string> {};

TEST_P(UsPhantomSegmentation, AutomaticAcsaWithinFivePercentOfTruth) {
  for (std::uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
    const UsCase c = make_case(GetParam(), seed);
    const UsProtocol protocol = builtin_us_protocol(protocol_for(GetParam()));
    const FieldOfView fov = detect_field_of_view(c.image);
    const UsSegmentation s = segment_automatic(c.image, fov, protocol);
    const UsMeasures m = measure(c.image, fov, s, protocol);
    const auto& t = c.ph.ultrasound;
    EXPECT_EQ(s.method, SegmentationMethod::Automatic);
    EXPECT_NEAR(m.acsa_mm2, t.acsa_mm2, 0.05 * t.acsa_mm2) << GetParam() << " seed " << seed;
    EXPECT_GT(dice(s.mask, c.truth), 0.93) << GetParam() << " seed " << seed;
    EXPECT_NEAR(m.muscle_thickness_mm, t.muscle_thickness_mm, 0.08 * t.muscle_thickness_mm) << GetParam();
    EXPECT_NEAR(m.echo_intensity, t.echo_intensity, 3.0) << GetParam();
    debug_picture(c, fov, s, m, "auto_" + GetParam() + "_" + std::to_string(seed));
    std::printf("[figure] automatic %s seed %llu: ACSA %.1f mm2 (truth %.1f, %+.2f%%), thickness %.2f mm (truth %.2f), EI %.2f (truth %.2f)\n",
                GetParam().c_str(), static_cast<unsigned long long>(seed), m.acsa_mm2, t.acsa_mm2,
                100 * (m.acsa_mm2 / t.acsa_mm2 - 1), m.muscle_thickness_mm, t.muscle_thickness_mm, m.echo_intensity, t.echo_intensity);
  }
}

TEST_P(UsPhantomSegmentation, AssistedFromTenBorderPointsWithinTwoPercentOfTruth) {
  const UsCase c = make_case(GetParam(), 3);
  const UsProtocol protocol = builtin_us_protocol(protocol_for(GetParam()));
  const FieldOfView fov = detect_field_of_view(c.image);
  const UsSegmentation s = segment_assisted(c.image, fov, protocol, border_points(c.truth, 10));
  const UsMeasures m = measure(c.image, fov, s, protocol);
  const auto& t = c.ph.ultrasound;
  EXPECT_EQ(s.method, SegmentationMethod::Assisted);
  EXPECT_EQ(s.user_points.size(), 10u);
  EXPECT_NEAR(m.acsa_mm2, t.acsa_mm2, 0.02 * t.acsa_mm2) << GetParam();
  debug_picture(c, fov, s, m, "assisted_" + GetParam());
  std::printf("[figure] assisted %s: ACSA %.1f mm2 (truth %.1f, %+.2f%%)\n", GetParam().c_str(), m.acsa_mm2, t.acsa_mm2,
              100 * (m.acsa_mm2 / t.acsa_mm2 - 1));
}

INSTANTIATE_TEST_SUITE_P(Muscles, UsPhantomSegmentation,
                         ::testing::Values("rectus_femoris", "vastus_lateralis", "gastrocnemius_medial"));

TEST(UsAssisted, OnePointInsideChoosesTheMuscleThatHoldsIt) {
  const UsCase c = make_case("rectus_femoris", 4);
  const UsProtocol protocol = builtin_us_protocol("rf-us");
  const FieldOfView fov = detect_field_of_view(c.image);
  const auto& t = c.ph.ultrasound;
  int top = -1, bottom = -1;
  for (int j = 0; j < c.image.height; ++j)
    if (c.truth.at(t.centre_column, j)) (top < 0 ? top : bottom) = j, bottom = j;
  const UsSegmentation s = segment_assisted(c.image, fov, protocol, {{double(t.centre_column), 0.5 * (top + bottom)}});
  EXPECT_EQ(s.method, SegmentationMethod::Assisted);
  EXPECT_TRUE(s.mask.at(t.centre_column, (top + bottom) / 2));
  EXPECT_GT(dice(s.mask, c.truth), 0.93);
  const UsMeasures m = measure(c.image, fov, s, protocol);
  debug_picture(c, fov, s, m, "assisted_one_point");
  EXPECT_NEAR(m.acsa_mm2, t.acsa_mm2, 0.05 * t.acsa_mm2);
}

TEST(UsAssisted, PointsOutsideTheImageAreRefused) {
  const UsCase c = make_case("rectus_femoris", 4);
  const FieldOfView fov = detect_field_of_view(c.image);
  EXPECT_THROW(segment_assisted(c.image, fov, builtin_us_protocol("rf-us"), {{-5, 10}, {20, 20}, {30, 40}}), Error);
}

TEST(UsMeasures, TruthMaskGivesTruthEchoIntensityThicknessAndFatThickness) {
  for (const std::string muscle : {"rectus_femoris", "vastus_lateralis", "gastrocnemius_medial"}) {
    const UsCase c = make_case(muscle, 5);
    const UsProtocol protocol = builtin_us_protocol(protocol_for(muscle));
    const FieldOfView fov = detect_field_of_view(c.image);
    const UsSegmentation s = segment_manual(c.image, c.truth, "truth");
    const UsMeasures m = measure(c.image, fov, s, protocol);
    const auto& t = c.ph.ultrasound;
    EXPECT_NEAR(m.acsa_mm2, t.acsa_mm2, 1e-6) << muscle;
    EXPECT_NEAR(m.echo_intensity, t.echo_intensity, 0.5) << muscle;
    EXPECT_NEAR(m.centre_column, t.centre_column, 1) << muscle;
    EXPECT_NEAR(m.muscle_thickness_mm, t.muscle_thickness_mm, c.image.pixel_height_mm + 1e-9) << muscle;
    ASSERT_TRUE(m.sat_found) << muscle;
    EXPECT_NEAR(m.sat_thickness_mm, t.sat_thickness_mm, 0.3) << muscle;
    // The published correction, applied as recorded.
    if (protocol.ei_correction) {
      ASSERT_TRUE(m.echo_intensity_corrected.has_value());
      EXPECT_NEAR(*m.echo_intensity_corrected, m.echo_intensity + m.sat_thickness_mm / 10 * protocol.ei_coefficient_per_cm, 1e-9);
    } else {
      EXPECT_FALSE(m.echo_intensity_corrected.has_value());
      EXPECT_FALSE(m.ei_correction_note.empty());
    }
    std::uint64_t histogram_total = 0;
    for (auto n : m.histogram) histogram_total += n;
    EXPECT_EQ(histogram_total, m.pixel_count);
    std::printf("[figure] truth mask %s: EI %.3f (truth %.3f), thickness %.2f mm (truth %.2f), SAT %.2f mm (truth %.2f)\n", muscle.c_str(),
                m.echo_intensity, t.echo_intensity, m.muscle_thickness_mm, t.muscle_thickness_mm, m.sat_thickness_mm, t.sat_thickness_mm);
  }
}

TEST(UsMeasures, FatThicknessFollowsThePhantomsFatLayer) {
  const UsCase thin = make_case("rectus_femoris", 6, 4.0), thick = make_case("rectus_femoris", 6, 16.0);
  const UsProtocol protocol = builtin_us_protocol("rf-us");
  for (const UsCase* c : {&thin, &thick}) {
    const FieldOfView fov = detect_field_of_view(c->image);
    const UsMeasures m = measure(c->image, fov, segment_manual(c->image, c->truth, "truth"), protocol);
    ASSERT_TRUE(m.sat_found);
    EXPECT_NEAR(m.sat_thickness_mm, c->ph.ultrasound.sat_thickness_mm, 0.3);
  }
}

TEST(UsMeasures, HyperechoicFractionCountsPixelsAboveTheThreshold) {
  GreyImage img;
  img.width = 10, img.height = 10, img.calibrated = true, img.pixel_width_mm = img.pixel_height_mm = 0.5;
  img.grey.assign(100, 50.f);
  for (int n = 0; n < 25; ++n) img.grey[n] = 200.f;  // rows 0-2 partly bright
  Mask all(10, 10);
  std::fill(all.on.begin(), all.on.end(), 1);
  GreyImage bright_border = img;
  FieldOfView fov;
  fov.mask = all, fov.max_x = 9, fov.max_y = 9;
  UsProtocol p = builtin_us_protocol("gastrocnemius-us");
  p.hyperechoic_threshold = 150;
  const UsMeasures m = measure(img, fov, segment_manual(img, all, "all"), p);
  EXPECT_DOUBLE_EQ(m.hyperechoic_fraction, 0.25);
  EXPECT_DOUBLE_EQ(m.echo_intensity, 0.25 * 200 + 0.75 * 50);
  EXPECT_DOUBLE_EQ(m.acsa_mm2, 25.0);
  EXPECT_EQ(m.histogram[200], 25u);
  EXPECT_EQ(m.histogram[50], 75u);
}

TEST(UsGlcm, MatchesTheHandComputedMatrixOfAFourByFourImage) {
  // The 4x4 example of Haralick's GLCM (as in scikit-image's graycomatrix documentation): levels 0-3.
  const int q[16] = {0, 0, 1, 1, 0, 0, 1, 1, 0, 2, 2, 2, 2, 2, 3, 3};
  GreyImage img;
  img.width = 4, img.height = 4;
  for (int v : q) img.grey.push_back(float(v * 64));
  Mask all(4, 4);
  std::fill(all.on.begin(), all.on.end(), 1);
  const GlcmFeatures f = glcm_features(img, all, 4, 1, {0});
  // Horizontal pairs (distance 1, angle 0): counts [[2,2,1,0],[0,2,0,0],[0,0,3,1],[0,0,0,1]],
  // symmetrised and normalised over 24 entries.
  const double c[4][4] = {{2, 2, 1, 0}, {0, 2, 0, 0}, {0, 0, 3, 1}, {0, 0, 0, 1}};
  double p[4][4], contrast = 0, homogeneity = 0, energy = 0, entropy = 0, mean = 0, var = 0, cov = 0;
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b) p[a][b] = (c[a][b] + c[b][a]) / 24.0;
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b) {
      contrast += (a - b) * (a - b) * p[a][b];
      homogeneity += p[a][b] / (1 + (a - b) * (a - b));
      energy += p[a][b] * p[a][b];
      if (p[a][b] > 0) entropy -= p[a][b] * std::log2(p[a][b]);
      mean += a * p[a][b];
    }
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b) var += (a - mean) * (a - mean) * p[a][b], cov += (a - mean) * (b - mean) * p[a][b];
  EXPECT_EQ(f.pairs, 12u);
  EXPECT_NEAR(f.contrast, contrast, 1e-12);
  EXPECT_NEAR(f.contrast, 14.0 / 24.0 * 1.0 + 0, 0.6);  // sanity: mostly neighbours one level apart
  EXPECT_NEAR(f.homogeneity, homogeneity, 1e-12);
  EXPECT_NEAR(f.energy, energy, 1e-12);
  EXPECT_NEAR(f.entropy, entropy, 1e-12);
  EXPECT_NEAR(f.correlation, cov / var, 1e-12);
}

TEST(UsGlcm, UniformRegionHasZeroContrastAndUnitEnergy) {
  GreyImage img;
  img.width = img.height = 20;
  img.grey.assign(400, 77.f);
  Mask all(20, 20);
  std::fill(all.on.begin(), all.on.end(), 1);
  const GlcmFeatures f = glcm_features(img, all, 32, 2);
  EXPECT_DOUBLE_EQ(f.contrast, 0);
  EXPECT_DOUBLE_EQ(f.energy, 1);
  EXPECT_DOUBLE_EQ(f.homogeneity, 1);
  EXPECT_DOUBLE_EQ(f.entropy, 0);
  EXPECT_EQ(f.angles_deg.size(), 4u);
}

TEST(UsPolygon, RasterisedRectangleAndDiscMatchTheirAreas) {
  const Mask rect = rasterize_polygon({{9.5, 19.5}, {49.5, 19.5}, {49.5, 39.5}, {9.5, 39.5}}, 100, 80);
  EXPECT_EQ(rect.count(), 40u * 20u);
  std::vector<Point2> disc;
  for (int k = 0; k < 720; ++k) disc.push_back({50 + 30 * std::cos(k * std::numbers::pi / 360), 40 + 30 * std::sin(k * std::numbers::pi / 360)});
  EXPECT_NEAR(double(rasterize_polygon(disc, 100, 80).count()), std::numbers::pi * 900, 0.01 * std::numbers::pi * 900);
}

TEST(UsOutlines, PointsTextAndFilesInEveryFormatGiveTheSamePolygon) {
  EXPECT_EQ(parse_points("10,20; 30.5,40").size(), 2u);
  EXPECT_THROW(parse_points("10,20;x,3"), Error);
  EXPECT_THROW(parse_points(""), Error);
  musclecsa::testing::TempDir dir;
  const std::vector<Point2> square = {{10, 10}, {50, 10}, {50, 40}, {10, 40}};
  {
    std::ofstream(dir / "a.json") << "{\"points\": [[10,10],[50,10],[50,40],[10,40]]}";
    std::ofstream(dir / "b.json") << "[{\"x\":10,\"y\":10},{\"x\":50,\"y\":10},{\"x\":50,\"y\":40},{\"x\":10,\"y\":40}]";
    std::ofstream(dir / "c.csv") << "x,y\n10,10\n50,10\n50,40\n10,40\n";
    std::ofstream(dir / "d.txt") << "X\tY\n10.5\t10.5\n50.5\t10.5\n50.5\t40.5\n10.5\t40.5\n";  // ImageJ: pixel corners
    // ImageJ .roi: polygon (type 0), bounds top 10 left 10, 4 integer points relative to left/top (corners + 0.5).
    std::string roi(64 + 16, '\0');
    roi.replace(0, 4, "Iout");
    roi[5] = char(227);
    roi[6] = 0;
    auto put16 = [&](std::size_t at, int v) { roi[at] = char((v >> 8) & 0xff), roi[at + 1] = char(v & 0xff); };
    put16(8, 10), put16(10, 10), put16(12, 41), put16(14, 51), put16(16, 4);
    const int xs[4] = {0, 40, 40, 0}, ys[4] = {0, 0, 30, 30};
    for (int k = 0; k < 4; ++k) put16(64 + 2 * k, xs[k]), put16(72 + 2 * k, ys[k]);
    std::ofstream(dir / "e.roi", std::ios::binary) << roi;
  }
  for (const std::string name : {"a.json", "b.json", "c.csv"}) {
    const Outline o = read_outline(dir / name, 100, 80);
    ASSERT_EQ(o.polygon.size(), 4u) << name;
    for (int k = 0; k < 4; ++k) EXPECT_NEAR(o.polygon[k].x, square[k].x, 1e-9) << name;
  }
  // ImageJ coordinates are pixel corners: the XY text holds corners + 0.5 (= our centres), the
  // ROI integer corners 10..50 (= centres 9.5..49.5).
  for (const std::string name : {"d.txt", "e.roi"}) {
    const Outline o = read_outline(dir / name, 100, 80);
    ASSERT_EQ(o.polygon.size(), 4u) << name;
    const double offset = name == "e.roi" ? -0.5 : 0.0;
    for (int k = 0; k < 4; ++k) {
      EXPECT_NEAR(o.polygon[k].x, square[k].x + offset, 1e-9) << name;
      EXPECT_NEAR(o.polygon[k].y, square[k].y + offset, 1e-9) << name;
    }
  }
  EXPECT_EQ(read_outline(dir / "e.roi", 100, 80).format, "imagej-roi");
  {
    std::ofstream(dir / "bad.csv") << "x,y\n1,2\n3,four\n";
    std::ofstream(dir / "bad.roi") << "not a roi file at all, just text long enough to pass the size check..................";
  }
  try {
    read_outline(dir / "bad.csv", 100, 80);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_outline(dir / "bad.roi", 100, 80), Error);
  EXPECT_THROW(read_outline(dir / "missing.json", 100, 80), Error);
  // A mask picture: size must match; written and read back.
  Mask m(100, 80);
  for (int j = 20; j < 30; ++j)
    for (int i = 5; i < 25; ++i) m.on[std::size_t(i) + 100u * j] = 1;
  write_mask_png(m, dir / "mask.png");
  const Outline mo = read_outline(dir / "mask.png", 100, 80);
  ASSERT_TRUE(mo.mask.has_value());
  EXPECT_EQ(mo.mask->count(), 200u);
  EXPECT_THROW(read_outline(dir / "mask.png", 101, 80), Error);
}

/// A panoramic-like picture of a lens-shaped muscle (0.1 mm pixels, 120 x 45 mm): the superficial
/// aponeurosis runs straight across at 15 mm depth; the deep aponeurosis bows down to 20 mm below
/// it at the centre and rises to meet it 45 mm either side, faint and broken into dashes over its
/// outer thirds (as on the SUB02 panoramas). Speckled muscle inside, fat above, deeper tissue below.
/// The truth is the region between the two lines' inner edges.
struct LensCase {
  GreyImage image;
  Mask truth;
};

/// With spurious_columns (first, last) given, the superficial aponeurosis is faint over those
/// columns and a brighter thin line runs 1.4 mm above it there (as the fascia above the aponeurosis on
/// the SUB02 panoramas); the truth stays the region under the aponeurosis.
LensCase make_lens_case(std::pair<int, int> spurious_columns = {-1, -1}) {
  const int w = 1200, h = 450;
  const double px_mm = 0.1, superficial_row = 150, centre = 600, half_width = 450, depth_rows = 200;
  LensCase c;
  c.image.width = w, c.image.height = h;
  c.image.pixel_width_mm = c.image.pixel_height_mm = px_mm;
  c.image.calibrated = true;
  c.image.grey.assign(std::size_t(w) * h, 0);
  c.truth = Mask(w, h);
  std::mt19937 random(7);
  std::normal_distribution<double> speckle(0.0, 8.0);
  auto deep_row = [&](double x) {
    const double t = (x - centre) / half_width;
    return superficial_row + depth_rows * std::max(0.0, 1.0 - t * t);
  };
  auto line = [](double distance_px) { return std::exp(-0.5 * distance_px * distance_px / (1.5 * 1.5)); };
  for (int x = 0; x < w; ++x) {
    const double t = std::abs(x - centre) / half_width, bottom = deep_row(x);
    // Deep line contrast: full over the central third, then a faint dashed line (2 mm dashes, 1 mm gaps).
    const double deep_contrast = t < 1.0 / 3 ? 150.0 : ((x / 10) % 3 == 2 ? 0.0 : 45.0);
    for (int y = 0; y < h; ++y) {
      const bool inside = y > superficial_row + 2 && y < bottom - 2 && t < 1;
      double g = y < 10 ? 150 : y < superficial_row ? 70 : inside ? 45 : 55;
      g += speckle(random);
      const bool spurious = x >= spurious_columns.first && x <= spurious_columns.second;
      g += (spurious ? 30.0 : 150.0) * line(y - superficial_row);
      if (spurious) g += 250.0 * line(y - (superficial_row - 14));
      if (t < 1) g += deep_contrast * line(y - bottom);
      c.image.grey[std::size_t(x) + std::size_t(w) * y] = float(std::clamp(g, 10.0, 255.0));
      c.truth.on[std::size_t(x) + std::size_t(w) * y] = inside;
    }
  }
  return c;
}

TEST(UsLensEnds, VlEndsAreTracedAlongFaintAponeurosesToWhereTheyMeet) {
  // Where the deep aponeurosis fades the column pairs stop with the muscle still 1-1.5 cm thick;
  // vl-us traces both lines on to their junction, within 5% of the true area. Without the trace
  // (the flag off) the same ends are cut straight and the area is more than 10% short.
  const LensCase c = make_lens_case();
  const FieldOfView fov = detect_field_of_view(c.image);
  UsProtocol protocol = builtin_us_protocol("vl-us");
  ASSERT_TRUE(protocol.ends_at_aponeurosis_junction);
  const double truth_mm2 = double(c.truth.count()) * 0.01;
  const UsSegmentation traced = segment_automatic(c.image, fov, protocol);
  const double traced_mm2 = double(traced.mask.count()) * 0.01;
  protocol.ends_at_aponeurosis_junction = false;
  const UsSegmentation cut = segment_automatic(c.image, fov, protocol);
  const double cut_mm2 = double(cut.mask.count()) * 0.01;
  EXPECT_NEAR(traced_mm2, truth_mm2, 0.05 * truth_mm2);
  EXPECT_GT(dice(traced.mask, c.truth), 0.93);
  EXPECT_LT(cut_mm2, 0.9 * truth_mm2);
  std::printf("[figure] lens with faint ends: ACSA traced %.1f mm2, cut straight %.1f mm2, truth %.1f mm2 (%+.2f%%, %+.2f%%)\n",
              traced_mm2, cut_mm2, truth_mm2, 100 * (traced_mm2 / truth_mm2 - 1), 100 * (cut_mm2 / truth_mm2 - 1));
}

TEST(UsLensSteps, SuperficialBoundaryDoesNotStepOntoABrighterLineAboveTheAponeurosis) {
  // Over 12 mm of the lens's top (x 54-66 mm) the superficial aponeurosis is faint and a brighter
  // line runs 1.4 mm above it. The boundary must stay on the aponeurosis there (vl-us removes such a
  // step and its way back as an excursion), not step up onto the other line and down again.
  const std::pair<int, int> band = {540, 660};
  const LensCase c = make_lens_case(band);
  const FieldOfView fov = detect_field_of_view(c.image);
  const UsSegmentation s = segment_automatic(c.image, fov, builtin_us_protocol("vl-us"));
  double worst_mm = 0;
  for (int x = band.first; x <= band.second; ++x) {
    int mask_top = -1, truth_top = -1;
    for (int y = 0; y < c.image.height && (mask_top < 0 || truth_top < 0); ++y) {
      if (mask_top < 0 && s.mask.at(x, y)) mask_top = y;
      if (truth_top < 0 && c.truth.at(x, y)) truth_top = y;
    }
    ASSERT_GE(mask_top, 0) << "column " << x;
    worst_mm = std::max(worst_mm, std::abs(mask_top - truth_top) * 0.1);
  }
  EXPECT_LT(worst_mm, 0.6);
  const double truth_mm2 = double(c.truth.count()) * 0.01, acsa_mm2 = double(s.mask.count()) * 0.01;
  EXPECT_NEAR(acsa_mm2, truth_mm2, 0.05 * truth_mm2);
  std::printf("[figure] lens with a brighter line 1.4 mm above its top over 12 mm: top boundary at most %.2f mm from the "
              "truth there, ACSA %.1f mm2 (truth %.1f, %+.2f%%)\n",
              worst_mm, acsa_mm2, truth_mm2, 100 * (acsa_mm2 / truth_mm2 - 1));
}

TEST(UsProtocols, FourProtocolsWithTheirMusclesAndPublishedCorrections) {
  EXPECT_EQ(us_protocol_names().size(), 4u);
  EXPECT_EQ(builtin_us_protocol("rf-us").structure_key, "rectus_femoris");
  EXPECT_DOUBLE_EQ(builtin_us_protocol("rf-us").ei_coefficient_per_cm, 40.5278);
  EXPECT_DOUBLE_EQ(builtin_us_protocol("vl-us").ei_coefficient_per_cm, 41.5203);
  EXPECT_FALSE(builtin_us_protocol("gastrocnemius-us").ei_correction);
  EXPECT_EQ(builtin_us_protocol("quadriceps-us").structure_key, "quadriceps");
  EXPECT_NE(builtin_us_protocol("rf-us").hash(), builtin_us_protocol("vl-us").hash());
  EXPECT_THROW(builtin_us_protocol("thigh-ct"), Error);
}

TEST(UsQuadricepsLayer, ThicknessIsTheFasciaToFemurDistanceOfThePhantom) {
  const UsCase c = make_case("rectus_femoris", 7);
  const UsProtocol protocol = builtin_us_protocol("quadriceps-us");
  const FieldOfView fov = detect_field_of_view(c.image);
  const UsSegmentation s = segment_automatic(c.image, fov, protocol);
  const UsMeasures m = measure(c.image, fov, s, protocol);
  // Truth along the measured column: from the first muscle row under the deep fascia (the target's
  // top, which touches the fascia at its centre) to the femur's surface.
  const LabelId femur = LabelCatalog::standard().label_id("femur", Side::Right);
  int muscle_top = -1, bone_top = -1;
  for (int j = 0; j < c.image.height; ++j) {
    if (muscle_top < 0 && c.truth.at(m.centre_column, j)) muscle_top = j;
    if (bone_top < 0 && c.ph.labels.at(m.centre_column, j, 0) == femur) bone_top = j;
  }
  ASSERT_GT(muscle_top, 0);
  ASSERT_GT(bone_top, muscle_top);
  EXPECT_NEAR(m.muscle_thickness_mm, (bone_top - muscle_top) * c.image.pixel_height_mm, 0.5);
  EXPECT_NEAR(m.muscle_top_row, muscle_top, 5);
  std::printf("[figure] quadriceps-us layer thickness %.2f mm (truth %.2f)\n", m.muscle_thickness_mm,
              (bone_top - muscle_top) * c.image.pixel_height_mm);
}

// The plausibility check (docs/ultrasound.md, "Plausibility check").

namespace {

const PlausibilityRule& rule(const UsPlausibility& p, const std::string& name) {
  for (const auto& r : p.rules)
    if (r.name == name) return r;
  throw std::runtime_error("no rule " + name);
}

std::string failed_rules(const UsPlausibility& p) {
  std::string names;
  for (const auto& r : p.rules)
    if (r.applied && !r.passed) names += (names.empty() ? "" : ",") + r.name;
  return names;
}

}  // namespace

TEST(UsPlausibility, AutomaticContoursOfThePhantomsPassEveryRule) {
  for (const std::string muscle : {"rectus_femoris", "vastus_lateralis", "gastrocnemius_medial"})
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      const UsCase c = make_case(muscle, seed);
      const UsProtocol protocol = builtin_us_protocol(protocol_for(muscle));
      const FieldOfView fov = detect_field_of_view(c.image);
      const UsSegmentation s = segment_automatic(c.image, fov, protocol);
      const UsMeasures m = measure(c.image, fov, s, protocol);
      const UsPlausibility p = check_plausibility(c.image, fov, s, m, protocol);
      EXPECT_TRUE(p.passed) << muscle << " seed " << seed << ": " << failed_rules(p);
      EXPECT_EQ(p.rules.size(), 7u);
      for (const char* name : {"thickness", "area", "bounded_by_aponeuroses", "imaged_depth", "independent_thickness"})
        EXPECT_TRUE(rule(p, name).applied) << muscle << " " << name << ": " << rule(p, name).reason;
      EXPECT_EQ(rule(p, "closed_ends").applied, muscle == "vastus_lateralis");
      // Speckle without striation: the texture cue has nothing to go by, and says so.
      EXPECT_FALSE(rule(p, "deep_boundary_texture").applied) << muscle;
      EXPECT_NEAR(rule(p, "independent_thickness").value, m.muscle_thickness_mm / 10, 0.05) << muscle;
    }
}

TEST(UsPlausibility, AutomaticContourOnAThinSuperficialBandFailsOnItsThickness) {
  // The failure: the automatic contour takes a thin layer between two strong fasciae over the
  // muscle (5.4 mm between their inner edges, where an adult VL is 15-30 mm). The check fails it on
  // its thickness; the muscle itself, given as an outline, passes.
  const auto c = musclecsa::testing::make_thin_band_case();
  const FieldOfView fov = detect_field_of_view(c.image);
  const UsProtocol protocol = builtin_us_protocol("vl-us");
  const UsSegmentation s = segment_automatic(c.image, fov, protocol);
  const UsMeasures m = measure(c.image, fov, s, protocol);
  ASSERT_LT(m.muscle_thickness_mm, 8.0) << "the synthetic case no longer fools the segmentation: it must take the band";
  EXPECT_GT(dice(s.mask, c.band), 0.8);
  const UsPlausibility p = check_plausibility(c.image, fov, s, m, protocol);
  EXPECT_FALSE(p.passed);
  EXPECT_FALSE(rule(p, "thickness").passed);
  EXPECT_NEAR(rule(p, "thickness").min, 0.8, 1e-9);
  ASSERT_FALSE(p.reasons.empty());
  EXPECT_NE(p.reasons[0].find("thickness 0.5"), std::string::npos) << p.reasons[0];
  EXPECT_NE(p.reasons[0].find("vastus_lateralis"), std::string::npos) << p.reasons[0];
  const UsSegmentation muscle = segment_manual(c.image, c.muscle, "truth");
  const UsMeasures mm = measure(c.image, fov, muscle, protocol);
  const UsPlausibility pm = check_plausibility(c.image, fov, muscle, mm, protocol);
  EXPECT_TRUE(pm.passed) << failed_rules(pm);
  std::printf("[figure] thin superficial band: automatic thickness %.2f cm, ACSA %.2f cm2, check: %s\n", m.muscle_thickness_mm / 10,
              m.acsa_mm2 / 100, p.reasons[0].c_str());
}

TEST(UsPlausibility, DeepBoundaryOnAnIntramuscularLineFailsOnTheTextureUnderIt) {
  // A striated lens with a bright intramuscular line 9 mm under its top: the part above that line
  // has a plausible thickness and both boundaries on lines, but the striated texture goes on under
  // its deep boundary. The whole lens passes.
  const auto c = musclecsa::testing::make_striated_case();
  const FieldOfView fov = detect_field_of_view(c.image);
  const UsProtocol protocol = builtin_us_protocol("vl-us");
  const UsSegmentation upper = segment_manual(c.image, c.band, "upper part");
  const UsMeasures mu = measure(c.image, fov, upper, protocol);
  const UsPlausibility pu = check_plausibility(c.image, fov, upper, mu, protocol);
  EXPECT_TRUE(rule(pu, "thickness").passed) << mu.muscle_thickness_mm;
  ASSERT_TRUE(rule(pu, "deep_boundary_texture").applied) << rule(pu, "deep_boundary_texture").reason;
  EXPECT_FALSE(rule(pu, "deep_boundary_texture").passed) << rule(pu, "deep_boundary_texture").value;
  EXPECT_FALSE(pu.passed);
  const UsSegmentation whole = segment_manual(c.image, c.muscle, "whole");
  const UsMeasures mw = measure(c.image, fov, whole, protocol);
  const UsPlausibility pw = check_plausibility(c.image, fov, whole, mw, protocol);
  EXPECT_TRUE(pw.passed) << failed_rules(pw) << " " << rule(pw, "deep_boundary_texture").source;
  EXPECT_TRUE(rule(pw, "deep_boundary_texture").applied);
  // rf-us does not use the texture cue (the rectus femoris lies on the more striated vastus intermedius).
  const UsPlausibility rf = check_plausibility(c.image, fov, upper, mu, builtin_us_protocol("rf-us"));
  EXPECT_FALSE(rule(rf, "deep_boundary_texture").applied);
  std::printf("[figure] striated lens: texture under the intramuscular line %.2f of the muscle's (fails), under the deep aponeurosis %.2f\n",
              rule(pu, "deep_boundary_texture").value, rule(pw, "deep_boundary_texture").value);
}

TEST(UsPlausibility, BoundaryThroughTheMuscleAndOnTheImageBottomFail) {
  // The phantom muscle's upper half: its deep boundary runs through the muscle, on no line.
  const UsCase c = make_case("vastus_lateralis", 2);
  const UsProtocol protocol = builtin_us_protocol("vl-us");
  const FieldOfView fov = detect_field_of_view(c.image);
  Mask half = c.truth;
  for (int x = 0; x < half.width; ++x) {
    int top = -1, bottom = -1;
    for (int y = 0; y < half.height; ++y)
      if (c.truth.at(x, y)) bottom = y, top = top < 0 ? y : top;
    for (int y = (top + bottom) / 2; top >= 0 && y <= bottom; ++y) half.on[std::size_t(x) + std::size_t(half.width) * y] = 0;
  }
  const UsSegmentation s = segment_manual(c.image, half, "upper half");
  const UsMeasures m = measure(c.image, fov, s, protocol);
  const UsPlausibility p = check_plausibility(c.image, fov, s, m, protocol);
  EXPECT_FALSE(rule(p, "bounded_by_aponeuroses").passed) << rule(p, "bounded_by_aponeuroses").source;
  EXPECT_FALSE(rule(p, "independent_thickness").passed) << rule(p, "independent_thickness").source;
  EXPECT_NE(p.reasons.front().find("deep boundary"), std::string::npos) << p.reasons.front();
  // The muscle run on to the image's bottom edge under its belly.
  Mask deep = c.truth;
  for (int x = 0; x < deep.width; ++x) {
    int bottom = -1;
    for (int y = 0; y < deep.height; ++y)
      if (c.truth.at(x, y)) bottom = y;
    for (int y = bottom; bottom >= 0 && y < deep.height; ++y)
      deep.on[std::size_t(x) + std::size_t(deep.width) * y] = fov.mask.at(x, y);
  }
  const UsSegmentation sd = segment_manual(c.image, deep, "to the bottom");
  const UsMeasures md = measure(c.image, fov, sd, protocol);
  const UsPlausibility pd = check_plausibility(c.image, fov, sd, md, protocol);
  EXPECT_FALSE(rule(pd, "imaged_depth").passed) << rule(pd, "imaged_depth").value;
  EXPECT_FALSE(pd.passed);
}

TEST(UsPlausibility, VlEndsCutStraightInMidMuscleFailAndTracedEndsPass) {
  // The lens whose deep aponeurosis fades at its outer thirds: traced to where the aponeuroses meet
  // (vl-us) the ends pass; cut straight where the column pairs stop (the trace switched off), the
  // muscle is still thick at its ends and most of them are left out.
  const LensCase c = make_lens_case();
  const FieldOfView fov = detect_field_of_view(c.image);
  UsProtocol protocol = builtin_us_protocol("vl-us");
  const UsSegmentation traced = segment_automatic(c.image, fov, protocol);
  const UsPlausibility pt = check_plausibility(c.image, fov, traced, measure(c.image, fov, traced, protocol), protocol);
  EXPECT_TRUE(pt.passed) << failed_rules(pt) << " " << rule(pt, "closed_ends").source;
  protocol.ends_at_aponeurosis_junction = false;
  const UsSegmentation cut = segment_automatic(c.image, fov, protocol);
  const UsPlausibility pc = check_plausibility(c.image, fov, cut, measure(c.image, fov, cut, protocol), protocol);
  EXPECT_FALSE(rule(pc, "closed_ends").passed) << rule(pc, "closed_ends").source;
  ASSERT_FALSE(pc.reasons.empty());
  EXPECT_NE(pc.reasons.back().find("cut straight"), std::string::npos) << pc.reasons.back();
  std::printf("[figure] lens ends: traced %.2f, cut straight %.2f of the centre thickness (at most %.2f)\n", rule(pt, "closed_ends").value,
              rule(pc, "closed_ends").value, rule(pc, "closed_ends").max);
}

TEST(UsPlausibility, LimitsAndTheirSourcesAreInTheProtocol) {
  const UsProtocol vl = builtin_us_protocol("vl-us"), rf = builtin_us_protocol("rf-us"), quad = builtin_us_protocol("quadriceps-us");
  EXPECT_DOUBLE_EQ(vl.plausibility.thickness_min_mm, 8);
  EXPECT_DOUBLE_EQ(vl.plausibility.thickness_max_mm, 45);
  EXPECT_NE(vl.plausibility.thickness_source.find("1.5-3 cm"), std::string::npos);
  EXPECT_DOUBLE_EQ(rf.plausibility.thickness_min_mm, 5);
  EXPECT_GT(vl.plausibility.texture_below_ratio, 0);
  EXPECT_EQ(rf.plausibility.texture_below_ratio, 0);
  EXPECT_FALSE(quad.plausibility.check_area);
  for (const auto& name : us_protocol_names()) {
    const std::string j = builtin_us_protocol(name).to_json();
    for (const char* key : {"\"plausibility\"", "\"thickness_cm\"", "\"thickness_source\"", "\"acsa_cm2\"", "\"acsa_source\"", "\"line_strength\"",
                            "\"texture_below_ratio\"", "\"thickness_agreement\"", "\"open_end_ratio\""})
      EXPECT_NE(j.find(key), std::string::npos) << name << " " << key;
  }
}
