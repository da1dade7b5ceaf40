#pragma once
// DCMTK helpers shared inside the dicom module (never exposed in public headers).

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <cstdint>
#include <filesystem>

namespace musclecsa::dicom::detail {

/// Loads a file's header with values over 4 KiB left on disk until used, after checking that no
/// element declares a length beyond the end of the file. Returns DCMTK's condition.
OFCondition load_dicom_file(DcmFileFormat& file, const std::filesystem::path& path, std::uintmax_t file_size);

/// Registers DCMTK's RLE, JPEG and JPEG-LS decoders once per process.
void register_dcmtk_codecs();

/// One-time DCMTK set-up (logging, data dictionary, codecs); call before using DCMTK on threads.
void prepare_dcmtk();

}  // namespace musclecsa::dicom::detail

namespace musclecsa::dicom {
using detail::load_dicom_file;
}
