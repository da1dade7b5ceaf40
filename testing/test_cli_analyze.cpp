// musclecsa analyze as a user runs it: outputs, schema, protocol provenance, errors.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "musclecsa/core/catalog.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/phantom/phantom.h"
#include "musclecsa/report/dicom_sr.h"
#include "musclecsa/segment/protocol.h"
#include "test_support.h"

using namespace musclecsa;
using musclecsa::testing::quoted;
using musclecsa::testing::run_command;
using musclecsa::testing::TempDir;

namespace {
const std::string kBinary = MUSCLECSA_BINARY;
const std::filesystem::path kSource = MUSCLECSA_SOURCE_DIR;

std::filesystem::path make_phantom_dicom(const TempDir& dir, phantom::Anatomy anatomy, phantom::PhantomModality modality,
                                         std::size_t slices, double spacing) {
  phantom::PhantomParams p;
  p.anatomy = anatomy;
  p.modality = modality;
  p.columns = 200;
  p.pixel_spacing_mm = 2.0;
  p.slices = slices;
  p.slice_spacing_mm = spacing;
  NullProgress progress;
  phantom::write_phantom(phantom::make_phantom(p, progress), dir / "ph", progress);
  return dir / "ph/dicom";
}
}  // namespace

TEST(CliAnalyze, ThighCtWritesResultsLabelsAndProtocolWithItsHash) {
  TempDir dir;
  const auto dicom = make_phantom_dicom(dir, phantom::Anatomy::Thigh, phantom::PhantomModality::CT, 25, 20);
  const auto r = run_command(kBinary + " analyze " + quoted(dicom / "ct") + " --out " + quoted(dir / "out") + " --height-m 1.75");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("femur_50pct"), std::string::npos) << r.output;
  const auto validate = run_command("/usr/bin/python3 " + quoted(kSource / "testing/validate_json.py") + " " +
                                    quoted(kSource / "docs/schemas/results.schema.json") + " " + quoted(dir / "out/results.json"));
  EXPECT_EQ(validate.exit_code, 0) << validate.output;
  const auto results = nlohmann::json::parse(io::read_text(dir / "out/results.json"));
  const std::string hash = segment::builtin_ct_protocol("thigh-ct").hash();
  EXPECT_EQ(results["protocol"]["name"], "thigh-ct");  // chosen by auto from the one femur per leg
  EXPECT_EQ(results["protocol"]["hash"], hash);
  ASSERT_EQ(results["levels"].size(), 2u);
  for (const auto& level : results["levels"]) {
    EXPECT_TRUE(level["found"].get<bool>());
    EXPECT_GT(level["measures"]["muscle_area_cm2"].get<double>(), 50);
    EXPECT_GT(level["muscle_area_per_height2_cm2_m2"].get<double>(), 10);
  }
  const std::string csv = io::read_text(dir / "out/results.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "subject,study_instance_uid,series_instance_uid,protocol,protocol_hash,level,slice,z_mm,side,structure,structure_code,"
            "quantity,value,unit,withheld_reason");
  EXPECT_NE(csv.find("," + results["input"]["series_instance_uid"].get<std::string>() + ",thigh-ct," + hash + ",femur_50pct"),
            std::string::npos);
  EXPECT_NE(csv.find("\n,"), std::string::npos) << "the subject column must be empty without --include-patient-id";
  EXPECT_FALSE(results["input"].contains("patient_id"));
  EXPECT_NE(csv.find(",scanned_range,"), std::string::npos);
  const LabelMap labels = io::read_label_map(dir / "out/labels.nii.gz");
  const ScalarVolume ct = io::read_scalar_volume(dir / "ph/truth/labels.nii.gz");
  EXPECT_TRUE(labels.geometry.same_grid_as(ct.geometry, 1e-3));
  EXPECT_TRUE(std::filesystem::exists(dir / "out/labels.json"));
  // The QC image of the level slice: not blank, wider than the slice (legend panel).
  const io::BitmapImage qc = io::read_bitmap(dir / "out/qc_femur_50pct.png", std::nullopt);
  EXPECT_GT(qc.image.geometry.size[0], 700u);
  const auto [lo, hi] = std::minmax_element(qc.image.voxels.begin(), qc.image.voxels.end());
  EXPECT_GT(*hi - *lo, 100.0f);
  const auto protocol = nlohmann::json::parse(io::read_text(dir / "out/protocol.json"));
  EXPECT_EQ(protocol["muscle_hu"], nlohmann::json({-29, 150}));
}

