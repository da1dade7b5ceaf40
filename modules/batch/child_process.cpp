#include "child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string_view>

#include "musclecsa/core/error.h"

namespace musclecsa::batch {
namespace {

ChildExit exit_from_status(int status) {
  ChildExit e;
  if (WIFSIGNALED(status)) {
    e.signalled = true;
    e.signal = WTERMSIG(status);
  } else {
    e.exit_code = WEXITSTATUS(status);
  }
  return e;
}

/// Writes a message to standard error using only async-signal-safe calls (between fork and exec).
void write_stderr(const char* text) {
  const ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

}  // namespace

pid_t start_child(const std::vector<std::string>& argv, const std::filesystem::path& stderr_file,
                  std::size_t memory_limit_mb, const std::vector<std::string>& environment) {
  // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The child's environment: this process' own, with `environment` added or replacing a variable.
  std::vector<std::string> env_text(environment);
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto name = entry.substr(0, entry.find('=') + 1);
    if (std::none_of(environment.begin(), environment.end(), [&](const std::string& x) { return x.rfind(name, 0) == 0; }))
      env_text.emplace_back(entry);
  }
  std::vector<char*> env;
  for (auto& e : env_text) env.push_back(e.data());
  env.push_back(nullptr);
  const std::string stderr_path = stderr_file.string();
  const pid_t parent = ::getpid();
  rlimit limit{};
  limit.rlim_cur = limit.rlim_max = memory_limit_mb == 0 ? RLIM_INFINITY : rlim_t(memory_limit_mb) * 1024 * 1024;

  const pid_t pid = ::fork();
  if (pid < 0) throw Error(ErrorCode::Internal, argv.front(), std::string("cannot start a case process: ") + std::strerror(errno));
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the batch died before the death signal was set
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    const int null_fd = ::open("/dev/null", O_RDWR);
    const int err_fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (null_fd >= 0) {
      ::dup2(null_fd, STDIN_FILENO);
      ::dup2(null_fd, STDOUT_FILENO);
    }
    if (err_fd >= 0) ::dup2(err_fd, STDERR_FILENO);
    if (memory_limit_mb > 0 && ::setrlimit(RLIMIT_AS, &limit) != 0) {
      write_stderr("musclecsa batch: cannot set the memory limit of the case process\n");
      ::_exit(127);
    }
    ::execve(args[0], args.data(), env.data());
    write_stderr("musclecsa batch: cannot run the analysis program: ");
    write_stderr(std::strerror(errno));
    write_stderr("\n");
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here, so the group exists before any kill (either call wins)
  return pid;
}

std::optional<ChildExit> poll_child(pid_t pid) {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return std::nullopt;
  if (r < 0) return ChildExit{true, 0, SIGKILL};  // already reaped elsewhere: treat as killed
  return exit_from_status(status);
}

ChildExit kill_child(pid_t pid) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return ChildExit{true, 0, SIGKILL};
  return exit_from_status(status);
}

std::string tail_of_file(const std::filesystem::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(std::max<std::streamoff>(0, in.tellg()));
  const std::size_t start = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(start));
  std::string text(size - start, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (start > 0) {
    const auto newline = text.find('\n');
    if (newline != std::string::npos && newline + 1 < text.size()) text = text.substr(newline + 1);
  }
  return text;
}

}  // namespace musclecsa::batch
