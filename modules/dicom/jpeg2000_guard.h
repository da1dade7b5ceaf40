#pragma once
// What GDCM's JPEG 2000 codec would read past the end of, refused before GDCM reads a file
// (private to the dicom module). GDCM 3.0's JPEG2000Codec (GetHeaderInfo, which GDCM runs on the
// first fragment to learn whether the image is lossy, and DecodeByStreamsCommon, run on each
// frame) compares the first 13 bytes of a fragment with the JP2 signature whatever its length,
// and walks the codestream's main-header marker segments (or the JP2 boxes before the codestream)
// to read the COD segment's transform bytes, trusting every length it meets: a fragment shorter
// than 13 bytes, a marker segment or box whose length runs past the end of its fragment, or a COD
// segment cut short is read past the end of the buffer (found by fuzzing: AddressSanitizer
// reported GDCM's memcmp reading past a 10-byte fragment).

#include <cstddef>
#include <cstdint>
#include <string>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include "musclecsa/dicom/file_info.h"

namespace musclecsa::dicom::detail {

/// True for the JPEG 2000 transfer syntaxes (1.2.840.10008.1.2.4.90-93), which GDCM decodes.
bool is_jpeg2000(const std::string& transfer_syntax_uid);

/// The problem GDCM's JPEG 2000 codec would meet reading `size` bytes of one JPEG 2000 stream
/// (a codestream, or a JP2 file) past its end, in words a user can act on; empty when it reads
/// only inside them. Mirrors GDCM's reads exactly: it does not judge whether OpenJPEG can decode
/// the stream (OpenJPEG checks its own reads and fails cleanly).
std::string jpeg2000_stream_problem(const std::uint8_t* bytes, std::size_t size);

/// For a JPEG 2000 file (`info.transfer_syntax_uid` 1.2.840.10008.1.2.4.90-93): checks the streams
/// GDCM will read from the encapsulated Pixel Data of `dataset` (the first fragment alone; each
/// fragment of a multi-frame image whose fragments are its frames; all fragments joined for a
/// single frame) with jpeg2000_stream_problem. Throws Error(InvalidInput, info.path, ...) naming
/// the fragment and the problem; pixel data that is not encapsulated, or has no fragment, is
/// refused too. Does nothing for other transfer syntaxes.
void check_jpeg2000_fragments(DcmDataset& dataset, const DicomFileInfo& info);

}  // namespace musclecsa::dicom::detail
