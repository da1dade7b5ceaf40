// parallel_for: how many threads it uses (MUSCLECSA_THREADS, the affinity mask), and that every item runs once.

#include <gtest/gtest.h>
#include <sched.h>

#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "musclecsa/core/parallel.h"

namespace musclecsa {
namespace {

/// Sets an environment variable for the scope, restoring the previous value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_) ::setenv(name_, old_.c_str(), 1);
    else ::unsetenv(name_);
  }
 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

std::set<std::thread::id> threads_used(std::size_t items) {
  std::mutex m;
  std::set<std::thread::id> ids;
  std::vector<int> runs(items, 0);
  NullProgress progress;
  EXPECT_TRUE(parallel_for(items, progress, "test", 1.0, [&](std::size_t n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // long enough for every thread to take some
    std::lock_guard<std::mutex> lock(m);
    ids.insert(std::this_thread::get_id());
    ++runs[n];
    return true;
  }));
  for (std::size_t n = 0; n < items; ++n) EXPECT_EQ(runs[n], 1) << "item " << n;
  return ids;
}

TEST(Parallel, ThreadCountComesFromTheEnvironmentWhenSet) {
  {
    ScopedEnv env("MUSCLECSA_THREADS", "1");
    EXPECT_EQ(worker_thread_count(), 1u);
    EXPECT_EQ(threads_used(40).size(), 1u);
  }
  {
    ScopedEnv env("MUSCLECSA_THREADS", "3");
    EXPECT_EQ(worker_thread_count(), 3u);
    EXPECT_EQ(threads_used(60).size(), 3u);
  }
  for (const char* bad : {"0", "-2", "two", "4x", ""}) {
    ScopedEnv env("MUSCLECSA_THREADS", bad);
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    ASSERT_EQ(::sched_getaffinity(0, sizeof allowed, &allowed), 0);
    EXPECT_EQ(worker_thread_count(), std::size_t(CPU_COUNT(&allowed))) << "MUSCLECSA_THREADS=" << bad << " is ignored";
  }
}

TEST(Parallel, ThreadCountFollowsTheAffinityMask) {
  ScopedEnv env("MUSCLECSA_THREADS", nullptr);
  cpu_set_t original;
  CPU_ZERO(&original);
  ASSERT_EQ(::sched_getaffinity(0, sizeof original, &original), 0);
  int first = -1;
  for (int c = 0; c < CPU_SETSIZE && first < 0; ++c)
    if (CPU_ISSET(c, &original)) first = c;
  ASSERT_GE(first, 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(::sched_setaffinity(0, sizeof one, &one), 0);
  const std::size_t narrowed = worker_thread_count();
  ASSERT_EQ(::sched_setaffinity(0, sizeof original, &original), 0);
  EXPECT_EQ(narrowed, 1u) << "a process bound to one CPU (taskset, Slurm) uses one thread";
  EXPECT_EQ(worker_thread_count(), std::size_t(CPU_COUNT(&original)));
}

}  // namespace
}  // namespace musclecsa
