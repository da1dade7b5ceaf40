// Validating segmented palette colour lookup tables (PS3.3 C.7.9.2) the way GDCM walks them.

#include "segmented_palette.h"

#include <cstdint>
#include <string>
#include <vector>

#include "dcmtk_util.h"
#include "musclecsa/core/error.h"

namespace musclecsa::dicom::detail {
namespace {

[[noreturn]] void refuse(const std::filesystem::path& path, const std::string& colour, const std::string& problem) {
  throw Error(ErrorCode::InvalidInput, path.string(),
              "palette colour: the segmented " + colour + " lookup table " + problem + " (damaged file?)");
}

/// Walks the segments as GDCM's ExpandPalette does (opcode 0 discrete: count, values; 1 linear:
/// count, end value; 2 indirect: count of segments, 32-bit byte offset of the first one from the
/// start of the data) and refuses what GDCM would read past, assert on or recurse into.
void check_segments(const std::filesystem::path& path, const std::string& colour, const Uint16* words, unsigned long n) {
  struct Segment {
    unsigned long start;
    Uint16 opcode;
  };
  std::vector<Segment> segments;
  unsigned long pos = 0;
  while (pos < n) {
    const Uint16 opcode = words[pos];
    if (opcode > 2) break;  // GDCM stops at an unknown opcode
    const unsigned long header = opcode == 0 ? 2 : opcode == 1 ? 3 : 4;
    if (pos + header > n) refuse(path, colour, "ends inside a segment header");
    const unsigned long size = opcode == 0 ? 2 + words[pos + 1] : header;
    if (pos + size > n)
      refuse(path, colour, "has a discrete segment of " + std::to_string(words[pos + 1]) + " values where " +
                               std::to_string(n - pos - 2) + " remain");
    if (opcode == 1 && segments.empty()) refuse(path, colour, "starts with a linear segment (it needs a value before it)");
    segments.push_back({pos, opcode});
    pos += size;
  }
  for (std::size_t s = 0; s < segments.size(); ++s) {
    if (segments[s].opcode != 2) continue;
    const Uint16* w = words + segments[s].start;
    const unsigned long offset_bytes = static_cast<unsigned long>(w[2]) | (static_cast<unsigned long>(w[3]) << 16);
    const unsigned long copies = w[1];
    std::size_t target = 0;
    while (target < segments.size() && segments[target].start * 2 != offset_bytes) ++target;
    if (target == segments.size()) refuse(path, colour, "has an indirect segment whose offset is not the start of a segment");
    if (target + copies > segments.size()) refuse(path, colour, "has an indirect segment copying more segments than follow its target");
    for (std::size_t c = target; c < target + copies; ++c)
      if (segments[c].opcode == 2) refuse(path, colour, "has an indirect segment that copies an indirect segment");
  }
}

}  // namespace

void check_segmented_palette(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  DcmFileFormat file;
  if (ec || load_dicom_file(file, path, size).bad()) return;  // the decoder reports it
  DcmDataset& ds = *file.getDataset();
  const struct {
    const char* colour;
    DcmTagKey descriptor, data;
  } tables[] = {
      {"red", DCM_RedPaletteColorLookupTableDescriptor, DCM_SegmentedRedPaletteColorLookupTableData},
      {"green", DCM_GreenPaletteColorLookupTableDescriptor, DCM_SegmentedGreenPaletteColorLookupTableData},
      {"blue", DCM_BluePaletteColorLookupTableDescriptor, DCM_SegmentedBluePaletteColorLookupTableData},
  };
  for (const auto& table : tables) {
    const Uint16* words = nullptr;
    unsigned long count = 0;
    if (ds.findAndGetUint16Array(table.data, words, &count).bad() || words == nullptr) continue;
    Uint16 bits = 0;
    ds.findAndGetUint16(table.descriptor, bits, 2);
    if (bits != 16) refuse(path, table.colour, "has " + std::to_string(bits) + "-bit entries (segmented tables are read as 16-bit)");
    check_segments(path, table.colour, words, count);
  }
}

}  // namespace musclecsa::dicom::detail
