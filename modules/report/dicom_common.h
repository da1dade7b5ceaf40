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

/// A new UID under the 2.25 root (a random 128-bit number, ITU-T X.667), as MuscleCSA's other UIDs.
std::string new_uid();

/// Library code reports problems as Error values; DCMTK's own console messages would only add
/// noise. Called once before DCMTK is used.
void quiet_dcmtk_logging();

/// Saves `file` (explicit VR little endian, with its meta header) complete or not at all: encoded
/// in memory, then written through a temporary file and a rename. Throws Error(OutputFailed, path,
/// ...) naming `what` ("DICOM SEG", "DICOM SR") or the write failure (disk full).
void save_dicom_atomically(DcmFileFormat& file, const std::filesystem::path& path, const std::string& what);

}  // namespace musclecsa::report::detail
