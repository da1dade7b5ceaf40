// Reports that leave the tool: HTML pages opened in a real headless Chromium, SEG/SR through the
// CLI (refused for non-DICOM input), and what patient data the outputs carry.

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "musclecsa/io/image_io.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/phantom/phantom.h"
#include "musclecsa/report/dicom_seg.h"
#include "musclecsa/report/dicom_sr.h"
#include "test_support.h"

using namespace musclecsa;
using musclecsa::testing::quoted;
using musclecsa::testing::run_command;
using musclecsa::testing::TempDir;

namespace {
const std::string kBinary = MUSCLECSA_BINARY;
const std::filesystem::path kSource = MUSCLECSA_SOURCE_DIR;
const std::string kChromium = CHROMIUM_EXECUTABLE;

/// A small thigh CT phantom as DICOM (whole femur, so the level is found): dir/name/dicom/ct.
std::filesystem::path thigh_ct(const TempDir& dir, const std::string& name, std::uint64_t seed) {
  phantom::PhantomParams p;
  p.anatomy = phantom::Anatomy::Thigh;
  p.modality = phantom::PhantomModality::CT;
  p.columns = 200;
  p.pixel_spacing_mm = 2.0;
  p.slices = 24;
  p.slice_spacing_mm = 20;
  p.seed = seed;
  NullProgress progress;
  phantom::write_phantom(phantom::make_phantom(p, progress), dir / name, progress);
  return dir / name / "dicom/ct";
}

/// Chromium, headless, as root in a container: no sandbox, no GPU.
std::string chromium(const std::string& arguments) {
  return kChromium + " --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=3000 " + arguments;
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}
}  // namespace

TEST(CliReport, CaseAndBatchPagesOpenInChromiumWithTablesAndImages) {
  TempDir dir;
  // The second case's folder name needs percent-encoding in links; only case_a asks for its page.
  for (auto [name, seed, format] : {std::tuple{"case_a", 3, " --format html"}, std::tuple{"case b#2", 5, ""}}) {
    const auto r = run_command(kBinary + " analyze " + quoted(thigh_ct(dir, "ph_" + std::to_string(seed), std::uint64_t(seed))) +
                               " --out " + quoted(dir / name) + format + " --quiet");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  ASSERT_TRUE(std::filesystem::exists(dir / "case_a/report.html"));
  // A failed case (its folder holds only the reason) and results the page cannot show.
  io::write_text_atomically(dir / "case_bad/error.txt", "not a CT series (modality MR)\nmore detail\n");
  io::write_text_atomically(dir / "case_odd/results.json", R"({"format": "musclecsa-results", "input": 5})");
  const auto batch = run_command(kBinary + " report " + quoted(dir / "case_a") + " " + quoted(dir / "case b#2") + " " +
                                 quoted(dir / "case_bad") + " " + quoted(dir / "case_odd") + " --out " + quoted(dir / "batch"));
  ASSERT_EQ(batch.exit_code, 0) << batch.output;
  EXPECT_NE(batch.output.find("4 case(s), 1 failed"), std::string::npos) << batch.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "case b#2/report.html")) << "the batch page must not write into case folders";

  // The batch page as the browser builds it (scripts run, images load).
  const auto dom = run_command(chromium("--dump-dom " + quoted(std::filesystem::path("file://" + (dir / "batch/index.html").string()))) + " 2>/dev/null");
  ASSERT_EQ(dom.exit_code, 0) << dom.output;
  EXPECT_NE(dom.output.find("4 case(s): 3 analysed, 1 failed"), std::string::npos) << dom.output.substr(0, 2000);
  EXPECT_EQ(count(dom.output, "<tr class=\"failed\">"), 2) << "the error.txt case and the unreadable results";
  EXPECT_NE(dom.output.find("unexpected content"), std::string::npos);
  EXPECT_NE(dom.output.find("failed: not a CT series (modality MR)"), std::string::npos);
  EXPECT_EQ(count(dom.output, "class=\"thumb\""), 2);
  EXPECT_EQ(count(dom.output, "data-loaded=\"1\""), 2) << "both thumbnails must load from the batch folder";
  EXPECT_TRUE(std::filesystem::exists(dir / "batch/cases/case_a/report.html"));

  // The case page: level tables per side with the groups, the QC image loaded.
  const auto case_dom =
      run_command(chromium("--dump-dom " + quoted(std::filesystem::path("file://" + (dir / "batch/cases/case_a/report.html").string()))) + " 2>/dev/null");
  ASSERT_EQ(case_dom.exit_code, 0);
  EXPECT_NE(case_dom.output.find("id=\"structures-right\""), std::string::npos);
  EXPECT_NE(case_dom.output.find("id=\"structures-left\""), std::string::npos);
  EXPECT_NE(case_dom.output.find("Quadriceps femoris"), std::string::npos);
  EXPECT_GE(count(case_dom.output, "data-loaded=\"1\""), 1);

  // The hand-made broken results are not the tool's: keep them out of the schema check at the end.
  std::filesystem::remove(dir / "case_odd/results.json");

  // A screenshot: not blank.
  const auto shot = run_command(chromium("--window-size=1280,900 --screenshot=" + quoted(dir / "shot.png") + " " +
                                         quoted(std::filesystem::path("file://" + (dir / "batch/index.html").string()))) + " 2>&1");
  ASSERT_EQ(shot.exit_code, 0) << shot.output;
  const io::BitmapImage png = io::read_bitmap(dir / "shot.png", std::nullopt);
  EXPECT_EQ(png.image.geometry.size[0], 1280u);
  const auto [lo, hi] = std::minmax_element(png.image.voxels.begin(), png.image.voxels.end());
  EXPECT_GT(*hi - *lo, 100.0f);
}

