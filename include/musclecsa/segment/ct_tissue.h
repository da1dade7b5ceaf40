#pragma once
// Tissue-level segmentation of a leg CT: legs (left/right, also touching or one only), skin,
// subcutaneous fat, the deep fascia (compartment), bones (cortex and marrow), skeletal muscle
// tissue and intermuscular/intramuscular adipose tissue. Slice by slice, on HU thresholds from the
// protocol (docs/methods.md).

#include <string>
#include <vector>

#include "musclecsa/core/image.h"
#include "musclecsa/core/progress.h"
#include "musclecsa/segment/protocol.h"

namespace musclecsa::segment {

/// What was found in one slice for one leg.
struct LegInSlice {
  Side side = Side::None;
  double centroid_x_mm = 0, centroid_y_mm = 0;  ///< LPS
  int bone_count = 0;                           ///< bone components (femur: 1; tibia + fibula: 2)
};

struct SliceFindings {
  int slice_index = 0;
  std::vector<LegInSlice> legs;
  std::vector<std::string> qc_flags;  ///< e.g. "legs_touching_split", "metal", "single_leg"
};

/// Per muscle, leg and slice: how far the split can be trusted (from the prior's agreement and the
/// atlases' area spread), filled by segment_ct_muscles when it had a prior.
struct MuscleConfidence {
  int slice_index = 0;
  LabelId label = 0;                    ///< muscle or group label id (side included)
  double area_mm2 = 0;                  ///< territory area after the split
  double agreement = 0;                 ///< mean agreement (0-1) of the atlases over the territory
  double atlas_mean_area_mm2 = 0, atlas_sd_area_mm2 = 0;
  int atlas_subjects = 0;               ///< distinct subjects among the atlases that gave the spread
  bool low_confidence = false;          ///< agreement below the protocol's minimum or area outside the spread
  std::string reason;                   ///< why low ("few_atlas_subjects", "atlas_disagreement", "area_outside_atlas_range")
};

struct TissueSegmentation {
  LabelMap labels;                    ///< catalog ids: skin, subcutaneous_fat, imat, skeletal_muscle,
                                      ///< femur/tibia/fibula (cortex), bone_marrow; 0 elsewhere
  std::vector<SliceFindings> slices;
  std::vector<std::string> qc_flags;  ///< volume-level flags
  std::vector<std::string> notes;
  bool muscles_segmented = false;     ///< segment_ct_muscles() split the compartments into muscles
  std::string muscle_prior;           ///< "atlas" (fused real-anatomy atlases) or "layout" (the coarse layout)
  std::string muscle_prior_description;        ///< how the prior was made (one line)
  std::vector<std::string> atlases_available;  ///< atlas ids of the region after the exclusions
  std::vector<std::string> atlases_used;       ///< atlas ids that voted somewhere
  std::vector<MuscleConfidence> muscle_confidence;  ///< per muscle, leg and slice, with an atlas prior
};

/// What the values of the segmented volume are, for the wording of the notes: HU of a CT, or a
/// pseudo-CT made from MR data (docs/mri.md), whose notes speak of MR signal, not HU.
enum class TissueValues { CtHounsfield, PseudoCtFromMr };

/// Segments every slice of an axial CT (HU). Throws Error(InvalidInput) when the volume is not CT.
TissueSegmentation segment_ct_tissues(const ScalarVolume& ct, const CtProtocol& protocol, Progress& progress,
                                      TissueValues values = TissueValues::CtHounsfield);

}  // namespace musclecsa::segment
