#pragma once
// Writes a ScalarVolume as a DICOM series, one file per slice (CT, MR or ultrasound image storage).

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "musclecsa/core/image.h"

namespace musclecsa::dicom {

/// One entry of the Sequence of Ultrasound Regions (0018,6011): a 2-D tissue region with its
/// physical pixel size.
struct UltrasoundRegion {
  int min_x0 = 0, min_y0 = 0, max_x1 = 0, max_y1 = 0;  ///< region bounds in pixels (inclusive)
  double physical_delta_x_cm = 0;                      ///< cm per pixel along x (units code 3)
  double physical_delta_y_cm = 0;                      ///< cm per pixel along y (units code 3)
};

/// MR acquisition attributes written into the MR Image module.
struct MrAcquisition {
  std::string scanning_sequence = "SE";   ///< (0018,0020)
  std::string sequence_variant = "NONE";  ///< (0018,0021)
  double repetition_time_ms = 500;
  double echo_time_ms = 12;
  double field_strength_t = 3;
};

struct SeriesWriteOptions {
  std::string patient_name = "PHANTOM^MUSCLECSA";
  std::string patient_id = "MCSA-PHANTOM";
  std::string patient_sex = "O";
  std::string study_instance_uid;          ///< required
  std::string series_instance_uid;         ///< required
  std::string frame_of_reference_uid;      ///< required for CT/MR
  std::string study_description = "MuscleCSA phantom";
  std::string series_description;
  std::string study_date = "20260101";     ///< fixed by default so output is reproducible
  std::string study_time = "120000";
  int series_number = 1;
  std::vector<std::string> image_type{"ORIGINAL", "PRIMARY", "AXIAL"};
  std::string body_part_examined = "LEG";
  std::string image_laterality = "B";     ///< (0020,0062) "R", "L" or "B" (both legs in view)
  std::string manufacturer = "MuscleCSA";
  std::string model_name = "digital phantom";
  std::string uid_prefix_text;             ///< seed text for deterministic SOP Instance UIDs
  double rescale_intercept = 0;            ///< CT: stored = round((value - intercept) / slope)
  double rescale_slope = 1;
  double window_center = 40, window_width = 400;
  MrAcquisition mr;
  std::optional<UltrasoundRegion> ultrasound_region;  ///< US only
  std::string file_prefix = "IM_";
};

/// Writes one DICOM file per slice of `volume` (modality CT, MR or US) into `directory`
/// (created if missing): explicit VR little endian, 16-bit unsigned for CT/MR, 8-bit MONOCHROME2
/// for US. Each file is written under a temporary name and renamed when complete.
/// Throws Error(OutputFailed, <file>, ...) when a file cannot be written and
/// Error(InvalidArgument, ...) when values do not fit the stored pixel range.
/// Returns the written paths in slice order.
std::vector<std::filesystem::path> write_series(const ScalarVolume& volume, const SeriesWriteOptions& options,
                                                const std::filesystem::path& directory);

/// A deterministic DICOM UID derived from `text`: "2.25." followed by the decimal value of a
/// 128-bit name-based UUID (RFC 9562 version 8) hashed from the text (PS3.5 B.2).
std::string uid_from_text(std::string_view text);

}  // namespace musclecsa::dicom
