// Test-retest repeatability (issue 20, `musclecsa retest`): the statistics against values worked
// out by hand, the reading of case folders (subjects, withheld values, bad folders), and the
// command on the real repeated ultrasound images of ../shared/data/us (their CV is reported).

#include <gtest/gtest.h>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <map>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "musclecsa/core/error.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/longitudinal/retest.h"
#include "test_support.h"

using namespace musclecsa;
using musclecsa::testing::quoted;
using musclecsa::testing::run_command;
using musclecsa::testing::TempDir;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// A scratch folder for made-up case folders: their results.json hold only what retest reads, so
/// they are not checked against the results schema as TempDir checks what analyze writes.
class Scratch {
 public:
  Scratch() : path_(fs::temp_directory_path() / ("musclecsa-retest-" + std::to_string(::getpid()) + "-" + std::to_string(count_++))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  const fs::path& path() const { return path_; }

 private:
  static inline int count_ = 0;
  fs::path path_;
};

longitudinal::CaseRecord case_of(const std::string& subject, double acsa, const std::string& hash = "h1") {
  longitudinal::CaseRecord c;
  c.dir = "case-" + subject + "-" + std::to_string(acsa);
  c.subject = subject;
  c.protocol_name = "rf-us";
  c.protocol_hash = hash;
  c.values.push_back({"acsa", "rectus_femoris", "right", "", "cm2", acsa});
  return c;
}

/// A results.json as analyze writes it, reduced to what retest reads.
void write_case(const fs::path& dir, const json& input, const json& measurements, const std::string& hash = "abc") {
  fs::create_directories(dir);
  const json doc = {{"format", "musclecsa-results"}, {"version", 1}, {"status", "ok"},
                    {"protocol", {{"name", "thigh-ct"}, {"hash", hash}}}, {"input", input}, {"measurements", measurements}};
  io::write_text_atomically(dir / "results.json", doc.dump(1));
}

json csa(double value) {
  return {{"quantity", "csa"}, {"structure", "quadriceps"}, {"side", "left"}, {"level", "femur_50pct"}, {"unit", "cm2"},
          {"value", value}};
}

}  // namespace

// Three subjects measured twice: means 11, 21, 31.5; within-subject sum of squares 2 + 2 + 4.5 over
// N - k = 3 degrees of freedom: MSW 2.8333, SD 1.6833; grand mean 21.1667, CV 7.9524%; MSB
// 420.333 / 2 = 210.167, n0 2: ICC (210.167 - 2.833) / (210.167 + 2.833) = 0.97340; LSC 2.77 SD.
TEST(Retest, StatisticsOfEqualRepeatsMatchTheHandWorkedValues) {
  const std::vector<longitudinal::CaseRecord> cases = {case_of("A", 10), case_of("A", 12), case_of("B", 20),
                                                       case_of("B", 22), case_of("C", 30), case_of("C", 33)};
  const auto measures = longitudinal::repeatability(cases);
  ASSERT_EQ(measures.size(), 1u);
  const auto& r = measures[0];
  EXPECT_EQ(r.subjects, 3u);
  EXPECT_EQ(r.measurements, 6u);
  EXPECT_NEAR(r.mean, 21.166667, 1e-5);
  EXPECT_NEAR(r.within_subject_sd, 1.683251, 1e-5);
  EXPECT_NEAR(r.cv_percent, 7.952366, 1e-5);
  ASSERT_TRUE(r.icc.has_value());
  EXPECT_NEAR(*r.icc, 0.973396, 1e-5);
  EXPECT_NEAR(r.lsc, 4.662605, 1e-5);
  EXPECT_NEAR(r.lsc_percent, 22.028054, 1e-4);
  EXPECT_EQ(r.unit, "cm2");
}

// Unequal repeats (3 and 2) use n0 = (N - sum n_i^2 / N) / (k - 1) = 2.4: ICC 0.925; a subject
// measured once counts for nothing; one subject alone has no ICC, said in a note.
TEST(Retest, UnequalRepeatsUseN0AndASingleSubjectHasNoIcc) {
  auto measures = longitudinal::repeatability(
      {case_of("A", 10), case_of("A", 12), case_of("A", 14), case_of("B", 20), case_of("B", 21), case_of("C", 99)});
  ASSERT_EQ(measures.size(), 1u);
  EXPECT_EQ(measures[0].subjects, 2u);
  EXPECT_EQ(measures[0].measurements, 5u);
  EXPECT_NEAR(measures[0].mean, 15.4, 1e-9);
  EXPECT_NEAR(measures[0].within_subject_sd, 1.683251, 1e-5);
  ASSERT_TRUE(measures[0].icc.has_value());
  EXPECT_NEAR(*measures[0].icc, 0.925, 1e-9);

  measures = longitudinal::repeatability({case_of("A", 10), case_of("A", 12)});
  ASSERT_EQ(measures.size(), 1u);
  EXPECT_FALSE(measures[0].icc.has_value());
  ASSERT_EQ(measures[0].notes.size(), 1u);
  EXPECT_NE(measures[0].notes[0].find("one subject"), std::string::npos);
  EXPECT_NEAR(measures[0].within_subject_sd, std::sqrt(2.0), 1e-12);

  EXPECT_TRUE(longitudinal::repeatability({case_of("A", 10), case_of("B", 12)}).empty());  // nobody measured twice
}

