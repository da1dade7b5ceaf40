// musclecsa analyze on MRI as a user runs it: a Dixon folder paired automatically, --water/--fat,
// a T1-weighted series (DICOM or NIfTI), the outputs (schema-checked when the TempDir goes) with
// DICOM SR and the HTML page, MR protocol files, and bad input refused with the file and the
// problem named.

#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "musclecsa/core/catalog.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/phantom/phantom.h"
#include "musclecsa/report/dicom_sr.h"
#include "test_support.h"

using namespace musclecsa;
using musclecsa::testing::lines_with;
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
  const auto r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom) + " --out " + quoted(dir / "out") + " --format seg --height-m 1.7");
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
  // The console lists every flag of the case and of its slices, with where (issue 21: slice and
  // level flags such as muscle_boundaries_uncertain were left out).
  std::set<std::string> flags;
  for (const auto& f : results["qc_flags"]) flags.insert(f.get<std::string>());
  for (const auto& s : mri["slices"])
    for (const auto& f : s["qc_flags"]) flags.insert(f.get<std::string>());
  EXPECT_GT(flags.size(), results["qc_flags"].size()) << "the phantom's slices carry flags the case does not";
  for (const auto& flag : flags) EXPECT_NE(r.output.find("qc flag: " + flag + " ("), std::string::npos) << flag << "\n" << r.output;
}

TEST(CliMr, ExplicitWaterAndFatAreUsedAndRecorded) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrDixon, 8);
  const auto r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom) + " --water " + quoted(dicom / "water") + " --fat " +
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

// --water and --fat naming files or folders need no INPUT (issue 21: the parser demanded one); a
// series id or number does, and without INPUT it is refused as a missing file.
TEST(CliMr, WaterAndFatFilesOrFoldersNeedNoInput) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrDixon, 6);
  auto r = run_command(kBinary + " analyze --water " + quoted(dicom / "water") + " --fat " + quoted(dicom / "fat") + " --out " +
                       quoted(dir / "out") + " --level-slice 3 --include-patient-id --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto results = read_json(dir / "out/results.json");
  EXPECT_EQ(results["mri"]["series"][0]["paired_by"], "explicit (--water)");
  EXPECT_EQ(results["input"]["path"], (dicom / "water").string()) << "the water series stands for the input";
  r = run_command(kBinary + " analyze --water 2 --fat " + quoted(dicom / "fat") + " --out " + quoted(dir / "out2"));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("--water 2: no such file or folder (a series id or number needs INPUT"), std::string::npos) << r.output;
  // Without --water/--fat, INPUT is needed.
  r = run_command(kBinary + " analyze --out " + quoted(dir / "out3"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("INPUT: missing"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out2") || std::filesystem::exists(dir / "out3"));
}

TEST(CliMr, WaterWithoutItsFatPartnerIsRefusedNamingTheProblem) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrDixon, 4);
  std::filesystem::remove_all(dicom / "fat");
  auto r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom) + " --out " + quoted(dir / "out"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("water image without its fat partner"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out/results.json"));
  // The water series alone.
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom / "water") + " --out " + quoted(dir / "out"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("without its fat partner"), std::string::npos) << r.output;
  // --water without --fat.
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom) + " --water " + quoted(dicom / "water") + " --out " + quoted(dir / "out"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("give --fat too"), std::string::npos) << r.output;
  // In- and opposed-phase only: ambiguous, refused.
  std::filesystem::remove_all(dicom / "water");
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom) + " --out " + quoted(dir / "out"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("in-phase/opposed-phase images without water and fat"), std::string::npos) << r.output;
}

// --no-n4 is for weighted images: given with a Dixon set it is refused, not silently ignored.
TEST(CliMr, NoN4WithADixonSetIsRefused) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrDixon, 4);
  const auto r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom) + " --no-n4 --out " + quoted(dir / "out"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--no-n4: N4 bias correction is for T1/T2-weighted images"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out/results.json"));
}

