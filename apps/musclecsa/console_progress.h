#pragma once
// Progress shown on the terminal: a one-line bar on a TTY, nothing otherwise. With the environment
// variable MUSCLECSA_STAGE_TIMES set, each stage's start time (seconds since the start) is also
// printed on stderr, for benchmarking (docs/cli.md).

#include <chrono>
#include <string>

#include "musclecsa/core/progress.h"

namespace musclecsa::app {

class ConsoleProgress final : public Progress {
 public:
  explicit ConsoleProgress(bool enabled);
  ~ConsoleProgress() override;
  void report(double fraction_done, std::string_view stage) override;

 private:
  void note_stage(std::string_view stage);  ///< prints the stage's start time when it is new
  bool enabled_;
  bool stage_times_;
  std::string timed_stage_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  bool drawn_ = false;
  std::string last_line_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace musclecsa::app