TEST(Retest, CasesOfDifferentProtocolsAreRefusedUnlessAllowed) {
  const std::vector<longitudinal::CaseRecord> cases = {case_of("A", 10), case_of("A", 12, "h2")};
  try {
    (void)longitudinal::repeatability(cases);
    FAIL() << "mixed protocols were accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("one protocol"), std::string::npos) << e.what();
  }
  EXPECT_EQ(longitudinal::repeatability(cases, true).size(), 1u);
}

// The subject comes from the pseudonym, else the Patient ID, else the caller; withheld values (null)
// are counted and left out; a folder without results.json or with another JSON is a named error.
TEST(Retest, CaseFoldersAreReadWithTheirSubjectAndWithoutWithheldValues) {
  Scratch dir;
  write_case(dir.path() / "p", {{"pseudonym", "P-7"}, {"patient_id", "123"}},
             json::array({csa(50.5), json{{"quantity", "csa"}, {"structure", "hamstrings"}, {"value", nullptr}, {"withheld_reason", "x"}}}));
  const auto p = longitudinal::read_case(dir.path() / "p");
  EXPECT_EQ(p.subject, "P-7");
  ASSERT_EQ(p.values.size(), 1u);
  EXPECT_EQ(p.values[0].value, 50.5);
  EXPECT_EQ(p.withheld, 1u);
  EXPECT_EQ(p.protocol_hash, "abc");
  write_case(dir.path() / "id", {{"patient_id", "123"}}, json::array({csa(1)}));
  EXPECT_EQ(longitudinal::read_case(dir.path() / "id").subject, "123");
  write_case(dir.path() / "none", json::object(), json::array({csa(1)}));
  EXPECT_EQ(longitudinal::read_case(dir.path() / "none", "given").subject, "given");
  try {
    (void)longitudinal::read_case(dir.path() / "none");
    FAIL() << "a case naming no subject was read";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_NE(std::string(e.what()).find("--subjects"), std::string::npos) << e.what();
  }
  try {
    (void)longitudinal::read_case(dir.path() / "missing");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InputNotFound);
  }
  fs::create_directories(dir.path() / "other");
  io::write_text_atomically(dir.path() / "other/results.json", "{\"measurements\": []}");
  try {
    (void)longitudinal::read_case(dir.path() / "other");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_NE(std::string(e.what()).find("not a MuscleCSA results.json"), std::string::npos) << e.what();
  }
}

