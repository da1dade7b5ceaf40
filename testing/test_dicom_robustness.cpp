// The DICOM reader against a corpus of malformed and awkward inputs (testing/tools/make_dicom_corpus):
// every bad input is reported with its path and a message naming the problem, the good series
// next to them still loads with the right voxels, and `musclecsa info` survives the whole corpus.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "musclecsa/core/progress.h"
#include "musclecsa/dicom/file_info.h"
#include "musclecsa/dicom/series.h"
#include "musclecsa/phantom/phantom.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace musclecsa;
using musclecsa::testing::quoted;
using musclecsa::testing::run_command;
using musclecsa::testing::TempDir;

namespace {

struct ManifestEntry {
  std::string path;    ///< relative to the corpus folder
  std::string kind;
  std::string expect;  ///< lowercase keyword the reader's message must contain
  std::string level;   ///< "file" or "series"
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// True when `p` is the corpus entry `rel` (equal, or ending with "/rel").
bool is_entry(const fs::path& p, const std::string& rel) {
  std::string g = p.lexically_normal().generic_string();
  while (g.size() > 1 && g.back() == '/') g.pop_back();  // a folder may be named with a trailing slash
  return g == rel || (g.size() > rel.size() && g.ends_with("/" + rel));
}

/// True when `p` is the entry `rel` or lies inside the folder `rel`.
bool in_entry(const fs::path& p, const std::string& rel) {
  const std::string g = p.lexically_normal().generic_string();
  return is_entry(p, rel) || g.starts_with(rel + "/") || g.find("/" + rel + "/") != std::string::npos;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Everything assembly says about a series, lowercased: unusable reason, QC flags and notes.
std::string series_text(const dicom::Series& s) {
  std::string text = s.unusable_reason;
  for (const auto& f : s.qc_flags) text += " | " + f;
  for (const auto& n : s.notes) text += " | " + n;
  return lower(text);
}

std::string describe_problems(const dicom::ScanResult& result, const std::string& rel) {
  std::string out;
  for (const auto& p : result.problems)
    if (is_entry(p.path, rel)) out += "\n    reported: \"" + p.problem + "\"";
  return out.empty() ? "\n    no problem reported for this path" : out;
}

bool has_problem(const dicom::ScanResult& result, const std::string& rel, const std::string& keyword) {
  return std::any_of(result.problems.begin(), result.problems.end(), [&](const dicom::ScanProblem& p) {
    return is_entry(p.path, rel) && lower(p.problem).find(keyword) != std::string::npos;
  });
}

/// The same parameters make_dicom_corpus gives the good series (good/dicom/ct/).
phantom::PhantomParams good_phantom_params() {
  phantom::PhantomParams p;
  p.anatomy = phantom::Anatomy::Thigh;
  p.modality = phantom::PhantomModality::CT;
  p.columns = 80;
  p.pixel_spacing_mm = 5;
  p.slices = 4;
  p.slice_spacing_mm = 10;
  p.seed = 1;
  return p;
}

const std::string kGoodSeries = "good/dicom/ct";

}  // namespace

/// One corpus per test program run, written by the generator binary.
class DicomRobustness : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    corpus_ = std::make_unique<TempDir>();
    generate_ = run_command(quoted(MAKE_DICOM_CORPUS) + " " + quoted(corpus_->path()));
  }
  static void TearDownTestSuite() { corpus_.reset(); }

  void SetUp() override {
    ASSERT_EQ(generate_.exit_code, 0) << "make_dicom_corpus failed:\n" << generate_.output;
    ASSERT_TRUE(generate_.output.empty()) << "make_dicom_corpus should print nothing:\n" << generate_.output;
    const auto text = read_text(corpus() / "manifest.json");
    const auto json = nlohmann::json::parse(text);
    ASSERT_TRUE(json.is_array());
    for (const auto& e : json)
      manifest_.push_back({e.at("path").get<std::string>(), e.at("kind").get<std::string>(),
                           e.at("expect").get<std::string>(), e.at("level").get<std::string>()});
  }

  static const fs::path& corpus() { return corpus_->path(); }

