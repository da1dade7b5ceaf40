// musclecsa render as a user runs it (under an X server: ctest runs under xvfb-run): the axial
// view of an analysed phantom shows each structure's catalog colour where the phantom has it, in
// radiological orientation; the 3-D view draws surfaces and the level plane; bad input is named.
// This file also builds the analysed phantom the viewer tests share (viewer_case()).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>

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

/// RGB of a PNG pixel (x right, y down).
std::array<int, 3> rgb_at(const cv::Mat& png, int x, int y) {
  const auto bgr = png.at<cv::Vec3b>(y, x);
  return {bgr[2], bgr[1], bgr[0]};
}

std::size_t distinct_colours(const cv::Mat& png) {
  std::set<int> colours;
  for (int y = 0; y < png.rows; ++y)
    for (int x = 0; x < png.cols; ++x) {
      const auto c = png.at<cv::Vec3b>(y, x);
      colours.insert(c[0] << 16 | c[1] << 8 | c[2]);
    }
  return colours.size();
}

}  // namespace

TEST(RenderCli, AxialViewShowsEachStructuresColourWhereThePhantomHasIt) {
  const ViewerCase& c = viewer_case();
  TempDir dir;
  const auto png_path = dir / "axial.png";
  const auto r = run_command(kBinary + " render " + quoted(c.dicom) + " --results " + quoted(c.dicom_results) + " --out " +
                             quoted(png_path) + " --slice " + std::to_string(c.level_slice) + " --opacity 1 --size 512");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("VTK"), std::string::npos) << r.output;
  const cv::Mat png = cv::imread(png_path.string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(png.empty());
  // 256 x 256 voxels of 1.6 mm in a 512 x 512 area (2 pixels per voxel), legend to the right.
  EXPECT_EQ(png.cols, 512 + 430);
  EXPECT_GE(png.rows, 512);
  EXPECT_GT(distinct_colours(png), 30u);
  const LabelMap truth = io::read_label_map(c.root / "ph/truth/labels.nii.gz");
  const LabelMap found = io::read_label_map(c.dicom_results / "labels.nii.gz");
  const auto& catalog = LabelCatalog::standard();
  const std::size_t k = std::size_t(c.level_slice);
  int checked = 0;
  for (const auto& [key, side] : std::vector<std::pair<std::string, Side>>{{"rectus_femoris", Side::Right},
                                                                           {"vastus_lateralis", Side::Left},
                                                                           {"adductor_magnus", Side::Right},
                                                                           {"biceps_femoris_long_head", Side::Left},
                                                                           {"subcutaneous_fat", Side::Right},
                                                                           {"femur", Side::Left}}) {
    const LabelId label = catalog.label_id(key, side);
    // A voxel deep inside the structure (5 x 5 neighbourhood) in both the truth and the analysis.
    std::optional<std::pair<int, int>> voxel;
    for (int j = 2; j < 254 && !voxel; ++j)
      for (int i = 2; i < 254 && !voxel; ++i) {
        bool inside = truth.at(std::size_t(i), std::size_t(j), k) == label;
        for (int dj = -2; dj <= 2 && inside; ++dj)
          for (int di = -2; di <= 2 && inside; ++di) inside = found.at(std::size_t(i + di), std::size_t(j + dj), k) == label;
        if (inside) voxel = {i, j};
      }
    ASSERT_TRUE(voxel) << key << " is not in the level slice";
    const Rgb colour = catalog.get(key).colour;
    const auto seen = rgb_at(png, 2 * voxel->first + 1, 2 * voxel->second + 1);
    for (int n = 0; n < 3; ++n)
      EXPECT_NEAR(seen[std::size_t(n)], (std::array<int, 3>{colour.r, colour.g, colour.b})[std::size_t(n)], 1)
          << key << " " << to_string(side) << " at voxel " << voxel->first << "," << voxel->second;
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

TEST(RenderCli, AxialViewIsRadiologicalPatientRightOnTheLeftAnteriorUp) {
  const ViewerCase& c = viewer_case();
  TempDir dir;
  // A marker block in the patient's right anterior corner (low i = patient right in LPS, low j = anterior).
  std::filesystem::copy(c.dicom_results, dir / "marked");
  LabelMap labels = io::read_label_map(c.dicom_results / "labels.nii.gz");
  const LabelId marker = LabelCatalog::standard().label_id("gracilis", Side::Left);
  const std::size_t k = std::size_t(c.level_slice);
  for (std::size_t j = 10; j < 20; ++j)
    for (std::size_t i = 10; i < 20; ++i) labels.at(i, j, k) = marker;
  io::write_image(labels, dir / "marked/labels.nii.gz");
  const auto r = run_command(kBinary + " render " + quoted(c.dicom) + " --results " + quoted(dir / "marked") + " --out " +
                             quoted(dir / "marked.png") + " --opacity 1 --size 512");  // the level slice by default
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const cv::Mat png = cv::imread((dir / "marked.png").string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(png.empty());
  const Rgb colour = LabelCatalog::standard().get("gracilis").colour;
  const std::array<int, 3> want{colour.r, colour.g, colour.b};
  EXPECT_EQ(rgb_at(png, 2 * 15 + 1, 2 * 15 + 1), want) << "top left";
  EXPECT_NE(rgb_at(png, 511 - 2 * 15, 2 * 15 + 1), want) << "mirrored left-right";
  EXPECT_NE(rgb_at(png, 2 * 15 + 1, 511 - 2 * 15), want) << "mirrored up-down";
}

TEST(RenderCli, ThreeDViewDrawsSurfacesAndTheLevelPlane) {
  const ViewerCase& c = viewer_case();
  TempDir dir;
  const auto r = run_command(kBinary + " render " + quoted(c.dicom) + " --results " + quoted(c.dicom_results) + " --out " +
                             quoted(dir / "3d.png") + " --view 3d --size 400");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("VTK"), std::string::npos) << r.output;
  const cv::Mat png = cv::imread((dir / "3d.png").string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(png.empty());
  EXPECT_EQ(png.cols, 400);
  EXPECT_EQ(png.rows, 400);
  const auto background = rgb_at(png, 2, 2);
  std::size_t drawn = 0, plane = 0, warm = 0;
  for (int y = 0; y < png.rows; ++y)
    for (int x = 0; x < png.cols; ++x) {
      const auto p = rgb_at(png, x, y);
      if (p != background) ++drawn;
      if (p[2] > p[0] + 40 && p[1] > p[0] + 30) ++plane;  // the level plane: translucent cyan
      if (p[0] > p[2] + 60) ++warm;                        // red/orange/yellow muscles (quadriceps)
    }
  EXPECT_GT(drawn, std::size_t(0.10 * 400 * 400));
  EXPECT_GT(plane, 1000u);
  EXPECT_GT(warm, 1000u);
}

TEST(RenderCli, LabelsOfAnotherScanAreRefusedNamingTheFile) {
  const ViewerCase& c = viewer_case();
  TempDir dir;
  std::filesystem::copy(c.dicom_results, dir / "other");
  const LabelMap labels = io::read_label_map(c.dicom_results / "labels.nii.gz");
  Geometry g = labels.geometry;
  g.size[2] -= 1;
  io::write_image(LabelMap(g, 0), dir / "other/labels.nii.gz");
  const auto r = run_command(kBinary + " render " + quoted(c.dicom) + " --results " + quoted(dir / "other") + " --out " +
                             quoted(dir / "x.png"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("other/labels.nii.gz"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("voxel grid"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "x.png"));
}

TEST(RenderCli, MissingResultsXServerOrPluginAreNamed) {
  const ViewerCase& c = viewer_case();
  TempDir dir;
  auto r = run_command(kBinary + " render " + quoted(c.dicom) + " --results " + quoted(dir / "nothing") + " --out " +
                       quoted(dir / "x.png"));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("nothing"), std::string::npos) << r.output;
  r = run_command("env -u DISPLAY " + kBinary + " render " + quoted(c.dicom) + " --results " + quoted(c.dicom_results) +
                  " --out " + quoted(dir / "x.png"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("xvfb-run"), std::string::npos) << r.output;
  // A plugin that is not there, or not a library: named, exit code 70 (a broken installation).
  r = run_command("MUSCLECSA_VIEW_PLUGIN=" + quoted(dir / "none.so") + " " + kBinary + " render " + quoted(c.dicom) +
                  " --results " + quoted(c.dicom_results) + " --out " + quoted(dir / "x.png"));
  EXPECT_EQ(r.exit_code, 70) << r.output;
  EXPECT_NE(r.output.find("none.so"), std::string::npos) << r.output;
  io::write_text_atomically(dir / "fake.so", "not a library");
  r = run_command("MUSCLECSA_VIEW_PLUGIN=" + quoted(dir / "fake.so") + " " + kBinary + " render " + quoted(c.dicom) +
                  " --results " + quoted(c.dicom_results) + " --out " + quoted(dir / "x.png"));
  EXPECT_EQ(r.exit_code, 70) << r.output;
  EXPECT_NE(r.output.find("cannot load the viewer plugin"), std::string::npos) << r.output;
  r = run_command(kBinary + " render " + quoted(c.dicom) + " --results " + quoted(c.dicom_results) + " --out " +
                  quoted(dir / "x.png") + " --slice 99");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--slice 99"), std::string::npos) << r.output;
}

TEST(RenderCli, UltrasoundImageRendersWithItsLabels) {
  const ViewerCase& c = viewer_case();
  TempDir dir;
  const auto r = run_command(kBinary + " render " + quoted(c.us_dicom) + " --results " + quoted(c.us_labels) + " --out " +
                             quoted(dir / "us.png") + " --opacity 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const cv::Mat png = cv::imread((dir / "us.png").string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(png.empty());
  // The vastus intermedius colour appears (the phantom's deep muscle).
  const Rgb vi = LabelCatalog::standard().get("vastus_intermedius").colour;
  std::size_t seen = 0;
  for (int y = 0; y < png.rows; ++y)
    for (int x = 0; x < png.cols; ++x) seen += rgb_at(png, x, y) == std::array<int, 3>{vi.r, vi.g, vi.b};
  EXPECT_GT(seen, 1000u);
}

// An Xvfb started without -noreset resets when its last client leaves and refuses connections
// during the reset. `render` used to open a connection to check for the server, close it (the
// server then reset) and let VTK open another: under load VTK met the reset and aborted ("bad X
// server connection", a flaky RenderCli test). It now keeps one connection from the check until
// the PNG is written.
TEST(RenderCli, KeepsItsXConnectionOpenFromTheCheckUntilThePngIsWritten) {
  const ViewerCase& c = viewer_case();
  TempDir dir;
  for (const std::string view : {"axial", "3d"}) {
    const auto log = dir / ("x-" + view + ".log");
    const auto r = run_command(with_x_connection_spy(log) + kBinary + " render " + quoted(c.dicom) + " --results " +
                               quoted(c.dicom_results) + " --out " + quoted(dir / (view + ".png")) + " --view " + view +
                               " --size 200");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(x_connection_problem(log), "") << view;
  }
}
