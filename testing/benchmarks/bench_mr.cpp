// scripts/bench mr: `musclecsa analyze` on a 512x512x60 Dixon thigh phantom (its water and fat
// series, nothing else in the folder) against `dcm2niix -z n` converting the same two series, in
// one run, interleaved; prints the median wall-time ratio (target <= 3.0) and peak memory.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "bench_support.h"

namespace fs = std::filesystem;
using musclecsa::bench::ChildRun;
using musclecsa::bench::run_child;

namespace {

fs::path g_work;  // benchmark folder (argument --work)
std::map<std::string, std::vector<ChildRun>> g_runs;

fs::path series_dir() { return g_work / "dixon60/two-series"; }

void ensure_series() {
  if (fs::exists(series_dir() / "fat/IM_00060.dcm") && fs::exists(series_dir() / "water/IM_00060.dcm")) return;
  const fs::path phantom = g_work / "dixon60/phantom";
  std::printf("generating the 512x512x60 Dixon phantom in %s ...\n", phantom.c_str());
  const ChildRun r = run_child({MUSCLECSA_BINARY, "phantom", "--anatomy", "thigh", "--modality", "mr-dixon", "--columns", "512",
                                "--slices", "60", "--slice-spacing-mm", "8", "--quiet", "--out", phantom.string()});
  if (r.exit_code != 0) {
    std::fprintf(stderr, "phantom generation failed\n");
    std::exit(1);
  }
  fs::remove_all(series_dir());
  fs::create_directories(series_dir());
  for (const char* role : {"water", "fat"}) fs::copy(phantom / "dicom" / role, series_dir() / role, fs::copy_options::recursive);
}

void record(benchmark::State& state, const std::string& name, const std::vector<std::string>& argv) {
  for (auto _ : state) {
    const ChildRun r = run_child(argv);
    if (r.exit_code != 0) state.SkipWithError((name + " failed").c_str());
    state.SetIterationTime(r.seconds);
    state.counters["peak_rss_MB"] = r.peak_rss_mb;
    g_runs[name].push_back(r);
  }
}

void BM_MuscleCsaAnalyzeDixon(benchmark::State& state) {
  record(state, "musclecsa", {MUSCLECSA_BINARY, "analyze", series_dir().string(), "--out", (g_work / "dixon60/analysis").string(),
                              "--protocol", "thigh-mr", "--quiet"});
}

void BM_Dcm2niix(benchmark::State& state) {
  const fs::path out = g_work / "dixon60/dcm2niix";
  fs::create_directories(out);
  record(state, "dcm2niix", {DCM2NIIX_EXECUTABLE, "-z", "n", "-b", "n", "-f", "%s_%d", "-o", out.string(), series_dir().string()});
}

}  // namespace

int main(int argc, char** argv) {
  g_work = fs::path(MUSCLECSA_BENCH_DIR);
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]).rfind("--work=", 0) == 0) g_work = std::string(argv[i]).substr(7);
  fs::create_directories(g_work);
  ensure_series();
  // Warm the page cache for both tools alike.
  run_child({DCM2NIIX_EXECUTABLE, "-z", "n", "-b", "n", "-f", "warm_%s", "-o", (g_work / "dixon60").string(), series_dir().string()});
  for (int round = 0; round < 3; ++round) {  // interleave the two tools
    benchmark::RegisterBenchmark(("dcm2niix/" + std::to_string(round)).c_str(), BM_Dcm2niix)
        ->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("musclecsa_analyze_dixon/" + std::to_string(round)).c_str(), BM_MuscleCsaAnalyzeDixon)
        ->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
  }
  std::vector<char*> args(argv, argv + argc);  // Google Benchmark must not see our own flags
  args.erase(std::remove_if(args.begin() + 1, args.end(), [](char* a) { return std::string(a).rfind("--work=", 0) == 0; }),
             args.end());
  argc = int(args.size());
  argv = args.data();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  auto med = [](const std::vector<ChildRun>& runs, double ChildRun::*field) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(r.*field);
    return musclecsa::bench::median(v);
  };
  const double ours_s = med(g_runs["musclecsa"], &ChildRun::seconds);
  const double peer = med(g_runs["dcm2niix"], &ChildRun::seconds);
  const double ours_mb = med(g_runs["musclecsa"], &ChildRun::peak_rss_mb);
  const double peer_mb = med(g_runs["dcm2niix"], &ChildRun::peak_rss_mb);
  const double volume_mb = 512.0 * 512 * 60 * 4 / (1024 * 1024);
  std::printf("\nSUMMARY mr: 512x512x60 Dixon phantom (water + fat series), median of %zu runs each\n", g_runs["musclecsa"].size());
  std::printf("  musclecsa analyze : %.3f s, peak %.0f MB\n", ours_s, ours_mb);
  std::printf("  dcm2niix -z n     : %.3f s, peak %.0f MB\n", peer, peer_mb);
  std::printf("  time ratio analyze/dcm2niix = %.2f (target <= 3.00)\n", ours_s / peer);
  std::printf("  memory: %.0f MB = %.2f x one float series (%.0f MB)\n", ours_mb, ours_mb / volume_mb, volume_mb);
  return 0;
}
