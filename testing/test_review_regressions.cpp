// Regressions for defects found in review: folder links and loops, outlying slice positions,
// frames without geometry, level positions at the edge or NaN, protocol files with wrong types,
// text that is not UTF-8.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "musclecsa/core/error.h"
#include "musclecsa/dicom/series.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/phantom/phantom.h"
#include "musclecsa/quantify/ct_measures.h"
#include "musclecsa/segment/ct_tissue.h"
#include "test_support.h"

using namespace musclecsa;
using musclecsa::testing::quoted;
using musclecsa::testing::run_command;
using musclecsa::testing::TempDir;

namespace {

phantom::Phantom small_ct(std::size_t slices) {
  phantom::PhantomParams p;
  p.anatomy = phantom::Anatomy::Thigh;
  p.modality = phantom::PhantomModality::CT;
  p.columns = 64;
  p.pixel_spacing_mm = 5;
  p.slices = slices;
  p.slice_spacing_mm = 10;
  NullProgress progress;
  return phantom::make_phantom(p, progress);
}

dicom::DicomFileInfo axial(std::size_t n, double z) {
  dicom::DicomFileInfo f;
  f.path = "/virtual/IM" + std::to_string(n);
  f.sop_instance_uid = "1.2.3." + std::to_string(n);
  f.series_instance_uid = "1.2.3";
  f.modality = "CT";
  f.rows = f.columns = 8;
  f.bits_allocated = f.bits_stored = 16;
  f.high_bit = 15;
  f.photometric = "MONOCHROME2";
  f.instance_number = int(n);
  dicom::FrameInfo fr;
  fr.position_lps_mm = Vec3{0, 0, z};
  fr.orientation = std::array<double, 6>{1, 0, 0, 0, 1, 0};
  fr.pixel_spacing_mm = std::array<double, 2>{1, 1};
  f.frames = {fr};
  return f;
}

}  // namespace

TEST(ReviewRegressions, LinkedFoldersAreScannedOnceAndLinkLoopsEnd) {
  TempDir dir;
  NullProgress progress;
  phantom::write_phantom(small_ct(3), dir / "real", progress);
  std::filesystem::create_directories(dir / "archive");
  std::filesystem::create_directory_symlink(dir / "real/dicom/ct", dir / "archive/series_link");
  std::filesystem::create_directory_symlink(dir / "archive", dir / "archive/loop");  // a cycle
  const auto scan = dicom::scan_paths({dir / "archive"}, progress);
  EXPECT_EQ(scan.files.size(), 3u);
  for (const auto& p : scan.problems) EXPECT_EQ(p.problem.find("empty folder"), std::string::npos) << p.path;
}

TEST(ReviewRegressions, AnOutlyingSlicePositionMakesTheSeriesUnusableNotHuge) {
  std::vector<dicom::DicomFileInfo> files;
  for (std::size_t n = 0; n < 20; ++n) files.push_back(axial(n, double(n)));
  files.push_back(axial(20, 100000.0));
  const auto series = dicom::assemble_series(files);
  ASSERT_EQ(series.size(), 1u);
  EXPECT_FALSE(series[0].usable);
  EXPECT_NE(series[0].unusable_reason.find("outlying"), std::string::npos) << series[0].unusable_reason;
}

TEST(ReviewRegressions, AFrameWithoutPositionIsNotPlacedAtTheOrigin) {
  std::vector<dicom::DicomFileInfo> files;
  for (std::size_t n = 0; n < 5; ++n) files.push_back(axial(n, -500.0 + 10.0 * double(n)));
  files[3].frames[0].position_lps_mm.reset();
  const auto series = dicom::assemble_series(files);
  ASSERT_EQ(series.size(), 1u);
  EXPECT_FALSE(series[0].usable);
  EXPECT_NE(series[0].unusable_reason.find("/virtual/IM3"), std::string::npos) << series[0].unusable_reason;
}

TEST(ReviewRegressions, SlightlyImpreciseDirectionCosinesStillGiveAValidGrid) {
  std::vector<dicom::DicomFileInfo> files;
  for (std::size_t n = 0; n < 4; ++n) {
    files.push_back(axial(n, double(n) * 2));
    files.back().frames[0].orientation = std::array<double, 6>{0.9999, 0.0012, 0, -0.0011, 0.9998, 0};
  }
  const auto series = dicom::assemble_series(files);
  ASSERT_EQ(series.size(), 1u);
  EXPECT_NO_THROW(series[0].geometry.validate("imprecise cosines"));
}

TEST(ReviewRegressions, LevelZAtTheEdgeOrNotANumberIsHandled) {
  const auto ph = small_ct(5);
  NullProgress progress;
  const auto protocol = segment::builtin_ct_protocol("thigh-ct");
  const auto seg = segment::segment_ct_tissues(ph.series[0].image, protocol, progress);
  const auto& g = ph.series[0].image.geometry;
  quantify::LevelOptions edge;
  edge.level_z_mm = g.index_to_lps({0, 0, -0.5}).z;  // exactly half a slice below the first
  const auto r = quantify::measure_ct(ph.series[0].image, seg, protocol, edge);
  for (const auto& level : r.levels) {
    EXPECT_GE(level.slice_index, 0);
    EXPECT_LT(level.slice_index, 5);
  }
  quantify::LevelOptions nan;
  nan.level_z_mm = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(quantify::measure_ct(ph.series[0].image, seg, protocol, nan), Error);
}

TEST(ReviewRegressions, ProtocolFilesWithWrongTypesNameTheKey) {
  TempDir dir;
  io::write_text_atomically(dir / "region.json", R"({"region": 1})");
  io::write_text_atomically(dir / "version.json", R"({"version": 1.9})");
  io::write_text_atomically(dir / "type.json", R"({"bone_hu": "200"})");
  for (const char* name : {"region.json", "version.json", "type.json"}) {
    try {
      segment::load_ct_protocol(dir / name);
      FAIL() << name;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << name;
    }
  }
  try {
    segment::load_ct_protocol(dir / "type.json");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bone_hu"), std::string::npos) << e.what();
  }
}

TEST(ReviewRegressions, Latin1TextGivesValidJsonNotAnInternalError) {
  TempDir dir;
  NullProgress progress;
  phantom::write_phantom(small_ct(2), dir / "ph", progress);
  for (const auto& f : std::filesystem::directory_iterator(dir / "ph/dicom/ct")) {
    // "M\xfcller" in ISO 8859-1 (the files declare ISO_IR 100)
    const auto r = run_command("dcmodify -nb -m \"PatientName=$(printf 'M\\374ller')\" " + quoted(f.path()));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  const auto info = run_command(std::string(MUSCLECSA_BINARY) + " info " + quoted(dir / "ph/dicom") + " --json 2>/dev/null");
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_TRUE(nlohmann::json::accept(info.output)) << info.output.substr(0, 400);
}
