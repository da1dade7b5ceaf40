#pragma once
// What MuscleCSA reads from one DICOM file's header, and scanning files and folders for them.

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "musclecsa/core/geometry.h"
#include "musclecsa/core/progress.h"

namespace musclecsa::dicom {

/// One item of the Sequence of Ultrasound Regions (0018,6011).
struct UltrasoundRegionInfo {
  int spatial_format = 0;      ///< (0018,6012): 1 = 2-D tissue/flow
  int data_type = 0;           ///< (0018,6014): 1 = tissue, 2 = colour flow, ...
  int min_x0 = 0, min_y0 = 0, max_x1 = 0, max_y1 = 0;  ///< pixel bounds (inclusive)
  int units_x = 0, units_y = 0;  ///< (0018,6024/6026): 3 = cm
  double physical_delta_x = 0, physical_delta_y = 0;  ///< in units_x / units_y per pixel
};

/// Geometry and value transform of one frame (for classic images, the file's single frame).
struct FrameInfo {
  std::optional<Vec3> position_lps_mm;                ///< Image Position (Patient)
  std::optional<std::array<double, 6>> orientation;   ///< Image Orientation (Patient): row, column cosines
  std::optional<std::array<double, 2>> pixel_spacing_mm;  ///< row spacing (between rows), column spacing
  double slice_thickness_mm = 0;
  double rescale_slope = 1, rescale_intercept = 0;
  int stack_position = 0;      ///< In-Stack Position Number (enhanced), 0 if absent
  std::string stack_id;        ///< Stack ID (enhanced)
  int temporal_position = 0;   ///< Temporal Position Index (enhanced) or Temporal Position Identifier
};

/// Dixon image role from Image Type or vendor series-description conventions.
enum class DixonRole { None, Water, Fat, InPhase, OpposedPhase, FatFraction };
std::string_view to_string(DixonRole role);  ///< "none", "water", "fat", "in_phase", "opposed_phase", "fat_fraction"

/// The header of one DICOM file (pixel data is not loaded).
struct DicomFileInfo {
  std::filesystem::path path;
  std::string transfer_syntax_uid;
  std::string sop_class_uid, sop_instance_uid;
  std::string modality, manufacturer, body_part;
  std::string patient_name, patient_id;
  std::string study_instance_uid, study_date, study_description;
  std::string series_instance_uid, series_description, frame_of_reference_uid;
  std::vector<std::string> image_type;
  int series_number = 0, instance_number = 0, acquisition_number = 0, echo_number = 0;
  double echo_time_ms = 0;
  double gantry_tilt_deg = 0;
  double kvp = 0;                   ///< CT tube voltage (0018,0060), 0 when absent
  std::string contrast_agent;       ///< Contrast/Bolus Agent (0018,0010), "" when absent

  std::uint32_t rows = 0, columns = 0, number_of_frames = 1, samples_per_pixel = 1;
  std::uint32_t bits_allocated = 0, bits_stored = 0, high_bit = 0, pixel_representation = 0, planar_configuration = 0;
  std::string photometric;
  bool enhanced = false;            ///< per-frame functional groups present
  std::vector<FrameInfo> frames;    ///< one per frame
  std::optional<double> philips_scale_slope;      ///< (2005,100E), when the vendor is Philips
  std::optional<double> philips_scale_intercept;  ///< (2005,100D)
  std::vector<UltrasoundRegionInfo> ultrasound_regions;

  bool has_pixel_data = false;
  bool encapsulated = false;        ///< compressed (encapsulated) pixel data
  std::uint64_t pixel_data_bytes = 0;  ///< length of native pixel data
  std::uint64_t pixel_data_offset = 0; ///< file offset of native pixel data that ends the file (0: unknown)
  bool big_endian = false;             ///< byte order of the pixel data
  std::vector<std::string> warnings;   ///< problems that do not stop the file from being used

  DixonRole dixon_role() const;
  bool is_localizer() const;        ///< Image Type says LOCALIZER/SCOUT, or the description does
  bool is_color() const { return samples_per_pixel > 1 || photometric == "PALETTE COLOR"; }
};

/// Reads one file's header. Throws Error(InputNotFound, path) when unreadable and
/// Error(InvalidInput, path, problem) when the file is not DICOM or not usable as an image
/// (no pixel data, pixel data shorter than declared, zero rows, unsupported transfer syntax, ...).
DicomFileInfo read_file_info(const std::filesystem::path& path);

/// True when the file starts with a DICOM preamble ("DICM" at offset 128) or parses as a DICOM
/// dataset without one. Does not throw.
bool looks_like_dicom(const std::filesystem::path& path);

/// A file or folder that could not be used, and why.
struct ScanProblem {
  std::filesystem::path path;
  std::string problem;
  bool is_dicom = false;  ///< true: a DICOM file with a problem; false: not DICOM, unreadable, empty folder
};

struct ScanResult {
  std::vector<DicomFileInfo> files;      ///< usable DICOM image files
  std::vector<ScanProblem> problems;     ///< DICOM files that cannot be used, unreadable paths, empty folders
  std::size_t non_dicom_files = 0;       ///< files skipped because they are not DICOM
  std::size_t dicomdir_files = 0;        ///< DICOMDIR files read
  std::size_t files_seen = 0;
};

/// Walks files and folders recursively (file names and extensions do not matter). DICOMDIR files
/// are read and the files they reference are included even when outside the walked folders; a
/// referenced file that is missing is reported. Never throws for bad content: every problem is
/// listed in the result with its path.
ScanResult scan_paths(const std::vector<std::filesystem::path>& paths, Progress& progress);

}  // namespace musclecsa::dicom
