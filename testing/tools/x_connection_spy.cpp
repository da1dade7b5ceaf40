// A test helper preloaded (LD_PRELOAD) into musclecsa by the viewer tests: it writes one line for
// every connection to an X server (a Unix socket under .X11-unix, abstract or on disk) the process
// opens ("open FD") and every close of one ("close FD") to the file named by the environment
// variable MUSCLECSA_X_SPY_LOG. The viewer tests read it to check that a drawing process never
// leaves the X server without a connection between its first connection and the end of drawing:
// an Xvfb that resets when its last client leaves refuses connections during the reset.

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

constexpr int kMaxFd = 65536;
std::atomic<bool> is_x_socket[kMaxFd];

using CloseFunction = int (*)(int);
CloseFunction real_close() {
  static const auto function = reinterpret_cast<CloseFunction>(::dlsym(RTLD_NEXT, "close"));
  return function;
}

void note(const char* event, int fd) {
  const char* path = std::getenv("MUSCLECSA_X_SPY_LOG");
  if (path == nullptr) return;
  const int log = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return;
  char line[64];
  const int n = std::snprintf(line, sizeof line, "%s %d\n", event, fd);
  if (n > 0 && ::write(log, line, std::size_t(n)) < 0) {
  }
  real_close()(log);
}

bool is_x_server_address(const sockaddr* address, socklen_t length) {
  if (address == nullptr || address->sa_family != AF_UNIX || length <= offsetof(sockaddr_un, sun_path)) return false;
  const auto* unix_address = reinterpret_cast<const sockaddr_un*>(address);
  const std::string_view path(unix_address->sun_path, std::size_t(length) - offsetof(sockaddr_un, sun_path));
  return path.find(".X11-unix/X") != std::string_view::npos;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int connect(int fd, const sockaddr* address, socklen_t length) {
  using ConnectFunction = int (*)(int, const sockaddr*, socklen_t);
  static const auto real_connect = reinterpret_cast<ConnectFunction>(::dlsym(RTLD_NEXT, "connect"));
  const int result = real_connect(fd, address, length);
  if (result == 0 && fd >= 0 && fd < kMaxFd && is_x_server_address(address, length)) {
    is_x_socket[fd] = true;
    note("open", fd);
  }
  return result;
}

extern "C" __attribute__((visibility("default"))) int close(int fd) {
  if (fd >= 0 && fd < kMaxFd && is_x_socket[fd].exchange(false)) note("close", fd);
  return real_close()(fd);
}