// results.csv and results.json are always written: --format csv and json are accepted and change
// nothing (issue 21: they were refused); unknown formats are still refused.
TEST(CliAnalyze, FormatCsvAndJsonAreAcceptedAndChangeNothing) {
  TempDir dir;
  const auto dicom = make_phantom_dicom(dir, phantom::Anatomy::Thigh, phantom::PhantomModality::CT, 6, 40);
  auto files = [](const std::filesystem::path& folder) {
    std::set<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) names.insert(entry.path().filename().string());
    return names;
  };
  int run = 0;
  for (const std::string format : {"", " --format csv,json", " --format json --format csv", " --format csv,html"}) {
    const std::string out = "out" + std::to_string(run++);
    const auto r = run_command(kBinary + " analyze " + quoted(dicom / "ct") + " --out " + quoted(dir / out) + format + " --quiet");
    ASSERT_EQ(r.exit_code, 0) << format << ": " << r.output;
    auto names = files(dir / out);
    if (format.find("html") != std::string::npos) {
      EXPECT_EQ(names.erase("report.html"), 1u) << format;
    }
    EXPECT_EQ(names, files(dir / "out0")) << format;
  }
  const auto bad = run_command(kBinary + " analyze " + quoted(dicom / "ct") + " --out " + quoted(dir / "bad") + " --format pdf");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("pdf"), std::string::npos) << bad.output;
}

TEST(CliAnalyze, ALabelMapThatCannotBeWrittenFailsTheCaseWithItsReason) {
  // The images are written on another thread while the text outputs are built; a failure there
  // must still fail the case, name the file and the reason, and leave no results.json (the file
  // that marks a finished case).
  TempDir dir;
  const auto dicom = make_phantom_dicom(dir, phantom::Anatomy::Thigh, phantom::PhantomModality::CT, 6, 20);
  std::filesystem::create_directories(dir / "out/labels.nii.gz/in-the-way");
  const auto r = run_command(kBinary + " analyze " + quoted(dicom / "ct") + " --out " + quoted(dir / "out") + " --quiet");
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_NE(r.output.find("labels.nii.gz: cannot rename the finished file"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Success"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out/results.json"));
}

