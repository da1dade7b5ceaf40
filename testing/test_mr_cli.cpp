// musclecsa analyze on MRI as a user runs it: a Dixon folder paired automatically, --water/--fat,
// a T1-weighted series, the outputs (schema-checked when the TempDir goes), and bad input refused
// with the file and the problem named.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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

/// A small Dixon or T1 thigh phantom written as DICOM: dir/ph/dicom/<role>/.
std::filesystem::path write_mr_phantom(const TempDir& dir, phantom::PhantomModality modality, std::size_t slices = 24) {
  phantom::PhantomParams p;
  p.anatomy = phantom::Anatomy::Thigh;
  p.modality = modality;
  p.seed = 3;
  p.columns = 200;
  p.pixel_spacing_mm = 2.0;
  p.slices = slices;
  p.slice_spacing_mm = 20;
  p.infiltration["all"] = {0.2, phantom::FatPattern::Diffuse};
  NullProgress progress;
  phantom::write_phantom(phantom::make_phantom(p, progress), dir / "ph", progress);
  return dir / "ph/dicom";
}

nlohmann::json read_json(const std::filesystem::path& path) { return nlohmann::json::parse(io::read_text(path)); }

}  // namespace

TEST(CliMr, DixonFolderIsPairedByImageTypeAndAnalysed) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrDixon);
  const auto r = run_command(kBinary + " analyze " + quoted(dicom) + " --out " + quoted(dir / "out") + " --format seg --height-m 1.7");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("protocol thigh-mr"), std::string::npos) << r.output;
  const auto results = read_json(dir / "out/results.json");
  EXPECT_EQ(results["input"]["modality"], "MR");
  EXPECT_EQ(results["protocol"]["name"], "thigh-mr");
  const auto& mri = results["mri"];
  EXPECT_EQ(mri["kind"], "dixon");
  EXPECT_EQ(mri["fat_fraction_method"], "magnitude_dixon_noise_corrected");
  std::set<std::string> roles;
  for (const auto& s : mri["series"]) {
    roles.insert(s["role"].get<std::string>());
    EXPECT_NE(s["paired_by"].get<std::string>().find("image type"), std::string::npos) << s.dump();
  }
  EXPECT_EQ(roles, (std::set<std::string>{"water", "fat", "in_phase", "opposed_phase"}));
  EXPECT_NEAR(mri["noise_sd"]["water"].get<double>(), 12, 1.5);
  EXPECT_TRUE(mri["swap_findings"].empty());
  // The level on both legs, each group with FF near the phantom's 20% and its fat-free CSA.
  ASSERT_EQ(mri["levels"].size(), 2u);
  for (const auto& level : mri["levels"]) {
    const auto& m = level["measures"];
    EXPECT_GT(m["muscle_csa_cm2"].get<double>(), 50);
    EXPECT_GT(m["muscle_csa_per_height2_cm2_m2"].get<double>(), 10);
    int groups = 0;
    for (const auto& st : m["structures"]) {
      if (st["kind"] != "muscle_group") continue;
      ++groups;
      EXPECT_NEAR(st["mean_fat_fraction"].get<double>(), 0.2, 0.03) << st.dump();
      EXPECT_NEAR(st["fat_free_csa_cm2"].get<double>(), st["csa_cm2"].get<double>() * (1 - st["mean_fat_fraction"].get<double>()), 1e-6);
      EXPECT_EQ(st["suggested_mercuri_grade"], "2a");
    }
    EXPECT_EQ(groups, 3);  // quadriceps, hamstrings, adductors
  }
  for (const char* file : {"results.csv", "labels.nii.gz", "labels.json", "fat_fraction.nii.gz", "protocol.json",
                           "qc_femur_50pct.png", "segmentation.dcm"})
    EXPECT_TRUE(std::filesystem::exists(dir / "out" / file)) << file;
  const std::string csv = io::read_text(dir / "out/results.csv");
  EXPECT_EQ(csv.rfind("subject,study_instance_uid,series_instance_uid,protocol,protocol_hash,level,slice,z_mm,side,structure,", 0), 0u);
  EXPECT_NE(csv.find(",quadriceps,"), std::string::npos);
  EXPECT_NE(csv.find(",mean_fat_fraction,"), std::string::npos);
  EXPECT_NE(csv.find(",fat_free_csa,"), std::string::npos);
  const auto ff = io::read_scalar_volume(dir / "out/fat_fraction.nii.gz");
  EXPECT_EQ(ff.geometry.size[2], 24u);
}