// A slice missing from the fat series only: the loader would fill it by interpolation, and a fat
// fraction from a measured water and an interpolated fat image is no measurement.
TEST(CliMr, AFatSeriesMissingASliceOfTheWaterSeriesIsRefused) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrDixon, 5);
  std::vector<std::filesystem::path> fat_files;
  for (const auto& entry : std::filesystem::directory_iterator(dicom / "fat")) fat_files.push_back(entry.path());
  std::sort(fat_files.begin(), fat_files.end());
  ASSERT_EQ(fat_files.size(), 5u);
  std::filesystem::remove(fat_files[2]);  // an inner slice: the fat series becomes 4 images with one gap
  const auto r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom) + " --out " + quoted(dir / "out"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("not imaged at the same slice positions (the fat series has no image at"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("fat"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out/results.json"));
  // With the same slice missing from the water series too, both are interpolated alike: analysed, flagged.
  std::vector<std::filesystem::path> water_files;
  for (const auto& entry : std::filesystem::directory_iterator(dicom / "water")) water_files.push_back(entry.path());
  std::sort(water_files.begin(), water_files.end());
  std::filesystem::remove(water_files[2]);
  for (const char* role : {"in_phase", "opposed_phase"}) std::filesystem::remove_all(dicom / role);
  const auto both = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom) + " --out " + quoted(dir / "out2"));
  EXPECT_EQ(both.exit_code, 0) << both.output;
  EXPECT_NE(read_json(dir / "out2/results.json")["qc_flags"].dump().find("missing_slices"), std::string::npos);
}

TEST(CliMr, CtProtocolsAreRefusedAndAnSrNeedsTheLevel) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrDixon, 4);
  auto r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom) + " --protocol thigh-ct --out " + quoted(dir / "out"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("thigh-mr, calf-mr, auto or an MR protocol file"), std::string::npos) << r.output;
  // 4 slices of 20 mm hold no femur level: an SR (the level's measurements) is refused, nothing written.
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom) + " --format sr --out " + quoted(dir / "out"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("no standard level was found, and a DICOM SR holds the level's measurements"), std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out/results.json"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out/measurements.dcm"));
}

TEST(CliMr, AFatFractionMapThatCannotBeWrittenFailsTheCase) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrDixon, 4);
  std::filesystem::create_directories(dir / "out/fat_fraction.nii.gz/in-the-way");
  const auto r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom) + " --out " + quoted(dir / "out") + " --quiet");
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_NE(r.output.find("fat_fraction.nii.gz: cannot rename the finished file"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out/results.json"));
}

TEST(CliMr, T1WeightedSeriesIsAnalysedWithN4) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrT1);
  const auto r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom / "t1") + " --out " + quoted(dir / "out") + " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto results = read_json(dir / "out/results.json");
  EXPECT_EQ(results["mri"]["kind"], "t1");
  EXPECT_EQ(results["mri"]["fat_fraction_method"], "t1_relative_signal");
  EXPECT_TRUE(results["mri"]["n4"]["applied"].get<bool>());
  ASSERT_EQ(results["mri"]["levels"].size(), 2u);
  const auto off = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom / "t1") + " --no-n4 --out " + quoted(dir / "off") + " --quiet");
  ASSERT_EQ(off.exit_code, 0) << off.output;
  EXPECT_FALSE(read_json(dir / "off/results.json")["mri"]["n4"]["applied"].get<bool>());
}

namespace {


using RecordKey = std::tuple<std::string, std::string, std::string>;  // quantity, structure, side

/// The level measurements of results.json: (quantity, structure, side) -> value.
std::map<RecordKey, double> level_records(const nlohmann::json& results) {
  std::map<RecordKey, double> out;
  for (const auto& m : results["measurements"]) {
    const std::string level = m["level"];
    if (level.empty() || level == "scanned_range") continue;
    out[{m["quantity"], m["structure"], m["side"]}] = m["value"].get<double>();
  }
  return out;
}

/// dciodvfy's error lines for a file (its warnings about the private 99MCSA scheme are expected).
std::vector<std::string> dciodvfy_errors(const std::filesystem::path& path) {
  return lines_with(run_command(std::string(DCIODVFY_EXECUTABLE) + " " + quoted(path)).output, "Error");
}

std::string dsrdump(const std::filesystem::path& path) { return run_command("dsrdump +Pl +Pu +Pc +Pt " + quoted(path)).output; }

/// The table row of `name` in an HTML table (from "<tr" to "</tr>"), "" when there is none.
std::string row_of(const std::string& html, const std::string& table_id, const std::string& name) {
  const auto table = html.find("id=\"" + table_id + "\"");
  if (table == std::string::npos) return "";
  const auto end = html.find("</table>", table);
  const auto cell = html.find("<td>" + name + "</td>", table);
  if (cell == std::string::npos || cell > end) return "";
  const auto start = html.rfind("<tr", cell);
  return html.substr(start, html.find("</tr>", cell) - start);
}

std::string percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, ">%.1f<", 100 * fraction);
  return text;
}

}  // namespace

