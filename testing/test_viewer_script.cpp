// musclecsa view as a person uses it, driven by --script under an X server (ctest runs under
// xvfb-run): a brush edit on an analysed CT phantom changes the saved areas by exactly the painted
// voxels, the audit log records it, the original analysis is untouched; undo/redo, the eraser
// through real mouse events, contours, navigation, the 3-D view and a screenshot run without
// VTK or Qt errors; script mistakes are named; ultrasound opens with its labels.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "musclecsa/core/catalog.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/io/text_file.h"
#include "test_support.h"

using namespace musclecsa;
using musclecsa::testing::quoted;
using musclecsa::testing::run_command;
using musclecsa::testing::TempDir;
using nlohmann::json;

// The analysed phantoms the viewer and render tests share (test_viewer_case.cpp; built once per run).
struct ViewerCase {
  std::filesystem::path root;
  std::filesystem::path dicom, dicom_results;  ///< CT phantom (DICOM), analysed
  std::filesystem::path nifti, nifti_results;  ///< the same CT as NIfTI, analysed with --modality ct
  std::filesystem::path us_dicom, us_labels;   ///< ultrasound phantom and its truth labels folder
  std::filesystem::path us_results;            ///< its ultrasound analysis (mask.png, results.json)
  int level_slice = -1;                        ///< the standard level slice of both analyses
};
const ViewerCase& viewer_case();
std::string with_x_connection_spy(const std::filesystem::path& log);
std::string x_connection_problem(const std::filesystem::path& log);

namespace {

const std::string kBinary = MUSCLECSA_BINARY;

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

/// Output of a viewer run must be free of VTK and Qt errors (Qt warnings about the session, such
/// as XDG_RUNTIME_DIR under Xvfb, are not errors).
void expect_clean_log(const std::string& output) {
  EXPECT_EQ(output.find("VTK error"), std::string::npos) << output;
  EXPECT_EQ(output.find("VTK warning"), std::string::npos) << output;
  EXPECT_EQ(output.find("Qt critical"), std::string::npos) << output;
}

/// The values printed by the script's `print` actions: [print number][row name] -> value.
std::vector<std::map<std::string, double>> printed(const std::string& output) {
  std::vector<std::map<std::string, double>> out;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("measure\tslice ", 0) == 0) out.emplace_back();
    if (line.rfind("measure\t", 0) != 0 || out.empty()) continue;
    const auto a = line.find('\t'), b = line.find('\t', a + 1);
    if (b == std::string::npos) continue;
    const std::string name = line.substr(a + 1, b - a - 1);
    if (!out.back().count(name)) out.back()[name] = std::stod(line.substr(b + 1));  // the slice's rows come first
  }
  return out;
}

/// A structure's measures at the standard level of one side in a results.json.
json level_structure(const json& results, const std::string& side, const std::string& key) {
  for (const auto& level : results["levels"])
    if (level["side"] == side)
      for (const auto& st : level["measures"]["structures"])
        if (st["structure"] == key) return st;
  return json();
}

json level_side(const json& results, const std::string& side) {
  for (const auto& level : results["levels"])
    if (level["side"] == side) return level["measures"];
  return json();
}

/// A voxel of the right vastus lateralis at slice k whose whole disc of `radius_mm` is vastus lateralis.
std::pair<int, int> deep_voxel(const LabelMap& labels, std::size_t k, LabelId label, double radius_mm) {
  const Geometry& g = labels.geometry;
  const int r = int(std::ceil(radius_mm / g.spacing_mm[0])) + 1;
  for (int j = r; j < int(g.size[1]) - r; ++j)
    for (int i = r; i < int(g.size[0]) - r; ++i) {
      bool inside = true;
      for (int dj = -r; dj <= r && inside; ++dj)
        for (int di = -r; di <= r && inside; ++di)
          if (std::hypot(di * g.spacing_mm[0], dj * g.spacing_mm[1]) <= radius_mm + g.spacing_mm[0])
            inside = labels.at(std::size_t(i + di), std::size_t(j + dj), k) == label;
      if (inside) return {i, j};
    }
  return {-1, -1};
}

