#pragma once
// What GDCM is given to decode (JPEG 2000 and palette colour): not the user's file, but a copy
// that DCMTK writes with only the elements decoding needs, each with its dictionary VR.

#include <filesystem>

#include "musclecsa/dicom/file_info.h"

namespace musclecsa::dicom::detail {

/// GDCM 3.0 parses files on its own and asserts or allocates on what DCMTK has already read
/// safely (found by fuzzing): an item delimiter where an element was expected
/// (VR16ExplicitDataElement::ReadPreValue), a known attribute with an unexpected VR
/// (Attribute::SetFromDataElement, e.g. Lossy Image Compression as UL), an element length
/// GDCM read as 2.6 GB. The copy holds the SOP class and instance, the Image Pixel module
/// (samples, photometric, planar configuration, frames, rows, columns, bits, representation), the
/// palette descriptors and tables (also segmented) and the pixel data, in the file's transfer
/// syntax. It is an unnamed file in the temporary folder (O_TMPFILE, reached as /proc/self/fd/N:
/// gone when this object goes, or when the process dies), or where the file system has no unnamed
/// files a named one (mkstemps), removed when this object goes. Throws Error(InvalidInput, file,
/// ...) when the file cannot be read or written so.
class GdcmInput {
 public:
  explicit GdcmInput(const DicomFileInfo& f);
  ~GdcmInput();
  GdcmInput(const GdcmInput&) = delete;
  GdcmInput& operator=(const GdcmInput&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  void release();  ///< closes or removes the file
  std::filesystem::path path_;
  int unnamed_fd_ = -1;  ///< the unnamed file's descriptor, -1 for a named file
};

}  // namespace musclecsa::dicom::detail
