#pragma once
// Assembling DICOM files into image series (volumes), and loading their voxels.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "musclecsa/core/image.h"
#include "musclecsa/dicom/file_info.h"

namespace musclecsa::dicom {

/// One slice of a series: a frame of a file, at a position along the slice normal.
struct SliceRef {
  std::size_t file_index = 0;   ///< into ScanResult::files
  std::size_t frame = 0;        ///< frame within the file
  double normal_mm = 0;         ///< position projected on the slice normal
};

/// Ultrasound physical calibration of a series, from its chosen tissue region.
struct UltrasoundCalibration {
  bool calibrated = false;      ///< false: pixels only (no region with cm units)
  double pixel_width_mm = 0, pixel_height_mm = 0;
  int region_min_x = 0, region_min_y = 0, region_max_x = 0, region_max_y = 0;
  std::string note;             ///< which region was chosen, or why none was
};

/// What to do with a stack whose slice spacing is not uniform.
enum class NonUniformPolicy { Resample, Refuse };

struct AssemblyOptions {
  NonUniformPolicy non_uniform = NonUniformPolicy::Resample;
  double spacing_tolerance = 0.01;   ///< relative deviation of a slice gap from the median still called uniform
};

/// An assembled series: the slices of one volume in order, with geometry and QC.
struct Series {
  std::string id;                    ///< Series Instance UID, plus "#n" when one UID held several volumes
  std::string series_instance_uid, study_instance_uid, frame_of_reference_uid, sop_class_uid;
  std::string patient_name, patient_id, study_date, study_description, series_description;
  std::string modality, manufacturer, body_part;
  int series_number = 0;
  std::vector<std::string> image_type;
  DixonRole dixon_role = DixonRole::None;
  std::string photometric;
  bool color = false;
  double kvp = 0;                    ///< CT tube voltage of the first image (0 when absent)
  std::string contrast_agent;        ///< Contrast/Bolus Agent of the first image ("" when absent)

  std::vector<SliceRef> slices;      ///< in increasing position along the normal
  Geometry geometry;                 ///< the output grid (orthogonal, uniform)
  bool needs_resampling = false;     ///< source slices are not on `geometry` (tilt or uneven gaps)
  bool has_patient_geometry = true;  ///< false: no Image Position/Orientation (ultrasound, projections):
                                     ///< origin and direction are nominal
  double nominal_spacing_mm = 0;     ///< median gap between slices (0 for one slice)
  double min_gap_mm = 0, max_gap_mm = 0;
  std::string spacing_regularity;    ///< "single", "uniform", "missing_slices", "non_uniform"
  std::optional<UltrasoundCalibration> ultrasound;

  bool usable = true;
  std::string unusable_reason;       ///< why not usable (refused non-uniform spacing, mixed sizes, ...)
  /// Stable QC flag names (docs/dicom.md):
  ///  "dropped_localizer"        localizer/scout images of this UID were left out
  ///  "split_series"             the Series Instance UID held several volumes; this is one of them
  ///  "duplicate_positions_removed"  several slices at one position; the first (lowest instance) kept
  ///  "missing_slices"           some gaps are whole multiples of the nominal spacing
  ///  "non_uniform_spacing_resampled"  uneven gaps; resampled onto a uniform grid (never averaged)
  ///  "gantry_tilt_resampled"    slices are sheared (tilted gantry); resampled onto an orthogonal grid
  ///  "philips_private_scaling"  Philips (2005,100E/100D) scale applied: value = (SV*RS + RI) / (RS*SS)
  ///  "ultrasound_uncalibrated"  no ultrasound region in physical units: measurements in pixels only
  ///  "single_slice"             one slice only
  ///  "no_pixel_spacing"         CT/MR without Pixel Spacing: 1 mm nominal pixels, not for measurement
  ///  "missing_uids"             no Series/SOP Instance UID (anonymised): grouped by folder and series number
  std::vector<std::string> qc_flags;
  std::vector<std::string> notes;    ///< human-readable detail for each flag and warning
};

/// Groups files by Series Instance UID, splits UIDs that hold several volumes (orientation,
/// image type, echo, size, acquisition/temporal position, enhanced stack), drops localizers with a
/// note, sorts slices along the normal and checks spacing. Pure function of the headers.
/// A UID holding only localizers gives a Series with usable = false. Non-uniform spacing with
/// NonUniformPolicy::Refuse gives usable = false with the reason. Files of different rows/columns
/// within one UID and orientation are split by size (flag "split_series").
std::vector<Series> assemble_series(const std::vector<DicomFileInfo>& files, const AssemblyOptions& options = {});

/// Decodes the voxels of a series into physical values (rescale per slice, Philips private
/// scaling, signed/unsigned and Bits Stored handled; colour converted to luminance
/// Y = 0.299 R + 0.587 G + 0.114 B), resampling onto `series.geometry` when needed.
/// Throws Error(InvalidInput, file, ...) for undecodable pixel data.
/// Unusable series are refused, except localizer-only ones when `allow_localizer` (for conversion).
ScalarVolume load_series(const Series& series, const std::vector<DicomFileInfo>& files, Progress& progress,
                         bool allow_localizer = false);

/// For conversion: the series as exact 16-bit integers (stored value x slope + intercept is an
/// integer within int16 for every voxel, e.g. CT with slope 1), decoded without a float volume.
/// nullopt when that does not hold (non-integral rescale, resampling, colour, Philips scaling...);
/// callers then use load_series.
std::optional<Image<std::int16_t>> load_series_int16(const Series& series, const std::vector<DicomFileInfo>& files,
                                                     Progress& progress);

/// The unusable_reason of a Series that holds only localizer/scout images.
inline constexpr const char* kLocalizerOnly = "localizer/scout images only";

}  // namespace musclecsa::dicom
