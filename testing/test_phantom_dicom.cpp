// Every phantom modality's DICOM output passes dcmdump and dciodvfy and converts with dcm2niix
// to the right dimensions and spacing.

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "musclecsa/core/error.h"
#include "musclecsa/dicom/series_writer.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/phantom/phantom.h"
#include "test_support.h"

using namespace musclecsa;
using namespace musclecsa::phantom;
using musclecsa::testing::quoted;
using musclecsa::testing::run_command;
using musclecsa::testing::TempDir;

namespace {

struct Case {
  const char* name;
  Anatomy anatomy;
  PhantomModality modality;
  const char* anatomy_from = "";  ///< semi-real phantom: atlas id (data/atlas)
};

std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

class PhantomDicom : public ::testing::TestWithParam<Case> {};

TEST_P(PhantomDicom, PassesDcmdumpDciodvfyAndDcm2niix) {
  ASSERT_STRNE(DCMDUMP_EXECUTABLE, "") << "dcmdump not found at configure time (scripts/install-deps)";
  ASSERT_STRNE(DCM2NIIX_EXECUTABLE, "") << "dcm2niix not found at configure time";
  ASSERT_STRNE(DCIODVFY_EXECUTABLE, "") << "dciodvfy not found at configure time";
  const Case c = GetParam();
  PhantomParams p;
  p.anatomy = c.anatomy;
  p.modality = c.modality;
  p.anatomy_from = c.anatomy_from;
  p.columns = 128;
  p.rows = 112;  // rows != columns catches transposed Pixel Spacing or Rows/Columns
  p.pixel_spacing_mm = c.anatomy == Anatomy::Thigh ? 3.2 : 2.4;
  if (*c.anatomy_from) p.pixel_spacing_mm = 3.4;  // both legs of a real subject fit
  p.slices = 6;
  p.slice_spacing_mm = 7.5;
  NullProgress progress;
  const Phantom ph = make_phantom(p, progress);
  TempDir dir;
  write_phantom(ph, dir.path(), progress);

  for (const auto& series : ph.series) {
    SCOPED_TRACE(series.role);
    const auto dicom_dir = dir / "dicom" / series.role;
    const auto files = files_in(dicom_dir);
    ASSERT_EQ(files.size(), series.image.geometry.size[2]);
    for (const auto& f : files) {
      const auto dump = run_command(std::string(DCMDUMP_EXECUTABLE) + " " + quoted(f));
      EXPECT_EQ(dump.exit_code, 0) << dump.output;
      EXPECT_EQ(dump.output.find("E: "), std::string::npos) << dump.output.substr(0, 2000);
      EXPECT_EQ(dump.output.find("W: "), std::string::npos) << dump.output.substr(0, 2000);
    }
    const auto verify = run_command(std::string(DCIODVFY_EXECUTABLE) + " " + quoted(files.front()));
    std::istringstream lines(verify.output);
    for (std::string line; std::getline(lines, line);) EXPECT_NE(line.rfind("Error", 0), 0u) << line;

    const auto nifti_dir = dir / ("nifti-" + series.role);
    std::filesystem::create_directories(nifti_dir);
    const auto convert = run_command(std::string(DCM2NIIX_EXECUTABLE) + " -z n -b n -f converted -o " +
                                     quoted(nifti_dir) + " " + quoted(dicom_dir));
    ASSERT_EQ(convert.exit_code, 0) << convert.output;
    // dcm2niix may add a suffix of its own (e.g. "_ph" for IN_PHASE/OUT_PHASE): take the one file.
    const auto converted = files_in(nifti_dir);
    ASSERT_EQ(converted.size(), 1u) << convert.output;
    const ScalarVolume back = io::read_scalar_volume(converted.front());
    const Geometry& g = series.image.geometry;
    EXPECT_EQ(back.geometry.size[0], g.size[0]);
    EXPECT_EQ(back.geometry.size[1], g.size[1]);
    EXPECT_EQ(back.geometry.size[2], g.size[2]);
    if (c.modality != PhantomModality::US) {
      EXPECT_NEAR(back.geometry.spacing_mm[0], g.spacing_mm[0], 1e-4);
      EXPECT_NEAR(back.geometry.spacing_mm[1], g.spacing_mm[1], 1e-4);
      EXPECT_NEAR(back.geometry.spacing_mm[2], g.spacing_mm[2], 1e-3);
      // dcm2niix may flip rows for its own convention: compare the world position of a corner voxel
      // to either of our corners with the same LPS x.
      const Vec3 ours = g.index_to_lps({0, 0, 0});
      const Vec3 theirs = back.geometry.index_to_lps({0, 0, 0});
      EXPECT_NEAR(std::min(std::abs(theirs.z - ours.z), std::abs(theirs.z - g.index_to_lps({0, 0, double(g.size[2] - 1)}).z)),
                  0, 1e-2);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Modalities, PhantomDicom,
                         ::testing::Values(Case{"thigh_ct", Anatomy::Thigh, PhantomModality::CT},
                                           Case{"calf_ct", Anatomy::Calf, PhantomModality::CT},
                                           Case{"thigh_mr_t1", Anatomy::Thigh, PhantomModality::MrT1},
                                           Case{"calf_mr_dixon", Anatomy::Calf, PhantomModality::MrDixon},
                                           Case{"thigh_us", Anatomy::Thigh, PhantomModality::US},
                                           // Semi-real phantoms over real anatomy (Visible Human, a real label map).
                                           Case{"semireal_vhf_thigh_ct", Anatomy::Thigh, PhantomModality::CT, "vhf-thigh"},
                                           Case{"semireal_vhm_calf_dixon", Anatomy::Calf, PhantomModality::MrDixon, "vhm-calf"},
                                           Case{"semireal_labelmap_thigh_t1", Anatomy::Thigh, PhantomModality::MrT1,
                                                "thigh11-training-t1-thigh_003"}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(DicomUid, UidsAreDeterministicValidAndDistinct) {
  const std::string a = dicom::uid_from_text("series/ct/1"), b = dicom::uid_from_text("series/ct/2");
  EXPECT_EQ(a, dicom::uid_from_text("series/ct/1"));
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("2.25.", 0), 0u);
  EXPECT_LE(a.size(), 64u);
  EXPECT_TRUE(std::all_of(a.begin(), a.end(), [](char ch) { return ch == '.' || std::isdigit(ch); }));
  EXPECT_NE(a[5], '0');  // no leading zero in a UID component
}

TEST(DicomWriter, ValuesOutsideTheStoredRangeAreRefusedNotWrapped) {
  ScalarVolume v(make_axial_geometry({4, 4, 1}, {1, 1, 1}, {}), 5000.0f);
  v.modality = Modality::CT;
  v.voxels[3] = 70000;  // beyond 16-bit with intercept 0
  dicom::SeriesWriteOptions o;
  o.study_instance_uid = "1.2.3";
  o.series_instance_uid = "1.2.3.4";
  o.frame_of_reference_uid = "1.2.3.5";
  TempDir dir;
  EXPECT_THROW(dicom::write_series(v, o, dir / "ct"), Error);
}
