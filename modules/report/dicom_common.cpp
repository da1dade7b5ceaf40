#include "dicom_common.h"

#include <mutex>
#include <random>
#include <sstream>
#include <vector>

#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/oflog/oflog.h>

#include "musclecsa/core/error.h"
#include "musclecsa/io/text_file.h"

namespace musclecsa::report::detail {

const CodedConcept* laterality_code(Side side) {
  if (side == Side::Right) return &kRightCode;
  if (side == Side::Left) return &kLeftCode;
  return nullptr;
}

std::string new_uid() {
  static std::mutex mutex;
  static std::random_device device;
  std::uint64_t hi = 0, lo = 0;
  {
    std::lock_guard lock(mutex);
    hi = (std::uint64_t(device()) << 32) ^ device();
    lo = (std::uint64_t(device()) << 32) ^ device();
  }
  hi = (hi & ~0xF000ull) | 0x4000ull;                       // version 4 (random)
  lo = (lo & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;  // RFC 4122 variant
  __extension__ typedef unsigned __int128 uint128;
  uint128 value = (uint128(hi) << 64) | lo;
  std::string digits;
  do {
    digits.insert(digits.begin(), char('0' + int(value % 10)));
    value /= 10;
  } while (value != 0);
  return "2.25." + digits;
}

void quiet_dcmtk_logging() {
  static std::once_flag once;
  std::call_once(once, [] { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); });
}

void save_dicom_atomically(DcmFileFormat& file, const std::filesystem::path& path, const std::string& what) {
  // Encoded in memory first, then written by io::write_text_atomically: DCMTK's file stream writes
  // its last buffer in a destructor that cannot report a full disk.
  std::string bytes;
  std::vector<char> chunk(std::size_t(1) << 20);
  DcmOutputBufferStream stream(chunk.data(), offile_off_t(chunk.size()));
  auto take = [&] {
    void* data = nullptr;
    offile_off_t length = 0;
    stream.flushBuffer(data, length);
    if (length > 0) bytes.append(static_cast<const char*>(data), std::size_t(length));
  };
  file.transferInit();
  OFCondition status;
  while ((status = file.write(stream, EXS_LittleEndianExplicit, EET_ExplicitLength, nullptr, EGL_recalcGL, EPD_noChange, 0,
                              0, 0, EWM_fileformat)) == EC_StreamNotifyClient)
    take();
  file.transferEnd();
  if (status.bad()) throw Error(ErrorCode::OutputFailed, path.string(), "cannot encode the " + what + ": " + status.text());
  stream.flush();
  take();
  io::write_text_atomically(path, bytes);
}

}  // namespace musclecsa::report::detail