// The case page said "no QC flags" at the top while its slices and level carried flags (issue 21):
// the top of the page and the console list every distinct flag of the case and where it occurs.
// A one-leg CT: every slice (the level's included) carries single_leg, the case itself does not.
TEST(CliReport, PageAndConsoleListEveryFlagOfTheSlicesAndLevelsWithWhereItOccurs) {
  TempDir dir;
  phantom::PhantomParams p;
  p.anatomy = phantom::Anatomy::Thigh;
  p.modality = phantom::PhantomModality::CT;
  p.legs = phantom::Legs::Right;
  p.columns = 160;
  p.pixel_spacing_mm = 2.0;
  p.slices = 24;
  p.slice_spacing_mm = 20;
  p.seed = 4;
  NullProgress progress;
  phantom::write_phantom(phantom::make_phantom(p, progress), dir / "ph", progress);
  const auto r = run_command(kBinary + " analyze " + quoted(dir / "ph/dicom/ct") + " --out " + quoted(dir / "an") + " --format html");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto results = nlohmann::json::parse(io::read_text(dir / "an/results.json"));
  const auto& case_flags = results["qc_flags"];
  ASSERT_EQ(std::count(case_flags.begin(), case_flags.end(), "single_leg"), 0) << "the case itself does not carry it";
  std::set<std::string> slice_flags;
  for (const auto& s : results["slices"])
    for (const auto& f : s["qc_flags"]) slice_flags.insert(f.get<std::string>());
  ASSERT_TRUE(slice_flags.count("single_leg"));
  ASSERT_EQ(results["levels"][0]["side"], "right");
  ASSERT_TRUE(results["levels"][0]["found"].get<bool>());
  const std::string level = "at the standard level right femur_50pct (slice " + std::to_string(results["levels"][0]["slice"].get<int>()) + ")";

  // The console: one line per distinct flag, with where.
  EXPECT_NE(r.output.find("qc flag: single_leg (slices 0-23 (24 of 24 slices); " + level + ")"), std::string::npos) << r.output;
  // The page: the QC list at the top holds every flag of the case and its slices, with where.
  const std::string page = io::read_text(dir / "an/report.html");
  const auto top = page.find("id=\"qc-flags\"");
  ASSERT_NE(top, std::string::npos);
  const std::string qc = page.substr(top, page.find("</ul>", top) - top);
  EXPECT_EQ(page.find("no QC flags"), std::string::npos);
  for (const auto& flag : slice_flags) {
    EXPECT_NE(qc.find("<span class=\"flag\">" + flag + "</span>"), std::string::npos) << flag << " missing from " << qc;
    EXPECT_NE(r.output.find("qc flag: " + flag + " ("), std::string::npos) << flag << " missing from " << r.output;
  }
  for (const auto& flag : case_flags) EXPECT_NE(qc.find("<span class=\"flag\">" + flag.get<std::string>() + "</span> the case"), std::string::npos) << qc;
  EXPECT_NE(qc.find("<span class=\"flag\">single_leg</span> slices 0-23 (24 of 24 slices); " + level), std::string::npos) << qc;
}

