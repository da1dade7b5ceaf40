#include "musclecsa/core/parallel.h"

#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <atomic>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace musclecsa {

std::size_t worker_thread_count() {
  if (const char* text = std::getenv("MUSCLECSA_THREADS"); text != nullptr && *text != '\0') {
    char* end = nullptr;
    const long n = std::strtol(text, &end, 10);
    if (*end == '\0' && n >= 1 && n <= 4096) return std::size_t(n);
  }
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) > 0) return std::size_t(CPU_COUNT(&allowed));
  return std::max(1u, std::thread::hardware_concurrency());
}

bool parallel_for(std::size_t count, Progress& progress, std::string_view stage, double progress_share,
                  const std::function<bool(std::size_t)>& work) {
  std::atomic<std::size_t> next{0}, done{0};
  std::atomic<bool> stop{false}, declined{false};
  std::mutex error_mutex;
  std::exception_ptr error;
  auto worker = [&](bool reports) {
    try {
      for (std::size_t n = next++; n < count && !stop; n = next++) {
        if (!work(n)) {
          declined = true;
          stop = true;
        }
        const std::size_t finished = ++done;
        if (reports) {
          progress.report(progress_share * double(finished) / double(count), stage);
          if (progress.cancelled()) stop = true;
        }
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      stop = true;
    }
  };
  const std::size_t threads_wanted = worker_thread_count();
  const std::size_t helpers = std::min<std::size_t>(threads_wanted - 1, count > 0 ? count - 1 : 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < helpers; ++t) threads.emplace_back(worker, false);
  worker(true);
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  throw_if_cancelled(progress, stage);
  return !declined;
}

}  // namespace musclecsa
