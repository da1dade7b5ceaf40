// scripts/bench batch: `musclecsa batch` over 20 phantom CT cases with -j1 and -j2 in the same run
// (throughput ratio, target >= 1.7), and the per-case overhead of process isolation: the batch's
// time per case against the same cases analysed directly (`musclecsa analyze`, one after the
// other) minus the start-up of a musclecsa process (what an in-process analysis would not pay),
// target <= 5%.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "bench_support.h"
#include "musclecsa/core/parallel.h"

namespace fs = std::filesystem;
using musclecsa::bench::ChildRun;
using musclecsa::bench::run_child;

namespace {

constexpr int kCases = 20;
fs::path g_work;                                  // benchmark folder (argument --work)
int g_slices = 100;                               // slices per case (--slices=N), 512x512 pixels
std::map<std::string, std::vector<double>> g_seconds;

fs::path archive() { return g_work / ("batch" + std::to_string(kCases) + "x" + std::to_string(g_slices)) / "archive"; }
fs::path case_dir(int i) { return archive() / ("ct" + std::to_string(i)); }

void ensure_cases() {
  for (int i = 0; i < kCases; ++i) {
    if (fs::exists(case_dir(i))) continue;
    std::printf("generating phantom CT case %d/%d (512x512x%d) in %s ...\n", i + 1, kCases, g_slices, archive().c_str());
    const fs::path staging = archive().parent_path() / "staging";
    const ChildRun r = run_child({MUSCLECSA_BINARY, "phantom", "--anatomy", "thigh", "--modality", "ct", "--slices",
                                  std::to_string(g_slices), "--slice-spacing-mm", std::to_string(400.0 / g_slices), "--seed",
                                  std::to_string(100 + i), "--quiet", "--out", staging.string()});
    if (r.exit_code != 0) {
      std::fprintf(stderr, "bench_batch: phantom generation failed\n");
      std::exit(1);
    }
    fs::create_directories(archive());
    fs::rename(staging / "dicom" / "ct", case_dir(i));
    fs::remove_all(staging);
  }
}

void record(benchmark::State& state, const std::string& name, double seconds, bool ok) {
  if (!ok) state.SkipWithError((name + " failed").c_str());
  state.SetIterationTime(seconds);
  state.counters["s_per_case"] = seconds / kCases;
  g_seconds[name].push_back(seconds);
}

/// `batch -j jobs`; threads_per_case 0 keeps the batch's default (the CPUs divided by -j).
void batch_with(benchmark::State& state, int jobs, int threads_per_case) {
  const std::string name = "batch_j" + std::to_string(jobs) + (threads_per_case > 0 ? "_t" + std::to_string(threads_per_case) : "");
  for (auto _ : state) {
    const fs::path out = g_work / name;
    fs::remove_all(out);
    std::vector<std::string> argv = {MUSCLECSA_BINARY, "batch", archive().string(), "--out", out.string(), "-j",
                                     std::to_string(jobs), "--protocol", "thigh-ct", "--quiet"};
    if (threads_per_case > 0) argv.insert(argv.end(), {"--threads-per-case", std::to_string(threads_per_case)});
    const ChildRun r = run_child(argv);
    record(state, name, r.seconds, r.exit_code == 0);
  }
}

void BM_BatchJ1(benchmark::State& state) { batch_with(state, 1, 0); }
void BM_BatchJ2(benchmark::State& state) { batch_with(state, 2, 0); }
// One thread per case: how the batch itself scales with parallel cases (process isolation, I/O,
// the database), without the analysis' own threads competing.
void BM_BatchJ1OneThread(benchmark::State& state) { batch_with(state, 1, 1); }
void BM_BatchJ2OneThread(benchmark::State& state) { batch_with(state, 2, 1); }

/// The same cases analysed one after the other by `musclecsa analyze`, no batch around it.
void BM_DirectAnalyze(benchmark::State& state) {
  for (auto _ : state) {
    double seconds = 0;
    bool ok = true;
    for (int i = 0; i < kCases; ++i) {
      const fs::path out = g_work / "direct" / std::to_string(i);
      fs::remove_all(out);
      const ChildRun r = run_child({MUSCLECSA_BINARY, "analyze", case_dir(i).string(), "--out", out.string(), "--protocol",
                                    "thigh-ct", "--quiet"});
      seconds += r.seconds;
      ok = ok && r.exit_code == 0;
    }
    record(state, "direct", seconds, ok);
  }
}

/// Starting a musclecsa process (loading its libraries) and ending it, once per case.
void BM_ProcessStart(benchmark::State& state) {
  for (auto _ : state) {
    double seconds = 0;
    for (int i = 0; i < kCases; ++i) seconds += run_child({MUSCLECSA_BINARY, "--version"}).seconds;
    record(state, "start", seconds, true);
  }
}

}  // namespace

