#pragma once
// DICOM Structured Report, TID 1500 Measurement Report, of MuscleCSA measurements at the standard
// levels; and reading one back. DCMTK (dcmsr, cmr) stays private to the report module.

#include <filesystem>
#include <string>
#include <vector>

#include "musclecsa/core/measurement.h"
#include "musclecsa/report/dicom_seg.h"

namespace musclecsa::report {

struct SrOptions {
  std::string series_description = "MuscleCSA measurements";
  int series_number = 901;
  std::string software_version;
  std::string procedure_reported = "CT of lower limb";  ///< free text fallback; coded from the modality
};

/// Writes a TID 1500 Measurement Report holding the measurements taken at a standard level
/// (Measurement::level not empty and not "scanned_range"): one measurement group per structure,
/// side and level, with tracking identifier and UID, finding site = the structure's catalog code
/// with laterality, each quantity as a coded numeric measurement in its UCUM unit (docs/coding.md;
/// CT quantities and the MRI ones: Dixon fat fraction, fat-free CSA, suggested Mercuri grade, T1
/// relative fat signal),
/// referencing the SEG segment of the structure when `seg` is given (for a group: its members'
/// segments) and the source image of the level slice. Written under a temporary name, then renamed.
/// Throws Error(InvalidArgument, ...) for a non-DICOM source, Error(OutputFailed, path, ...).
void write_dicom_sr(const std::vector<Measurement>& measurements, const DicomSource& source, const DicomSegInfo* seg,
                    const SrOptions& options, const std::filesystem::path& path);

/// Reads the measurements of a report written by write_dicom_sr (quantity, value, unit, structure,
/// side, level and slice). Throws Error(InputNotFound / InvalidInput, path, ...).
std::vector<Measurement> read_dicom_sr(const std::filesystem::path& path);

}  // namespace musclecsa::report
