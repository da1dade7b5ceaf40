// The viewer's model in-process (no X server): exact voxel changes of brush, eraser and contour
// edits, undo/redo, the outline, slice composition (colours, radiological order), presets, save
// and the audit log.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "musclecsa/core/catalog.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/render/viewer.h"
#include "test_support.h"

using namespace musclecsa;
using musclecsa::testing::TempDir;

namespace {

render::ViewerInput small_case(std::size_t nx = 40, std::size_t ny = 30, std::size_t nz = 3, double hu = 40) {
  render::ViewerInput in;
  const Geometry g = make_axial_geometry({nx, ny, nz}, {1.0, 1.0, 5.0}, {0, 0, 0});
  auto volume = std::make_shared<ScalarVolume>(g, float(hu));
  volume->modality = Modality::CT;
  in.volume = volume;
  in.labels = LabelMap(g, 0);
  in.title = "small";
  return in;
}

std::size_t count_label(const LabelMap& labels, int k, LabelId label) {
  const LabelId* l = labels.slice(std::size_t(k));
  return std::size_t(std::count(l, l + labels.geometry.slice_voxel_count(), label));
}

const LabelId kRectusRight = LabelCatalog::standard().label_id("rectus_femoris", Side::Right);
const LabelId kVastusRight = LabelCatalog::standard().label_id("vastus_lateralis", Side::Right);

}  // namespace

TEST(RenderModel, BrushPaintsExactlyTheVoxelsWithinTheRadiusAndUndoRedoRestore) {
  auto model = render::make_viewer_model(small_case());
  // Voxel centres within 3 mm of (20, 15) on a 1 mm grid: integer points with di^2 + dj^2 <= 9.
  EXPECT_EQ(model->brush(1, {{20, 15}}, 3.0, kRectusRight), 29u);
  EXPECT_EQ(count_label(model->labels(), 1, kRectusRight), 29u);
  EXPECT_EQ(count_label(model->labels(), 0, kRectusRight), 0u);
  EXPECT_EQ(model->labels().at(23, 15, 1), kRectusRight);
  EXPECT_EQ(model->labels().at(22, 17, 1), kRectusRight);  // 2^2 + 2^2 = 8 <= 9
  EXPECT_EQ(model->labels().at(22, 18, 1), 0);             // 2^2 + 3^2 = 13 > 9
  EXPECT_NEAR(model->label_area_cm2(1, kRectusRight), 0.29, 1e-12);
  ASSERT_EQ(model->audit_entries().size(), 1u);
  const auto& a = model->audit_entries()[0];
  EXPECT_EQ(a.action, "brush");
  EXPECT_EQ(a.structure, "rectus_femoris");
  EXPECT_EQ(a.side, "right");
  EXPECT_EQ(a.slices, std::vector<int>{1});
  EXPECT_NEAR(a.area_before_cm2, 0, 1e-12);
  EXPECT_NEAR(a.area_after_cm2, 0.29, 1e-12);
  EXPECT_FALSE(a.user.empty());
  EXPECT_EQ(a.time_utc.size(), 20u);
  const auto revision = model->revision();
  EXPECT_TRUE(model->undo());
  EXPECT_EQ(count_label(model->labels(), 1, kRectusRight), 0u);
  EXPECT_FALSE(model->undo());
  EXPECT_TRUE(model->redo());
  EXPECT_EQ(count_label(model->labels(), 1, kRectusRight), 29u);
  EXPECT_FALSE(model->redo());
  EXPECT_EQ(model->revision(), revision + 2);
  EXPECT_EQ(model->audit_entries().back().action, "redo");
  // The measurements (areas per label without an analysis) follow the edits.
  ASSERT_EQ(model->measurements().slices.size(), 3u);
  ASSERT_EQ(model->measurements().slices[1].size(), 1u);
  EXPECT_NEAR(model->measurements().slices[1][0].value, 0.29, 1e-12);
}

