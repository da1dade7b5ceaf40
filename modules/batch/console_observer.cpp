// A batch's progress on the console (console_observer.h).

#include "musclecsa/batch/console_observer.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

namespace musclecsa::batch {
namespace {

std::string format_duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  char text[32];
  if (s >= 3600) std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else std::snprintf(text, sizeof text, "%ld:%02ld", s / 60, s % 60);
  return text;
}

}  // namespace

ConsoleBatchObserver::ConsoleBatchObserver(bool quiet, std::function<bool()> cancelled)
    : quiet_(quiet), terminal_(!quiet && ::isatty(STDERR_FILENO)), cancelled_(std::move(cancelled)) {}

ConsoleBatchObserver::~ConsoleBatchObserver() { clear(); }

void ConsoleBatchObserver::started(std::size_t case_count, std::size_t already_done, std::size_t already_failed,
                                   const Discovery& discovery) {
  start_ = std::chrono::steady_clock::now();
  to_run_ = case_count - already_done;
  if (quiet_) return;
  std::size_t series = 0, files = 0;
  for (const auto& s : discovery.skipped) (s.kind == "series" ? series : files)++;
  std::fprintf(stderr, "MuscleCSA batch: %zu case(s) to analyse", case_count);
  if (already_done > 0 || already_failed > 0)
    std::fprintf(stderr, " (%zu already done, %zu failed before: run again)", already_done, already_failed);
  std::fprintf(stderr, "; %zu series and %zu file(s) skipped\n", series, files);
  draw(already_done, already_failed, case_count);
}

void ConsoleBatchObserver::case_finished(const CaseOutcome& outcome, std::size_t done, std::size_t failed,
                                         std::size_t total) {
  ++finished_;
  if (quiet_) return;
  if (terminal_ && outcome.status == "done") {
    draw(done, failed, total);
    return;
  }
  clear();
  if (outcome.status == "done")
    std::fprintf(stderr, "[%zu/%zu] done   %s \"%s\" %.1f s, %zu measurements\n", done + failed, total,
                 outcome.case_id.c_str(), outcome.series_description.c_str(), outcome.duration_s, outcome.measurement_count);
  else
    std::fprintf(stderr, "[%zu/%zu] failed %s \"%s\" %.1f s: %s: %s\n", done + failed, total, outcome.case_id.c_str(),
                 outcome.series_description.c_str(), outcome.duration_s, outcome.reason_code.c_str(), outcome.message.c_str());
  if (terminal_) draw(done, failed, total);
}

void ConsoleBatchObserver::tick(std::size_t done, std::size_t failed, std::size_t total) {
  if (terminal_) draw(done, failed, total);
}

bool ConsoleBatchObserver::cancelled() const { return cancelled_ && cancelled_(); }

void ConsoleBatchObserver::clear() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r%*s\r", static_cast<int>(last_width_), "");
  drawn_ = false;
}

void ConsoleBatchObserver::draw(std::size_t done, std::size_t failed, std::size_t total) {
  if (!terminal_) return;
  constexpr int kBarWidth = 30;
  const double fraction = total == 0 ? 1.0 : double(done + failed) / double(total);
  const int filled = static_cast<int>(fraction * kBarWidth + 0.5);
  std::string line = "[" + std::string(std::size_t(filled), '#') + std::string(std::size_t(kBarWidth - filled), ' ') + "] ";
  char counts[160];
  std::snprintf(counts, sizeof counts, "%zu/%zu  done %zu  failed %zu", done + failed, total, done, failed);
  line += counts;
  const double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (finished_ > 0 && finished_ < to_run_)
    line += "  ETA " + format_duration(elapsed_s / double(finished_) * double(to_run_ - finished_));
  else line += "  elapsed " + format_duration(elapsed_s);
  std::fprintf(stderr, "\r%-*s", static_cast<int>(std::max(line.size(), last_width_)), line.c_str());
  std::fflush(stderr);
  last_width_ = line.size();
  drawn_ = true;
}

}  // namespace musclecsa::batch
