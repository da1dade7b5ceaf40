#include "musclecsa/io/text_file.h"

#include <fstream>
#include <sstream>
#include <unistd.h>

#include "musclecsa/core/error.h"

namespace musclecsa::io {

void write_text_atomically(const std::filesystem::path& path, std::string_view content) {
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) throw Error(ErrorCode::OutputFailed, path.string(), "cannot create folder: " + ec.message());
  }
  const std::filesystem::path temp =
      path.parent_path() / ("." + path.filename().string() + ".tmp" + std::to_string(::getpid()));
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(ErrorCode::OutputFailed, path.string(), "cannot open for writing");
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      out.close();
      std::filesystem::remove(temp, ec);
      throw Error(ErrorCode::OutputFailed, path.string(), "write failed (disk full?)");
    }
  }
  move_into_place(temp, path);
}

void move_into_place(const std::filesystem::path& temp, const std::filesystem::path& final_path) {
  std::error_code ec;
  std::filesystem::rename(temp, final_path, ec);
  if (!ec) return;
  const std::string reason = ec.message();  // before remove() reuses ec
  std::filesystem::remove(temp, ec);
  throw Error(ErrorCode::OutputFailed, final_path.string(), "cannot rename the finished file: " + reason);
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::InputNotFound, path.string(), "cannot open for reading");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace musclecsa::io
