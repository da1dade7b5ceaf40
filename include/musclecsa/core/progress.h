#pragma once
// Progress reporting and cancellation for long-running stages (progress bars, batch workers).

#include <string_view>

namespace musclecsa {

/// Observer of a long-running stage. Library code calls report() now and then and stops with
/// Error(ErrorCode::Cancelled) when cancelled() turns true.
class Progress {
 public:
  virtual ~Progress() = default;
  /// fraction_done in [0, 1] of the current stage, named by `stage` (e.g. "rendering slices").
  virtual void report(double fraction_done, std::string_view stage) = 0;
  /// True when the observer wants the work stopped.
  virtual bool cancelled() const { return false; }
};

/// A Progress that ignores reports and never cancels.
class NullProgress final : public Progress {
 public:
  void report(double, std::string_view) override {}
};

/// Throws Error(ErrorCode::Cancelled, stage, ...) when progress.cancelled().
void throw_if_cancelled(const Progress& progress, std::string_view stage);

}  // namespace musclecsa
