#pragma once
// Progress shown on the terminal: a one-line bar on a TTY, nothing otherwise.

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
  bool enabled_;
  bool drawn_ = false;
  std::string last_line_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace musclecsa::app
