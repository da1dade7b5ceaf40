#include "console_progress.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace musclecsa::app {

ConsoleProgress::ConsoleProgress(bool enabled)
    : enabled_(enabled && ::isatty(STDERR_FILENO)), stage_times_(std::getenv("MUSCLECSA_STAGE_TIMES") != nullptr) {}

ConsoleProgress::~ConsoleProgress() {
  if (stage_times_) note_stage("end");
  if (drawn_) std::fprintf(stderr, "\r%*s\r", static_cast<int>(last_line_.size()), "");
}

void ConsoleProgress::note_stage(std::string_view stage) {
  if (stage == timed_stage_) return;
  timed_stage_ = std::string(stage);
  std::fprintf(stderr, "stage %8.3f s  %s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(),
               timed_stage_.c_str());
}

void ConsoleProgress::report(double fraction, std::string_view stage) {
  if (stage_times_) note_stage(stage);
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
