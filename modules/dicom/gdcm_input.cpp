// The minimal, well-formed copy of a file that GDCM decodes (gdcm_input.h).

#include "gdcm_input.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "dcmtk_util.h"
#include "musclecsa/core/error.h"

namespace musclecsa::dicom::detail {
namespace {

[[noreturn]] void refuse(const std::filesystem::path& path, const std::string& problem) {
  throw Error(ErrorCode::InvalidInput, path.string(), problem);
}

/// A new empty named file of this process's own in the temporary folder, made by mkstemps
/// (random name of fixed length, never an existing file); DCMTK writes the copy over it.
std::filesystem::path make_named_temporary_file() {
  std::string pattern = (std::filesystem::temp_directory_path() / "musclecsa-gdcm-XXXXXX.dcm").string();
  const int fd = ::mkstemps(pattern.data(), 4);
  if (fd < 0)
    throw Error(ErrorCode::OutputFailed, std::filesystem::temp_directory_path().string(),
                "cannot create a temporary file for decoding: " + std::string(std::strerror(errno)));
  ::close(fd);
  return pattern;
}

}  // namespace

GdcmInput::GdcmInput(const DicomFileInfo& f) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(f.path, ec);
  DcmFileFormat in;
  if (ec || load_dicom_file(in, f.path, size).bad()) refuse(f.path, "cannot be read again (changed or removed since scanning?)");
  DcmDataset& ds = *in.getDataset();
  const E_TransferSyntax xfer = ds.getOriginalXfer();
  DcmFileFormat out;
  DcmDataset& copy = *out.getDataset();
  // Text elements, as strings (the writer gives each its dictionary VR).
  for (const DcmTagKey& tag : {DCM_SOPClassUID, DCM_SOPInstanceUID, DCM_PhotometricInterpretation, DCM_NumberOfFrames}) {
    OFString value;
    if (ds.findAndGetOFStringArray(tag, value).good() && copy.putAndInsertString(tag, value.c_str()).bad())
      refuse(f.path, "cannot copy " + std::string(DcmTag(tag).getTagName()) + " for decoding");
  }
  // Without a SOP Instance UID DCMTK would make one from the clock for the file meta information:
  // a fixed one keeps the copy the same bytes every time (GDCM does not look at its value).
  if (!copy.tagExistsWithValue(DCM_SOPInstanceUID) && copy.putAndInsertString(DCM_SOPInstanceUID, "2.25.1").bad())
    refuse(f.path, "cannot give the copy for decoding a SOP Instance UID");
  // Single 16-bit values of the Image Pixel module.
  for (const DcmTagKey& tag : {DCM_SamplesPerPixel, DCM_PlanarConfiguration, DCM_Rows, DCM_Columns, DCM_BitsAllocated,
                               DCM_BitsStored, DCM_HighBit, DCM_PixelRepresentation}) {
    Uint16 value = 0;
    if (ds.findAndGetUint16(tag, value).good()) copy.putAndInsertUint16(tag, value);
  }
  // Palette descriptors (three values) and tables, plain or segmented, as 16-bit words.
  for (const DcmTagKey& tag :
       {DCM_RedPaletteColorLookupTableDescriptor, DCM_GreenPaletteColorLookupTableDescriptor,
        DCM_BluePaletteColorLookupTableDescriptor, DCM_RedPaletteColorLookupTableData,
        DCM_GreenPaletteColorLookupTableData, DCM_BluePaletteColorLookupTableData,
        DCM_SegmentedRedPaletteColorLookupTableData, DCM_SegmentedGreenPaletteColorLookupTableData,
        DCM_SegmentedBluePaletteColorLookupTableData}) {
    const Uint16* words = nullptr;
    unsigned long count = 0;
    if (ds.findAndGetUint16Array(tag, words, &count).good() && words != nullptr && count > 0)
      copy.putAndInsertUint16Array(tag, words, count);
  }
  DcmElement* pixels = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, pixels).bad() || pixels == nullptr) refuse(f.path, "no Pixel Data to decode");
  if (pixels->loadAllDataIntoMemory().bad()) refuse(f.path, "pixel data cannot be read");
  if (copy.insert(static_cast<DcmElement*>(pixels->clone()), true).bad()) refuse(f.path, "pixel data cannot be copied for decoding");
  // An unnamed file: nothing is left behind whatever happens, and its name does not change from
  // run to run (scripts/fuzz's reproducible runs depend on that).
  unnamed_fd_ = ::open(std::filesystem::temp_directory_path(ec).c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  path_ = unnamed_fd_ >= 0 ? std::filesystem::path("/proc/self/fd/" + std::to_string(unnamed_fd_)) : make_named_temporary_file();
  const OFCondition saved = out.saveFile(path_.c_str(), xfer);
  if (saved.bad()) {
    release();
    refuse(f.path, std::string("cannot be prepared for decoding: ") + saved.text());
  }
}

void GdcmInput::release() {
  if (unnamed_fd_ >= 0) {
    ::close(unnamed_fd_);
    unnamed_fd_ = -1;
  } else if (!path_.empty()) {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  path_.clear();
}

GdcmInput::~GdcmInput() { release(); }

}  // namespace musclecsa::dicom::detail