TEST(RenderModel, BrushStrokeCoversTheSweptDiscAndTheSecondEditClearsRedo) {
  auto model = render::make_viewer_model(small_case());
  // A horizontal stroke from (10, 10) to (20, 10), radius 1 mm: 11 centres on the line, 11 above,
  // 11 below, plus (9, 10) and (21, 10) at the ends.
  EXPECT_EQ(model->brush(0, {{10, 10}, {20, 10}}, 1.0, kVastusRight), 35u);
  model->undo();
  EXPECT_TRUE(model->can_redo());
  model->brush(0, {{5, 5}}, 1.0, kVastusRight);
  EXPECT_FALSE(model->can_redo());
}

TEST(RenderModel, EraserRemovesOnlyTheChosenStructure) {
  auto in = small_case();
  for (std::size_t j = 0; j < 30; ++j)
    for (std::size_t i = 0; i < 40; ++i) in.labels->at(i, j, 2) = i < 20 ? kRectusRight : kVastusRight;
  auto model = render::make_viewer_model(std::move(in));
  // Disc of 29 voxels around (20, 15): columns 17..19 are rectus (1 + 5 + 5 = 11 voxels), 20..23 vastus.
  EXPECT_EQ(model->erase(2, {{20, 15}}, 3.0, kRectusRight), 11u);
  EXPECT_EQ(count_label(model->labels(), 2, kRectusRight), 600u - 11u);
  EXPECT_EQ(count_label(model->labels(), 2, kVastusRight), 600u);
  EXPECT_EQ(count_label(model->labels(), 2, 0), 11u);
  const auto& a = model->audit_entries().back();
  EXPECT_EQ(a.action, "eraser");
  EXPECT_NEAR(a.area_before_cm2 - a.area_after_cm2, 0.11, 1e-12);
  // Erasing where the structure is absent changes nothing and records nothing.
  EXPECT_EQ(model->erase(0, {{20, 15}}, 3.0, kRectusRight), 0u);
  EXPECT_EQ(model->audit_entries().size(), 1u);
}

TEST(RenderModel, ContourReplacesTheStructureInItsSliceOnly) {
  auto in = small_case();
  for (int k = 0; k < 3; ++k)
    for (std::size_t j = 10; j < 20; ++j)
      for (std::size_t i = 10; i < 20; ++i) in.labels->at(i, j, std::size_t(k)) = kRectusRight;
  auto model = render::make_viewer_model(std::move(in));
  // The outline of a 10x10 square is its four corners, on voxel edges.
  const auto outline = model->contour_of(1, kRectusRight, 80);
  ASSERT_EQ(outline.size(), 4u);
  for (const auto& p : outline) {
    EXPECT_TRUE(p.i == 9.5 || p.i == 19.5) << p.i;
    EXPECT_TRUE(p.j == 9.5 || p.j == 19.5) << p.j;
  }
  EXPECT_EQ(model->set_contour(1, outline, kRectusRight), 0u);  // the outline as it is: nothing changes
  // A 6x4 rectangle overlapping the square: columns 15..20, rows 5..8 inside.
  const std::vector<render::PixelPoint> rectangle = {{14.5, 4.5}, {20.5, 4.5}, {20.5, 8.5}, {14.5, 8.5}};
  EXPECT_EQ(model->set_contour(1, rectangle, kRectusRight), 24u + 100u);
  EXPECT_EQ(count_label(model->labels(), 1, kRectusRight), 24u);
  EXPECT_EQ(model->labels().at(15, 5, 1), kRectusRight);
  EXPECT_EQ(model->labels().at(20, 8, 1), kRectusRight);
  EXPECT_EQ(model->labels().at(14, 5, 1), 0);
  EXPECT_EQ(model->labels().at(12, 12, 1), 0);
  EXPECT_EQ(count_label(model->labels(), 0, kRectusRight), 100u);
  EXPECT_EQ(count_label(model->labels(), 2, kRectusRight), 100u);
  EXPECT_EQ(model->audit_entries().back().action, "contour");
  EXPECT_THROW(model->set_contour(1, {{1, 1}, {2, 2}}, kRectusRight), Error);
  EXPECT_THROW(model->brush(3, {{1, 1}}, 2, kRectusRight), Error);
}