// The issue: SR and HTML for MR. The SR holds every level measurement of results.json (CSA, FF,
// fat-free CSA, suggested Mercuri grade per muscle and group) under DCM "Fat fraction" with
// Mean/Median, passes dciodvfy and references the water series; the page shows the level tables
// with FF, fat-free CSA and the grade, and the QC picture with the FF map.
TEST(CliMr, DixonSrAndHtmlCarryTheLevelMeasurementsAndReferenceTheWaterSeries) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrDixon);
  const auto r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom) + " --out " + quoted(dir / "out") + " --format seg,sr,html --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto results = read_json(dir / "out/results.json");
  const auto expected = level_records(results);
  ASSERT_GT(expected.size(), 100u) << "the level was not found on both legs";

  // Read back: the same values, quantity for quantity.
  const auto read = report::read_dicom_sr(dir / "out/measurements.dcm");
  std::map<RecordKey, double> found;
  for (const auto& m : read) {
    EXPECT_EQ(m.level, "femur_50pct");
    found[{m.quantity, m.structure_key, std::string(to_string(m.side))}] = m.value;
  }
  EXPECT_EQ(found.size(), expected.size());
  for (const auto& [key, value] : expected) {
    const auto it = found.find(key);
    if (it == found.end()) {
      ADD_FAILURE() << "not in the SR: " << std::get<0>(key) << " " << std::get<1>(key) << " " << std::get<2>(key);
      continue;
    }
    EXPECT_NEAR(it->second, value, 1e-9 * std::max(1.0, std::abs(value))) << std::get<0>(key) << " " << std::get<1>(key);
  }
  // The phantom's truth: every muscle 20% fat; each group's mean FF in the SR is near it, grade 2a (ordinal 1).
  for (const char* side : {"right", "left"})
    for (const char* group : {"quadriceps", "hamstrings", "adductors"}) {
      const double mean_ff = found[RecordKey("mean_fat_fraction", group, side)];
      const double grade = found[RecordKey("suggested_mercuri_grade_ordinal", group, side)];
      const double csa = found[RecordKey("csa", group, side)];
      EXPECT_NEAR(mean_ff, 0.2, 0.03) << side << " " << group;
      EXPECT_EQ(grade, 1.0) << side << " " << group;
      EXPECT_GT(csa, 10.0) << side << " " << group;
    }

  const auto errors = dciodvfy_errors(dir / "out/measurements.dcm");
  EXPECT_TRUE(errors.empty()) << "dciodvfy errors:\n" << errors.front();
  const std::string dump = dsrdump(dir / "out/measurements.dcm");
  for (const char* text : {"(126000,DCM,\"Imaging Measurement Report\")", "(25056-3,LN,\"MRI unspecified body region\")",
                           "(129100,DCM,\"Fat fraction\")", "(373098007,SCT,\"Mean\")", "(373099004,SCT,\"Median\")",
                           "(1,UCUM,\"no units\")", "(M-FAT-FREE-AREA,99MCSA,\"Fat-free muscle area\")",
                           "(M-MERCURI-SUGG,99MCSA,", "right:quadriceps@femur_50pct/slice=", "Image Library",
                           "Referenced Segment"})
    EXPECT_NE(dump.find(text), std::string::npos) << "dsrdump lacks " << text;
  // The SR's evidence and image library are the water series' images, not the fat series'.
  const std::string header = run_command(std::string(DCMDUMP_EXECUTABLE) + " " + quoted(dir / "out/measurements.dcm")).output;
  std::string water_uid, fat_uid;
  for (const auto& s : results["mri"]["series"]) {
    if (s["role"] == "water") water_uid = s["series_instance_uid"];
    if (s["role"] == "fat") fat_uid = s["series_instance_uid"];
  }
  ASSERT_FALSE(water_uid.empty());
  EXPECT_NE(header.find("[" + water_uid + "]"), std::string::npos) << "the SR does not reference the water series";
  EXPECT_EQ(header.find("[" + fat_uid + "]"), std::string::npos);
  EXPECT_NE(header.find("[MR]"), std::string::npos) << "the image library entries carry the source modality";

  // The page: per side the level table and the structures with FF (%), fat-free CSA and the grade.
  const std::string page = io::read_text(dir / "out/report.html");
  for (const auto& level : results["mri"]["levels"]) {
    const std::string side = level["side"];
    EXPECT_NE(page.find("id=\"mr-level-" + side + "\""), std::string::npos) << side;
    for (const auto& st : level["measures"]["structures"]) {
      if (st["structure"] != "quadriceps") continue;
      const std::string row = row_of(page, "structures-" + side, "Quadriceps femoris");
      ASSERT_FALSE(row.empty()) << side;
      EXPECT_NE(row.find(percent(st["mean_fat_fraction"].get<double>())), std::string::npos) << row;
      char fat_free[32];
      std::snprintf(fat_free, sizeof fat_free, ">%.2f<", st["fat_free_csa_cm2"].get<double>());
      EXPECT_NE(row.find(fat_free), std::string::npos) << row;
      EXPECT_NE(row.find(">2a<"), std::string::npos) << row;
    }
  }
  EXPECT_NE(page.find("Suggested Mercuri grade"), std::string::npos);
  EXPECT_NE(page.find("Fat-free CSA (cm2)"), std::string::npos);
  EXPECT_NE(page.find("src=\"qc_femur_50pct.png\""), std::string::npos) << "the QC picture with the FF map";
  EXPECT_NE(page.find("fat-fraction map"), std::string::npos);
  EXPECT_NE(page.find("id=\"mr-volumes\""), std::string::npos);
  EXPECT_EQ(page.find("Mean HU"), std::string::npos) << "no CT columns on an MR page";
  // As a browser builds it: the tables are there and the QC picture loads.
  const auto dom = run_command(std::string(CHROMIUM_EXECUTABLE) + " --headless --no-sandbox --disable-gpu --virtual-time-budget=3000 --dump-dom " +
                               quoted(std::filesystem::path("file://" + (dir / "out/report.html").string())) + " 2>/dev/null");
  ASSERT_EQ(dom.exit_code, 0);
  EXPECT_NE(dom.output.find("id=\"structures-left\""), std::string::npos);
  EXPECT_NE(dom.output.find("data-loaded=\"1\""), std::string::npos) << "the QC picture did not load";
  // musclecsa report on the MR case (a batch page): its CSA reaches the batch table.
  const auto batch = run_command(kBinary + " report " + quoted(dir / "out") + " --out " + quoted(dir / "pages"));
  ASSERT_EQ(batch.exit_code, 0) << batch.output;
  const std::string index = io::read_text(dir / "pages/index.html");
  char csa[32];
  std::snprintf(csa, sizeof csa, ">%.2f<", results["mri"]["levels"][0]["measures"]["muscle_csa_cm2"].get<double>());
  EXPECT_NE(index.find(csa), std::string::npos) << "the MR muscle CSA is not in the batch table";
  // ... and so does each side's mean muscle fat fraction (percent) at the level.
  for (const auto& level : results["mri"]["levels"]) {
    char ff[32];
    std::snprintf(ff, sizeof ff, ">%.1f<", 100 * level["measures"]["muscle_mean_fat_fraction"].get<double>());
    EXPECT_NE(index.find(ff), std::string::npos) << "the " << level["side"] << " mean muscle FF is not in the batch table";
  }
  EXPECT_NE(index.find("Left muscle FF (%)"), std::string::npos);
}