TEST(CliReport, UltrasoundCasePageListsItsMeasurementsAndQcPicture) {
  TempDir dir;
  const auto made = run_command(kBinary + " phantom --preset " + quoted(kSource / "data/phantoms/rf-us.json") + " --out " +
                                quoted(dir / "ph") + " --quiet");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  const auto r = run_command(kBinary + " analyze " + quoted(dir / "ph") + " --protocol rf-us --format html --quiet --out " +
                             quoted(dir / "us"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string page = io::read_text(dir / "us/report.html");
  EXPECT_NE(page.find("id=\"measurements\""), std::string::npos);
  EXPECT_NE(page.find("<td>acsa</td>"), std::string::npos) << "every measurement is listed";
  EXPECT_NE(page.find("<td>echo_intensity_corrected</td>"), std::string::npos);
  EXPECT_NE(page.find("src=\"qc.png\""), std::string::npos) << "the QC picture is shown";
  EXPECT_EQ(page.find("Standard level"), std::string::npos) << "an ultrasound image has no CT level";
  // In a batch page it is an analysed case (its page and picture copied), not a failure.
  const auto batch = run_command(kBinary + " report " + quoted(dir / "us") + " --out " + quoted(dir / "pages"));
  ASSERT_EQ(batch.exit_code, 0) << batch.output;
  const std::string index = io::read_text(dir / "pages/index.html");
  EXPECT_NE(index.find("1 analysed, 0 failed"), std::string::npos) << index;
  EXPECT_TRUE(std::filesystem::exists(dir / "pages/cases/us/qc.png"));
}

TEST(CliReport, ReportNeedsResultsAndSegSrNeedDicom) {
  TempDir dir;
  std::filesystem::create_directories(dir / "empty");
  const auto none = run_command(kBinary + " report " + quoted(dir / "empty"));
  EXPECT_EQ(none.exit_code, 3) << none.output;
  EXPECT_NE(none.output.find("results.json"), std::string::npos) << none.output;
  io::write_text_atomically(dir / "other/results.json", "{\"format\": \"something-else\"}");
  const auto other = run_command(kBinary + " report " + quoted(dir / "other"));
  EXPECT_EQ(other.exit_code, 4) << other.output;

  // A NIfTI CT cannot go back to PACS as SEG/SR: refused before any work, with the reason.
  const auto dicom = thigh_ct(dir, "ph", 3);
  const auto convert = run_command(kBinary + " convert " + quoted(dicom) + " " + quoted(dir / "ct.nii.gz"));
  ASSERT_EQ(convert.exit_code, 0) << convert.output;
  const auto seg = run_command(kBinary + " analyze " + quoted(dir / "ct.nii.gz") + " --modality ct --out " + quoted(dir / "o") +
                               " --format seg");
  EXPECT_EQ(seg.exit_code, 2) << seg.output;
  EXPECT_NE(seg.output.find("DICOM SEG and SR need DICOM input"), std::string::npos) << seg.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "o/results.json"));
  const auto bad = run_command(kBinary + " analyze " + quoted(dicom) + " --out " + quoted(dir / "o") + " --format pdf");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;

  // A short scan has no standard level: an SR would be empty, so it is refused before any file is written.
  const auto short_scan = run_command(kBinary + " phantom --anatomy thigh --modality ct --columns 160 --pixel-spacing-mm 2.5 --slices 4 --out " +
                                      quoted(dir / "short") + " --quiet");
  ASSERT_EQ(short_scan.exit_code, 0) << short_scan.output;
  const auto sr = run_command(kBinary + " analyze " + quoted(dir / "short/dicom/ct") + " --out " + quoted(dir / "o_sr") + " --format sr");
  EXPECT_EQ(sr.exit_code, 4) << sr.output;
  EXPECT_NE(sr.output.find("--level-z-mm"), std::string::npos) << sr.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "o_sr/results.json"));
  EXPECT_FALSE(std::filesystem::exists(dir / "o_sr/labels.nii.gz"));
  const auto with_level = run_command(kBinary + " analyze " + quoted(dir / "short/dicom/ct") + " --out " + quoted(dir / "o_sr2") +
                                      " --format sr --level-slice 2 --quiet");
  EXPECT_EQ(with_level.exit_code, 0) << with_level.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "o_sr2/measurements.dcm"));
}

