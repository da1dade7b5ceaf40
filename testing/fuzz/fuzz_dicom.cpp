// libFuzzer target over the DICOM reader: the bytes are one DICOM file, taken through the steps a
// user's file takes (docs/dicom.md): looks_like_dicom, read_file_info, assemble_series (the file
// alone, and beside a shifted copy of itself as a two-file series) and decoding (load_series and
// load_series_int16: DCMTK for native, RLE, JPEG, JPEG-LS; GDCM for JPEG 2000 and palette colour).
// A musclecsa::Error is the expected answer to a bad file; anything else escaping, a sanitizer
// report or an abort is a crash. Also built without libFuzzer as fuzz_replay_dicom, which replays
// testing/fuzz/regressions/dicom/ in ctest.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_support.h"
#include "musclecsa/core/error.h"
#include "musclecsa/core/progress.h"
#include "musclecsa/dicom/file_info.h"
#include "musclecsa/dicom/series.h"

using namespace musclecsa;

namespace {

void decode(const dicom::Series& series, const std::vector<dicom::DicomFileInfo>& files) {
  if (!series.usable && series.unusable_reason != dicom::kLocalizerOnly) return;
  NullProgress progress;
  try {
    (void)dicom::load_series(series, files, progress, /*allow_localizer=*/true);
  } catch (const Error&) {
  }
  try {
    (void)dicom::load_series_int16(series, files, progress);
  } catch (const Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = fuzz::write_input(data, size, "input.dcm");
  (void)dicom::looks_like_dicom(path);
  dicom::DicomFileInfo info;
  try {
    info = dicom::read_file_info(path);
  } catch (const Error&) {
    return 0;
  }
  const std::vector<dicom::DicomFileInfo> one{info};
  for (const auto& series : dicom::assemble_series(one)) decode(series, one);

  // The same file twice, the copy one instance later and 2.5 mm further along z: a two-slice
  // series (or duplicates, a split, a localizer...) for the assembly's sorting and spacing checks.
  std::vector<dicom::DicomFileInfo> two{info, info};
  two[1].instance_number += 1;
  two[1].sop_instance_uid += ".1";
  for (auto& frame : two[1].frames)
    if (frame.position_lps_mm) frame.position_lps_mm->z += 2.5;
  dicom::AssemblyOptions refuse;
  refuse.non_uniform = dicom::NonUniformPolicy::Refuse;
  (void)dicom::assemble_series(two);
  (void)dicom::assemble_series(two, refuse);
  return 0;
}
