// What GDCM would abort on, refused before GDCM reads a file (gdcm_guard.h). Each rule names the
// GDCM assumption it keeps (GDCM 3.0: PixmapReader::ReadImageInternal and DoIconImage,
// LookupTable::Allocate/InitializeLUT/SetLUT/Decode, SegmentedPaletteColorLookupTable::SetLUT).

#include "gdcm_guard.h"

#include "jpeg2000_guard.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "musclecsa/core/error.h"

namespace musclecsa::dicom::detail {
namespace {

const char* const kColour[3] = {"red", "green", "blue"};

[[noreturn]] void bad(const DicomFileInfo& info, const std::string& where, const std::string& problem) {
  throw Error(ErrorCode::InvalidInput, info.path.string(), where + problem);
}

std::string tag_text(const DcmTagKey& tag) { return tag.toString().c_str(); }

struct Descriptor {
  std::uint32_t entries = 0;  ///< number of entries (0 in the file means 65536)
  std::uint16_t first = 0;    ///< first mapped pixel value
  std::uint16_t bits = 0;     ///< bits per entry
  bool operator==(const Descriptor&) const = default;
};

/// The palette descriptor (0028,1101-1103) of one colour: three values, 6 bytes.
Descriptor read_descriptor(DcmItem& item, int colour, const DicomFileInfo& info, const std::string& where) {
  const DcmTagKey tag(0x0028, static_cast<Uint16>(0x1101 + colour));
  const std::string name = std::string("the ") + kColour[colour] + " palette descriptor " + tag_text(tag);
  DcmElement* e = nullptr;
  if (item.findAndGetElement(tag, e, OFFalse).bad() || e == nullptr) bad(info, where, "no " + name.substr(4));
  if (e->getLength() != 6)
    bad(info, where, name + " has " + std::to_string(e->getLength()) + " bytes; 3 values (6 bytes) expected");
  Uint16 v[3] = {0, 0, 0};
  for (unsigned long k = 0; k < 3; ++k)
    if (e->getUint16(v[k], k).bad()) {
      Sint16 s = 0;
      if (e->getSint16(s, k).bad()) bad(info, where, name + " cannot be read as numbers");
      v[k] = static_cast<Uint16>(s);
    }
  return {v[0] == 0 ? 65536u : v[0], v[1], v[2]};
}

/// The 16-bit words of a lookup table data element (OW or US; OB read as little-endian pairs).
std::vector<std::uint16_t> words_of(DcmElement& e, const DicomFileInfo& info, const std::string& where,
                                    const std::string& name) {
  const std::size_t count = e.getLength() / 2;
  Uint16* w = nullptr;
  if (e.getUint16Array(w).good() && w != nullptr) return std::vector<std::uint16_t>(w, w + count);
  Uint8* b = nullptr;
  if (e.getUint8Array(b).good() && b != nullptr) {
    std::vector<std::uint16_t> out(count);
    for (std::size_t n = 0; n < count; ++n) out[n] = static_cast<std::uint16_t>(b[2 * n] | (b[2 * n + 1] << 8));
    return out;
  }
  bad(info, where, name + " cannot be read");
}

/// The number of entries a segmented palette (PS3.3 C.7.9.2) expands to, as GDCM expands it; a
/// problem GDCM would crash on (a segment cut off by the end of the data, which GDCM reads past;
/// an indirect segment copying past the last segment, which it asserts on, or copying an indirect
/// segment, which it follows without end) is returned in `problem`.
std::uint64_t segmented_entries(const std::vector<std::uint16_t>& w, std::string& problem) {
  struct Segment {
    std::size_t start = 0;  ///< word offset
    std::uint16_t type = 0;
  };
  std::vector<Segment> segments;
  for (std::size_t pos = 0; pos < w.size();) {
    const std::uint16_t type = w[pos];
    const std::string which = "segment " + std::to_string(segments.size() + 1) + " (word " + std::to_string(pos) + ")";
    std::size_t length = type == 0 ? 2 : type == 1 ? 3 : type == 2 ? 4 : 0;
    if (length == 0) {
      problem = which + " has type " + std::to_string(type) + " (0 discrete, 1 linear or 2 indirect expected)";
      return 0;
    }
    if (pos + length > w.size()) {
      problem = which + " is cut off by the end of the data";
      return 0;
    }
    if (type == 0) length += w[pos + 1];
    if (pos + length > w.size()) {
      problem = which + " holds " + std::to_string(w[pos + 1]) + " values and runs past the end of the data";
      return 0;
    }
    segments.push_back({pos, type});
    pos += length;
  }
  auto size_of = [&](std::size_t k) -> std::uint64_t { return w[segments[k].start + 1]; };  // discrete and linear
  std::uint64_t total = 0;
  for (std::size_t k = 0; k < segments.size(); ++k) {
    const Segment& s = segments[k];
    const std::string which = "segment " + std::to_string(k + 1) + " (word " + std::to_string(s.start) + ")";
    if (s.type != 2) {
      if (k == 0 && s.type == 1) {
        problem = which + " is linear: the first segment must give a value to start from";
        return 0;
      }
      total += size_of(k);
      continue;
    }
    if (k == 0) {
      problem = which + " is indirect: the first segment has nothing to copy";
      return 0;
    }
    const std::uint32_t offset_bytes = w[s.start + 2] | (static_cast<std::uint32_t>(w[s.start + 3]) << 16);
    const std::size_t target = offset_bytes / 2;
    const auto found = std::lower_bound(segments.begin(), segments.end(), target,
                                        [](const Segment& x, std::size_t at) { return x.start < at; });
    if (found == segments.end() || found->start != target) {
      problem = which + " copies from byte offset " + std::to_string(offset_bytes) + ", where no segment starts";
      return 0;
    }
    const std::size_t first = static_cast<std::size_t>(found - segments.begin()), copies = w[s.start + 1];
    if (first + copies > segments.size()) {
      problem = which + " copies " + std::to_string(copies) + " segments from segment " + std::to_string(first + 1) +
                "; there are " + std::to_string(segments.size()) + " segments";
      return 0;
    }
    for (std::size_t c = first; c < first + copies; ++c) {
      if (segments[c].type == 2) {
        problem = which + " copies an indirect segment (segment " + std::to_string(c + 1) + ")";
        return 0;
      }
      total += size_of(c);
    }
  }
  return total;
}

/// The largest stored value of native 8- or 16-bit pixel data (one sample per pixel).
std::uint32_t largest_pixel_value(DcmItem& dataset, const DicomFileInfo& info) {
  DcmElement* pixel = nullptr;
  if (dataset.findAndGetElement(DCM_PixelData, pixel).bad() || pixel == nullptr) bad(info, "", "no Pixel Data (7FE0,0010)");
  const std::size_t count = static_cast<std::size_t>(info.rows) * info.columns * info.number_of_frames;
  std::uint32_t largest = 0;
  if (info.bits_allocated == 8) {
    Uint8* p = nullptr;
    if (pixel->getUint8Array(p).bad() || p == nullptr || pixel->getLength() < count) bad(info, "", "pixel data cannot be read");
    for (std::size_t n = 0; n < count; ++n) largest = std::max<std::uint32_t>(largest, p[n]);
  } else {
    Uint16* p = nullptr;
    if (pixel->getUint16Array(p).bad() || p == nullptr || pixel->getLength() / 2 < count) bad(info, "", "pixel data cannot be read");
    for (std::size_t n = 0; n < count; ++n) largest = std::max<std::uint32_t>(largest, p[n]);
  }
  return largest;
}

/// One palette colour image's lookup tables: the image's (`icon` false) or its icon's.
void check_palette(DcmItem& item, DcmItem& dataset, const DicomFileInfo& info, std::uint32_t bits_allocated, bool icon) {
  const std::string where = icon ? "icon image (0088,0200): " : "";
  // LookupTable::Allocate asserts on anything but 8 or 16.
  if (bits_allocated != 8 && bits_allocated != 16)
    bad(info, where, "a palette colour image needs 8 or 16 bits allocated (has " + std::to_string(bits_allocated) + ")");
  Descriptor d[3];
  for (int c = 0; c < 3; ++c) {
    d[c] = read_descriptor(item, c, info, where);
    const std::string name = std::string("the ") + kColour[c] + " palette descriptor (0028,110" + std::to_string(c + 1) + ")";
    // InitializeLUT ignores other sizes (then nothing is decoded) and asserts a first value of 0.
    if (d[c].bits != 8 && d[c].bits != 16)
      bad(info, where, name + " gives " + std::to_string(d[c].bits) + " bits per entry (8 or 16 expected)");
    if (d[c].first != 0)
      bad(info, where, name + " maps from pixel value " + std::to_string(d[c].first) +
                           "; only palettes mapping from 0 are supported");
  }
  if (!(d[0] == d[1] && d[1] == d[2]))
    bad(info, where, "the red, green and blue palette descriptors differ (" + std::to_string(d[0].entries) + "/" +
                         std::to_string(d[1].entries) + "/" + std::to_string(d[2].entries) + " entries, " +
                         std::to_string(d[0].bits) + "/" + std::to_string(d[1].bits) + "/" + std::to_string(d[2].bits) +
                         " bits): they must be identical");
  const std::uint32_t entries = d[0].entries;
  const std::uint16_t bits = d[0].bits;
  // A "complete" palette (256 or 65536 entries) must fill LookupTable's table for the pixel size.
  if (bits_allocated == 8 && entries > 256)
    bad(info, where, "a palette of " + std::to_string(entries) + " entries for 8-bit pixel data (at most 256)");
  if (bits_allocated == 16 && entries == 256)
    bad(info, where, "a palette of 256 entries for 16-bit pixel data is not supported (65536 entries, given as 0, or a "
                     "partial palette of another size)");
  const bool segmented = item.tagExists(DCM_SegmentedRedPaletteColorLookupTableData, OFFalse);
  if (segmented && icon) bad(info, where, "a segmented palette in the icon image is not supported");  // DoIconImage asserts
  if (segmented && bits_allocated != 16)  // SegmentedPaletteColorLookupTable asserts on 8-bit pixel data
    bad(info, where, "a segmented palette with 8-bit pixel data is not supported");
  for (int c = 0; c < 3; ++c) {
    // GDCM takes (0028,120x) when present, else (0028,122x), through the segmented reader when
    // (0028,1221) exists and the plain one otherwise.
    const DcmTagKey plain(0x0028, static_cast<Uint16>(0x1201 + c)), seg(0x0028, static_cast<Uint16>(0x1221 + c));
    DcmElement* e = nullptr;
    if (item.findAndGetElement(plain, e, OFFalse).bad() || e == nullptr) e = nullptr;
    if (e == nullptr && (item.findAndGetElement(seg, e, OFFalse).bad() || e == nullptr)) {
      if (icon) return;  // GDCM drops an icon without palette data
      bad(info, where, std::string("no ") + kColour[c] + " palette data " + tag_text(plain) + " or " + tag_text(seg));
    }
    const std::string name = std::string("the ") + kColour[c] + (segmented ? " segmented" : "") + " palette data " +
                             tag_text(e->getTag());
    if (e->getLength() == 0) bad(info, where, name + " is empty");
    if (segmented) {
      if (e->getLength() % 2 != 0) bad(info, where, name + " has an odd length (" + std::to_string(e->getLength()) + " bytes)");
      std::string problem;
      const std::uint64_t expanded = segmented_entries(words_of(*e, info, where, name), problem);
      if (!problem.empty()) bad(info, where, name + ": " + problem);
      // LookupTable::SetLUT asserts that the expanded table has the declared number of entries.
      if (expanded != entries)
        bad(info, where, name + " expands to " + std::to_string(expanded) + " entries; its descriptor declares " +
                             std::to_string(entries));
    } else {
      // LookupTable::SetLUT asserts on a length that is not entries x bits per entry (16-bit
      // pixel data: 16-bit entries), PixmapReader on the blue table besides.
      if (bits_allocated == 16 && bits != 16)
        bad(info, where, "8-bit palette entries with 16-bit pixel data are not supported");
      const std::uint64_t expected = std::uint64_t(entries) * bits / 8;
      if (e->getLength() != expected)
        bad(info, where, name + " holds " + std::to_string(e->getLength()) + " bytes; its descriptor declares " +
                             std::to_string(entries) + " entries of " + std::to_string(bits) + " bits (" +
                             std::to_string(expected) + " bytes)");
    }
  }
  // A partial palette: LookupTable::Decode asserts that every pixel value has an entry.
  if (!icon && entries != 256 && entries != 65536) {
    if (info.encapsulated)
      bad(info, where, "a partial palette (" + std::to_string(entries) + " entries) with compressed pixel data is not supported");
    const std::uint32_t largest = largest_pixel_value(dataset, info);
    if (largest >= entries)
      bad(info, where, "pixel value " + std::to_string(largest) + " lies beyond the palette's " + std::to_string(entries) +
                           " entries");
  }
}

/// The Icon Image Sequence GDCM reads with the image (DoIconImage).
void check_icon(DcmItem& dataset, const DicomFileInfo& info) {
  DcmStack stack;
  if (dataset.search(DCM_IconImageSequence, stack, ESM_fromHere, OFFalse).bad()) return;
  DcmObject* object = stack.top();
  if (object == nullptr || object->ident() != EVR_SQ) return;  // GDCM does not read it as a sequence either
  auto* sequence = static_cast<DcmSequenceOfItems*>(object);
  // GDCM reads the first item without looking whether there is one.
  if (sequence->card() == 0) bad(info, "", "the Icon Image Sequence (0088,0200) has no item");
  DcmItem* icon = sequence->getItem(0);
  if (icon == nullptr) bad(info, "", "the Icon Image Sequence (0088,0200) has no item");
  DcmElement* photometric = nullptr;
  if (icon->findAndGetElement(DCM_PhotometricInterpretation, photometric, OFFalse).bad() || photometric == nullptr) return;
  if (photometric->getLength() == 0) bad(info, "icon image (0088,0200): ", "the Photometric Interpretation is empty");
  OFString value;
  if (photometric->getOFString(value, 0).bad() || value != "PALETTE COLOR") return;
  Uint16 bits_allocated = 0;
  (void)icon->findAndGetUint16(DCM_BitsAllocated, bits_allocated);
  check_palette(*icon, dataset, info, bits_allocated, true);
}

/// The Sequence of Ultrasound Regions GDCM reads for an ultrasound image's pixel spacing
/// (ImageHelper::GetUltraSoundSpacingValueFromSequence): it asserts that the sequence parses and
/// that its first item holds Physical Delta X and Y (0018,602C/602E), one value each.
void check_ultrasound_regions(DcmItem& dataset, const DicomFileInfo& info) {
  DcmStack stack;
  if (dataset.search(DCM_SequenceOfUltrasoundRegions, stack, ESM_fromHere, OFFalse).bad()) return;
  DcmObject* object = stack.top();
  if (object == nullptr || object->ident() != EVR_SQ)
    bad(info, "", "the Sequence of Ultrasound Regions (0018,6011) is not a sequence");
  auto* sequence = static_cast<DcmSequenceOfItems*>(object);
  DcmItem* first = sequence->card() > 0 ? sequence->getItem(0) : nullptr;
  if (first == nullptr) bad(info, "", "the Sequence of Ultrasound Regions (0018,6011) has no item");
  for (const auto& [tag, name] : {std::pair{DCM_PhysicalDeltaX, "Physical Delta X (0018,602C)"},
                                  std::pair{DCM_PhysicalDeltaY, "Physical Delta Y (0018,602E)"}}) {
    DcmElement* e = nullptr;
    if (first->findAndGetElement(tag, e, OFFalse).bad() || e == nullptr)
      bad(info, "", std::string("the first ultrasound region (0018,6011) has no ") + name);
    if (e->ident() != EVR_FD || e->getLength() != 8)
      bad(info, "", std::string("the first ultrasound region (0018,6011) has a ") + name + " of " +
                        std::to_string(e->getLength()) + " bytes; one 8-byte FD value expected");
  }
}

}  // namespace

bool decoded_by_gdcm(const DicomFileInfo& info) {
  return is_jpeg2000(info.transfer_syntax_uid) || info.photometric == "PALETTE COLOR";
}

void check_before_gdcm(DcmFileFormat& file, const DicomFileInfo& info) {
  if (!decoded_by_gdcm(info)) return;
  // ReadExplicitDataElement (gdcmFileMetaInformation.cxx) asserts on a VR it does not know; DCMTK
  // reads such an element with an unknown VR ("??").
  DcmMetaInfo& meta = *file.getMetaInfo();
  for (unsigned long n = 0; n < meta.card(); ++n) {
    DcmElement* e = meta.getElement(n);
    if (e != nullptr && (e->ident() == EVR_UNKNOWN || e->ident() == EVR_UNKNOWN2B))
      bad(info, "", "the file meta information element " + tag_text(e->getTag()) + " has an invalid VR");
  }
  DcmItem& dataset = *file.getDataset();
  if (info.photometric == "PALETTE COLOR") {
    if (info.samples_per_pixel != 1)
      bad(info, "", "a palette colour image has 1 sample per pixel (this one declares " +
                        std::to_string(info.samples_per_pixel) + ")");
    // ImageCodec::DecodeByStreams asserts that 8 allocated bits are all stored.
    if (info.bits_allocated == 8 && info.bits_stored != 8)
      bad(info, "", "Bits Stored " + std::to_string(info.bits_stored) +
                        " with 8 bits allocated is not supported for palette colour images");
    check_palette(dataset, dataset, info, info.bits_allocated, false);
  }
  check_jpeg2000_fragments(*file.getDataset(), info);
  check_icon(dataset, info);
  check_ultrasound_regions(dataset, info);
}

}  // namespace musclecsa::dicom::detail
