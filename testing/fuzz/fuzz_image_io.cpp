// libFuzzer target over the research-format and picture readers (include/musclecsa/io/image_io.h):
// the bytes are one file; its format is told by its first bytes, as a user's file would be named
// by its content (gzip: .nii.gz, "NRRD": .nrrd, "ObjectType"/"NDims": .mha, PNG, TIFF, JPEG and
// BMP signatures: the picture formats; anything else: .nii). Research formats go through
// read_scalar_volume and, when that succeeds, read_label_map; pictures through read_bitmap and
// read_rgb_picture. A musclecsa::Error is the expected answer to a bad file; anything else
// escaping, a sanitizer report or an abort is a crash. Also built without libFuzzer as
// fuzz_replay_image_io, which replays testing/fuzz/regressions/image_io/ in ctest.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"

using namespace musclecsa;

namespace {

/// The file name extension the content calls for.
std::string extension_for(const std::uint8_t* data, std::size_t size) {
  const std::string_view head(reinterpret_cast<const char*>(data), size < 64 ? size : 64);
  const auto starts = [&](std::string_view magic) { return head.substr(0, magic.size()) == magic; };
  if (starts("\x1f\x8b")) return ".nii.gz";
  if (starts("NRRD")) return ".nrrd";
  if (starts("ObjectType") || starts("NDims")) return ".mha";
  if (starts("\x89PNG")) return ".png";
  if (starts(std::string_view("II*\0", 4)) || starts(std::string_view("MM\0*", 4))) return ".tif";
  if (starts("\xff\xd8")) return ".jpg";
  if (starts("BM")) return ".bmp";
  return ".nii";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string extension = extension_for(data, size);
  const auto path = fuzz::write_input(data, size, "input" + extension);
  if (io::is_bitmap_format(path)) {
    try {
      (void)io::read_bitmap(path, std::nullopt);
      (void)io::read_rgb_picture(path);
    } catch (const Error&) {
    }
    return 0;
  }
  try {
    (void)io::read_scalar_volume(path);
    (void)io::read_label_map(path);
  } catch (const Error&) {
  }
  return 0;
}