// A T1-weighted series: its "fat fraction" is a relative fat signal (a contrast index). The SR
// carries it under its own concept, never as DCM "Fat fraction", and leaves out what is derived from
// it as if it were one; the page names it.
TEST(CliMr, T1SrAndHtmlNameTheRelativeFatSignal) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrT1);
  const auto r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom / "t1") + " --out " + quoted(dir / "out") + " --format sr,html --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto results = read_json(dir / "out/results.json");
  const auto expected = level_records(results);
  const auto read = report::read_dicom_sr(dir / "out/measurements.dcm");
  std::set<std::string> quantities;
  for (const auto& m : read) {
    quantities.insert(m.quantity);
    if (m.quantity == "mean_relative_fat_signal") {
      const double in_results = expected.at(RecordKey("mean_fat_fraction", m.structure_key, std::string(to_string(m.side))));
      EXPECT_DOUBLE_EQ(m.value, in_results) << m.structure_key;
    }
  }
  for (const char* q : {"csa", "mean_relative_fat_signal", "median_relative_fat_signal", "imat_area", "intramuscular_fat_area"})
    EXPECT_TRUE(quantities.count(q)) << q;
  for (const char* q : {"mean_fat_fraction", "median_fat_fraction", "fat_free_csa", "suggested_mercuri_grade_ordinal"})
    EXPECT_FALSE(quantities.count(q)) << q;
  const std::string dump = dsrdump(dir / "out/measurements.dcm");
  EXPECT_NE(dump.find("(M-T1-FAT-SIGNAL,99MCSA,\"Relative T1 fat signal\")"), std::string::npos);
  EXPECT_EQ(dump.find("129100"), std::string::npos) << "a T1 contrast index coded as a fat fraction";
  const auto errors = dciodvfy_errors(dir / "out/measurements.dcm");
  EXPECT_TRUE(errors.empty()) << "dciodvfy errors:\n" << errors.front();
  const std::string page = io::read_text(dir / "out/report.html");
  EXPECT_NE(page.find("Mean rel. fat signal (%)"), std::string::npos);
  EXPECT_NE(page.find("relative fat signal map"), std::string::npos);
  EXPECT_EQ(page.find("Mean FF (%)"), std::string::npos);
  // The batch page leaves its fat fraction columns empty: a relative signal is no fat fraction.
  const auto batch = run_command(kBinary + " report " + quoted(dir / "out") + " --out " + quoted(dir / "pages"));
  ASSERT_EQ(batch.exit_code, 0) << batch.output;
  const std::string index = io::read_text(dir / "pages/index.html");
  ASSERT_NE(index.find("Right muscle FF (%)"), std::string::npos);
  for (const auto& level : results["mri"]["levels"]) {
    char signal[32];
    std::snprintf(signal, sizeof signal, ">%.1f<", 100 * level["measures"]["muscle_mean_fat_fraction"].get<double>());
    EXPECT_EQ(index.find(signal), std::string::npos) << "a T1 relative fat signal shown as a fat fraction";
  }
}

