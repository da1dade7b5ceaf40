#pragma once
// Shared by the fuzz targets: the input bytes are written to a file in a private temporary folder,
// because the readers take paths (DCMTK, GDCM and ITK open files themselves).

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace musclecsa::fuzz {

/// A folder of this process's own under $TMPDIR (or /tmp), removed at exit.
inline const std::filesystem::path& temp_folder() {
  static const std::filesystem::path folder = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/musclecsa-fuzz-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("musclecsa fuzz: mkdtemp");
      std::abort();
    }
    static const std::filesystem::path made = pattern;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(made, ec);
    });
    return made;
  }();
  return folder;
}

/// Writes the bytes as `name` in the temporary folder and returns its path.
inline std::filesystem::path write_input(const std::uint8_t* data, std::size_t size, const std::string& name) {
  const std::filesystem::path path = temp_folder() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::perror("musclecsa fuzz: cannot write the input file");
    std::abort();
  }
  return path;
}

}  // namespace musclecsa::fuzz
