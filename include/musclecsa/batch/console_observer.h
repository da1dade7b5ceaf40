#pragma once
// A batch's progress on the console (standard error), as `musclecsa batch` shows it.

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "musclecsa/batch/batch.h"

namespace musclecsa::batch {

/// A redrawn one-line bar with the ETA when standard error is a terminal, one plain line per
/// finished case otherwise, nothing when `quiet`. `cancelled` is asked whether to stop (e.g. the
/// front end's interrupt flag).
class ConsoleBatchObserver final : public BatchObserver {
 public:
  ConsoleBatchObserver(bool quiet, std::function<bool()> cancelled);
  ~ConsoleBatchObserver() override;
  ConsoleBatchObserver(const ConsoleBatchObserver&) = delete;
  ConsoleBatchObserver& operator=(const ConsoleBatchObserver&) = delete;

  void started(std::size_t case_count, std::size_t already_done, std::size_t already_failed,
               const Discovery& discovery) override;
  void case_finished(const CaseOutcome& outcome, std::size_t done, std::size_t failed, std::size_t total) override;
  void tick(std::size_t done, std::size_t failed, std::size_t total) override;
  bool cancelled() const override;
  /// Erases the bar (before other output).
  void clear();

 private:
  void draw(std::size_t done, std::size_t failed, std::size_t total);

  bool quiet_, terminal_;
  std::function<bool()> cancelled_;
  bool drawn_ = false;
  std::size_t last_width_ = 0, finished_ = 0, to_run_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace musclecsa::batch