// The issue: an MR protocol file loads, and the protocol.json an MR run writes gives the same
// analysis and hash when given back; a change in it changes the hash and the numbers.
TEST(CliMr, ProtocolJsonOfAnMrRunLoadsBackWithTheSameHash) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrDixon, 8);
  const std::string level = " --level-slice 4 --quiet";
  auto r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom) + " --out " + quoted(dir / "a") + level);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom) + " --protocol " + quoted(dir / "a/protocol.json") + " --out " +
                  quoted(dir / "b") + level);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto a = read_json(dir / "a/results.json"), b = read_json(dir / "b/results.json");
  EXPECT_EQ(b["protocol"]["hash"], a["protocol"]["hash"]);
  EXPECT_EQ(b["protocol"]["definition"], a["protocol"]["definition"]);
  EXPECT_EQ(io::read_text(dir / "b/protocol.json"), io::read_text(dir / "a/protocol.json"));
  EXPECT_EQ(level_records(b), level_records(a));
  // The hash is in every output: the CSV column too.
  EXPECT_NE(io::read_text(dir / "b/results.csv").find("," + b["protocol"]["hash"].get<std::string>() + ","), std::string::npos);

  // A partial file: a lower fat threshold, everything else from thigh-mr.
  io::write_text_atomically(dir / "low.json", R"({"format": "musclecsa-mr-protocol", "version": 1, "name": "thigh-mr-ff30",
                                                   "region": "thigh", "fat_ff_threshold": 0.3})");
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom) + " --protocol " + quoted(dir / "low.json") + " --out " + quoted(dir / "c") + level);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto c = read_json(dir / "c/results.json");
  EXPECT_EQ(c["protocol"]["name"], "thigh-mr-ff30");
  EXPECT_NE(c["protocol"]["hash"], a["protocol"]["hash"]);
  auto definition = a["protocol"]["definition"];
  definition["fat_ff_threshold"] = 0.3;
  definition["name"] = definition["compartments"]["name"] = "thigh-mr-ff30";
  EXPECT_EQ(c["protocol"]["definition"], definition);
  // Voxels of 30-50% FF now count as fat: more intramuscular fat in the 20%-fat muscles.
  const auto la = level_records(a), lc = level_records(c);
  EXPECT_GT(lc.at({"intramuscular_fat_area", "quadriceps", "right"}), la.at({"intramuscular_fat_area", "quadriceps", "right"}));
  EXPECT_DOUBLE_EQ(lc.at({"csa", "quadriceps", "right"}), la.at({"csa", "quadriceps", "right"}));
}