TEST(CliMr, ExplicitWaterAndFatAreUsedAndRecorded) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrDixon, 8);
  const auto r = run_command(kBinary + " analyze " + quoted(dicom) + " --water " + quoted(dicom / "water") + " --fat " +
                             quoted(dicom / "fat") + " --out " + quoted(dir / "out") + " --qc-every-slice --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.output.empty()) << r.output;
  for (int k = 0; k < 8; ++k) EXPECT_TRUE(std::filesystem::exists(dir / "out/qc" / ("slice_000" + std::to_string(k) + ".png"))) << k;
  const auto results = read_json(dir / "out/results.json");
  ASSERT_EQ(results["mri"]["series"].size(), 2u);
  EXPECT_EQ(results["mri"]["series"][0]["paired_by"], "explicit (--water)");
  // The femur leaves the 160 mm scan: no level, and the reason says how to give one.
  for (const auto& level : results["levels"]) {
    EXPECT_FALSE(level["found"].get<bool>());
    EXPECT_NE(level["reason"].get<std::string>().find("--level-z-mm"), std::string::npos);
  }
}

TEST(CliMr, WaterWithoutItsFatPartnerIsRefusedNamingTheProblem) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrDixon, 4);
  std::filesystem::remove_all(dicom / "fat");
  auto r = run_command(kBinary + " analyze " + quoted(dicom) + " --out " + quoted(dir / "out"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("water image without its fat partner"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out/results.json"));
  // The water series alone.
  r = run_command(kBinary + " analyze " + quoted(dicom / "water") + " --out " + quoted(dir / "out"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("without its fat partner"), std::string::npos) << r.output;
  // --water without --fat.
  r = run_command(kBinary + " analyze " + quoted(dicom) + " --water " + quoted(dicom / "water") + " --out " + quoted(dir / "out"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("give --fat too"), std::string::npos) << r.output;
  // In- and opposed-phase only: ambiguous, refused.
  std::filesystem::remove_all(dicom / "water");
  r = run_command(kBinary + " analyze " + quoted(dicom) + " --out " + quoted(dir / "out"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("in-phase/opposed-phase images without water and fat"), std::string::npos) << r.output;
}

TEST(CliMr, CtProtocolsAndCtOnlyFormatsAreRefusedForMri) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrDixon, 4);
  auto r = run_command(kBinary + " analyze " + quoted(dicom) + " --protocol thigh-ct --out " + quoted(dir / "out"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("thigh-mr, calf-mr or auto"), std::string::npos) << r.output;
  r = run_command(kBinary + " analyze " + quoted(dicom) + " --format sr --out " + quoted(dir / "out"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("not available for MRI"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out/results.json"));
}

TEST(CliMr, T1WeightedSeriesIsAnalysedWithN4) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrT1);
  const auto r = run_command(kBinary + " analyze " + quoted(dicom / "t1") + " --out " + quoted(dir / "out") + " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto results = read_json(dir / "out/results.json");
  EXPECT_EQ(results["mri"]["kind"], "t1");
  EXPECT_EQ(results["mri"]["fat_fraction_method"], "t1_relative_signal");
  EXPECT_TRUE(results["mri"]["n4"]["applied"].get<bool>());
  ASSERT_EQ(results["mri"]["levels"].size(), 2u);
  const auto off = run_command(kBinary + " analyze " + quoted(dicom / "t1") + " --no-n4 --out " + quoted(dir / "off") + " --quiet");
  ASSERT_EQ(off.exit_code, 0) << off.output;
  EXPECT_FALSE(read_json(dir / "off/results.json")["mri"]["n4"]["applied"].get<bool>());
}
