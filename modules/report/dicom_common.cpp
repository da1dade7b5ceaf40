#include "dicom_common.h"

#include <mutex>

#include <dcmtk/oflog/oflog.h>
#include <unistd.h>

#include "musclecsa/core/error.h"

namespace musclecsa::report::detail {

const CodedConcept* laterality_code(Side side) {
  if (side == Side::Right) return &kRightCode;
  if (side == Side::Left) return &kLeftCode;
  return nullptr;
}

void quiet_dcmtk_logging() {
  static std::once_flag once;
  std::call_once(once, [] { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); });
}

void save_dicom_atomically(DcmFileFormat& file, const std::filesystem::path& path, const std::string& what) {
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) throw Error(ErrorCode::OutputFailed, path.string(), "cannot create folder: " + ec.message());
  }
  const std::filesystem::path temp =
      path.parent_path() / ("." + path.filename().string() + ".tmp" + std::to_string(::getpid()));
  const OFCondition status = file.saveFile(temp.c_str(), EXS_LittleEndianExplicit);
  if (status.bad()) {
    std::filesystem::remove(temp, ec);
    throw Error(ErrorCode::OutputFailed, path.string(), "cannot write the " + what + ": " + status.text());
  }
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    const std::string reason = ec.message();
    std::filesystem::remove(temp, ec);
    throw Error(ErrorCode::OutputFailed, path.string(), "cannot rename the finished " + what + ": " + reason);
  }
}

}  // namespace musclecsa::report::detail
