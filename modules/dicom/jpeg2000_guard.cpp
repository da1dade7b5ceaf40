// JPEG 2000 streams checked for what GDCM's codec reads without bounds (jpeg2000_guard.h). The
// walks below follow gdcmJPEG2000Codec.cxx of GDCM 3.0 (parsej2k_imp, parsejp2_imp and the JP2
// signature comparison) read for read, with the bounds GDCM leaves out.

#include "jpeg2000_guard.h"

#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>

#include <cstring>
#include <utility>
#include <vector>

#include "musclecsa/core/error.h"

namespace musclecsa::dicom::detail {
namespace {

// GDCM compares sizeof("\x00\x00\x00\x0C\x6A\x50\x20\x20\x0D\x0A\x87\x0A") bytes: the 12-byte JP2
// signature box and the string's terminating NUL.
constexpr std::uint8_t kJp2Signature[13] = {0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A, 0x00};
constexpr unsigned kMarkerSod = 0xFF93, kMarkerCod = 0xFF52;
constexpr std::uint32_t kBoxCodestream = 0x6A703263;  // 'jp2c'

std::uint64_t big_endian(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int k = 0; k < bytes; ++k) v = (v << 8) | p[k];
  return v;
}

std::string hex_marker(unsigned marker) {
  static const char* const digits = "0123456789ABCDEF";
  std::string text = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) text += digits[(marker >> shift) & 0xF];
  return text;
}

/// Markers GDCM takes as having no length field (hasnolength): 0xFF30-0xFF3F, SOC, SOD, EPH, EOC.
bool has_no_length(unsigned marker) {
  return (marker >= 0xFF30 && marker <= 0xFF3F) || marker == 0xFF4F || marker == kMarkerSod || marker == 0xFF92 ||
         marker == 0xFFD9;
}

/// parsej2k_imp: marker segments up to the first SOD; the COD segment's 5th and 10th bytes are
/// read before its length is looked at.
std::string codestream_problem(const std::uint8_t* s, std::size_t n) {
  std::size_t at = 0;
  while (n - at >= 2) {
    const auto marker = static_cast<unsigned>(big_endian(s + at, 2));
    at += 2;
    if (has_no_length(marker)) {
      if (marker == kMarkerSod) return {};
      continue;
    }
    if (n - at < 2) return {};
    const auto length = static_cast<std::size_t>(big_endian(s + at, 2));
    at += 2;
    if (length < 2) return {};  // GDCM stops there
    const std::size_t body = length - 2;
    if (marker == kMarkerCod) {
      if (n - at < 10)
        return "the codestream's COD marker segment at byte " + std::to_string(at - 4) + " is cut short (" +
               std::to_string(n - at) + " of its 10 or more bytes are in the stream)";
      const std::uint8_t colour_transform = s[at + 4], wavelet = s[at + 9];
      if (colour_transform > 1 || wavelet != 1) return {};  // GDCM stops reading there
    }
    if (body > n - at)
      return "the codestream's marker segment " + hex_marker(marker) + " at byte " + std::to_string(at - 4) +
             " declares " + std::to_string(length) + " bytes; only " + std::to_string(n - at + 2) +
             " are left in the stream";
    at += body;
  }
  return {};
}

/// parsejp2_imp: boxes up to the codestream box 'jp2c'. GDCM does not count the bytes of a box it
/// skips against what is left, so it reads on past the end when no 'jp2c' box comes.
std::string jp2_problem(const std::uint8_t* s, std::size_t n) {
  const std::string past_end = "a JP2 box header runs past the end of the stream (no codestream box 'jp2c' in it)";
  std::size_t at = 0;
  std::uint64_t gdcm_left = n;  // GDCM's count of the bytes left
  while (true) {
    if (gdcm_left < 4) return {};
    if (n - at < 4) return past_end;
    const std::uint64_t length32 = big_endian(s + at, 4);
    at += 4;
    gdcm_left -= 4;
    if (gdcm_left < 4) return {};
    if (n - at < 4) return past_end;
    const std::uint64_t type = big_endian(s + at, 4);
    at += 4;
    gdcm_left -= 4;
    std::uint64_t length = length32;
    if (length32 == 1) {  // a 64-bit length follows; GDCM asserts it is there
      if (gdcm_left < 8 || n - at < 8) return "a JP2 box's 64-bit length is cut short";
      length = big_endian(s + at, 8);
      if (length < 8) return "a JP2 box declares a 64-bit length below 8 bytes";
      length -= 8;
      at += 8;
      gdcm_left -= 8;
    }
    if (type == kBoxCodestream) {
      if (length == 0) length = (n - at) + 8;  // to the end of the stream
      if (length < 8) return "the JP2 codestream box declares fewer than 8 bytes";
      if (length - 8 > n - at)
        return "the JP2 codestream box declares " + std::to_string(length) + " bytes; only " +
               std::to_string(n - at + 8) + " are left in the stream";
      return codestream_problem(s + at, static_cast<std::size_t>(length - 8));
    }
    if (length < 8) return "a JP2 box declares " + std::to_string(length) + " bytes, fewer than its 8-byte header";
    if (length - 8 > n - at)
      return "a JP2 box declares " + std::to_string(length) + " bytes; only " + std::to_string(n - at + 8) +
             " are left in the stream";
    at += static_cast<std::size_t>(length - 8);
  }
}

