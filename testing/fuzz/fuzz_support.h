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

/// A folder of this process's own under $TMPDIR (or /tmp), removed at exit. Its name is random
/// (mkdtemp), unless MUSCLECSA_FUZZ_FOLDER names one to make: scripts/fuzz's reproducible runs.
/// libFuzzer learns from the strings the readers compare (file names among them), so there the
/// process works inside that folder and names files relative to it (the input "./input.dcm",
/// temporary files "./..."): what it explores depends neither on chance nor on where the checkout
/// lies.
inline const std::filesystem::path& temp_folder() {
  static const std::filesystem::path folder = [] {
    if (const char* fixed = std::getenv("MUSCLECSA_FUZZ_FOLDER"); fixed != nullptr && *fixed != '\0') {
      static const std::filesystem::path made = std::filesystem::absolute(fixed);
      std::error_code ec;
      if (!std::filesystem::create_directory(made, ec) || (std::filesystem::current_path(made, ec), ec) ||
          setenv("TMPDIR", ".", 1) != 0) {
        std::fprintf(stderr, "musclecsa fuzz: MUSCLECSA_FUZZ_FOLDER %s cannot be made and entered (it must not exist yet)\n",
                     fixed);
        std::abort();
      }
      std::atexit([] {
        std::error_code ignored;
        std::filesystem::remove_all(made, ignored);
      });
      static const std::filesystem::path here = ".";
      return here;
    }
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