int main(int argc, char** argv) {
  g_work = fs::path(MUSCLECSA_BENCH_DIR);
  int rounds = 1;
  std::vector<char*> args = {argv[0]};  // Google Benchmark must not see our own flags
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--work=", 0) == 0) g_work = a.substr(7);
    else if (a.rfind("--slices=", 0) == 0) g_slices = std::max(8, std::stoi(a.substr(9)));
    else if (a.rfind("--rounds=", 0) == 0) rounds = std::max(1, std::stoi(a.substr(9)));
    else args.push_back(argv[i]);
  }
  fs::create_directories(g_work);
  ensure_cases();
  run_child({MUSCLECSA_BINARY, "info", archive().string()});  // warm the page cache for every run alike

  for (int round = 0; round < rounds; ++round) {  // interleaved, so background load hits all alike
    const std::string r = "/" + std::to_string(round);
    benchmark::RegisterBenchmark(("batch_j1" + r).c_str(), BM_BatchJ1)->UseManualTime()->Iterations(1)->Unit(benchmark::kSecond);
    benchmark::RegisterBenchmark(("batch_j2" + r).c_str(), BM_BatchJ2)->UseManualTime()->Iterations(1)->Unit(benchmark::kSecond);
    benchmark::RegisterBenchmark(("batch_j1_one_thread" + r).c_str(), BM_BatchJ1OneThread)
        ->UseManualTime()->Iterations(1)->Unit(benchmark::kSecond);
    benchmark::RegisterBenchmark(("batch_j2_one_thread" + r).c_str(), BM_BatchJ2OneThread)
        ->UseManualTime()->Iterations(1)->Unit(benchmark::kSecond);
    benchmark::RegisterBenchmark(("direct_analyze" + r).c_str(), BM_DirectAnalyze)
        ->UseManualTime()->Iterations(1)->Unit(benchmark::kSecond);
    benchmark::RegisterBenchmark(("process_start" + r).c_str(), BM_ProcessStart)
        ->UseManualTime()->Iterations(1)->Unit(benchmark::kSecond);
  }
  argc = int(args.size());
  argv = args.data();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  const auto med = [](const std::string& name) { return musclecsa::bench::median(g_seconds[name]); };
  const double j1 = med("batch_j1"), j2 = med("batch_j2"), direct = med("direct"), start = med("start");
  const double per_case_batch = j1 / kCases, per_case_direct = direct / kCases, per_case_start = start / kCases;
  const double per_case_in_process = per_case_direct - per_case_start;
  std::printf("\nSUMMARY batch: %d phantom CT cases (512x512x%d), median of %d round(s)\n", kCases, g_slices, rounds);
  std::printf("  batch -j1: %.2f s (%.3f s/case), batch -j2: %.2f s\n", j1, per_case_batch, j2);
  std::printf("  throughput ratio -j2/-j1 = %.2f with the default threads per case (-j1: %zu, -j2: %zu)\n", j1 / j2,
              musclecsa::worker_thread_count(), std::max<std::size_t>(1, musclecsa::worker_thread_count() / 2));
  const double j1t1 = med("batch_j1_t1"), j2t1 = med("batch_j2_t1");
  std::printf("  one thread per case: -j1 %.2f s, -j2 %.2f s, throughput ratio -j2/-j1 = %.2f (target >= 1.70)\n", j1t1,
              j2t1, j1t1 / j2t1);
  std::printf("  musclecsa analyze run directly: %.3f s/case; process start-up (--version): %.3f s\n", per_case_direct,
              per_case_start);
  std::printf("  batch vs direct analyze: %+.3f s/case = %+.1f%%\n", per_case_batch - per_case_direct,
              100 * (per_case_batch - per_case_direct) / per_case_direct);
  std::printf("  process isolation vs in-process (direct minus start-up = %.3f s/case): %+.3f s/case = %+.1f%% (target <= 5%%)\n",
              per_case_in_process, per_case_batch - per_case_in_process,
              100 * (per_case_batch - per_case_in_process) / per_case_in_process);
  return 0;
}
