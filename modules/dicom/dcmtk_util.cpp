#include "dcmtk_util.h"

#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <fstream>
#include <mutex>
#include <optional>
#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace musclecsa::dicom::detail {
namespace {

/// Walks an item tree and returns false when an element declares more bytes than the file has.
bool lengths_fit(DcmObject* object, std::uintmax_t file_size) {
  DcmStack stack;
  while (object->nextObject(stack, OFTrue).good()) {
    DcmObject* current = stack.top();
    const Uint32 length = current->getLength();
    if (length != DCM_UndefinedLength && length > file_size) return false;
  }
  return true;
}

std::uint32_t little_endian(const std::uint8_t* p, int bytes) {
  std::uint32_t v = 0;
  for (int k = bytes - 1; k >= 0; --k) v = (v << 8) | p[k];
  return v;
}

bool vr_in(const std::uint8_t* vr, std::initializer_list<const char*> list) {
  for (const char* v : list)
    if (vr[0] == v[0] && vr[1] == v[1]) return true;
  return false;
}

/// Explicit VR with a 4-byte length (PS3.5 7.1.2). DCMTK reads an unknown VR ("??": two bytes that
/// name none) with a 4-byte length too, so they are taken so here.
bool long_vr(const std::uint8_t* vr) {
  const bool standard_short = vr_in(vr, {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "PN", "SH",
                                         "SL", "SS", "ST", "TM", "UI", "UL", "US"});
  return !standard_short;
}

/// The inflated data set of a deflated file, read forwards: header bytes, and values skipped
/// without keeping them.
class InflatedStream {
 public:
  InflatedStream(const std::uint8_t* data, std::size_t size, std::uint64_t limit) : limit_(limit) {
    z_.next_in = const_cast<Bytef*>(data);
    z_.avail_in = static_cast<uInt>(size);
    ok_ = inflateInit2(&z_, -MAX_WBITS) == Z_OK;  // raw deflate (PS3.5 A.5)
  }
  ~InflatedStream() {
    if (ok_) inflateEnd(&z_);
  }
  InflatedStream(const InflatedStream&) = delete;
  InflatedStream& operator=(const InflatedStream&) = delete;

  bool ok() const { return ok_; }
  std::uint64_t produced() const { return produced_; }
  /// Makes the next `n` bytes (n <= 12) available at head(); false when the stream ends first.
  bool need(std::size_t n) {
    while (buffer_.size() - at_ < n)
      if (!more()) return false;
    return true;
  }
  const std::uint8_t* head() const { return buffer_.data() + at_; }
  void consume(std::size_t n) { at_ += n; }
  /// Skips `n` bytes; false when the stream ends (or passes `limit`) first.
  bool skip(std::uint64_t n) {
    while (n > 0) {
      const std::uint64_t here = std::min<std::uint64_t>(n, buffer_.size() - at_);
      at_ += here;
      n -= here;
      if (n > 0 && !more()) return false;
    }
    return true;
  }
  bool past_limit() const { return produced_ > limit_; }

 private:
  bool more() {
    if (!ok_ || ended_ || past_limit()) return false;
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(at_));
    at_ = 0;
    std::uint8_t chunk[65536];
    z_.next_out = chunk;
    z_.avail_out = sizeof chunk;
    const int status = inflate(&z_, Z_NO_FLUSH);
    const std::size_t got = sizeof chunk - z_.avail_out;
    buffer_.insert(buffer_.end(), chunk, chunk + got);
    produced_ += got;
    if (status == Z_STREAM_END) ended_ = true;
    else if (status != Z_OK || (got == 0 && z_.avail_in == 0)) ended_ = true;  // damaged or cut: what came is all
    return got > 0 || !ended_;
  }

  z_stream z_{};
  bool ok_ = false, ended_ = false;
  std::uint64_t limit_, produced_ = 0;
  std::vector<std::uint8_t> buffer_;
  std::size_t at_ = 0;
};

