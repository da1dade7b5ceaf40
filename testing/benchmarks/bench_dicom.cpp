// scripts/bench dicom: `musclecsa convert` against `dcm2niix -z n` on the same 512x512x400
// uncompressed CT series, in one run; prints the median wall-time ratio and peak memory.
// scripts/bench ct: `musclecsa analyze` on that series against the same dcm2niix run.

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

fs::path g_work;                                  // benchmark folder (argument --work)
bool g_analyze = false;                           // --mode=ct: time analyze instead of convert
std::map<std::string, std::vector<ChildRun>> g_runs;

fs::path series_dir() { return g_work / "ct400/dicom/ct"; }

void ensure_series() {
  if (fs::exists(series_dir() / "IM_00400.dcm")) return;
  std::printf("generating the 512x512x400 CT phantom series in %s ...\n", (g_work / "ct400").c_str());
  const ChildRun r = run_child({MUSCLECSA_BINARY, "phantom", "--anatomy", "thigh", "--modality", "ct", "--slices", "400",
                                "--slice-spacing-mm", "1.2", "--quiet", "--out", (g_work / "ct400").string()});
  if (r.exit_code != 0) {
    std::fprintf(stderr, "phantom generation failed\n");
    std::exit(1);
  }
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

void BM_MuscleCsa(benchmark::State& state) {
  if (g_analyze) {
    record(state, "musclecsa", {MUSCLECSA_BINARY, "analyze", series_dir().string(), "--out", (g_work / "analysis").string(),
                                "--protocol", "thigh-ct", "--quiet"});
  } else {
    record(state, "musclecsa", {MUSCLECSA_BINARY, "convert", series_dir().string(), (g_work / "musclecsa.nii").string(), "--quiet"});
  }
}

void BM_Dcm2niix(benchmark::State& state) {
  const fs::path out = g_work / "dcm2niix";
  fs::create_directories(out);
  record(state, "dcm2niix", {DCM2NIIX_EXECUTABLE, "-z", "n", "-b", "n", "-f", "peer", "-o", out.string(), series_dir().string()});
}

}  // namespace

int main(int argc, char** argv) {
  g_work = fs::path(MUSCLECSA_BENCH_DIR);
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]).rfind("--work=", 0) == 0) g_work = std::string(argv[i]).substr(7);
    else if (std::string(argv[i]) == "--mode=ct") g_analyze = true;
  fs::create_directories(g_work);
  ensure_series();
  // Warm the page cache for both tools alike.
  run_child({DCM2NIIX_EXECUTABLE, "-z", "n", "-b", "n", "-f", "warm", "-o", g_work.string(), series_dir().string()});

  const std::string ours = g_analyze ? "musclecsa_analyze" : "musclecsa_convert";
  const int rounds = g_analyze ? 3 : 5;
  for (int round = 0; round < rounds; ++round) {  // interleave the two tools
    benchmark::RegisterBenchmark(("dcm2niix/" + std::to_string(round)).c_str(), BM_Dcm2niix)
        ->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((ours + "/" + std::to_string(round)).c_str(), BM_MuscleCsa)
        ->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
  }
  std::vector<char*> args(argv, argv + argc);  // Google Benchmark must not see our own flags
  args.erase(std::remove_if(args.begin() + 1, args.end(), [](char* a) {
               return std::string(a).rfind("--work=", 0) == 0 || std::string(a) == "--mode=ct";
             }), args.end());
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
  const double volume_mb = 512.0 * 512 * 400 * 4 / (1024 * 1024);
  std::printf("\nSUMMARY %s: 512x512x400 CT series, median of %zu runs each\n", g_analyze ? "ct" : "dicom",
              g_runs["musclecsa"].size());
  std::printf("  musclecsa %-8s: %.3f s, peak %.0f MB\n", g_analyze ? "analyze" : "convert", ours_s, ours_mb);
  std::printf("  dcm2niix -z n     : %.3f s, peak %.0f MB\n", peer, peer_mb);
  if (g_analyze) {
    std::printf("  time ratio analyze/dcm2niix = %.2f (target <= 2.00)\n", ours_s / peer);
    std::printf("  memory: %.0f MB = %.2f x float volume (%.0f MB); target <= 4 x = %.0f MB\n", ours_mb, ours_mb / volume_mb,
                volume_mb, 4 * volume_mb);
  } else {
    std::printf("  time ratio convert/dcm2niix = %.2f (target <= 1.00)\n", ours_s / peer);
    std::printf("  memory: %.0f MB = %.2f x float volume (%.0f MB); target <= 1.5 x + 100 MB = %.0f MB\n", ours_mb,
                ours_mb / volume_mb, volume_mb, 1.5 * volume_mb + 100);
  }
  return 0;
}
