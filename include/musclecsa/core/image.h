#pragma once
// Voxel data on a Geometry: scalar volumes in physical units and label maps.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "musclecsa/core/geometry.h"

namespace musclecsa {

/// Imaging modality of a volume, as in DICOM Modality (0008,0060).
enum class Modality { CT, MR, US, Other };

std::string_view to_string(Modality modality);      ///< "CT", "MR", "US", "OT"
Modality modality_from_string(std::string_view dicom_modality);

/// Where a volume came from: enough to reference it from DICOM SEG/SR and in results.
struct SourceSeries {
  std::string study_instance_uid;
  std::string series_instance_uid;
  std::string frame_of_reference_uid;
  std::string series_description;
  std::vector<std::string> sop_instance_uids;  ///< one per slice, in k order (may be empty)
  std::string sop_class_uid;                   ///< of the source images
  std::string path;                            ///< file or folder the data was read from
};

/// Voxels of type T stored i-fastest on a Geometry.
template <class T>
struct Image {
  Geometry geometry;
  std::vector<T> voxels;

  Image() = default;
  explicit Image(const Geometry& g, T fill = T{}) : geometry(g), voxels(g.voxel_count(), fill) {}

  T& at(std::size_t i, std::size_t j, std::size_t k) { return voxels[geometry.offset(i, j, k)]; }
  const T& at(std::size_t i, std::size_t j, std::size_t k) const { return voxels[geometry.offset(i, j, k)]; }
  /// Pointer to the first voxel of slice k.
  T* slice(std::size_t k) { return voxels.data() + k * geometry.slice_voxel_count(); }
  const T* slice(std::size_t k) const { return voxels.data() + k * geometry.slice_voxel_count(); }
};

/// A scalar volume in physical units: Hounsfield units for CT, signal for MR, grey level 0-255
/// (luminance) for ultrasound.
struct ScalarVolume : Image<float> {
  using Image<float>::Image;
  Modality modality = Modality::Other;
  std::string unit_ucum;  ///< UCUM unit of the values: "[hnsf'U]" for HU, "1" for signal/grey, "%" ...
  SourceSeries source;
};

/// Label id type of label maps; 0 is background. Ids come from the LabelCatalog.
using LabelId = std::uint16_t;

/// Per-voxel structure labels on the same geometry as the volume they describe.
struct LabelMap : Image<LabelId> {
  using Image<LabelId>::Image;
};

}  // namespace musclecsa