/// Voxels of slice k whose centre lies within radius_mm of voxel (ci, cj).
std::vector<std::size_t> disc(const Geometry& g, int ci, int cj, double radius_mm) {
  std::vector<std::size_t> out;
  for (std::size_t j = 0; j < g.size[1]; ++j)
    for (std::size_t i = 0; i < g.size[0]; ++i) {
      const double dx = (double(i) - ci) * g.spacing_mm[0], dy = (double(j) - cj) * g.spacing_mm[1];
      if (dx * dx + dy * dy <= radius_mm * radius_mm) out.push_back(i + g.size[0] * j);
    }
  return out;
}

}  // namespace

TEST(ViewerScript, BrushEditIsSavedWithExactAreaChangesAndAnAuditLine) {
  const ViewerCase& c = viewer_case();
  TempDir dir;
  std::filesystem::copy(c.nifti_results, dir / "an");
  const std::string original_results = io::read_text(dir / "an/results.json");
  const LabelMap labels = io::read_label_map(dir / "an/labels.nii.gz");
  const ScalarVolume ct = io::read_scalar_volume(c.nifti);
  const auto& catalog = LabelCatalog::standard();
  const LabelId rf = catalog.label_id("rectus_femoris", Side::Right), vl = catalog.label_id("vastus_lateralis", Side::Right);
  const int k = c.level_slice;
  const double radius_mm = 4;
  const auto [ci, cj] = deep_voxel(labels, std::size_t(k), vl, radius_mm);
  ASSERT_GE(ci, 0) << "no place inside the right vastus lateralis";
  const auto painted = disc(labels.geometry, ci, cj, radius_mm);
  std::size_t muscle_hu = 0;  // painted voxels in the protocol's muscle range (-29..150 HU): the CSA change
  for (std::size_t o : painted) {
    const float hu = ct.slice(std::size_t(k))[o];
    muscle_hu += hu >= -29 && hu <= 150;
  }
  const double px_cm2 = labels.geometry.pixel_area_mm2() / 100;
  const double outline_change = double(painted.size()) * px_cm2, csa_change = double(muscle_hu) * px_cm2;
  ASSERT_GT(painted.size(), 10u);

  write_file(dir / "edit.txt", "# paint rectus femoris into the vastus lateralis\n"
                               "slice " + std::to_string(k) + "\nstructure rectus_femoris right\ntool brush\nradius 4\nprint\n"
                               "paint " + std::to_string(ci) + " " + std::to_string(cj) + "\nprint\nsave\nquit\n");
  const auto r = run_command(kBinary + " view " + quoted(c.nifti) + " --results " + quoted(dir / "an") + " --script " +
                             quoted(dir / "edit.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_clean_log(r.output);
  // The panel's numbers changed at once, by the painted muscle tissue.
  const auto shown = printed(r.output);
  ASSERT_EQ(shown.size(), 2u) << r.output;
  EXPECT_NEAR(shown[1].at("right: Rectus femoris CSA") - shown[0].at("right: Rectus femoris CSA"), csa_change, 2e-6);
  EXPECT_NEAR(shown[1].at("right: Vastus lateralis CSA") - shown[0].at("right: Vastus lateralis CSA"), -csa_change, 2e-6);
  EXPECT_NEAR(shown[1].at("right: muscle CSA"), shown[0].at("right: muscle CSA"), 2e-6);

  // Saved into RESULTS/edited; the analysis itself is untouched.
  EXPECT_EQ(io::read_text(dir / "an/results.json"), original_results);
  const auto before = json::parse(original_results);
  const auto after = json::parse(io::read_text(dir / "an/edited/results.json"));
  const auto rf0 = level_structure(before, "right", "rectus_femoris"), rf1 = level_structure(after, "right", "rectus_femoris");
  const auto vl0 = level_structure(before, "right", "vastus_lateralis"), vl1 = level_structure(after, "right", "vastus_lateralis");
  EXPECT_NEAR(rf1["outline_area_cm2"].get<double>() - rf0["outline_area_cm2"].get<double>(), outline_change, 1e-9);
  EXPECT_NEAR(vl1["outline_area_cm2"].get<double>() - vl0["outline_area_cm2"].get<double>(), -outline_change, 1e-9);
  EXPECT_NEAR(rf1["muscle_area_cm2"].get<double>() - rf0["muscle_area_cm2"].get<double>(), csa_change, 1e-9);
  EXPECT_NEAR(vl1["muscle_area_cm2"].get<double>() - vl0["muscle_area_cm2"].get<double>(), -csa_change, 1e-9);
  const auto q0 = level_structure(before, "right", "quadriceps"), q1 = level_structure(after, "right", "quadriceps");
  EXPECT_NEAR(q1["outline_area_cm2"].get<double>(), q0["outline_area_cm2"].get<double>(), 1e-9);  // both are quadriceps
  EXPECT_NEAR(level_side(after, "right")["muscle_area_cm2"].get<double>(), level_side(before, "right")["muscle_area_cm2"].get<double>(), 1e-9);
  EXPECT_EQ(level_side(after, "left"), level_side(before, "left"));
  EXPECT_EQ(after["protocol"]["hash"], before["protocol"]["hash"]);
  EXPECT_NE(after["qc_flags"].dump().find("edited_in_viewer"), std::string::npos);
  // The CSV says the same.
  EXPECT_NE(io::read_text(dir / "an/edited/results.csv").find("rectus_femoris"), std::string::npos);
  // The saved label map differs from the analysis's in exactly the painted voxels.
  const LabelMap saved = io::read_label_map(dir / "an/edited/labels.nii.gz");
  std::size_t differ = 0;
  for (std::size_t o = 0; o < saved.voxels.size(); ++o) differ += saved.voxels[o] != labels.voxels[o];
  EXPECT_EQ(differ, painted.size());
  for (std::size_t o : painted) EXPECT_EQ(saved.slice(std::size_t(k))[o], rf);

  // The audit log: who, when, what, where, the area before and after.
  const std::string log = io::read_text(dir / "an/edited/edits.jsonl");
  ASSERT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
  const auto entry = json::parse(log);
  EXPECT_FALSE(entry["user"].get<std::string>().empty());
  EXPECT_EQ(entry["time_utc"].get<std::string>().size(), 20u);
  EXPECT_EQ(entry["action"], "brush");
  EXPECT_EQ(entry["structure"], "rectus_femoris");
  EXPECT_EQ(entry["side"], "right");
  EXPECT_EQ(entry["slices"], json::array({k}));
  EXPECT_EQ(entry["voxels_changed"], painted.size());
  EXPECT_NEAR(entry["area_after_cm2"].get<double>() - entry["area_before_cm2"].get<double>(), outline_change, 1e-9);
  EXPECT_NEAR(entry["area_before_cm2"].get<double>(), rf0["outline_area_cm2"].get<double>(), 1e-9);
  EXPECT_NEAR(entry["other_structures_area_change_cm2"]["vastus_lateralis right"].get<double>(), -outline_change, 1e-9);
}

TEST(ViewerScript, UndoRedoMouseEraserAndContoursReachTheSavedLabels) {
  const ViewerCase& c = viewer_case();
  TempDir dir;
  const LabelMap labels = io::read_label_map(c.dicom_results / "labels.nii.gz");
  const auto& catalog = LabelCatalog::standard();
  const LabelId rf = catalog.label_id("rectus_femoris", Side::Right), vl = catalog.label_id("vastus_lateralis", Side::Right);
  const int k = c.level_slice;
  // Room for the eraser's larger disc (8 mm) around the painted one (4 mm), all vastus lateralis.
  const auto [ci, cj] = deep_voxel(labels, std::size_t(k), vl, 9);
  ASSERT_GE(ci, 0);
  const auto painted = disc(labels.geometry, ci, cj, 4);
  const std::string at = std::to_string(ci) + " " + std::to_string(cj);
  write_file(dir / "edit.txt",
             "slice " + std::to_string(k) + "\nstructure rectus_femoris right\nradius 4\nprint\n"
             "paint " + at + "\nundo\nprint\nredo\n"
             "tool eraser\nradius 8\ndrag " + at + " " + at + "\n"  // mouse events through VTK's picking
             "slice " + std::to_string(k + 1) + "\ncontour 99.5 79.5 109.5 79.5 109.5 84.5 99.5 84.5\n"
             "slice " + std::to_string(k + 2) + "\noutline\nmove-point 0 60 60\napply-contour\nsave\n");
  const auto r = run_command(kBinary + " view " + quoted(c.dicom) + " --results " + quoted(c.dicom_results) + " --save " +
                             quoted(dir / "fixed") + " --script " + quoted(dir / "edit.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_clean_log(r.output);
  const auto shown = printed(r.output);
  ASSERT_EQ(shown.size(), 2u);
  EXPECT_EQ(shown[0], shown[1]) << "undo restores the numbers";

  const LabelMap saved = io::read_label_map(dir / "fixed/labels.nii.gz");
  // Paint, undo, redo, then the eraser through the mouse: the painted voxels end as background.
  for (std::size_t o : painted) EXPECT_EQ(saved.slice(std::size_t(k))[o], 0) << o % 256 << "," << o / 256;
  std::size_t changed_level = 0;
  for (std::size_t o = 0; o < saved.geometry.slice_voxel_count(); ++o)
    changed_level += saved.slice(std::size_t(k))[o] != labels.slice(std::size_t(k))[o];
  EXPECT_EQ(changed_level, painted.size());
  // The contour: rectus femoris is exactly the 10 x 5 rectangle on slice k + 1.
  std::size_t rf_voxels = 0;
  for (std::size_t j = 0; j < 256; ++j)
    for (std::size_t i = 0; i < 256; ++i) {
      const bool in_rectangle = i >= 100 && i <= 109 && j >= 80 && j <= 84;
      rf_voxels += saved.at(i, j, std::size_t(k + 1)) == rf;
      if (in_rectangle) {
        EXPECT_EQ(saved.at(i, j, std::size_t(k + 1)), rf);
      }
    }
  EXPECT_EQ(rf_voxels, 50u);
  const std::string log = io::read_text(dir / "fixed/edits.jsonl");
  std::vector<std::string> actions;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) actions.push_back(json::parse(line)["action"]);
  EXPECT_EQ(actions, (std::vector<std::string>{"brush", "undo", "redo", "eraser", "contour", "contour"}));
  // Corrected results next to them, as analyze writes them.
  EXPECT_TRUE(std::filesystem::exists(dir / "fixed/results.json"));
  EXPECT_TRUE(std::filesystem::exists(dir / "fixed/results.csv"));
  EXPECT_TRUE(std::filesystem::exists(dir / "fixed/labels.json"));

  // Opened again, the saved folder is continued: Save writes into it and its audit log grows.
  write_file(dir / "more.txt", "slice " + std::to_string(k) + "\nstructure rectus_femoris right\nradius 2\npaint " + at + "\nsave\n");
  const auto again = run_command(kBinary + " view " + quoted(c.dicom) + " --results " + quoted(dir / "fixed") + " --script " +
                                 quoted(dir / "more.txt"));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "fixed/edited"));
  const std::string longer = io::read_text(dir / "fixed/edits.jsonl");
  EXPECT_EQ(longer.substr(0, log.size()), log);
  EXPECT_EQ(json::parse(longer.substr(log.size()))["action"], "brush");
  const auto flags = json::parse(io::read_text(dir / "fixed/results.json"))["qc_flags"];
  EXPECT_EQ(std::count(flags.begin(), flags.end(), "edited_in_viewer"), 1) << flags;
  EXPECT_EQ(io::read_label_map(dir / "fixed/labels.nii.gz").at(std::size_t(ci), std::size_t(cj), std::size_t(k)), rf);
}

TEST(ViewerScript, WindowNavigationAnd3dViewRunWithoutErrors) {
  const ViewerCase& c = viewer_case();
  TempDir dir;
  write_file(dir / "look.txt",
             "slice 0\nnext\nnext\nwheel 3\nprint\nwheel -1\nprevious\nprint\n"
             "key Up\nkey Up\nkey Up\nprint\nkey PgDown\nprint\nkey End\nprint\nkey L\nprint\n"  // keyboard through Qt
             "tool brush\nstructure rectus_femoris right\npaint 10 10\nkey Ctrl+Z\nkey Ctrl+Y\nkey Ctrl+Z\nkey Ctrl+S\n"
             "preset mr\npreset ct\nwindow 60 250\nopacity 0.3\nhide vastus_lateralis right\nshow vastus_lateralis right\nhide femur left\n"
             "zoom 1.5\nreset-view\nrotate-3d 40\ntool contour\ntool navigate\nscreenshot " + (dir / "window.png").string() + "\n");
  const auto r = run_command(kBinary + " view " + quoted(c.dicom) + " --results " + quoted(c.dicom_results) + " --save " +
                             quoted(dir / "nav") + " --script " + quoted(dir / "look.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_clean_log(r.output);
  std::vector<std::string> slices;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("measure\tslice ", 0) == 0) slices.push_back(line.substr(14));
  // 0, 1, 2 and three wheel steps; back one step and one slice; Up x3; PgDown (5 slices); End; L (the level).
  EXPECT_EQ(slices, (std::vector<std::string>{"5", "3", "6", "1", "24", std::to_string(c.level_slice)})) << r.output;
  // Ctrl+Z, Ctrl+Y, Ctrl+Z, Ctrl+S: the brush stroke undone, redone, undone, saved.
  std::vector<std::string> actions;
  std::istringstream log(io::read_text(dir / "nav/edits.jsonl"));
  for (std::string line; std::getline(log, line);) actions.push_back(json::parse(line)["action"]);
  EXPECT_EQ(actions, (std::vector<std::string>{"brush", "undo", "redo", "undo"}));
  const LabelMap saved = io::read_label_map(dir / "nav/labels.nii.gz");
  EXPECT_EQ(saved.voxels, io::read_label_map(c.dicom_results / "labels.nii.gz").voxels);
  const cv::Mat png = cv::imread((dir / "window.png").string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(png.empty());
  EXPECT_EQ(png.cols, 1400);
  EXPECT_EQ(png.rows, 900);
  EXPECT_FALSE(std::filesystem::exists(c.dicom_results / "edited")) << "nothing was saved";
}

TEST(ViewerScript, MistakesAreNamedWithTheirLine) {
  const ViewerCase& c = viewer_case();
  TempDir dir;
  write_file(dir / "bad.txt", "slice 3\npaint 10\n");
  auto r = run_command(kBinary + " view " + quoted(c.dicom) + " --results " + quoted(c.dicom_results) + " --script " +
                       quoted(dir / "bad.txt"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("bad.txt:2"), std::string::npos) << r.output;
  write_file(dir / "bad.txt", "# a comment\nflip\n");
  r = run_command(kBinary + " view " + quoted(c.dicom) + " --results " + quoted(c.dicom_results) + " --script " +
                  quoted(dir / "bad.txt"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("bad.txt:2: unknown action 'flip'"), std::string::npos) << r.output;
  write_file(dir / "bad.txt", "window 40 400\nwindow 40 0\n");
  r = run_command(kBinary + " view " + quoted(c.dicom) + " --results " + quoted(c.dicom_results) + " --script " +
                  quoted(dir / "bad.txt"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("bad.txt:2: the window width must be positive"), std::string::npos) << r.output;
  write_file(dir / "bad.txt", "slice 999\n");
  r = run_command(kBinary + " view " + quoted(c.dicom) + " --results " + quoted(c.dicom_results) + " --script " +
                  quoted(dir / "bad.txt"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("bad.txt:1"), std::string::npos) << r.output;
  r = run_command(kBinary + " view " + quoted(c.dicom) + " --results " + quoted(c.dicom_results) + " --save " +
                  quoted(c.dicom_results) + " --script " + quoted(dir / "bad.txt"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("analysis folder itself"), std::string::npos) << r.output;
}

TEST(ViewerScript, UltrasoundOpensWithItsLabelsAndSavesEdits) {
  const ViewerCase& c = viewer_case();
  TempDir dir;
  const LabelMap labels = io::read_label_map(c.us_labels / "labels.nii.gz");
  const LabelId vi = LabelCatalog::standard().label_id("vastus_intermedius", Side::Right);
  const auto [ci, cj] = deep_voxel(labels, 0, vi, 2);
  ASSERT_GE(ci, 0);
  const auto erased = disc(labels.geometry, ci, cj, 2);
  write_file(dir / "us.txt", "structure vastus_intermedius right\nprint\nerase " + std::to_string(ci) + " " + std::to_string(cj) +
                                 "\nradius 2\nerase " + std::to_string(ci) + " " + std::to_string(cj) + "\nprint\nsave\n");
  const auto r = run_command(kBinary + " view " + quoted(c.us_dicom) + " --results " + quoted(c.us_labels) + " --save " +
                             quoted(dir / "us-edit") + " --script " + quoted(dir / "us.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_clean_log(r.output);
  const auto shown = printed(r.output);
  ASSERT_EQ(shown.size(), 2u);
  const double px_cm2 = labels.geometry.pixel_area_mm2() / 100;
  const std::string row = "Vastus intermedius (right) area";
  // The first erase (default radius 5 mm) already removed the smaller disc; the second changes nothing more.
  EXPECT_LT(shown[1].at(row), shown[0].at(row) - double(erased.size()) * px_cm2 + 1e-9);
  const LabelMap saved = io::read_label_map(dir / "us-edit/labels.nii.gz");
  for (std::size_t o : erased) EXPECT_EQ(saved.voxels[o], 0);
  EXPECT_TRUE(std::filesystem::exists(dir / "us-edit/edits.jsonl"));
}

TEST(ViewerScript, UltrasoundAnalysisIsMeasuredAgainOnTheEditedOutline) {
  const ViewerCase& c = viewer_case();
  TempDir dir;
  const auto before = json::parse(io::read_text(c.us_results / "results.json"));
  const std::string muscle = before["measurements"][0]["structure"];
  // Erase a disc in the middle of the analysed muscle's outline.
  double sum_x = 0, sum_y = 0;
  const auto& contour = before["ultrasound"]["contour_px"];
  for (const auto& p : contour) sum_x += p[0].get<double>(), sum_y += p[1].get<double>();
  const int ci = int(sum_x / double(contour.size())), cj = int(sum_y / double(contour.size()));
  write_file(dir / "us.txt", "structure " + muscle + " right\ntool eraser\nradius 3\nerase " + std::to_string(ci) + " " +
                                 std::to_string(cj) + "\nprint\nsave\n");
  const auto r = run_command(kBinary + " view " + quoted(c.us_dicom) + " --results " + quoted(c.us_results) + " --save " +
                             quoted(dir / "edited") + " --script " + quoted(dir / "us.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_clean_log(r.output);
  const auto entry = json::parse(io::read_text(dir / "edited/edits.jsonl"));
  const int erased = entry["voxels_changed"];
  ASSERT_GT(erased, 100);
  const auto after = json::parse(io::read_text(dir / "edited/results.json"));
  EXPECT_EQ(after["ultrasound"]["area_px"].get<int>(), before["ultrasound"]["area_px"].get<int>() - erased);
  EXPECT_EQ(after["ultrasound"]["method"], "manual");
  EXPECT_TRUE(std::filesystem::exists(dir / "edited/mask.png"));
  EXPECT_FALSE(std::filesystem::exists(dir / "edited/.edited-mask.bmp"));
  const io::BitmapImage mask = io::read_bitmap(dir / "edited/mask.png", std::nullopt);
  EXPECT_EQ(mask.image.voxels[std::size_t(ci) + mask.image.geometry.size[0] * std::size_t(cj)], 0.0f);
}

// As for render (RenderCli.KeepsItsXConnectionOpenFromTheCheckUntilThePngIsWritten): `view` used to
// close its check connection before Qt opened its own, and Qt met the reset this started.
TEST(ViewerScript, KeepsAnXConnectionOpenFromTheCheckUntilTheWindowCloses) {
  const ViewerCase& c = viewer_case();
  TempDir dir;
  write_file(dir / "look.txt", "next\nprint\n");
  const auto log = dir / "x.log";
  const auto r = run_command(with_x_connection_spy(log) + kBinary + " view " + quoted(c.dicom) + " --results " +
                             quoted(c.dicom_results) + " --script " + quoted(dir / "look.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(x_connection_problem(log), "");
}
