#pragma once
// Running one case as a child process in its own process group, with an address-space limit,
// and killing it as a whole (private to the batch module).

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace musclecsa::batch {

/// How a child process ended.
struct ChildExit {
  bool signalled = false;
  int exit_code = 0;    ///< when !signalled
  int signal = 0;       ///< when signalled
};

/// Starts `argv[0]` with `argv` (fork + exec) in a new process group, standard input and output on
/// /dev/null, standard error into `stderr_file` (truncated), RLIMIT_AS = memory_limit_mb (0: none),
/// and SIGKILL when this thread's process dies. Call it from a thread that lives as long as the
/// child (the death signal follows the creating thread). `environment` ("NAME=value") is added to
/// (or replaces in) this process' environment for the child. Throws Error(Internal) when fork fails.
pid_t start_child(const std::vector<std::string>& argv, const std::filesystem::path& stderr_file,
                  std::size_t memory_limit_mb, const std::vector<std::string>& environment = {});

/// Reaps the child if it has ended; nullopt while it runs.
std::optional<ChildExit> poll_child(pid_t pid);

/// Kills the child's whole process group (SIGKILL) and reaps the child.
ChildExit kill_child(pid_t pid);

/// The last `max_bytes` of a text file (from the start of a line when possible), "" when unreadable.
std::string tail_of_file(const std::filesystem::path& path, std::size_t max_bytes);

}  // namespace musclecsa::batch
