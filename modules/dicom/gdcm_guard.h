#pragma once
// What GDCM would abort the process on, refused before GDCM reads a file (private to the dicom
// module). Debian's GDCM 3.0 is built with its assert()s compiled in: a palette colour lookup
// table whose descriptor disagrees with its data, a segmented palette whose segments run past
// their data, a pixel value beyond a partial palette... end in SIGABRT inside gdcm::LookupTable.
// These checks mirror what GDCM's PixmapReader, LookupTable, SegmentedPaletteColorLookupTable
// and ImageApplyLookupTable assume, so that such a file is a named error (the file and what is
// wrong) and nothing else.

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include "musclecsa/dicom/file_info.h"

namespace musclecsa::dicom::detail {

/// True when the file's pixel data are decoded by GDCM: palette colour, or JPEG 2000.
bool decoded_by_gdcm(const DicomFileInfo& info);

/// Checks, for a file decoded by GDCM, the palette colour lookup tables of the image (PS3.3
/// C.7.6.3.1.5-6, C.7.9: descriptors, data lengths, segmented palettes, pixel values of a partial
/// palette), the Icon Image Sequence (0088,0200) and the first ultrasound region (0018,6011) GDCM
/// also reads, the VRs of the file meta information (GDCM asserts on one it does not know), and
/// the JPEG 2000 fragments GDCM's codec would read past the end of (jpeg2000_guard.h).
/// `file` is the file as DCMTK read it, `info` what read_file_info found in it. Does nothing for
/// other files. Throws Error(InvalidInput, info.path, what is wrong).
void check_before_gdcm(DcmFileFormat& file, const DicomFileInfo& info);

}  // namespace musclecsa::dicom::detail
