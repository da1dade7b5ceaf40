#pragma once
// CT measurements from a tissue label map: per slice and side, at the standard level, and volumes.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "musclecsa/core/image.h"
#include "musclecsa/core/measurement.h"
#include "musclecsa/segment/ct_tissue.h"
#include "musclecsa/segment/protocol.h"

namespace musclecsa::quantify {

/// One muscle or group (its members together) in one leg and slice. The outline is the muscle's
/// territory: its muscle tissue and the fat inside it (intramuscular fat); fat between muscles is IMAT.
struct StructureMeasures {
  std::string structure_key;              ///< catalog key: a muscle, a group, or a muscle reported alone
  bool is_group = false;
  double outline_area_mm2 = 0;            ///< the whole territory
  double muscle_area_mm2 = 0;             ///< CSA: HU in the muscle range inside the outline
  double intramuscular_fat_area_mm2 = 0;  ///< adipose HU inside the outline
  double low_attenuation_muscle_area_mm2 = 0;
  double normal_attenuation_muscle_area_mm2 = 0;
  double mean_hu = 0, sd_hu = 0, median_hu = 0;  ///< over the muscle tissue
  double fat_fraction = 0;                ///< intramuscular fat / (intramuscular fat + muscle) areas
  StructureConfidence confidence;         ///< with an atlas prior: its agreement and the low-confidence flag
};

/// One leg in one slice. Areas in mm2, HU statistics over muscle tissue (HU in the protocol's
/// muscle range, inside the fascia, bone excluded).
struct SideSliceMeasures {
  Side side = Side::None;
  double limb_area_mm2 = 0;          ///< everything inside the skin surface
  double skin_area_mm2 = 0;
  double subcutaneous_fat_area_mm2 = 0;
  double compartment_area_mm2 = 0;   ///< inside the deep fascia, bones included
  double bone_area_mm2 = 0;          ///< cortex + marrow of all bones
  double muscle_area_mm2 = 0;        ///< muscle tissue: HU in the muscle range inside the fascia
  double imat_area_mm2 = 0;          ///< adipose HU inside the fascia, marrow excluded
  double low_attenuation_muscle_area_mm2 = 0;
  double normal_attenuation_muscle_area_mm2 = 0;
  double muscle_mean_hu = 0, muscle_sd_hu = 0, muscle_median_hu = 0;
  double compartment_fat_fraction = 0;  ///< imat / (imat + muscle) areas
  std::vector<std::pair<std::string, double>> hu_bin_areas_mm2;  ///< protocol bins, inside the fascia
  std::vector<StructureMeasures> structures;  ///< muscles, then groups (when the muscles were segmented)
};

struct SliceMeasures {
  int slice_index = 0;
  double z_mm = 0;
  std::vector<SideSliceMeasures> sides;
  std::vector<std::string> qc_flags;
};

/// How to place the standard level when the bone does not locate it.
struct LevelOptions {
  std::optional<double> level_z_mm;   ///< user-given level position (LPS z)
  std::optional<int> level_slice;     ///< user-given slice index
};

/// The standard level of one side.
struct LevelResult {
  Side side = Side::None;
  bool found = false;
  std::string method;                 ///< "segmented_bone", "user_z", "user_slice"
  std::string reason;                 ///< why not found
  int slice_index = -1;
  double z_mm = 0;
  double bone_proximal_z_mm = 0, bone_distal_z_mm = 0, bone_length_mm = 0;
  double percent_of_length = 0;       ///< from the proximal end (femur) or distal end (tibia), as the protocol names it
};

struct CtResults {
  std::vector<SliceMeasures> slices;
  std::vector<LevelResult> levels;    ///< one per side found
  std::vector<std::string> qc_flags;
  std::vector<std::string> notes;
};

/// Measures a segmented CT. Throws Error(InvalidArgument) for a level slice/z outside the scan.
CtResults measure_ct(const ScalarVolume& ct, const segment::TissueSegmentation& segmentation,
                     const segment::CtProtocol& protocol, const LevelOptions& level_options);

/// The confidence of one muscle or group in one leg and slice, from segmentation.muscle_confidence:
/// a muscle's or group's own (the split judges groups as a whole: their area against the atlases'
/// group areas); without one, a group's is the area-weighted agreement of its members, low when
/// low-confidence members hold more than a quarter of its area. Layout splits (no atlas prior) give agreement -1, not low.
class ConfidenceIndex {
 public:
  explicit ConfidenceIndex(const segment::TissueSegmentation& segmentation);
  StructureConfidence of(int slice_index, Side side, const std::string& structure_key, bool is_group) const;

 private:
  const segment::TissueSegmentation* segmentation_;
  std::map<std::pair<int, LabelId>, const segment::MuscleConfidence*> by_slice_label_;
};

/// Flags records[first..] (one structure's records) "muscle_low_confidence" when `confidence` is low,
/// and withholds them when `level` is a standard level.
void mark_low_confidence(std::vector<Measurement>& records, std::size_t first, const StructureConfidence& confidence,
                         const std::string& level);

/// Tidy measurement records (one value each) for the standard level and every slice. Records of a
/// low-confidence muscle or group carry the flag "muscle_low_confidence"; at the standard level they
/// are withheld (withheld_reason "muscle_low_confidence:<reason>").
std::vector<Measurement> to_measurements(const CtResults& results, const segment::CtProtocol& protocol);

}  // namespace musclecsa::quantify