// T1 without N4: the protocol records it, so the written protocol.json repeats the run (same hash,
// no N4) without --no-n4.
TEST(CliMr, T1ProtocolJsonRecordsN4AndRepeatsTheRun) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrT1, 12);
  auto r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom / "t1") + " --no-n4 --level-slice 6 --out " + quoted(dir / "a") + " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto a = read_json(dir / "a/results.json");
  EXPECT_FALSE(a["protocol"]["definition"]["n4"]["enabled"].get<bool>());
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dicom / "t1") + " --protocol " + quoted(dir / "a/protocol.json") +
                  " --level-slice 6 --out " + quoted(dir / "b") + " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto b = read_json(dir / "b/results.json");
  EXPECT_EQ(b["protocol"]["hash"], a["protocol"]["hash"]);
  EXPECT_FALSE(b["mri"]["n4"]["applied"].get<bool>());
  EXPECT_EQ(level_records(b), level_records(a));
}

// The issue: a T1/T2-weighted NIfTI/NRRD/MetaImage volume with --modality mr, and a Dixon pair from
// NIfTI with --water/--fat: the same numbers as their DICOM; what needs DICOM is refused clearly.
TEST(CliMr, NiftiT1AndDixonGiveTheNumbersOfTheirDicom) {
  TempDir dir;
  const auto t1 = write_mr_phantom(dir, phantom::PhantomModality::MrT1, 12);
  auto r = run_command(kBinary + " convert " + quoted(t1 / "t1") + " " + quoted(dir / "t1.nrrd") + " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string level = " --level-slice 6 --quiet";
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(t1 / "t1") + " --out " + quoted(dir / "dicom_t1") + level);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dir / "t1.nrrd") + " --modality mr --format html --out " + quoted(dir / "nrrd_t1") + level);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto from_dicom = read_json(dir / "dicom_t1/results.json"), from_nrrd = read_json(dir / "nrrd_t1/results.json");
  EXPECT_EQ(from_nrrd["input"]["kind"], "research");
  EXPECT_EQ(from_nrrd["input"]["modality"], "MR");
  EXPECT_EQ(from_nrrd["mri"]["kind"], "t1");
  const auto records = level_records(from_nrrd);
  ASSERT_GT(records.size(), 50u);
  const auto dicom_records = level_records(from_dicom);
  for (const auto& [key, value] : records)
    EXPECT_NEAR(value, dicom_records.at(key), 1e-6 * std::max(1.0, std::abs(value))) << std::get<0>(key) << " " << std::get<1>(key);
  EXPECT_TRUE(std::filesystem::exists(dir / "nrrd_t1/report.html"));
  // SEG and SR reference DICOM images: refused before any work.
  for (const char* format : {"seg", "sr"}) {
    r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dir / "t1.nrrd") + " --modality mr --format " + format + " --out " + quoted(dir / "x"));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("DICOM SEG and SR need DICOM input"), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "x/results.json"));
  }
  // Without --modality: which modality is asked for, mr named.
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dir / "t1.nrrd") + " --out " + quoted(dir / "x"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--modality mr"), std::string::npos) << r.output;

  // Dixon from NIfTI: --water and --fat.
  const auto dixon = write_mr_phantom(dir, phantom::PhantomModality::MrDixon, 8);
  for (const char* role : {"water", "fat"}) {
    r = run_command(kBinary + " convert " + quoted(dixon / role) + " " + quoted(dir / (std::string(role) + ".nii.gz")) + " --quiet");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dixon) + " --out " + quoted(dir / "dicom_dixon") + " --level-slice 4 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string nifti_pair = " --water " + quoted(dir / "water.nii.gz") + " --fat " + quoted(dir / "fat.nii.gz");
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dir / "water.nii.gz") + nifti_pair + " --modality mr --format html --out " +
                  quoted(dir / "nifti_dixon") + " --level-slice 4 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto dixon_nifti = read_json(dir / "nifti_dixon/results.json");
  EXPECT_EQ(dixon_nifti["mri"]["kind"], "dixon");
  EXPECT_EQ(level_records(dixon_nifti), level_records(read_json(dir / "dicom_dixon/results.json")));
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dir / "water.nii.gz") + nifti_pair + " --format sr --out " + quoted(dir / "y"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("DICOM SEG and SR need DICOM input"), std::string::npos) << r.output;
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dir / "water.nii.gz") + nifti_pair + " --modality ct --out " + quoted(dir / "y"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("a Dixon water image) is MR"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "y/results.json"));
}

