// musclecsa analyze on ultrasound: phantom DICOM (automatic, assisted, manual outline and mask),
// pictures with and without a pixel size, the refusals, and the real panoramic images in
// ../shared/data/us (every image gives a closed contour with plausible values and a QC image).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "musclecsa/dicom/series_writer.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/phantom/phantom.h"
#include "test_support.h"
#include "us_synthetic.h"

using musclecsa::testing::quoted;
using musclecsa::testing::run_command;
using musclecsa::testing::TempDir;
using nlohmann::json;

namespace {

const std::string kBinary = MUSCLECSA_BINARY;
const std::filesystem::path kSource = MUSCLECSA_SOURCE_DIR;
const std::filesystem::path kShared = SHARED_DATA_DIR;

/// A rectus femoris phantom (data/phantoms/rf-us.json) written as DICOM into dir/ph; its truth.
json make_phantom(const TempDir& dir, const std::string& extra = "") {
  const auto r = run_command(kBinary + " phantom --preset " + quoted(kSource / "data/phantoms/rf-us.json") + " --out " +
                             quoted(dir / "ph") + " --quiet " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return json::parse(musclecsa::io::read_text(dir / "ph" / "truth" / "truth.json"))["ultrasound"];
}

json results(const std::filesystem::path& out) { return json::parse(musclecsa::io::read_text(out / "results.json")); }

/// The value of a measurement record, or NaN.
double value(const json& r, const std::string& quantity) {
  for (const auto& m : r["measurements"])
    if (m["quantity"] == quantity) return m["value"].get<double>();
  return std::nan("");
}

std::string unit(const json& r, const std::string& quantity) {
  for (const auto& m : r["measurements"])
    if (m["quantity"] == quantity) return m["unit"].get<std::string>();
  return "";
}

}  // namespace

TEST(UsCli, AutomaticOnPhantomDicomMeetsTheAccuracyTargetsAndWritesEveryOutput) {
  TempDir dir;
  const json truth = make_phantom(dir);
  const auto out = dir / "auto";
  const auto r = run_command(kBinary + " analyze " + quoted(dir / "ph") + " --protocol rf-us --out " + quoted(out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Rectus femoris: ACSA"), std::string::npos) << r.output;
  for (const char* name : {"results.json", "results.csv", "mask.png", "qc.png", "protocol.json"})
    EXPECT_TRUE(std::filesystem::exists(out / name)) << name;
  const json j = results(out);
  EXPECT_EQ(j["input"]["modality"], "US");
  EXPECT_EQ(j["protocol"]["name"], "rf-us");
  EXPECT_EQ(j["ultrasound"]["method"], "automatic");
  EXPECT_EQ(j["ultrasound"]["calibration"]["source"], "dicom_ultrasound_region");
  EXPECT_NEAR(value(j, "acsa"), truth["acsa_cm2"].get<double>(), 0.05 * truth["acsa_cm2"].get<double>());
  EXPECT_EQ(unit(j, "acsa"), "cm2");
  EXPECT_NEAR(value(j, "muscle_thickness"), truth["muscle_thickness_cm"].get<double>(), 0.05);
  EXPECT_NEAR(value(j, "subcutaneous_fat_thickness"), truth["sat_thickness_cm"].get<double>(), 0.03);
  EXPECT_NEAR(value(j, "echo_intensity"), truth["echo_intensity"].get<double>(), 2.0);
  // The published correction, recorded with its coefficient and source.
  const json& ei = j["ultrasound"]["echo_intensity"];
  EXPECT_DOUBLE_EQ(ei["correction"]["coefficient_per_cm"].get<double>(), 40.5278);
  EXPECT_NE(ei["correction"]["source"].get<std::string>().find("Young"), std::string::npos);
  EXPECT_NEAR(value(j, "echo_intensity_corrected"), value(j, "echo_intensity") + value(j, "subcutaneous_fat_thickness") * 40.5278, 1e-6);
  EXPECT_EQ(j["ultrasound"]["histogram"]["counts"].size(), 256u);
  EXPECT_EQ(j["ultrasound"]["glcm"]["levels"], 32);
  // The field of view is the phantom's imaged region (burned-in text and scale outside it).
  const auto box = j["ultrasound"]["field_of_view"]["bounding_box_px"];
  EXPECT_NEAR(box[0].get<int>(), truth["region"][0].get<int>(), 4);
  EXPECT_NEAR(box[2].get<int>(), truth["region"][2].get<int>(), 4);
  // The automatic contour passed its plausibility check: reported, status ok.
  EXPECT_EQ(j["status"], "ok");
  EXPECT_TRUE(j["ultrasound"]["plausibility"]["passed"].get<bool>()) << j["ultrasound"]["plausibility"].dump(1);
  EXPECT_EQ(j["ultrasound"]["plausibility"]["effect"], "none");
  EXPECT_TRUE(j["ultrasound"]["plausibility"]["withheld"].empty());
  EXPECT_EQ(j["ultrasound"]["plausibility"]["rules"].size(), 7u);
  EXPECT_EQ(j["protocol"]["definition"]["plausibility"]["thickness_cm"][0], 0.5);
  const std::string csv = musclecsa::io::read_text(out / "results.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "subject,study_instance_uid,series_instance_uid,protocol,protocol_hash,level,slice,z_mm,side,structure,structure_code,"
            "quantity,value,unit,status,review_reason");
  EXPECT_NE(csv.find(",none,rectus_femoris,99MCSA:RF,acsa,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",cm2,ok,\n"), std::string::npos) << csv;
  std::printf("[figure] CLI automatic rf-us phantom: ACSA %.3f cm2 (truth %.3f), thickness %.2f cm (truth %.2f), SAT %.3f cm (truth %.3f)\n",
              value(j, "acsa"), truth["acsa_cm2"].get<double>(), value(j, "muscle_thickness"), truth["muscle_thickness_cm"].get<double>(),
              value(j, "subcutaneous_fat_thickness"), truth["sat_thickness_cm"].get<double>());
}

TEST(UsCli, ProtocolAutoIsChosenFromTheSeriesDescription) {
  TempDir dir;
  make_phantom(dir, "--us-muscle vastus_lateralis --seed 3");
  const auto r = run_command(kBinary + " analyze " + quoted(dir / "ph") + " --out " + quoted(dir / "o") + " --quiet --side right");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json j = results(dir / "o");
  EXPECT_EQ(j["protocol"]["name"], "vl-us");
  EXPECT_EQ(j["measurements"][0]["side"], "right");
  EXPECT_EQ(j["measurements"][0]["structure"], "vastus_lateralis");
}

TEST(UsCli, ManualOutlineAndMaskAreMeasuredAsGiven) {
  TempDir dir;
  const json truth = make_phantom(dir);
  // The truth mask, as the mask picture written by a first run's manual outline round trip.
  const auto a = run_command(kBinary + " analyze " + quoted(dir / "ph") + " --protocol rf-us --out " + quoted(dir / "auto") + " --quiet");
  ASSERT_EQ(a.exit_code, 0) << a.output;
  // A rectangle outline in JSON and in CSV: the same pixels, area = 40 x 20 pixels of 0.1 mm.
  std::ofstream(dir / "box.json") << "[[199.5,199.5],[239.5,199.5],[239.5,219.5],[199.5,219.5]]";
  std::ofstream(dir / "box.csv") << "x,y\n199.5,199.5\n239.5,199.5\n239.5,219.5\n199.5,219.5\n";
  for (const std::string name : {"box.json", "box.csv"}) {
    const auto out = dir / ("m_" + name);
    const auto r = run_command(kBinary + " analyze " + quoted(dir / "ph") + " --protocol rf-us --quiet --outline " + quoted(dir / name) +
                               " --out " + quoted(out));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const json j = results(out);
    EXPECT_EQ(j["ultrasound"]["method"], "manual");
    EXPECT_EQ(j["ultrasound"]["area_px"], 800);
    EXPECT_NEAR(value(j, "acsa"), 800 * 0.01 / 100, 1e-9);
    EXPECT_NEAR(value(j, "muscle_thickness"), 20 * 0.1 / 10, 1e-9);
  }
  // The automatic run's mask given back as a manual mask: the same area and echo intensity.
  const auto out = dir / "m_mask";
  const auto r = run_command(kBinary + " analyze " + quoted(dir / "ph") + " --protocol rf-us --quiet --outline " +
                             quoted(dir / "auto" / "mask.png") + " --out " + quoted(out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(results(out)["ultrasound"]["area_px"], results(dir / "auto")["ultrasound"]["area_px"]);
  EXPECT_DOUBLE_EQ(value(results(out), "echo_intensity"), value(results(dir / "auto"), "echo_intensity"));
}

TEST(UsCli, AssistedPointsOnTheBorderAndOnePointInside) {
  TempDir dir;
  const json truth = make_phantom(dir);
  // The automatic contour's points (every 20th) serve as user clicks on the border.
  ASSERT_EQ(run_command(kBinary + " analyze " + quoted(dir / "ph") + " --protocol rf-us --quiet --out " + quoted(dir / "a")).exit_code, 0);
  const json contour = results(dir / "a")["ultrasound"]["contour_px"];
  std::string points;
  for (std::size_t k = 0; k < contour.size(); k += contour.size() / 8)
    points += (points.empty() ? "" : ";") + std::to_string(contour[k][0].get<double>()) + "," + std::to_string(contour[k][1].get<double>());
  const auto r = run_command(kBinary + " analyze " + quoted(dir / "ph") + " --protocol rf-us --quiet --points '" + points + "' --out " +
                             quoted(dir / "b"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json j = results(dir / "b");
  EXPECT_EQ(j["ultrasound"]["method"], "assisted");
  EXPECT_GE(j["ultrasound"]["user_points_px"].size(), 8u);
  EXPECT_NEAR(value(j, "acsa"), truth["acsa_cm2"].get<double>(), 0.02 * truth["acsa_cm2"].get<double>());
  // One point inside, from a JSON file.
  const int column = truth["centre_column"].get<int>();
  std::ofstream(dir / "inside.json") << "{\"points\": [[" << column << ", 250]]}";
  const auto r2 = run_command(kBinary + " analyze " + quoted(dir / "ph") + " --protocol rf-us --quiet --points-file " +
                              quoted(dir / "inside.json") + " --out " + quoted(dir / "c"));
  ASSERT_EQ(r2.exit_code, 0) << r2.output;
  EXPECT_NEAR(value(results(dir / "c"), "acsa"), truth["acsa_cm2"].get<double>(), 0.05 * truth["acsa_cm2"].get<double>());
}

TEST(UsCli, WrongInputsGetClearErrorsNamingTheProblem) {
  TempDir dir;
  make_phantom(dir);
  const std::string base = kBinary + " analyze " + quoted(dir / "ph") + " --out " + quoted(dir / "o") + " ";
  struct Case {
    std::string args;
    int code;
    std::string text;
  };
  const std::vector<Case> cases = {
      {"--protocol thigh-ct", 2, "CT protocol"},
      {"--protocol rf-us --format seg", 2, "not written for ultrasound"},
      {"--protocol rf-us --points '10,20;x,5'", 2, "item 2"},
      {"--protocol rf-us --points '-50,20;10,10;20,20'", 2, "outside the image"},
      {"--protocol rf-us --outline " + quoted(dir / "missing.json"), 3, "no such file"},
      {"--protocol rf-us --frame 3", 2, "1 frame"},
      {"--protocol elbow-us", 2, "unknown ultrasound protocol"},
  };
  for (const auto& c : cases) {
    const auto r = run_command(base + c.args);
    EXPECT_EQ(r.exit_code, c.code) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.text), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "o" / "results.json")) << c.args;
  }
}

TEST(UsCli, PictureWithoutPixelSizeGivesPixelMeasurementsOnlyAndSaysSo) {
  TempDir dir;
  const auto picture = kShared / "us/deepacsa-rf/rectus_img_55.tif";
  ASSERT_TRUE(std::filesystem::exists(picture)) << picture;
  const auto r = run_command(kBinary + " analyze " + quoted(picture) + " --protocol rf-us --quiet --out " + quoted(dir / "o"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json j = results(dir / "o");
  EXPECT_EQ(j["input"]["kind"], "bitmap");
  EXPECT_EQ(j["ultrasound"]["units"], "pixels");
  EXPECT_FALSE(j["ultrasound"]["calibration"]["calibrated"].get<bool>());
  EXPECT_EQ(unit(j, "acsa"), "{px2}");
  EXPECT_EQ(unit(j, "muscle_thickness"), "{px}");
  EXPECT_TRUE(std::isnan(value(j, "echo_intensity_corrected")));  // SAT in cm unknown
  EXPECT_NE(j["qc_flags"].dump().find("ultrasound_uncalibrated"), std::string::npos);
  EXPECT_NE(j["notes"].dump().find("pixels only"), std::string::npos);
}

/// The real panoramic images (../shared/data/us): every one gives a closed automatic contour with
/// plausible values and a QC picture. Pixel sizes: vl-panoramic/pixel_size.csv (from the original
/// DICOM calibration); deepacsa-rf has none, so they are read off each picture's burned-in 1 cm depth
/// scale (ticks 96, 95 and 110 pixels apart). Whether each contour follows the fascia is reviewed
/// by eye in docs/ultrasound.md.
TEST(UsCli, RealPanoramicImagesGiveClosedContoursWithPlausibleValues) {
  std::vector<std::pair<std::filesystem::path, double>> images = {
      {kShared / "us/deepacsa-rf/rectus_img_55.tif", 10.0 / 96.25},
      {kShared / "us/deepacsa-rf/rectus_img_56.tif", 10.0 / 95.0},
      {kShared / "us/deepacsa-rf/rectus_img_57.tif", 10.0 / 110.0}};
  {
    std::istringstream lines(musclecsa::io::read_text(kShared / "us/vl-panoramic/pixel_size.csv"));
    std::string line;
    std::getline(lines, line);  // header: subjectID,new_filename,resx,resy,units (cm)
    while (std::getline(lines, line)) {
      std::vector<std::string> f;
      std::istringstream fields(line);
      std::string item;
      while (std::getline(fields, item, ',')) f.push_back(item);
      if (f.size() < 5) continue;
      ASSERT_EQ(f[2], f[3]) << line;
      images.push_back({kShared / "us/vl-panoramic" / f[0] / (f[1] + ".tif"), std::stod(f[2]) * 10});
    }
  }
  ASSERT_EQ(images.size(), 9u);
  TempDir dir;
  for (const auto& [picture, pixel_mm] : images) {
    const bool rf = picture.string().find("rectus") != std::string::npos;
    const auto out = dir / picture.stem().string();
    char size[32];
    std::snprintf(size, sizeof size, "%.6f", pixel_mm);
    const auto r = run_command(kBinary + " analyze " + quoted(picture) + " --protocol " + (rf ? "rf-us" : "vl-us") +
                               " --pixel-size-mm " + size + " --quiet --out " + quoted(out));
    ASSERT_EQ(r.exit_code, 0) << picture << "\n" << r.output;
    const json j = results(out);
    EXPECT_EQ(j["ultrasound"]["method"], "automatic");
    // Every reviewed contour passes the plausibility check (docs/ultrasound.md, "Plausibility check").
    EXPECT_EQ(j["status"], "ok") << picture << " " << j["ultrasound"]["plausibility"]["reasons"].dump();
    EXPECT_GE(j["ultrasound"]["contour_px"].size(), 20u) << picture;
    EXPECT_GT(std::filesystem::file_size(out / "qc.png"), 10000u) << picture;
    EXPECT_GT(std::filesystem::file_size(out / "mask.png"), 100u) << picture;
    const double acsa = value(j, "acsa"), thickness = value(j, "muscle_thickness"), ei = value(j, "echo_intensity");
    // Adult RF and VL ACSA is roughly 5-40 cm2. Each image's contour was reviewed on its QC picture
    // (docs/ultrasound.md); the ranges hold those reviewed outlines, so that a change which loses a
    // muscle's end or runs past it along the fasciae shows here. VL ends are traced to where the
    // aponeuroses meet: SUB01_img1 13.11, SUB01_img2 9.73, SUB02_img1 22.95, SUB02_img3 18.38 and
    // SUB02_img4 15.81 cm2 when they were cut straight; SUB01_img2 11.72 and SUB02_img4 21.73 when
    // the trace ran on along two parallel fasciae past the tip. SUB02_img2 held only the upper part of
    // the VL (9.30 cm2, an intramuscular line taken for the deep aponeurosis) until a deep boundary
    // with muscle texture under it was lowered to the line under which the texture ends.
    const std::map<std::string, std::pair<double, double>> reviewed_cm2 = {
        {"rectus_img_55", {8.7, 9.6}},  {"rectus_img_56", {9.7, 10.7}}, {"rectus_img_57", {11.2, 12.3}},
        {"SUB01_img1", {13.8, 14.7}},   {"SUB01_img2", {9.9, 10.6}},    {"SUB02_img1", {24.0, 26.5}},
        {"SUB02_img2", {19.5, 21.5}},   {"SUB02_img3", {23.0, 26.0}},   {"SUB02_img4", {20.2, 21.5}}};
    const std::string stem = picture.stem().string();
    ASSERT_EQ(reviewed_cm2.count(stem), 1u) << stem;
    EXPECT_GT(acsa, reviewed_cm2.at(stem).first) << picture;
    EXPECT_LT(acsa, reviewed_cm2.at(stem).second) << picture;
    EXPECT_GT(thickness, 0.8) << picture;
    EXPECT_LT(thickness, 4.0) << picture;
    EXPECT_GT(ei, 15.0) << picture;
    EXPECT_LT(ei, 120.0) << picture;
    std::printf("[figure] real %s: ACSA %.2f cm2, thickness %.2f cm, EI %.1f, SAT %s cm\n", picture.filename().c_str(), acsa, thickness,
                ei, std::isnan(value(j, "subcutaneous_fat_thickness")) ? "-" : std::to_string(value(j, "subcutaneous_fat_thickness")).c_str());
    std::string check;
    for (const auto& rule : j["ultrasound"]["plausibility"]["rules"]) {
      char item[96];
      std::snprintf(item, sizeof item, " %s %.2f%s", rule["rule"].get<std::string>().c_str(), rule["value"].get<double>(),
                    rule["applied"].get<bool>() ? "" : " (not applied)");
      check += item;
    }
    std::printf("[figure] real %s plausibility %s:%s\n", picture.filename().c_str(), j["status"].get<std::string>().c_str(), check.c_str());
  }
}

namespace {

/// A grey picture as an 8-bit PNG.
void write_picture(const musclecsa::ultrasound::GreyImage& image, const std::filesystem::path& png) {
  musclecsa::io::Picture p{image.width, image.height, 1, {}};
  for (float g : image.grey) p.values.push_back(static_cast<std::uint8_t>(std::clamp(std::lround(g), 0L, 255L)));
  musclecsa::io::write_png(png, p);
}

}  // namespace

TEST(UsCli, AutomaticContourOnAThinBandNeedsReviewExitsSevenAndWithholdsItsValues) {
  // The synthetic picture whose automatic contour is a 5.4 mm band over the muscle: every output is
  // written, the status is needs_review with the reason, no value is reported as a number, the QC
  // picture carries a red banner, the message says how to give --points, and the exit status is 7.
  TempDir dir;
  const auto c = musclecsa::testing::make_thin_band_case();
  write_picture(c.image, dir / "band.png");
  const auto out = dir / "band";
  const auto r = run_command(kBinary + " analyze " + quoted(dir / "band.png") + " --protocol vl-us --pixel-size-mm 0.1 --format html --out " +
                             quoted(out));
  EXPECT_EQ(r.exit_code, 7) << r.output;
  for (const char* name : {"results.json", "results.csv", "mask.png", "qc.png", "protocol.json", "report.html"})
    EXPECT_TRUE(std::filesystem::exists(out / name)) << name;
  // Console and standard error: the reason, no plain numbers, and how to give points.
  EXPECT_NE(r.output.find("NEEDS REVIEW"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("musclecsa: needs review: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("thickness 0.5"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ACSA and thickness withheld"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("cm2"), std::string::npos) << "an area printed: " << r.output;
  EXPECT_NE(r.output.find("--points \"x,y\""), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--pixel-size-mm 0.100000"), std::string::npos) << r.output;
  // results.json: status, reasons, values withheld (null) and kept aside for the review.
  const json j = results(out);
  EXPECT_EQ(j["status"], "needs_review");
  const json& p = j["ultrasound"]["plausibility"];
  EXPECT_FALSE(p["passed"].get<bool>());
  EXPECT_EQ(p["effect"], "needs_review");
  ASSERT_FALSE(p["reasons"].empty());
  EXPECT_NE(p["reasons"][0].get<std::string>().find("thickness"), std::string::npos);
  EXPECT_NE(p["how_to_review"].get<std::string>().find("--points"), std::string::npos);
  for (const auto& m : j["measurements"]) EXPECT_TRUE(m["value"].is_null()) << m.dump();
  bool withheld_acsa = false;
  for (const auto& w : p["withheld"]) withheld_acsa |= w["quantity"] == "acsa" && w["value"].get<double>() > 0;
  EXPECT_TRUE(withheld_acsa) << p["withheld"].dump();
  EXPECT_NE(j["qc_flags"].dump().find("needs_review"), std::string::npos);
  // results.csv: empty values, status and reason on every row.
  const std::string csv = musclecsa::io::read_text(out / "results.csv");
  EXPECT_NE(csv.find(",acsa,,cm2,needs_review,thickness 0.5"), std::string::npos) << csv;
  EXPECT_EQ(csv.find(",ok,"), std::string::npos) << csv;
  // report.html: the banner, and no value in the measurement table.
  const std::string page = musclecsa::io::read_text(out / "report.html");
  EXPECT_NE(page.find("id=\"needs-review\""), std::string::npos);
  EXPECT_NE(page.find("withheld (needs review)"), std::string::npos);
  EXPECT_EQ(page.find("data-value"), std::string::npos) << "a number in the measurement table";
  // qc.png: a red banner across the top.
  const auto qc = musclecsa::io::read_rgb_picture(out / "qc.png");
  const std::uint8_t* px = qc.values.data() + 3 * (std::size_t(qc.width) * 3 + std::size_t(qc.width) - 3);
  EXPECT_GT(px[0], 150);
  EXPECT_LT(px[1], 60);
  EXPECT_LT(px[2], 60);
  EXPECT_GT(qc.height, c.image.height + 100);
  std::printf("[figure] thin band through the CLI: exit %d, %s\n", r.exit_code, p["reasons"][0].get<std::string>().c_str());

  // The user's own segmentation is reported: the band as a manual outline (a warning, exit 0), and
  // one point inside the muscle (assisted: the check passes).
  std::ofstream(dir / "band.json") << "[[100,93],[1100,93],[1100,147],[100,147]]";
  const auto manual = run_command(kBinary + " analyze " + quoted(dir / "band.png") + " --protocol vl-us --pixel-size-mm 0.1 --quiet --outline " +
                                  quoted(dir / "band.json") + " --out " + quoted(dir / "manual"));
  EXPECT_EQ(manual.exit_code, 0) << manual.output;
  const json jm = results(dir / "manual");
  EXPECT_EQ(jm["status"], "ok");
  EXPECT_EQ(jm["ultrasound"]["plausibility"]["effect"], "warning");
  EXPECT_NE(jm["qc_flags"].dump().find("plausibility_warning"), std::string::npos);
  EXPECT_NE(jm["notes"].dump().find("the user's own"), std::string::npos);
  EXPECT_NEAR(value(jm, "muscle_thickness"), 0.55, 0.02);
  const auto assisted = run_command(kBinary + " analyze " + quoted(dir / "band.png") + " --protocol vl-us --pixel-size-mm 0.1 --quiet --points 600,250 --out " +
                                    quoted(dir / "assisted"));
  EXPECT_EQ(assisted.exit_code, 0) << assisted.output;
  const json ja = results(dir / "assisted");
  EXPECT_EQ(ja["status"], "ok");
  EXPECT_EQ(ja["ultrasound"]["method"], "assisted");
  EXPECT_TRUE(ja["ultrasound"]["plausibility"]["passed"].get<bool>()) << ja["ultrasound"]["plausibility"]["reasons"].dump();
  EXPECT_NEAR(value(ja, "muscle_thickness"), 2.0, 0.1);
}

TEST(UsCli, MultiFrameSeriesAnalysesTheChosenFrame) {
  // A two-frame ultrasound series (a cine of two phantoms of different size), calibrated by its
  // Sequence of Ultrasound Regions: frame 0 by default (said in the notes), frame 1 with --frame 1.
  TempDir dir;
  musclecsa::NullProgress progress;
  musclecsa::phantom::PhantomParams p;
  p.modality = musclecsa::phantom::PhantomModality::US;
  p.seed = 21;
  const auto small = musclecsa::phantom::make_phantom(p, progress);
  p.muscle_area_scale = 1.4;
  const auto large = musclecsa::phantom::make_phantom(p, progress);
  musclecsa::ScalarVolume cine = small.series[0].image;
  musclecsa::Geometry g = cine.geometry;
  g.size[2] = 2;
  cine.geometry = g;
  cine.voxels.insert(cine.voxels.end(), large.series[0].image.voxels.begin(), large.series[0].image.voxels.end());
  musclecsa::dicom::SeriesWriteOptions w;
  w.study_instance_uid = musclecsa::dicom::uid_from_text("us cine study");
  w.series_instance_uid = musclecsa::dicom::uid_from_text("us cine series");
  w.frame_of_reference_uid = musclecsa::dicom::uid_from_text("us cine frame");
  w.series_description = "cine rectus femoris";
  w.image_type = {"ORIGINAL", "PRIMARY"};
  const auto& t = small.ultrasound;
  w.ultrasound_region = musclecsa::dicom::UltrasoundRegion{t.region_min_x, t.region_min_y, t.region_max_x, t.region_max_y, 0.01, 0.01};
  musclecsa::dicom::write_series(cine, w, dir / "cine");
  for (const int frame : {-1, 1}) {
    const auto out = dir / ("f" + std::to_string(frame));
    const auto r = run_command(kBinary + " analyze " + quoted(dir / "cine") + " --quiet --out " + quoted(out) +
                               (frame >= 0 ? " --frame " + std::to_string(frame) : std::string()));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const json j = results(out);
    const auto& truth = frame == 1 ? large.ultrasound : small.ultrasound;
    EXPECT_EQ(j["ultrasound"]["frames"], 2);
    EXPECT_EQ(j["ultrasound"]["frame"], frame == 1 ? 1 : 0);
    EXPECT_EQ(j["protocol"]["name"], "rf-us");  // from the description
    EXPECT_NEAR(value(j, "acsa"), truth.acsa_mm2 / 100, 0.05 * truth.acsa_mm2 / 100) << frame;
    if (frame < 0) {
      EXPECT_NE(j["notes"].dump().find("frame 0 analysed"), std::string::npos);
    }
  }
}