TEST(CliAnalyze, MusclesAndGroupsReachEveryOutput) {
  TempDir dir;
  phantom::PhantomParams p;  // clinical pixel size (0.78 mm): the septa are resolved
  p.anatomy = phantom::Anatomy::Thigh;
  p.modality = phantom::PhantomModality::CT;
  p.slices = 24;
  p.slice_spacing_mm = 20;
  p.seed = 21;
  NullProgress progress;
  phantom::write_phantom(phantom::make_phantom(p, progress), dir / "ph", progress);
  // The analytic phantom is drawn from the layout: its split by the layout is exact, so every
  // output can be checked against the truth (the atlas split on real anatomy: test_anatomy.cpp and
  // CliAnalyze.AtlasSplitCarriesItsConfidenceToEveryOutput).
  const auto r = run_command(kBinary + " analyze " + quoted(dir / "ph/dicom/ct") + " --muscle-prior layout --out " + quoted(dir / "out"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Quadriceps femoris"), std::string::npos) << r.output;
  const auto results = nlohmann::json::parse(io::read_text(dir / "out/results.json"));
  const auto truth = nlohmann::json::parse(io::read_text(dir / "ph/truth/truth.json"));
  const int k = truth["level"]["nearest_slice"];
  // Each group's outline at the level against the truth (sum of its members' true areas).
  const auto& catalog = LabelCatalog::standard();
  int checked = 0;
  for (const auto& level : results["levels"]) {
    ASSERT_TRUE(level["found"].get<bool>());
    EXPECT_LE(std::abs(level["slice"].get<int>() - k), 1);
    const std::string side = level["side"];
    for (const auto& st : level["measures"]["structures"]) {
      if (st["kind"] != "muscle_group") continue;
      double true_cm2 = 0;
      for (const auto& t : truth["slices"][std::size_t(level["slice"].get<int>())]["structures"])
        if (t["side"] == side && catalog.find(t["structure"].get<std::string>()) != nullptr &&
            catalog.get(t["structure"].get<std::string>()).group_key == st["structure"])
          true_cm2 += t["area_cm2"].get<double>();
      EXPECT_NEAR(st["outline_area_cm2"].get<double>() / true_cm2, 1.0, 0.03) << side << " " << st["structure"];
      EXPECT_GT(st["muscle_area_cm2"].get<double>(), 0.8 * st["outline_area_cm2"].get<double>());
      ++checked;
    }
  }
  EXPECT_EQ(checked, 6);  // quadriceps, hamstrings, adductors on both sides
  EXPECT_TRUE(results["volumes"][0]["structure_muscle_volumes_cm3"].contains("quadriceps"));
  EXPECT_NE(results["segmentation"].get<std::string>().find("muscle level"), std::string::npos);
  const std::string csv = io::read_text(dir / "out/results.csv");
  EXPECT_NE(csv.find(",femur_50pct," + std::to_string(results["levels"][0]["slice"].get<int>())), std::string::npos);
  for (const char* row : {",right,quadriceps,99MCSA:QF,csa,", ",left,hamstrings,99MCSA:HS,fat_fraction,",
                          ",right,vastus_lateralis,", ",left,sartorius,", ",right,adductors,99MCSA:ADD,volume,"})
    EXPECT_NE(csv.find(row), std::string::npos) << row;
  // The label map carries the muscles, and labels.json names them.
  const LabelMap labels = io::read_label_map(dir / "out/labels.nii.gz");
  const LabelId vl_right = catalog.label_id("vastus_lateralis", Side::Right);
  EXPECT_GT(std::count(labels.voxels.begin(), labels.voxels.end(), vl_right), 1000);
  EXPECT_NE(io::read_text(dir / "out/labels.json").find("vastus_lateralis"), std::string::npos);
  const auto validate = run_command("/usr/bin/python3 " + quoted(kSource / "testing/validate_json.py") + " " +
                                    quoted(kSource / "docs/schemas/results.schema.json") + " " + quoted(dir / "out/results.json"));
  EXPECT_EQ(validate.exit_code, 0) << validate.output;
}

TEST(CliAnalyze, CalfIsRecognisedAutomaticallyAndAProtocolFileIsHonoured) {
  TempDir dir;
  const auto dicom = make_phantom_dicom(dir, phantom::Anatomy::Calf, phantom::PhantomModality::CT, 5, 10);
  const auto r = run_command(kBinary + " analyze " + quoted(dicom / "ct") + " --out " + quoted(dir / "out") + " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto results = nlohmann::json::parse(io::read_text(dir / "out/results.json"));
  EXPECT_EQ(results["protocol"]["name"], "calf-ct");
  // The tibia leaves this short scan: no level, and the reason says what to do.
  for (const auto& level : results["levels"]) {
    EXPECT_FALSE(level["found"].get<bool>());
    EXPECT_NE(level["reason"].get<std::string>().find("--level-z-mm"), std::string::npos);
  }
  io::write_text_atomically(dir / "site.json", R"({"region": "calf", "name": "site-calf", "muscle_hu": [-30, 150]})");
  const auto custom = run_command(kBinary + " analyze " + quoted(dicom / "ct") + " --out " + quoted(dir / "out2") +
                                  " --protocol " + quoted(dir / "site.json") + " --level-slice 2 --quiet");
  ASSERT_EQ(custom.exit_code, 0) << custom.output;
  const auto j = nlohmann::json::parse(io::read_text(dir / "out2/results.json"));
  EXPECT_EQ(j["protocol"]["name"], "site-calf");
  EXPECT_EQ(j["protocol"]["definition"]["muscle_hu"], nlohmann::json({-30, 150}));
  EXPECT_NE(j["protocol"]["hash"], results["protocol"]["hash"]);
  EXPECT_EQ(j["levels"][0]["method"], "user_slice");
}

TEST(CliAnalyze, BadProtocolsAndUnsupportedInputsGetClearErrors) {
  TempDir dir;
  const auto dicom = make_phantom_dicom(dir, phantom::Anatomy::Thigh, phantom::PhantomModality::CT, 3, 10);
  io::write_text_atomically(dir / "typo.json", R"({"region": "thigh", "muscel_hu": [-29, 150]})");
  const auto typo = run_command(kBinary + " analyze " + quoted(dicom / "ct") + " --out " + quoted(dir / "o2") +
                                " --protocol " + quoted(dir / "typo.json"));
  EXPECT_NE(typo.exit_code, 0);
  EXPECT_NE(typo.output.find("muscel_hu"), std::string::npos) << typo.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "o2/results.json"));
  io::write_text_atomically(dir / "ct.nii.gz", "");
  const auto nifti = run_command(kBinary + " analyze " + quoted(kSource / "../shared/data/ct/totalsegmentator/example_ct_sm.nii.gz") +
                                 " --out " + quoted(dir / "o3"));
  EXPECT_EQ(nifti.exit_code, 2) << nifti.output;
  EXPECT_NE(nifti.output.find("--modality ct"), std::string::npos) << nifti.output;
  const auto both = run_command(kBinary + " analyze x --out y --level-z-mm 3 --level-slice 2");
  EXPECT_EQ(both.exit_code, 2) << both.output;
}

TEST(CliAnalyze, ContrastEnhancedScansAreFlaggedAndTheirKvpRecorded) {
  TempDir dir;
  const auto dicom = make_phantom_dicom(dir, phantom::Anatomy::Thigh, phantom::PhantomModality::CT, 3, 10);
  for (const auto& f : std::filesystem::directory_iterator(dicom / "ct")) {
    const auto r = run_command("dcmodify -nb -i \"ContrastBolusAgent=IOMEPROL\" " + quoted(f.path()));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  const auto r = run_command(kBinary + " analyze " + quoted(dicom / "ct") + " --out " + quoted(dir / "out"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("contrast_enhanced"), std::string::npos) << r.output;
  const auto results = nlohmann::json::parse(io::read_text(dir / "out/results.json"));
  EXPECT_EQ(results["input"]["contrast_agent"], "IOMEPROL");
  EXPECT_EQ(results["input"]["kvp"], 120);
  EXPECT_NE(results["qc_flags"].dump().find("contrast_enhanced"), std::string::npos);
  const auto validate = run_command("/usr/bin/python3 " + quoted(kSource / "testing/validate_json.py") + " " +
                                    quoted(kSource / "docs/schemas/results.schema.json") + " " + quoted(dir / "out/results.json"));
  EXPECT_EQ(validate.exit_code, 0) << validate.output;
}

TEST(CliAnalyze, AbdominalCtHasNoLegsAndSaysSo) {
  // The real abdominal CT: a body section, not legs. It must not produce a confident leg level.
  TempDir dir;
  const auto r = run_command(kBinary + " analyze " + quoted(kSource / "../shared/data/ct/totalsegmentator/example_ct_dicom") +
                             " --out " + quoted(dir / "out") + " --protocol thigh-ct");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto results = nlohmann::json::parse(io::read_text(dir / "out/results.json"));
  EXPECT_EQ(results["levels"].size(), 0u) << results["levels"].dump();
  const auto flags = results["qc_flags"].dump();
  EXPECT_NE(flags.find("no_legs_found"), std::string::npos) << flags;
  EXPECT_NE(r.output.find("no_legs_found"), std::string::npos) << r.output;
}

TEST(CliAnalyze, AtlasSplitCarriesItsConfidenceToEveryOutput) {
  TempDir dir;
  phantom::PhantomParams p;  // real anatomy (Visible Human female thighs), a subject left out below
  p.anatomy_from = "vhf-thigh";
  p.modality = phantom::PhantomModality::CT;
  p.columns = 512;
  p.pixel_spacing_mm = 0.9;
  p.slices = 5;
  p.slice_spacing_mm = 25;
  NullProgress progress;
  phantom::write_phantom(phantom::make_phantom(p, progress), dir / "ph", progress);
  // A protocol that trusts nothing the atlases are not all sure of: some muscles are withheld.
  auto protocol = segment::builtin_ct_protocol("thigh-ct");
  protocol.name = "thigh-ct-strict";
  protocol.muscles.min_atlas_agreement = 0.9;
  io::write_text_atomically(dir / "strict.json", protocol.to_json());
  const auto r = run_command(kBinary + " analyze " + quoted(dir / "ph/dicom/ct") + " --protocol " + quoted(dir / "strict.json") +
                             " --level-slice 2 --atlas-exclude-subject VHF --format sr,html --out " + quoted(dir / "out"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("withheld: low confidence"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("qc flag: muscle_low_confidence"), std::string::npos) << r.output;
  const auto results = nlohmann::json::parse(io::read_text(dir / "out/results.json"));
  EXPECT_EQ(results["anatomy_prior"]["method"], "multi_atlas");
  EXPECT_EQ(results["anatomy_prior"]["excluded_atlas_subjects"], nlohmann::json::array({"VHF"}));
  ASSERT_FALSE(results["anatomy_prior"]["atlases_used"].empty());
  for (const auto& id : results["anatomy_prior"]["atlases_used"]) EXPECT_EQ(id.get<std::string>().rfind("vhf-", 0), std::string::npos) << id;
  // Withheld at the level: null with a reason, in the measurements and in the level's structures.
  int withheld = 0, trusted = 0;
  for (const auto& m : results["measurements"]) {
    if (m["level"] != "femur_50pct") continue;
    if (m["value"].is_null()) {
      ++withheld;
      EXPECT_EQ(m["withheld_reason"].get<std::string>().rfind("muscle_low_confidence:", 0), 0u) << m.dump();
    } else if (m["structure"] != "skeletal_muscle" && m["structure"] != "imat") {
      ++trusted;
    }
  }
  EXPECT_GT(withheld, 0);
  for (const auto& level : results["levels"])
    for (const auto& st : level["measures"]["structures"]) {
      ASSERT_TRUE(st["confidence"].is_object()) << st.dump();
      EXPECT_EQ(st["confidence"]["low"].get<bool>(), st.contains("withheld_reason")) << st.dump();
      if (st["confidence"]["low"].get<bool>()) {
        EXPECT_TRUE(st["outline_area_cm2"].is_null()) << st.dump();
      }
    }
  // CSV: an empty value and the reason; the SR leaves withheld values out; the page says why.
  const std::string csv = io::read_text(dir / "out/results.csv");
  EXPECT_NE(csv.find(",,cm2,muscle_low_confidence:"), std::string::npos);
  const auto sr = report::read_dicom_sr(dir / "out/measurements.dcm");
  EXPECT_EQ(int(sr.size()) + withheld, [&] {
    int n = 0;
    for (const auto& m : results["measurements"]) n += m["level"] == "femur_50pct";
    return n;
  }());
  const std::string html = io::read_text(dir / "out/report.html");
  EXPECT_NE(html.find("withheld: low confidence"), std::string::npos);
  EXPECT_NE(html.find("muscle_low_confidence"), std::string::npos);
  std::cout << "level values: " << trusted << " trusted muscle/group values, " << withheld << " withheld\n";
}
