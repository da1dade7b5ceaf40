#include "console_progress.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace musclecsa::app {

ConsoleProgress::ConsoleProgress(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO)) {}

ConsoleProgress::~ConsoleProgress() {
  if (drawn_) std::fprintf(stderr, "\r%*s\r", static_cast<int>(last_line_.size()), "");
}

void ConsoleProgress::report(double fraction, std::string_view stage) {
  static const bool timing = std::getenv("MCSA_T") != nullptr;
  static const auto t0 = std::chrono::steady_clock::now();
  static std::string last_stage;
  if (timing && stage != last_stage) {
    last_stage = std::string(stage);
    std::fprintf(stderr, "T %.3f %s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), last_stage.c_str());
  }
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (fraction < 1 && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int width = 30, filled = static_cast<int>(fraction * width + 0.5);
  std::string line = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] " +
                     std::to_string(static_cast<int>(fraction * 100 + 0.5)) + "% " + std::string(stage);
  std::fprintf(stderr, "\r%-*s", static_cast<int>(std::max(line.size(), last_line_.size())), line.c_str());
  std::fflush(stderr);
  last_line_ = line;
  drawn_ = true;
}

}  // namespace musclecsa::app
