#pragma once
// What the DICOM SEG and SR writers share (internal to the report module): laterality codes,
// quiet DCMTK logging, and complete-or-nothing saving.

#include <filesystem>
#include <string>

#include <dcmtk/dcmdata/dcfilefo.h>

#include "musclecsa/core/catalog.h"

namespace musclecsa::report::detail {

// Laterality (SCT, PS3.16 CID 244), as segment property modifier and SR finding site modifier.
inline const CodedConcept kRightCode{"SCT", "24028007", "Right"};
inline const CodedConcept kLeftCode{"SCT", "7771000", "Left"};

/// The laterality code of a side, or nullptr for Side::None.
const CodedConcept* laterality_code(Side side);

/// Library code reports problems as Error values; DCMTK's own console messages would only add
/// noise. Called once before DCMTK is used.
void quiet_dcmtk_logging();

/// Saves `file` (explicit VR little endian) through a temporary file in the target folder and a
/// rename; on any failure the temporary file is removed and Error(OutputFailed, path, ...) names
/// `what` ("DICOM SEG", "DICOM SR").
void save_dicom_atomically(DcmFileFormat& file, const std::filesystem::path& path, const std::string& what);

}  // namespace musclecsa::report::detail