TEST(RenderModel, OutlineOfAnLShapeFollowsItsEdges) {
  auto in = small_case();
  for (std::size_t j = 5; j < 15; ++j)
    for (std::size_t i = 5; i < 10; ++i) in.labels->at(i, j, 0) = kVastusRight;
  for (std::size_t j = 10; j < 15; ++j)
    for (std::size_t i = 10; i < 20; ++i) in.labels->at(i, j, 0) = kVastusRight;
  in.labels->at(30, 25, 0) = kVastusRight;  // a smaller separate region is not the outline
  auto model = render::make_viewer_model(std::move(in));
  const auto outline = model->contour_of(0, kVastusRight, 80);
  EXPECT_EQ(outline.size(), 6u);
  // Applying its own outline keeps the L and drops the stray voxel.
  EXPECT_EQ(model->set_contour(0, outline, kVastusRight), 1u);
  EXPECT_EQ(count_label(model->labels(), 0, kVastusRight), 100u);
}

TEST(RenderModel, SliceCompositionShowsCatalogColoursInRadiologicalOrder) {
  auto in = small_case(8, 6, 1, 440);  // above the CT window (-160..240 HU): white
  in.labels->at(2, 1, 0) = kRectusRight;
  auto model = render::make_viewer_model(std::move(in));
  const Rgb colour = LabelCatalog::standard().get("rectus_femoris").colour;
  render::SliceDisplay display;
  display.window = model->window_level(render::DisplayPreset::CtMuscle);
  display.outlines = false;
  std::vector<std::uint8_t> rgb;
  auto pixel = [&](std::size_t i, std::size_t j) {  // voxel (i, j): output rows run bottom-up
    const std::uint8_t* p = rgb.data() + 3 * ((6 - 1 - j) * 8 + i);
    return std::array<int, 3>{p[0], p[1], p[2]};
  };
  display.overlay_opacity = 1;
  model->compose_slice_rgb(0, display, rgb);
  ASSERT_EQ(rgb.size(), 8u * 6u * 3u);
  EXPECT_EQ(pixel(2, 1), (std::array<int, 3>{colour.r, colour.g, colour.b}));
  EXPECT_EQ(pixel(3, 1), (std::array<int, 3>{255, 255, 255}));
  display.overlay_opacity = 0.5;
  model->compose_slice_rgb(0, display, rgb);
  EXPECT_EQ(pixel(2, 1), (std::array<int, 3>{int(std::lround((255.0 + colour.r) / 2)), int(std::lround((255.0 + colour.g) / 2)),
                                             int(std::lround((255.0 + colour.b) / 2))}));
  display.hidden_labels = {kRectusRight};
  model->compose_slice_rgb(0, display, rgb);
  EXPECT_EQ(pixel(2, 1), (std::array<int, 3>{255, 255, 255}));
  // Outlines are drawn in full colour whatever the opacity (a lone voxel is all outline).
  display.hidden_labels.clear();
  display.outlines = true;
  display.overlay_opacity = 0.2;
  model->compose_slice_rgb(0, display, rgb);
  EXPECT_EQ(pixel(2, 1), (std::array<int, 3>{colour.r, colour.g, colour.b}));
}

TEST(RenderModel, WindowPresets) {
  auto in = small_case(10, 10, 2, 0);
  auto ramp = std::make_shared<ScalarVolume>(*in.volume);
  for (std::size_t o = 0; o < ramp->voxels.size(); ++o) ramp->voxels[o] = float(o + 1);  // 1..200
  in.volume = ramp;
  auto model = render::make_viewer_model(std::move(in));
  EXPECT_EQ(model->window_level(render::DisplayPreset::CtMuscle).centre, 40);
  EXPECT_EQ(model->window_level(render::DisplayPreset::CtMuscle).width, 400);
  EXPECT_EQ(model->window_level(render::DisplayPreset::Ultrasound).centre, 127.5);
  const auto mr = model->window_level(render::DisplayPreset::MrAuto);
  EXPECT_NEAR(mr.centre, 100.5, 1.0);
  EXPECT_NEAR(mr.width, 198, 2.0);
  EXPECT_EQ(render::display_preset_from_string("us", "--preset"), render::DisplayPreset::Ultrasound);
  EXPECT_THROW(render::display_preset_from_string("bone", "--preset"), Error);
}

