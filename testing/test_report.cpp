// QC images: the overlay colour lands where the labels are, the grey image elsewhere. Measurement
// records: their results.json text. QC flags: every flag of a case and where it occurs.

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "musclecsa/core/catalog.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/report/flags.h"
#include "musclecsa/report/qc_image.h"
#include "musclecsa/report/records.h"
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

// results.json's records are written as text: the text must be what a dump of the same records as
// a JSON tree gives, and must parse back to the records (odd strings, missing slice and z, NaN).
TEST(MeasurementRecords, TextIsTheDumpOfTheSameRecordsAsATree) {
  std::vector<Measurement> records(4);
  records[0].quantity = "csa", records[0].value = 12.345678901234, records[0].unit_ucum = "cm2";
  records[0].structure_key = "rectus_femoris", records[0].side = Side::Right, records[0].slice_index = 200;
  records[0].z_mm = -220.0, records[0].level = "femur_50pct";
  records[1].quantity = "mean_hu", records[1].value = -1e-7, records[1].unit_ucum = "[hnsf'U]";
  records[1].structure_key = "quadriceps", records[1].side = Side::Left, records[1].slice_index = 0, records[1].z_mm = 0.5;
  records[2].quantity = "volume", records[2].value = 1e22, records[2].unit_ucum = "cm3", records[2].structure_key = "not_in_catalog";
  records[2].level = "a \"quoted\"\\ level\twith\ncontrol, \xc3\xa9 and invalid \xff bytes";
  records[3].quantity = "fat_fraction", records[3].value = std::nan(""), records[3].unit_ucum = "1";
  records[3].structure_key = "skeletal_muscle", records[3].side = Side::None, records[3].slice_index = -3;
  nlohmann::json tree = nlohmann::json::array();
  for (const auto& m : records)
    tree.push_back({{"quantity", m.quantity}, {"value", m.value}, {"unit", m.unit_ucum}, {"structure", m.structure_key},
                    {"structure_code", report::structure_code(m.structure_key)}, {"side", std::string(to_string(m.side))},
                    {"level", m.level}, {"slice", m.slice_index ? nlohmann::json(*m.slice_index) : nlohmann::json(nullptr)},
                    {"z_mm", m.z_mm ? nlohmann::json(*m.z_mm) : nlohmann::json(nullptr)}});
  const auto dump = [](const nlohmann::json& j) { return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace); };
  // As results.json nests it (depth 1), and at other depths.
  const std::string document = dump(nlohmann::json{{"measurements", tree}});
  EXPECT_EQ(document, "{\n \"measurements\": " + report::records_json_text(records, 1) + "\n}");
  EXPECT_EQ(dump(tree), report::records_json_text(records, 0));
  EXPECT_EQ(dump(nlohmann::json{{"a", {{"b", tree}}}}), "{\n \"a\": {\n  \"b\": " + report::records_json_text(records, 2) + "\n }\n}");
  EXPECT_EQ(dump(nlohmann::json::array()), report::records_json_text({}, 1));
  EXPECT_FALSE(report::structure_code("rectus_femoris").empty());
  EXPECT_EQ(report::structure_code("not_in_catalog"), "");
  const auto parsed = nlohmann::json::parse(report::records_json_text(records, 1));
  ASSERT_EQ(parsed.size(), 4u);
  EXPECT_EQ(parsed[0]["slice"], 200);
  EXPECT_TRUE(parsed[2]["slice"].is_null());
  EXPECT_TRUE(parsed[3]["value"].is_null());
}

// Summaries list every distinct flag of a case (issue 21: a page said "no QC flags" while slices
// and the level carried muscle_boundaries_uncertain): the case's own first, then the slices' in
// slice order, each with its slices (runs joined) and the found levels at those slices.
TEST(CaseFlags, EveryFlagOfTheCaseItsSlicesAndLevelsIsListedOnceWithWhereItOccurs) {
  const std::vector<report::SliceFlags> slices = {{0, {}},
                                                  {1, {"muscle_boundaries_uncertain"}},
                                                  {3, {"metal", "muscle_boundaries_uncertain"}},
                                                  {2, {"muscle_boundaries_uncertain", "muscle_boundaries_uncertain"}},
                                                  {7, {"muscle_boundaries_uncertain"}},
                                                  {8, {}}};
  const std::vector<report::LevelAt> levels = {{"right", "femur_50pct", 3}, {"left", "femur_50pct", 8}};
  const auto flags = report::collect_flags({"missing_uids", "metal"}, slices, levels);
  ASSERT_EQ(flags.size(), 3u);
  EXPECT_EQ(flags[0].flag, "missing_uids");
  EXPECT_EQ(flags[0].where(), "the case");
  EXPECT_EQ(flags[1].flag, "metal");
  EXPECT_EQ(flags[1].where(), "the case; slice 3 (1 of 6 slices); at the standard level right femur_50pct (slice 3)");
  EXPECT_EQ(flags[2].flag, "muscle_boundaries_uncertain");
  EXPECT_EQ(flags[2].slices, (std::vector<int>{1, 2, 3, 7}));
  EXPECT_EQ(flags[2].where(), "slices 1-3, 7 (4 of 6 slices); at the standard level right femur_50pct (slice 3)");
  EXPECT_TRUE(report::collect_flags({}, {{0, {}}}, levels).empty());
}