  static inline std::unique_ptr<TempDir> corpus_;
  static inline musclecsa::testing::CommandResult generate_;
  std::vector<ManifestEntry> manifest_;
};

TEST_F(DicomRobustness, MalformedCorpusEveryBadInputIsReportedWithItsPathAndProblem) {
  // The corpus itself: enough cases, well-formed entries, and each bad input really on disk.
  ASSERT_GE(manifest_.size(), 32u);
  for (const auto& e : manifest_) {
    SCOPED_TRACE(e.kind + " (" + e.path + ")");
    EXPECT_TRUE(e.level == "file" || e.level == "series") << e.level;
    EXPECT_FALSE(e.expect.empty());
    EXPECT_EQ(e.expect, lower(e.expect));
    const bool on_disk = fs::exists(fs::symlink_status(corpus() / e.path));
    if (e.kind == "dicomdir_missing_reference") EXPECT_FALSE(on_disk) << "the referenced file must be missing";
    else EXPECT_TRUE(on_disk);
  }

  NullProgress progress;
  const dicom::ScanResult result = dicom::scan_paths({corpus()}, progress);
  const std::vector<dicom::Series> series = dicom::assemble_series(result.files);

  std::size_t non_dicom_expected = 0;
  for (const auto& e : manifest_) {
    SCOPED_TRACE(e.kind + " (" + e.path + "), expected \"" + e.expect + "\" at " + e.level + " level");
    const bool accepted = std::any_of(result.files.begin(), result.files.end(),
                                      [&](const dicom::DicomFileInfo& f) { return is_entry(f.path, e.path); });
    if (e.level == "file") {
      // A refused input is not also among the usable files.
      EXPECT_FALSE(accepted) << "accepted as a usable DICOM image" << describe_problems(result, e.path);
      if (e.expect == "not dicom") {
        if (has_problem(result, e.path, e.expect)) continue;
        ++non_dicom_expected;
        // On its own, the file must be skipped as non-DICOM (or reported as not DICOM).
        const dicom::ScanResult alone = dicom::scan_paths({corpus() / e.path}, progress);
        EXPECT_TRUE((alone.non_dicom_files == 1 && alone.files.empty()) || has_problem(alone, e.path, e.expect))
            << "scanned alone: " << alone.non_dicom_files << " non-DICOM, " << alone.files.size() << " usable"
            << describe_problems(alone, e.path);
      } else {
        EXPECT_TRUE(has_problem(result, e.path, e.expect)) << describe_problems(result, e.path);
      }
    } else {
      ASSERT_EQ(e.level, "series");
      std::size_t readable = 0;
      for (const auto& f : result.files) readable += in_entry(f.path, e.path) ? 1 : 0;
      EXPECT_GT(readable, 0u) << "no readable file from this series case" << describe_problems(result, e.path);
      std::string seen;
      bool found = false;
      for (const auto& s : series) {
        const bool mine = std::any_of(s.slices.begin(), s.slices.end(), [&](const dicom::SliceRef& r) {
          return r.file_index < result.files.size() && in_entry(result.files[r.file_index].path, e.path);
        });
        if (!mine) continue;
        const std::string text = series_text(s);
        seen += "\n    series " + s.id + ": " + (text.empty() ? "(no reason, flags or notes)" : text);
        found = found || text.find(e.expect) != std::string::npos;
      }
      EXPECT_TRUE(found) << "no series from this case says \"" << e.expect << "\""
                         << (seen.empty() ? "\n    no series holds a slice of it" : seen);
    }
  }
  EXPECT_GE(result.non_dicom_files, non_dicom_expected)
      << "non-DICOM files in the corpus must be counted as such (or reported as not DICOM)";
}