// Protocol files and --modality checked against the input: a CT protocol file for MR, an MR
// protocol file for CT, a malformed MR file, and a --modality that contradicts DICOM.
TEST(CliMr, ProtocolFilesAndModalityMustFitTheInput) {
  TempDir dir;
  const auto dixon = write_mr_phantom(dir, phantom::PhantomModality::MrDixon, 4);
  io::write_text_atomically(dir / "ct.json", R"({"format": "musclecsa-ct-protocol", "version": 1, "region": "thigh"})");
  auto r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dixon) + " --protocol " + quoted(dir / "ct.json") + " --out " + quoted(dir / "o"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find((dir / "ct.json").string() + ": a CT protocol file"), std::string::npos) << r.output;
  io::write_text_atomically(dir / "typo.json", R"({"format": "musclecsa-mr-protocol", "fat_ff_treshold": 0.4})");
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dixon) + " --protocol " + quoted(dir / "typo.json") + " --out " + quoted(dir / "o"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find((dir / "typo.json").string() + ": unknown MR protocol key 'fat_ff_treshold'"), std::string::npos) << r.output;
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dixon) + " --protocol " + quoted(dir / "none.json") + " --out " + quoted(dir / "o"));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("none.json: cannot open the protocol"), std::string::npos) << r.output;
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dixon) + " --modality ct --out " + quoted(dir / "o"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("is MR: --modality is for NIfTI/NRRD/MetaImage input"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "o/results.json"));

  // A CT: an MR protocol (file or name) is refused, and so is --modality mr.
  phantom::PhantomParams p;
  p.anatomy = phantom::Anatomy::Thigh;
  p.modality = phantom::PhantomModality::CT;
  p.columns = 128;
  p.slices = 3;
  NullProgress progress;
  phantom::write_phantom(phantom::make_phantom(p, progress), dir / "ct", progress);
  io::write_text_atomically(dir / "mr.json", R"({"format": "musclecsa-mr-protocol", "version": 1, "region": "thigh"})");
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dir / "ct/dicom/ct") + " --protocol " + quoted(dir / "mr.json") + " --out " + quoted(dir / "o"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find((dir / "mr.json").string() + ": an MR protocol file"), std::string::npos) << r.output;
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dir / "ct/dicom/ct") + " --protocol thigh-mr --out " + quoted(dir / "o"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("an MRI protocol does not apply to CT"), std::string::npos) << r.output;
  r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(dir / "ct/dicom/ct") + " --modality mr --out " + quoted(dir / "o"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("is CT: --modality is for NIfTI/NRRD/MetaImage input"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "o/results.json"));
}

