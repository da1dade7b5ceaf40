#pragma once
// Loading what a user names (on the command line, in the viewer): a DICOM file or folder (one series chosen), a
// research-format volume (NIfTI, NRRD, MetaImage) or an ultrasound picture (PNG/TIFF/JPEG/BMP).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "musclecsa/core/image.h"
#include "musclecsa/core/progress.h"
#include "musclecsa/dicom/series.h"

namespace musclecsa::pipeline {

struct InputOptions {
  std::string series;                      ///< Series Instance UID, series id ("uid#2") or 1-based list index
  std::optional<double> pixel_size_mm;     ///< for pictures without calibration
  dicom::NonUniformPolicy non_uniform = dicom::NonUniformPolicy::Resample;
  bool allow_localizer = false;            ///< conversion may take a localizer-only series
  bool prefer_exact_int16 = false;         ///< conversion: load DICOM as exact int16 when possible
  std::optional<std::size_t> frame;        ///< keep only this frame (0-based) of a multi-frame/cine series
  bool path_is_file_list = false;          ///< the path is a text file naming one DICOM file or folder per line
};

struct LoadedInput {
  ScalarVolume volume;                     ///< empty when `volume_int16` holds the data
  std::optional<Image<std::int16_t>> volume_int16;  ///< exact int16 voxels (prefer_exact_int16)
  std::string kind;                        ///< "dicom", "research", "bitmap"
  std::optional<dicom::Series> series;     ///< for DICOM input
  bool calibrated = true;                  ///< false: pixel measurements only
  std::filesystem::path any_dicom_file;    ///< one file of the DICOM series (empty otherwise)
  bool one_instance_per_slice = false;     ///< DICOM: slice k is exactly instance sop_instance_uids[k]
  std::vector<std::string> qc_flags, notes;
};

/// Loads the input. Throws Error(InvalidArgument) when a folder holds several usable series and
/// none was chosen (the message lists them), Error(InvalidInput) when nothing usable is found.
LoadedInput load_input(const std::filesystem::path& path, const InputOptions& options, Progress& progress);

/// The paths of a file list (`--files-from`): one per line, blank lines skipped. Throws
/// Error(InvalidInput) naming the list when it names no file.
std::vector<std::filesystem::path> read_file_list(const std::filesystem::path& list);

/// One line describing a series: number, description, modality, size, spacing, orientation.
std::string describe(const dicom::Series& series);

/// "axial", "coronal", "sagittal" or "oblique" from a slice normal.
std::string orientation_name(const Geometry& geometry);

}  // namespace musclecsa::pipeline