TEST_F(DicomRobustness, GoodSeriesBesideBadOnesStillLoads) {
  NullProgress progress;
  const dicom::ScanResult result = dicom::scan_paths({corpus()}, progress);
  for (const auto& p : result.problems)
    EXPECT_FALSE(in_entry(p.path, kGoodSeries)) << "good file reported: " << p.path << ": " << p.problem;
  const auto good_files = std::count_if(result.files.begin(), result.files.end(),
                                        [](const dicom::DicomFileInfo& f) { return in_entry(f.path, kGoodSeries); });
  ASSERT_EQ(good_files, 4);

  const std::vector<dicom::Series> all = dicom::assemble_series(result.files);
  std::vector<const dicom::Series*> good;
  for (const auto& s : all)
    if (std::any_of(s.slices.begin(), s.slices.end(),
                    [&](const dicom::SliceRef& r) { return in_entry(result.files.at(r.file_index).path, kGoodSeries); }))
      good.push_back(&s);
  ASSERT_EQ(good.size(), 1u) << "the good slices must form exactly one series";
  const dicom::Series& s = *good.front();
  EXPECT_TRUE(s.usable) << s.unusable_reason;
  ASSERT_EQ(s.slices.size(), 4u);
  for (const auto& r : s.slices)
    EXPECT_TRUE(in_entry(result.files.at(r.file_index).path, kGoodSeries))
        << "a file from elsewhere joined the good series: " << result.files.at(r.file_index).path;
  EXPECT_FALSE(s.needs_resampling);

  const ScalarVolume volume = dicom::load_series(s, result.files, progress);
  const phantom::Phantom ph = phantom::make_phantom(good_phantom_params(), progress);
  const auto ct = std::find_if(ph.series.begin(), ph.series.end(), [](const auto& x) { return x.role == "ct"; });
  ASSERT_NE(ct, ph.series.end());
  const ScalarVolume& expected = ct->image;

  ASSERT_EQ(volume.geometry.size, expected.geometry.size);
  EXPECT_TRUE(volume.geometry.same_grid_as(expected.geometry))
      << "loaded spacing " << volume.geometry.spacing_mm[0] << " x " << volume.geometry.spacing_mm[1] << " x "
      << volume.geometry.spacing_mm[2] << ", origin (" << volume.geometry.origin_lps_mm.x << ", "
      << volume.geometry.origin_lps_mm.y << ", " << volume.geometry.origin_lps_mm.z << ")";
  ASSERT_EQ(volume.voxels.size(), expected.voxels.size());
  double max_diff = 0;
  std::size_t worst = 0;
  for (std::size_t n = 0; n < volume.voxels.size(); ++n) {
    const double d = std::abs(double(volume.voxels[n]) - double(expected.voxels[n]));
    if (d > max_diff) {
      max_diff = d;
      worst = n;
    }
  }
  // Stored values are the phantom's HU rounded to integers (slope 1, intercept -1024).
  EXPECT_LE(max_diff, 0.5 + 1e-3) << "voxel " << worst << ": loaded " << volume.voxels[worst] << " HU, phantom "
                                  << expected.voxels[worst] << " HU";
}

TEST_F(DicomRobustness, InfoCommandSurvivesTheCorpus) {
  // JSON goes to stdout, warnings to stderr: keep them apart (the subshell keeps run_command's
  // 2>&1 from sending stderr into the JSON file).
  TempDir out;
  const fs::path json_path = out / "info.json", err_path = out / "stderr.txt";
  const auto run = run_command("( " + quoted(MUSCLECSA_BINARY) + " info " + quoted(corpus()) + " --json >" +
                               quoted(json_path) + " 2>" + quoted(err_path) + " )");
  const std::string json_text = read_text(json_path), err_text = read_text(err_path);
  ASSERT_EQ(run.exit_code, 0) << "stderr:\n"
                              << err_text.substr(0, 4000) << "\nstdout:\n"
                              << json_text.substr(0, 2000) << run.output;
  nlohmann::json json;
  ASSERT_NO_THROW(json = nlohmann::json::parse(json_text)) << "stdout is not JSON:\n" << json_text.substr(0, 2000);
  EXPECT_FALSE(json.is_null() || json.empty()) << json_text.substr(0, 2000);

  // The good series is listed: its Series Instance UID appears in the output.
  const dicom::DicomFileInfo good = dicom::read_file_info(corpus() / kGoodSeries / "IM_00001.dcm");
  ASSERT_FALSE(good.series_instance_uid.empty());
  EXPECT_NE(json.dump().find(good.series_instance_uid), std::string::npos)
      << "info does not mention the good series " << good.series_instance_uid << ":\n"
      << json.dump(2).substr(0, 3000);
}

