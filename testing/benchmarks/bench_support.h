#pragma once
// Benchmark helpers: run a command as a child process and measure its wall time and peak memory.

#include <chrono>
#include <string>
#include <vector>

namespace musclecsa::bench {

struct ChildRun {
  double seconds = 0;
  double peak_rss_mb = 0;  ///< maximum resident set size of the child (ru_maxrss)
  int exit_code = -1;
};

/// Runs argv[0] with its arguments (no shell), stdout/stderr to /dev/null.
ChildRun run_child(const std::vector<std::string>& argv);

double median(std::vector<double> values);

}  // namespace musclecsa::bench
