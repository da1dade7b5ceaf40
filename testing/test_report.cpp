// QC images: the overlay colour lands where the labels are, the grey image elsewhere.

#include <gtest/gtest.h>

#include "musclecsa/core/catalog.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/report/qc_image.h"
#include "test_support.h"

using namespace musclecsa;
using musclecsa::testing::TempDir;

TEST(QcImage, OverlayColoursTheLabelledPixelsAndLeavesTheRestGrey) {
  const Geometry g = make_axial_geometry({40, 30, 2}, {1, 1, 5}, {});
  ScalarVolume ct(g, 40.0f);
  ct.modality = Modality::CT;
  LabelMap labels(g);
  const LabelId femur = LabelCatalog::standard().label_id("femur", Side::Right);
  for (std::size_t j = 5; j < 15; ++j)
    for (std::size_t i = 5; i < 15; ++i) labels.at(i, j, 1) = femur;
  TempDir dir;
  report::QcImageOptions options;
  options.text = {"title", "slice 1"};
  report::write_qc_image(ct, labels, 1, options, dir / "qc.png");
  const io::BitmapImage png = io::read_bitmap(dir / "qc.png", std::nullopt);
  const int scale = (700 + 39) / 40;  // enlarged to at least 700 pixels wide
  ASSERT_EQ(png.image.geometry.size[0], std::size_t(40 * scale + 420));
  ASSERT_GE(png.image.geometry.size[1], std::size_t(30 * scale));
  // Window centre 40, width 400: 40 HU is mid-grey.
  const double grey = (40.0 - (40 - 200)) / 400 * 255;  // 127.5 before rounding
  const auto lum = [&](int x, int y) { return png.image.at(std::size_t(x), std::size_t(y), 0); };
  EXPECT_NEAR(lum(30 * scale, 25 * scale), grey, 1.5);  // unlabelled
  const Rgb c = LabelCatalog::standard().get("femur").colour;
  const double expected = 0.65 * grey + 0.35 * (0.299 * c.r + 0.587 * c.g + 0.114 * c.b);
  EXPECT_NEAR(lum(10 * scale, 10 * scale), expected, 2.0);  // inside the femur square
  EXPECT_GT(lum(10 * scale, 10 * scale), lum(30 * scale, 25 * scale) + 20);
}

TEST(QcImage, MismatchedGridsAndSlicesOutsideAreRefused) {
  const Geometry g = make_axial_geometry({8, 8, 1}, {1, 1, 1}, {});
  ScalarVolume ct(g, 0.0f);
  LabelMap other(make_axial_geometry({9, 8, 1}, {1, 1, 1}, {}));
  TempDir dir;
  EXPECT_THROW(report::write_qc_image(ct, other, 0, {}, dir / "a.png"), Error);
  EXPECT_THROW(report::write_qc_image(ct, LabelMap(g), 3, {}, dir / "b.png"), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "a.png"));
}