// The palette checks refuse only what GDCM would abort on (issue 21): the corpus's good palette
// images, an 8-bit one with a 256-entry palette and a 16-bit one with a segmented palette of
// discrete, linear and indirect segments, still scan cleanly and decode to the luminance of their
// palette colours (PS3.3 C.7.9.2 expansion of the segments).
TEST_F(DicomRobustness, PaletteImagesGdcmCanReadStillDecode) {
  NullProgress progress;
  const dicom::ScanResult result = dicom::scan_paths({corpus() / "palette"}, progress);
  for (const auto& p : result.problems) ADD_FAILURE() << p.path << ": " << p.problem;
  ASSERT_EQ(result.files.size(), 2u);
  const auto lum = [](double r, double g, double b) { return 0.299 * r + 0.587 * g + 0.114 * b; };
  for (const auto& s : dicom::assemble_series(result.files)) {
    ASSERT_TRUE(s.usable) << s.unusable_reason;
    ASSERT_EQ(s.slices.size(), 1u);
    const dicom::DicomFileInfo& f = result.files.at(s.slices[0].file_index);
    const ScalarVolume v = dicom::load_series(s, result.files, progress);
    ASSERT_EQ(v.voxels.size(), 48u * 64u) << f.path;
    if (f.bits_allocated == 8) {
      // Pixel n holds (7 n) mod 256 = p; red p, green 255 - p, blue p / 2 (16-bit entries p x 257).
      for (std::size_t n : {0u, 1u, 37u, 3000u}) {
        const double p = double((n * 7) % 256);
        EXPECT_NEAR(v.voxels[n], lum(p, 255 - p, std::floor(p / 2)), 0.01) << f.path << " pixel " << n;
      }
    } else {
      // Pixel 0 holds 0: red 0 (discrete), green 65535 (discrete), blue 100 (discrete). Pixel 1
      // holds 2099: red 2098 (first linear ramp), green 65535 - 2098, blue 200 + 2097 x 39800 / 65534
      // rounded (the ramp after the two discrete values); 16-bit entries scaled to 0-255.
      const double scale = 255.0 / 65535.0;
      EXPECT_NEAR(v.voxels[0], lum(0, 65535, 100) * scale, 0.01) << f.path;
      EXPECT_NEAR(v.voxels[1], lum(2098, 65535 - 2098, std::floor(200 + 2097.0 / 65534 * 39800 + 0.5)) * scale, 0.01)
          << f.path;
    }
  }
}

// Issue 21: `musclecsa analyze` and `convert` died with SIGABRT inside GDCM on palette images whose
// descriptors disagree with their data. Every palette case of the corpus (and the icon and
// ultrasound region cases GDCM also reads, and the JPEG 2000 fragments GDCM's codec would read
// past the end of) is now a named error, exit code 4, and nothing else.
TEST_F(DicomRobustness, ConvertAndAnalyzeNameEveryFileGdcmWouldBreakOnAndExitWithCode4) {
  TempDir out;
  int cases = 0;
  for (const auto& e : manifest_) {
    if (!(e.kind.starts_with("palette_") || e.kind.starts_with("segmented_palette_") || e.kind.starts_with("icon_") ||
          e.kind.starts_with("ultrasound_region_") || e.kind.starts_with("jpeg2000_")))
      continue;
    ++cases;
    SCOPED_TRACE(e.kind);
    const fs::path file = corpus() / e.path;
    for (const std::string& command : {"convert " + quoted(file) + " " + quoted(out / "x.nii.gz"),
                                      "analyze " + quoted(file) + " --protocol vl-us --out " + quoted(out / "a")}) {
      const auto r = run_command(quoted(MUSCLECSA_BINARY) + " " + command);
      EXPECT_EQ(r.exit_code, 4) << command << "\n" << r.output;  // -1: killed by a signal
      EXPECT_NE(r.output.find(file.string()), std::string::npos) << r.output;
      EXPECT_NE(lower(r.output).find(e.expect), std::string::npos) << r.output;
    }
  }
  EXPECT_GE(cases, 25);
}