TEST(CliReport, PatientIdOnlyWhenAskedAndPseudonymsFromAMap) {
  TempDir dir;
  // The archive folder is named after the patient, as PACS exports often are.
  const auto dicom = thigh_ct(dir, "PHANTOM_THIGH_MCSA-PHANTOM-3", 3);
  const auto info = run_command(kBinary + " info " + quoted(dicom) + " --json");
  const auto patient = nlohmann::json::parse(info.output)["patients"][0];
  const std::string patient_id = patient["patient_id"], patient_name = patient["patient_name"];
  ASSERT_FALSE(patient_id.empty());
  ASSERT_NE(dicom.string().find(patient_id), std::string::npos);
  const auto plain = run_command(kBinary + " analyze " + quoted(dicom) + " --out " + quoted(dir / "plain") + " --format html --quiet");
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  for (const char* file : {"results.json", "results.csv", "report.html"}) {
    const std::string text = io::read_text(dir / "plain" / file);
    EXPECT_EQ(text.find(patient_id), std::string::npos) << file << " leaks the Patient ID";
    EXPECT_EQ(text.find(patient_name), std::string::npos) << file << " leaks the patient's name";
    EXPECT_EQ(text.find("PHANTOM_THIGH"), std::string::npos) << file << " leaks the input folder's name";
  }
  const auto both = run_command(kBinary + " analyze " + quoted(dicom) + " --out " + quoted(dir / "both") +
                                " --include-patient-id --pseudonym-map " + quoted(dicom / "..") + " --quiet");
  EXPECT_EQ(both.exit_code, 2) << both.output;

  const auto with_id = run_command(kBinary + " analyze " + quoted(dicom) + " --out " + quoted(dir / "id") +
                                   " --include-patient-id --format html --quiet");
  ASSERT_EQ(with_id.exit_code, 0) << with_id.output;
  EXPECT_EQ(nlohmann::json::parse(io::read_text(dir / "id/results.json"))["input"]["patient_id"], patient_id);
  EXPECT_NE(io::read_text(dir / "id/results.csv").find("\n" + patient_id + ","), std::string::npos);
  EXPECT_NE(io::read_text(dir / "id/report.html").find(patient_id), std::string::npos);

  io::write_text_atomically(dir / "map.csv", "patient_id,pseudonym\nsomeone-else,SUBJ-001\n" + patient_id + ",SUBJ-042\n");
  const auto mapped = run_command(kBinary + " analyze " + quoted(dicom) + " --out " + quoted(dir / "mapped") +
                                  " --pseudonym-map " + quoted(dir / "map.csv") + " --quiet");
  ASSERT_EQ(mapped.exit_code, 0) << mapped.output;
  const auto j = nlohmann::json::parse(io::read_text(dir / "mapped/results.json"));
  EXPECT_EQ(j["input"]["pseudonym"], "SUBJ-042");
  EXPECT_FALSE(j["input"].contains("patient_id"));
  EXPECT_EQ(io::read_text(dir / "mapped/results.json").find(patient_id), std::string::npos);
  EXPECT_EQ(io::read_text(dir / "mapped/results.csv").find(patient_id), std::string::npos);
  EXPECT_NE(io::read_text(dir / "mapped/results.csv").find("\nSUBJ-042,"), std::string::npos);

  io::write_text_atomically(dir / "other.csv", "patient_id,pseudonym\nsomeone-else,SUBJ-001\n");
  const auto unmapped = run_command(kBinary + " analyze " + quoted(dicom) + " --out " + quoted(dir / "unmapped") +
                                    " --pseudonym-map " + quoted(dir / "other.csv"));
  EXPECT_EQ(unmapped.exit_code, 4) << unmapped.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "unmapped/results.json")) << "nothing may be written without a pseudonym";
}

TEST(CliReport, SegAndSrFromAnalyzeReadBackAsTheLabelsAndTheLevelMeasurements) {
  TempDir dir;
  const auto dicom = thigh_ct(dir, "ph", 7);
  const auto r = run_command(kBinary + " analyze " + quoted(dicom) + " --out " + quoted(dir / "out") + " --format seg,sr");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("segmentation.dcm, measurements.dcm"), std::string::npos) << r.output;
  // SEG: the label map of the analysis, voxel for voxel, on the source grid.
  report::DicomSegInfo seg_info;
  const LabelMap from_seg = report::read_dicom_seg(dir / "out/segmentation.dcm", &seg_info);
  const LabelMap labels = io::read_label_map(dir / "out/labels.nii.gz");
  ASSERT_TRUE(from_seg.geometry.same_grid_as(labels.geometry, 1e-3));
  EXPECT_EQ(from_seg.voxels, labels.voxels);
  const auto results = nlohmann::json::parse(io::read_text(dir / "out/results.json"));
  EXPECT_EQ(seg_info.study_instance_uid, results["input"]["study_instance_uid"]);
  // SR: every level measurement of results.json with its value; withheld ones (null, a reason) are
  // not sent to PACS as numbers.
  const auto from_sr = report::read_dicom_sr(dir / "out/measurements.dcm");
  std::size_t level_records = 0, matched = 0, withheld = 0;
  for (const auto& m : results["measurements"]) {
    const std::string level = m["level"];
    if (level.empty() || level == "scanned_range") continue;
    if (m["value"].is_null()) {
      EXPECT_TRUE(m.contains("withheld_reason")) << m.dump();
      for (const auto& x : from_sr)
        EXPECT_FALSE(x.quantity == m["quantity"] && x.structure_key == m["structure"] && std::string(to_string(x.side)) == m["side"])
            << "withheld " << m.dump() << " is in the SR";
      ++withheld;
      continue;
    }
    ++level_records;
    for (const auto& x : from_sr)
      if (x.quantity == m["quantity"] && x.structure_key == m["structure"] && std::string(to_string(x.side)) == m["side"] &&
          x.level == level && x.slice_index == m["slice"].get<int>()) {
        EXPECT_NEAR(x.value, m["value"].get<double>(), 1e-9 + 1e-9 * std::abs(m["value"].get<double>())) << x.quantity;
        ++matched;
        break;
      }
  }
  EXPECT_GT(level_records, 50u);
  std::cout << "level records: " << level_records << " in the SR, " << withheld << " withheld\n";
  EXPECT_EQ(matched, level_records);
  EXPECT_EQ(from_sr.size(), level_records);
  // Both pass the DICOM validator (warnings only: the private coding scheme).
  for (const char* file : {"segmentation.dcm", "measurements.dcm"}) {
    const auto check = run_command(std::string(DCIODVFY_EXECUTABLE) + " " + quoted(dir / "out" / file) + " 2>&1");
    EXPECT_EQ(check.output.find("Error"), std::string::npos) << file << ": " << check.output.substr(0, 2000);
  }
}

