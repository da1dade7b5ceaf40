#include "dcmtk_util.h"

#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <mutex>
#include <stdexcept>
#include <string>

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
