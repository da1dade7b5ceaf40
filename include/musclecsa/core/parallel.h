#pragma once
// Running independent pieces of work (slices, files) on all cores, with progress and cancellation.

#include <cstddef>
#include <functional>
#include <string_view>

#include "musclecsa/core/progress.h"

namespace musclecsa {

/// Threads parallel_for uses: MUSCLECSA_THREADS when it is set to a whole number >= 1 (batch sets it
/// for its case processes), otherwise the CPUs this process may run on (its affinity mask, which
/// taskset, containers and Slurm's CPU binding narrow), at least 1.
std::size_t worker_thread_count();

/// Runs work(n) for every n < count on up to worker_thread_count() threads (the calling thread
/// reports progress as `progress_share` x the fraction done, under `stage`). Stops early when a
/// work item returns false (then returns false), when one throws (rethrown here, the first one)
/// or when the observer cancels (Error Cancelled). Work items must not share mutable state.
bool parallel_for(std::size_t count, Progress& progress, std::string_view stage, double progress_share,
                  const std::function<bool(std::size_t)>& work);

}  // namespace musclecsa
