// The analysed phantoms the render and viewer tests share: a small thigh CT (256 x 256 x 25, 1.6 mm
// pixels, 20 mm slices) as DICOM and as NIfTI, each analysed, and an ultrasound phantom with its
// truth labels. Made once per build of the musclecsa binary and kept in the build folder
// (testing-cache/viewer-case-<binary time>), since ctest runs each test in its own process; the
// tests only read it (they copy what they change). Made in a private folder and renamed into
// place, so tests starting together never see half of it.

#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "musclecsa/io/text_file.h"
#include "test_support.h"

using musclecsa::testing::quoted;
using musclecsa::testing::run_command;
using musclecsa::testing::TempDir;

struct ViewerCase {
  std::filesystem::path root;
  std::filesystem::path dicom, dicom_results;
  std::filesystem::path nifti, nifti_results;
  std::filesystem::path us_dicom, us_labels;
  std::filesystem::path us_results;
  int level_slice = -1;
};

namespace {

void make_case(const ViewerCase& c) {
  const std::string binary = MUSCLECSA_BINARY;
  auto run = [](const std::string& command) {
    const auto r = run_command(command);
    if (r.exit_code != 0) throw std::runtime_error(command + " failed: " + r.output);
  };
  run(binary + " phantom --anatomy thigh --modality ct --slices 25 --slice-spacing-mm 20 --columns 256 --rows 256 "
               "--pixel-spacing-mm 1.6 --seed 3 --quiet --out " + quoted(c.root / "ph"));
  run(binary + " analyze " + quoted(c.dicom) + " --quiet --out " + quoted(c.dicom_results));
  run(binary + " convert " + quoted(c.dicom) + " " + quoted(c.nifti) + " --quiet");
  run(binary + " analyze " + quoted(c.nifti) + " --modality ct --quiet --out " + quoted(c.nifti_results));
  run(binary + " phantom --anatomy thigh --modality us --quiet --out " + quoted(c.root / "us"));
  run(binary + " analyze " + quoted(c.us_dicom) + " --quiet --out " + quoted(c.us_results));
  musclecsa::io::write_text_atomically(c.root / "complete", "made by test_viewer_case.cpp\n");
}

ViewerCase paths_in(const std::filesystem::path& root) {
  ViewerCase c;
  c.root = root;
  c.dicom = root / "ph/dicom/ct";
  c.dicom_results = root / "an";
  c.nifti = root / "ct.nii.gz";
  c.nifti_results = root / "an-nifti";
  c.us_dicom = root / "us/dicom/us";
  c.us_labels = root / "us/truth";
  c.us_results = root / "us-an";
  return c;
}

}  // namespace

const ViewerCase& viewer_case() {
  namespace fs = std::filesystem;
  static std::optional<ViewerCase> cached;
  if (cached) return *cached;
  const fs::path binary = MUSCLECSA_BINARY;
  const auto stamp = fs::last_write_time(binary).time_since_epoch().count();
  const fs::path cache = binary.parent_path().parent_path() / "testing-cache";
  const fs::path root = cache / ("viewer-case-v2-" + std::to_string(stamp));
  if (!fs::exists(root / "complete")) {
    fs::create_directories(cache);
    std::error_code ec;
    for (const auto& old : fs::directory_iterator(cache, ec))  // cases of earlier builds
      if (old.path() != root && old.path().filename().string().rfind("viewer-case-", 0) == 0) fs::remove_all(old.path(), ec);
    const fs::path building = cache / ("building-" + std::to_string(::getpid()));
    fs::remove_all(building, ec);
    const ViewerCase fresh = paths_in(building);
    make_case(fresh);
    fs::rename(building, root, ec);
    if (ec) fs::remove_all(building, ec);  // another test made it first
    if (!fs::exists(root / "complete")) throw std::runtime_error(root.string() + ": the shared test case was not made");
  }
  ViewerCase c = paths_in(root);
  const auto results = nlohmann::json::parse(musclecsa::io::read_text(c.dicom_results / "results.json"));
  c.level_slice = results["levels"][0]["slice"];
  cached = c;
  return *cached;
}