/// DCMTK reads a deflated data set at once, allocating each element's declared length before it
/// reads the value (a fuzzed 18 KB file declared 3.6 GB: out of memory, found by the CI fuzz
/// stage). The stream is inflated here first, without keeping it, and its element headers walked:
/// an element declaring more bytes than the stream holds is the problem returned. Headers it does
/// not follow (a UN element of undefined length, which holds implicit VR) end the walk: DCMTK reads
/// on, as before. Files that are not deflated, or not read in full here, give nullopt.
std::optional<std::string> deflated_length_problem(const std::filesystem::path& path, std::uintmax_t file_size) {
  constexpr std::uintmax_t kPreamble = 132, kLargestChecked = std::uintmax_t(1) << 30;
  if (file_size < kPreamble + 12 || file_size > kLargestChecked) return std::nullopt;
  // The preamble and the file meta information first (a meta header is a few hundred bytes); the
  // whole file only when it is deflated.
  constexpr std::uintmax_t kHead = 65536;
  std::vector<std::uint8_t> bytes(std::min(file_size, kHead));
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) return std::nullopt;
  if (std::memcmp(bytes.data() + 128, "DICM", 4) != 0) return std::nullopt;
  // File meta information: explicit VR little endian, group 0002, never deflated.
  std::size_t at = kPreamble;
  std::string transfer_syntax;
  while (at + 8 <= bytes.size() && little_endian(&bytes[at], 2) == 0x0002) {
    const std::uint8_t* vr = &bytes[at + 4];
    const bool wide = long_vr(vr);
    if (wide && at + 12 > bytes.size()) return std::nullopt;
    const std::uint64_t length = wide ? little_endian(&bytes[at + 8], 4) : little_endian(&bytes[at + 6], 2);
    const std::size_t header = wide ? 12 : 8;
    if (length > bytes.size() - at - header) return std::nullopt;  // DCMTK names a cut header itself
    if (little_endian(&bytes[at + 2], 2) == 0x0010) transfer_syntax.assign(reinterpret_cast<const char*>(&bytes[at + header]), length);
    at += header + length;
  }
  while (!transfer_syntax.empty() && (transfer_syntax.back() == '\0' || transfer_syntax.back() == ' ')) transfer_syntax.pop_back();
  if (transfer_syntax != "1.2.840.10008.1.2.1.99") return std::nullopt;
  if (bytes.size() < file_size) {
    const std::size_t head = bytes.size();
    bytes.resize(file_size);
    if (!in.read(reinterpret_cast<char*>(bytes.data() + head), static_cast<std::streamsize>(file_size - head))) return std::nullopt;
  }
  InflatedStream stream(bytes.data() + at, bytes.size() - at, std::uint64_t(file_size) * 1024);
  if (!stream.ok()) return std::nullopt;
  while (stream.need(8)) {
    const std::uint8_t* h = stream.head();
    const std::uint32_t group = little_endian(h, 2), element = little_endian(h + 2, 2);
    char tag[16];
    std::snprintf(tag, sizeof tag, "(%04X,%04X)", group, element);
    if (group == 0xFFFE) {  // item or delimiter: 4-byte length, no VR; an item's content is walked on
      stream.consume(8);
      continue;
    }
    const std::uint8_t vr[2] = {h[4], h[5]};
    std::uint64_t length = 0;
    if (long_vr(vr)) {
      if (!stream.need(12)) break;
      length = little_endian(stream.head() + 8, 4);
      stream.consume(12);
    } else {
      length = little_endian(h + 6, 2);
      stream.consume(8);
    }
    if (length == 0xFFFFFFFFu) {
      if (vr[0] == 'U' && vr[1] == 'N') return std::nullopt;  // implicit VR inside (CP-246): not followed
      continue;                                              // a sequence or encapsulated data: items follow
    }
    if (vr[0] == 'S' && vr[1] == 'Q') continue;  // a sequence of defined length: its items are walked
    if (!stream.skip(length)) {
      if (stream.past_limit())
        return "its deflated data set inflates to more than 1024 times the file (" + std::to_string(file_size) + " bytes)";
      return "its deflated data set declares " + std::to_string(length) + " bytes for element " + tag + ", more than the " +
             std::to_string(stream.produced()) + " bytes it inflates to";
    }
  }
  return std::nullopt;
}

void quiet_dcmtk_logging() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Library code reports problems as values; DCMTK's own console warnings would only add noise.
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  });
}

}  // namespace

OFCondition load_dicom_file(DcmFileFormat& file, const std::filesystem::path& path, std::uintmax_t file_size) {
  quiet_dcmtk_logging();
  if (const auto problem = deflated_length_problem(path, file_size))
    return makeOFCondition(OFM_dcmdata, 902, OF_error, problem->c_str());
  OFCondition status;
  try {
    status = file.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect);
  } catch (const std::exception& e) {
    // DCMTK 3.6.7 throws from its parser on some damaged files (std::out_of_range from
    // DcmByteString::verify while reading a DICOMDIR record: found by the CI fuzz stage).
    file.clear();
    return makeOFCondition(OFM_dcmdata, 901, OF_error, (std::string("DCMTK failed parsing it: ") + e.what()).c_str());
  }
  if (status.bad()) return status;
  // A deflated dataset is larger than its file: allow for the compression ratio there.
  const bool deflated = file.getDataset()->getOriginalXfer() == EXS_DeflatedLittleEndianExplicit;
  const std::uintmax_t limit = deflated ? file_size * 1024 : file_size;
  if (!lengths_fit(file.getDataset(), limit) || !lengths_fit(file.getMetaInfo(), file_size))
    return makeOFCondition(OFM_dcmdata, 900, OF_error, "an element declares a length larger than the whole file");
  return status;
}

void register_dcmtk_codecs() {
  static std::once_flag once;
  std::call_once(once, [] {
    quiet_dcmtk_logging();
    DcmRLEDecoderRegistration::registerCodecs();
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
  });
}

void prepare_dcmtk() {
  quiet_dcmtk_logging();
  register_dcmtk_codecs();
  (void)dcmDataDict.rdlock();  // load the data dictionary now, not concurrently on first use
  dcmDataDict.rdunlock();
}

}  // namespace musclecsa::dicom::detail