[[noreturn]] void refuse(const DicomFileInfo& info, const std::string& problem) {
  throw Error(ErrorCode::InvalidInput, info.path.string(), "JPEG 2000 pixel data: " + problem);
}

}  // namespace

bool is_jpeg2000(const std::string& transfer_syntax) {
  return transfer_syntax == "1.2.840.10008.1.2.4.90" || transfer_syntax == "1.2.840.10008.1.2.4.91" ||
         transfer_syntax == "1.2.840.10008.1.2.4.92" || transfer_syntax == "1.2.840.10008.1.2.4.93";
}

std::string jpeg2000_stream_problem(const std::uint8_t* bytes, std::size_t size) {
  if (size < sizeof kJp2Signature)
    return "a stream of " + std::to_string(size) + " bytes is too short to be JPEG 2000";
  if (std::memcmp(bytes, kJp2Signature, sizeof kJp2Signature) == 0) return jp2_problem(bytes, size);
  return codestream_problem(bytes, size);
}

void check_jpeg2000_fragments(DcmDataset& dataset, const DicomFileInfo& info) {
  if (!is_jpeg2000(info.transfer_syntax_uid)) return;
  DcmElement* element = nullptr;
  if (dataset.findAndGetElement(DCM_PixelData, element, OFFalse).bad() || element == nullptr)
    refuse(info, "no Pixel Data (7FE0,0010)");
  auto* pixel_data = dynamic_cast<DcmPixelData*>(element);
  DcmPixelSequence* sequence = nullptr;
  if (pixel_data == nullptr ||
      pixel_data->getEncapsulatedRepresentation(dataset.getOriginalXfer(), nullptr, sequence).bad() ||
      sequence == nullptr)
    refuse(info, "the Pixel Data is not encapsulated (no fragments)");
  // Item 0 is the Basic Offset Table; the fragments follow.
  // The fragments' bytes as DCMTK holds them (no copy).
  std::vector<std::pair<const std::uint8_t*, std::size_t>> fragments;
  for (unsigned long n = 1; n < sequence->card(); ++n) {
    DcmPixelItem* item = nullptr;
    Uint8* bytes = nullptr;
    if (sequence->getItem(item, n).bad() || item == nullptr || item->loadAllDataIntoMemory().bad())
      refuse(info, "fragment " + std::to_string(n) + " cannot be read");
    const Uint32 length = item->getLength();
    if (length > 0 && (item->getUint8Array(bytes).bad() || bytes == nullptr))
      refuse(info, "fragment " + std::to_string(n) + " cannot be read");
    fragments.emplace_back(bytes, length);
  }
  if (fragments.empty()) refuse(info, "no fragment after the Basic Offset Table");
  const auto check = [&](const std::uint8_t* stream, std::size_t size, const std::string& what) {
    const std::string problem = jpeg2000_stream_problem(stream, size);
    if (!problem.empty()) refuse(info, what + ": " + problem);
  };
  check(fragments.front().first, fragments.front().second, "fragment 1");
  if (info.number_of_frames > 1) {
    if (fragments.size() == info.number_of_frames)
      for (std::size_t n = 1; n < fragments.size(); ++n)
        check(fragments[n].first, fragments[n].second, "fragment " + std::to_string(n + 1));
  } else if (fragments.size() > 1) {
    // GDCM decodes a frame of several fragments from one buffer holding them all.
    std::vector<std::uint8_t> joined;
    for (const auto& [bytes, size] : fragments) joined.insert(joined.end(), bytes, bytes + size);
    check(joined.data(), joined.size(), "the frame's " + std::to_string(fragments.size()) + " fragments joined");
  }
}

}  // namespace musclecsa::dicom::detail
