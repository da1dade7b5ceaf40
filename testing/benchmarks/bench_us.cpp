// scripts/bench us: the ultrasound analysis of one 1456x819 panoramic B-mode picture (read, coloured
// overlays, field of view, automatic segmentation, measurements, plausibility check; no files
// written), and the plausibility check alone, against OpenCV
// reading and blurring the same picture in the same run. One thread (OpenCV's pool off). Median of
// 7 runs each; target: under 0.5 s.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "musclecsa/io/image_io.h"
#include "musclecsa/ultrasound/us_analysis.h"

namespace fs = std::filesystem;
namespace us = musclecsa::ultrasound;

namespace {

fs::path g_picture = fs::path(SHARED_DATA_DIR) / "us/vl-panoramic/SUB01/SUB01_img1.tif";
constexpr double kPixelSizeMm = 0.115262688663478;  // pixel_size.csv: 0.0115262688663478 cm

void BM_MuscleCsaUltrasoundAnalysis(benchmark::State& state) {
  for (auto _ : state) {
    const musclecsa::io::BitmapImage bitmap = musclecsa::io::read_bitmap(g_picture, kPixelSizeMm);
    us::GreyImage image;
    image.width = int(bitmap.image.geometry.size[0]);
    image.height = int(bitmap.image.geometry.size[1]);
    image.grey = bitmap.image.voxels;
    image.pixel_width_mm = image.pixel_height_mm = kPixelSizeMm;
    image.calibrated = true;
    const us::Mask overlay = us::coloured_pixels(g_picture);
    const us::FieldOfView fov = us::detect_field_of_view(image, overlay.on.empty() ? nullptr : &overlay);
    const us::UsProtocol protocol = us::builtin_us_protocol("vl-us");
    const us::UsSegmentation seg = us::segment_automatic(image, fov, protocol);
    const us::UsMeasures m = us::measure(image, fov, seg, protocol);
    const us::UsPlausibility check = us::check_plausibility(image, fov, seg, m, protocol);
    benchmark::DoNotOptimize(m.acsa_mm2);
    state.counters["acsa_cm2"] = m.acsa_mm2 / 100;
    state.counters["plausible"] = check.passed ? 1 : 0;
  }
}

void BM_MuscleCsaUltrasoundPlausibility(benchmark::State& state) {
  const musclecsa::io::BitmapImage bitmap = musclecsa::io::read_bitmap(g_picture, kPixelSizeMm);
  us::GreyImage image;
  image.width = int(bitmap.image.geometry.size[0]);
  image.height = int(bitmap.image.geometry.size[1]);
  image.grey = bitmap.image.voxels;
  image.pixel_width_mm = image.pixel_height_mm = kPixelSizeMm;
  image.calibrated = true;
  const us::FieldOfView fov = us::detect_field_of_view(image);
  const us::UsProtocol protocol = us::builtin_us_protocol("vl-us");
  const us::UsSegmentation seg = us::segment_automatic(image, fov, protocol);
  const us::UsMeasures m = us::measure(image, fov, seg, protocol);
  for (auto _ : state) {
    const us::UsPlausibility check = us::check_plausibility(image, fov, seg, m, protocol);
    benchmark::DoNotOptimize(check.passed);
  }
}

void BM_OpenCvReadAndBlur(benchmark::State& state) {
  for (auto _ : state) {
    cv::Mat picture = cv::imread(g_picture.string(), cv::IMREAD_COLOR);
    cv::Mat blurred;
    cv::GaussianBlur(picture, blurred, cv::Size(0, 0), 2.0);
    benchmark::DoNotOptimize(blurred.data);
  }
}

}  // namespace

int main(int argc, char** argv) {
  cv::setNumThreads(0);  // one core: no OpenCV worker threads
  if (!fs::exists(g_picture)) {
    std::fprintf(stderr, "bench_us: %s is missing (../shared/data/us, see its README)\n", g_picture.c_str());
    return 1;
  }
  benchmark::RegisterBenchmark("opencv_read_blur", BM_OpenCvReadAndBlur)
      ->Unit(benchmark::kMillisecond)->Repetitions(7)->Iterations(1)->ReportAggregatesOnly(true);
  benchmark::RegisterBenchmark("musclecsa_us_analysis", BM_MuscleCsaUltrasoundAnalysis)
      ->Unit(benchmark::kMillisecond)->Repetitions(7)->Iterations(1)->ReportAggregatesOnly(true);
  benchmark::RegisterBenchmark("musclecsa_us_plausibility_check", BM_MuscleCsaUltrasoundPlausibility)
      ->Unit(benchmark::kMillisecond)->Repetitions(7)->Iterations(1)->ReportAggregatesOnly(true);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
