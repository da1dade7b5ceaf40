// The analysed phantoms the render and viewer tests share, made once per test process: a small
// thigh CT (256 x 256 x 25, 1.6 mm pixels, 20 mm slices) as DICOM and as NIfTI, each analysed, and
// an ultrasound phantom with its truth labels.

#include <gtest/gtest.h>

#include <memory>

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
  int level_slice = -1;
};

const ViewerCase& viewer_case() {
  static std::unique_ptr<TempDir> dir;
  static ViewerCase c;
  if (dir) return c;
  dir = std::make_unique<TempDir>();
  const std::string binary = MUSCLECSA_BINARY;
  c.root = dir->path();
  auto run = [](const std::string& command) {
    const auto r = run_command(command);
    if (r.exit_code != 0) throw std::runtime_error(command + " failed: " + r.output);
  };
  run(binary + " phantom --anatomy thigh --modality ct --slices 25 --slice-spacing-mm 20 --columns 256 --rows 256 "
               "--pixel-spacing-mm 1.6 --seed 3 --quiet --out " + quoted(c.root / "ph"));
  c.dicom = c.root / "ph/dicom/ct";
  c.dicom_results = c.root / "an";
  run(binary + " analyze " + quoted(c.dicom) + " --quiet --out " + quoted(c.dicom_results));
  c.nifti = c.root / "ct.nii.gz";
  run(binary + " convert " + quoted(c.dicom) + " " + quoted(c.nifti) + " --quiet");
  c.nifti_results = c.root / "an-nifti";
  run(binary + " analyze " + quoted(c.nifti) + " --modality ct --quiet --out " + quoted(c.nifti_results));
  run(binary + " phantom --anatomy thigh --modality us --quiet --out " + quoted(c.root / "us"));
  c.us_dicom = c.root / "us/dicom/us";
  c.us_labels = c.root / "us/truth";
  const auto results = nlohmann::json::parse(musclecsa::io::read_text(c.dicom_results / "results.json"));
  c.level_slice = results["levels"][0]["slice"];
  return c;
}