// The command: subjects from the case folders, retest.json/csv written, mistakes named (exit codes
// of docs/exit-codes.md).
TEST(RetestCli, WritesRepeatabilityAndNamesMistakes) {
  Scratch dir;
  const double values[4] = {50, 52, 60, 61};
  for (int n = 0; n < 4; ++n)
    write_case(dir.path() / ("c" + std::to_string(n)), {{"pseudonym", n < 2 ? "A" : "B"}}, json::array({csa(values[n])}));
  const std::string bin = quoted(MUSCLECSA_BINARY);
  const std::string cases = quoted(dir.path() / "c0") + " " + quoted(dir.path() / "c1") + " " + quoted(dir.path() / "c2") +
                            " " + quoted(dir.path() / "c3");
  auto r = run_command(bin + " retest " + cases + " --out " + quoted(dir.path() / "out"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("csa quadriceps left @femur_50pct"), std::string::npos) << r.output;
  const json j = json::parse(io::read_text(dir.path() / "out/retest.json"));
  EXPECT_EQ(j["format"], "musclecsa-retest");
  ASSERT_EQ(j["measures"].size(), 1u);
  // Within: (1 + 1 + 0.25 + 0.25) / 2 = 1.25; mean 55.75.
  EXPECT_NEAR(j["measures"][0]["within_subject_sd"].get<double>(), std::sqrt(1.25), 1e-9);
  EXPECT_NEAR(j["measures"][0]["mean"].get<double>(), 55.75, 1e-9);
  EXPECT_EQ(j["cases"].size(), 4u);
  const std::string csv = io::read_text(dir.path() / "out/retest.csv");
  EXPECT_EQ(csv.rfind("quantity,structure,side,level,unit,subjects,measurements,mean,within_subject_sd,cv_percent,icc,lsc", 0), 0u);
  EXPECT_NE(csv.find("\ncsa,quadriceps,left,femur_50pct,cm2,2,4,55.75,"), std::string::npos) << csv;

  // --subjects overrides; a case missing from it, and --subject with --subjects, are refused.
  std::ofstream(dir.path() / "subjects.csv") << "folder,subject\n" << (dir.path() / "c0").string() << ",X\n"
                                              << (dir.path() / "c1").string() << ",X\n";
  r = run_command(bin + " retest " + cases + " --subjects " + quoted(dir.path() / "subjects.csv") + " --out " + quoted(dir.path() / "o2"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("is not in --subjects"), std::string::npos) << r.output;
  r = run_command(bin + " retest " + cases + " --subject S --subjects " + quoted(dir.path() / "subjects.csv") + " --out " +
                  quoted(dir.path() / "o3"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  // Nobody measured twice.
  r = run_command(bin + " retest " + quoted(dir.path() / "c0") + " " + quoted(dir.path() / "c2") + " --out " + quoted(dir.path() / "o4"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("no measure was made twice"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.path() / "o4/retest.json"));
}

// The real repeated images: vl-panoramic holds 2 panoramic VL images of SUB01 and 4 of SUB02
// (pixel sizes in its pixel_size.csv). Their test-retest figures are reported ([figure] lines,
// docs/longitudinal.md) and bounded by what a working analysis gives on them (measured: ACSA CV
// 13.5%, thickness CV 2.9%): the images are repeats of the same people, not necessarily of the
// same probe site, so the ACSA CV is wide.
TEST(RetestCli, RealRepeatedUltrasoundImagesGiveTheirTestRetestCv) {
  const fs::path images = fs::path(SHARED_DATA_DIR) / "us/vl-panoramic";
  std::istringstream lines(io::read_text(images / "pixel_size.csv"));
  TempDir dir;
  std::string line, cases, subjects = "folder,subject\n";
  std::getline(lines, line);  // header
  int count = 0;
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string item; std::getline(fields, item, ',');) f.push_back(item);
    if (f.size() < 5) continue;
    char size[32];
    std::snprintf(size, sizeof size, "%.6f", std::stod(f[2]) * 10);  // cm -> mm
    const fs::path out = dir.path() / f[1];
    const auto r = run_command(quoted(MUSCLECSA_BINARY) + " analyze " + quoted(images / f[0] / (f[1] + ".tif")) +
                               " --protocol vl-us --pixel-size-mm " + size + " --quiet --out " + quoted(out));
    ASSERT_EQ(r.exit_code, 0) << f[1] << "\n" << r.output;
    cases += " " + quoted(out);
    subjects += out.string() + "," + f[0] + "\n";
    ++count;
  }
  ASSERT_EQ(count, 6);
  std::ofstream(dir.path() / "subjects.csv") << subjects;
  const auto r = run_command(quoted(MUSCLECSA_BINARY) + " retest" + cases + " --subjects " + quoted(dir.path() / "subjects.csv") +
                             " --quiet --out " + quoted(dir.path() / "retest"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json j = json::parse(io::read_text(dir.path() / "retest/retest.json"));
  std::map<std::string, json> by_quantity;
  for (const auto& m : j["measures"]) by_quantity[m["quantity"].get<std::string>()] = m;
  for (const char* q : {"acsa", "muscle_thickness", "echo_intensity"}) {
    ASSERT_TRUE(by_quantity.count(q)) << q;
    const json& m = by_quantity[q];
    EXPECT_EQ(m["subjects"], 2) << q;
    EXPECT_EQ(m["measurements"], 6) << q;
    std::printf("[figure] real VL panoramic test-retest %s: mean %.3f %s, within-subject SD %.3f, CV %.1f%%, ICC %s, LSC %.3f (%.1f%%)\n",
                q, m["mean"].get<double>(), m["unit"].get<std::string>().c_str(), m["within_subject_sd"].get<double>(),
                m["cv_percent"].get<double>(), m["icc"].dump().c_str(), m["lsc"].get<double>(), m["lsc_percent"].get<double>());
  }
  EXPECT_GT(by_quantity["acsa"]["cv_percent"].get<double>(), 5.0);
  EXPECT_LT(by_quantity["acsa"]["cv_percent"].get<double>(), 20.0);
  EXPECT_GT(by_quantity["muscle_thickness"]["cv_percent"].get<double>(), 0.5);
  EXPECT_LT(by_quantity["muscle_thickness"]["cv_percent"].get<double>(), 6.0);
}