TEST(CliReport, AFullDiskOrABlockedFolderLeavesNoHalfWrittenFile) {
  TempDir dir;
  const auto dicom = thigh_ct(dir, "ph", 3);
  // A file where the output folder should be.
  io::write_text_atomically(dir / "blocked", "x");
  const auto blocked = run_command(kBinary + " analyze " + quoted(dicom) + " --out " + quoted(dir / "blocked") + " --quiet");
  EXPECT_EQ(blocked.exit_code, 5) << blocked.output;
  EXPECT_NE(blocked.output.find("blocked"), std::string::npos) << blocked.output;
  // A disk that fills up: files over 2 MB cannot be written (SIGXFSZ ignored, so writes fail). The
  // case's files are well under that; the SEG (about 4 MB here) is the one that fails.
  const auto full = run_command("bash -c \"trap '' XFSZ; ulimit -f 2000; exec " + kBinary + " analyze '" + dicom.string() +
                                "' --out '" + (dir / "full").string() + "' --format seg,sr,html --quiet\" 2>&1");
  EXPECT_EQ(full.exit_code, 5) << full.output;
  EXPECT_NE(full.output.find((dir / "full/segmentation.dcm").string()), std::string::npos) << full.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "full/segmentation.dcm"));
  EXPECT_FALSE(std::filesystem::exists(dir / "full/results.json")) << "a failed case must not look finished";
  // And one where an early file (results.csv, about 0.7 MB) cannot be written.
  const auto fuller = run_command("bash -c \"trap '' XFSZ; ulimit -f 300; exec " + kBinary + " analyze '" + dicom.string() +
                                  "' --out '" + (dir / "fuller").string() + "' --quiet\" 2>&1");
  EXPECT_EQ(fuller.exit_code, 5) << fuller.output;
  EXPECT_NE(fuller.output.find((dir / "fuller").string()), std::string::npos) << "the error names the file: " << fuller.output;
  for (const char* folder : {"full", "fuller"})
  for (const auto& entry : std::filesystem::directory_iterator(dir / folder)) {
    const std::string name = entry.path().filename().string();
    EXPECT_NE(name.front(), '.') << "temporary file left: " << name;
    EXPECT_EQ(name.find(".partial"), std::string::npos) << "temporary file left: " << name;
    // What is there is whole.
    if (entry.path().extension() == ".json") {
      EXPECT_TRUE(nlohmann::json::accept(io::read_text(entry.path()))) << name;
    }
    if (name == "labels.nii.gz") {  // NIfTI-1 header (352 bytes) + 200 x 200 x 24 uint16 labels
      const auto size = run_command("gzip -dc " + quoted(entry.path()) + " | wc -c");
      EXPECT_EQ(std::stol(size.output), 352 + 200 * 200 * 24 * 2) << "labels.nii.gz is truncated";
    }
    if (name == "segmentation.dcm") {
      EXPECT_NO_THROW((void)report::read_dicom_seg(entry.path())) << name;
    }
    if (name == "measurements.dcm") {
      EXPECT_NO_THROW((void)report::read_dicom_sr(entry.path())) << name;
    }
  }
}