// MRI runs the CT compartment logic on a pseudo-CT, whose notes spoke of HU ("their HU lie above
// the muscle range", issue 21). On a real T1 thigh MRI with extra bone-like components, the notes
// and the console use MR terms.
TEST(CliMr, NotesOfARealMrSpeakOfMrSignalNotHu) {
  TempDir dir;
  const std::filesystem::path mr = std::filesystem::path(SHARED_DATA_DIR) / "mri/qmritools-legs/test_up.nii.gz";
  const auto r = run_command(kBinary + " analyze --muscle-prior layout " + quoted(mr) + " --modality mr --no-n4 --out " + quoted(dir / "out"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto results = read_json(dir / "out/results.json");
  bool extra_bone = false;
  for (const auto& note : results["notes"]) {
    const std::string text = note.get<std::string>();
    extra_bone = extra_bone || text.find("extra bone component(s)") != std::string::npos;
    EXPECT_EQ(text.find("HU"), std::string::npos) << text;
    EXPECT_EQ(text.find("Hounsfield"), std::string::npos) << text;
  }
  EXPECT_TRUE(extra_bone) << "the note this test is about was not made: " << results["notes"].dump();
  EXPECT_EQ(r.output.find("HU"), std::string::npos) << r.output;
}

TEST(CliMr, DixonAtlasSplitWithholdsLowConfidenceValuesEverywhere) {
  TempDir dir;
  const auto dicom = write_mr_phantom(dir, phantom::PhantomModality::MrDixon, 9);
  // The default (atlas) prior; its written protocol made strict: nothing the atlases are not all
  // sure of is trusted, so every muscle and group is withheld at the level.
  auto r = run_command(kBinary + " analyze " + quoted(dicom) + " --level-slice 4 --out " + quoted(dir / "a") + " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto protocol = read_json(dir / "a/protocol.json");
  ASSERT_EQ(protocol["compartments"]["muscles"]["prior"], "atlas");
  protocol["compartments"]["muscles"]["min_atlas_agreement"] = 1.0;
  io::write_text_atomically(dir / "strict.json", protocol.dump());
  r = run_command(kBinary + " analyze " + quoted(dicom) + " --protocol " + quoted(dir / "strict.json") +
                  " --level-slice 4 --format sr,html --out " + quoted(dir / "b"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("withheld: low confidence (atlas_disagreement)"), std::string::npos) << r.output;
  const auto results = read_json(dir / "b/results.json");
  EXPECT_EQ(results["anatomy_prior"]["method"], "multi_atlas");
  int withheld_structures = 0;
  for (const auto& level : results["mri"]["levels"])
    for (const auto& st : level["measures"]["structures"]) {
      EXPECT_TRUE(st["csa_cm2"].is_null()) << st.dump();
      EXPECT_TRUE(st["mean_fat_fraction"].is_null()) << st.dump();
      EXPECT_TRUE(st["suggested_mercuri_grade"].is_null()) << st.dump();
      EXPECT_EQ(st["withheld_reason"], "muscle_low_confidence:atlas_disagreement") << st.dump();
      ++withheld_structures;
    }
  EXPECT_GT(withheld_structures, 10);
  // Tissue values stay; the SR holds them and none of the withheld ones.
  int tissue_values = 0;
  for (const auto& m : results["measurements"])
    if (!m["level"].get<std::string>().empty()) {
      if (m["structure"] == "skeletal_muscle") {
        EXPECT_TRUE(m["value"].is_number()) << m.dump();
        ++tissue_values;
      }
      if (m["value"].is_null()) {
        EXPECT_EQ(m["withheld_reason"].get<std::string>().rfind("muscle_low_confidence:", 0), 0u);
      }
    }
  EXPECT_GT(tissue_values, 0);
  for (const auto& x : report::read_dicom_sr(dir / "b/measurements.dcm")) {
    const Structure* s = LabelCatalog::standard().find(x.structure_key);
    EXPECT_TRUE(s == nullptr || (s->kind != StructureKind::Muscle && s->kind != StructureKind::MuscleGroup)) << x.structure_key;
  }
  EXPECT_NE(io::read_text(dir / "b/report.html").find("withheld: low confidence"), std::string::npos);
}