TEST(RenderModel, SaveWritesLabelsAndAppendsOnlyNewAuditEntries) {
  TempDir dir;
  auto in = small_case();
  in.save_dir = dir / "edited";
  auto model = render::make_viewer_model(std::move(in));
  model->brush(0, {{5, 5}}, 2.0, kRectusRight);
  EXPECT_TRUE(model->modified_since_save());
  model->save();
  EXPECT_FALSE(model->modified_since_save());
  model->erase(0, {{5, 5}}, 1.0, kRectusRight);
  model->save();
  const LabelMap saved = io::read_label_map(dir / "edited/labels.nii.gz");
  EXPECT_EQ(saved.voxels, model->labels().voxels);
  EXPECT_TRUE(std::filesystem::exists(dir / "edited/labels.json"));
  const std::string log = io::read_text(dir / "edited/edits.jsonl");
  ASSERT_EQ(std::count(log.begin(), log.end(), '\n'), 2);
  const auto first = nlohmann::json::parse(log.substr(0, log.find('\n')));
  EXPECT_EQ(first["action"], "brush");
  EXPECT_EQ(first["structure"], "rectus_femoris");
  EXPECT_EQ(first["slices"], nlohmann::json::array({0}));
  EXPECT_EQ(first["voxels_changed"], 13);  // radius 2 on a 1 mm grid
  EXPECT_NEAR(first["area_after_cm2"].get<double>(), 0.13, 1e-12);
  const auto second = nlohmann::json::parse(log.substr(log.find('\n') + 1));
  EXPECT_EQ(second["action"], "eraser");
  EXPECT_EQ(second["voxels_changed"], 5);
}

TEST(RenderModel, LabelsOnAnotherGridAreRefused) {
  auto in = small_case();
  in.labels = LabelMap(make_axial_geometry({40, 30, 4}, {1.0, 1.0, 5.0}, {0, 0, 0}), 0);
  in.results_dir = "some/results";
  try {
    render::make_viewer_model(std::move(in));
    FAIL() << "labels on another grid were accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_NE(std::string(e.what()).find("some/results"), std::string::npos) << e.what();
  }
}

TEST(RenderModel, ChangedLabelsTellViewsWhatToRedraw) {
  auto in = small_case();
  for (std::size_t j = 0; j < 30; ++j)
    for (std::size_t i = 0; i < 20; ++i) in.labels->at(i, j, 0) = kVastusRight;
  auto model = render::make_viewer_model(std::move(in));
  const auto start = model->revision();
  EXPECT_TRUE(model->labels_changed_since(start).empty());
  model->brush(0, {{19, 10}}, 2.0, kRectusRight);  // over vastus lateralis and background
  const auto after_brush = model->revision();
  EXPECT_EQ(model->labels_changed_since(start), (std::vector<LabelId>{0, kRectusRight, kVastusRight}));
  model->erase(1, {{5, 5}}, 2.0, kRectusRight);  // nothing there: no change, no revision
  EXPECT_EQ(model->revision(), after_brush);
  model->brush(2, {{5, 5}}, 1.0, kRectusRight);
  EXPECT_EQ(model->labels_changed_since(after_brush), (std::vector<LabelId>{0, kRectusRight}));
  model->undo();
  EXPECT_EQ(model->labels_changed_since(after_brush), (std::vector<LabelId>{0, kRectusRight}));
}

// A label shown under another name (an ultrasound muscle whose side was not given is stored under
// the right-side label, and must not be called "right").
TEST(RenderModel, DisplayNamesReplaceTheCatalogNameOfTheirLabelOnly) {
  auto in = small_case();
  in.labels->at(5, 5, 1) = kRectusRight;
  in.display_names[kRectusRight] = "Rectus femoris (side not given)";
  auto model = render::make_viewer_model(std::move(in));
  ASSERT_NE(model->entry(kRectusRight), nullptr);
  EXPECT_EQ(model->entry(kRectusRight)->display_name, "Rectus femoris (side not given)");
  EXPECT_EQ(model->entry(kVastusRight)->display_name, "Vastus lateralis (right)");
  EXPECT_EQ(render::make_viewer_model(small_case())->entry(kRectusRight)->display_name, "Rectus femoris (right)");
}
