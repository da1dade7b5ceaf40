#pragma once
// DICOM Segmentation (SEG) of a MuscleCSA label map, so results go back to PACS; and reading one
// back. DCMTK (dcmseg) stays private to the report module.

#include <filesystem>
#include <string>
#include <vector>

#include "musclecsa/core/catalog.h"
#include "musclecsa/core/image.h"

namespace musclecsa::report {

/// Where the analysed images came from: the DICOM series and one of its files, whose patient,
/// study (and general equipment) modules the derived objects carry as the standard requires.
struct DicomSource {
  SourceSeries series;             ///< UIDs, SOP class and per-slice SOP instance UIDs (ScalarVolume::source)
  Geometry geometry;               ///< the analysed grid (the label map's)
  bool one_instance_per_slice = false;  ///< slice k is exactly series.sop_instance_uids[k] (not resampled)
  std::filesystem::path any_file;  ///< one DICOM file of the series
};

/// One segment of a SEG and the voxel label it stands for.
struct SegSegment {
  int segment_number = 0;          ///< 1-based, as in the SEG
  LabelId label = 0;               ///< catalog voxel label id (side included)
  std::string structure_key;       ///< catalog key
  Side side = Side::None;
};

/// What a written (or read) SEG is, for references from an SR.
struct DicomSegInfo {
  std::string study_instance_uid, series_instance_uid, sop_instance_uid, sop_class_uid;
  std::vector<SegSegment> segments;
};

struct SegOptions {
  std::string series_description = "MuscleCSA segmentation";
  int series_number = 900;
  std::string software_version;    ///< written into the equipment module
};

/// Writes `labels` as a binary DICOM Segmentation: one segment per label id present (catalog
/// order), with the catalog's segmented property category/type codes, laterality, recommended
/// display colour and algorithm identification (automatic, MuscleCSA + version); frames only where
/// a segment is present; referencing the source series (and each frame's source image when
/// `one_instance_per_slice`). Written under a temporary name, then renamed.
/// Throws Error(InvalidArgument, ...) when the source is not DICOM (no study/series UIDs or no file),
/// Error(OutputFailed, path, ...) when it cannot be written.
DicomSegInfo write_dicom_seg(const LabelMap& labels, const DicomSource& source, const SegOptions& options,
                             const std::filesystem::path& path);

/// Reads a SEG made by write_dicom_seg back to a label map on its own grid, each segment mapped
/// back to its catalog label id. Throws Error(InputNotFound / InvalidInput, path, ...).
LabelMap read_dicom_seg(const std::filesystem::path& path, DicomSegInfo* info = nullptr);

}  // namespace musclecsa::report
