#pragma once
// Muscle-level segmentation of a leg CT: splits each leg's deep-fascia compartment into the
// individual muscles of the thigh or calf (and so their groups), along the fat septa, with
// markers placed from the anatomical layout (docs/methods.md, "Muscles and groups").

#include "musclecsa/core/image.h"
#include "musclecsa/core/progress.h"
#include "musclecsa/segment/ct_tissue.h"
#include "musclecsa/segment/protocol.h"

#include <cstdint>
#include <string>
#include <vector>

namespace musclecsa::segment {

/// Where each muscle is expected in every leg and slice, from outside the image (the fused
/// real-anatomy atlases of modules/anatomy; docs/methods.md "Muscles and groups"). Voxels of a
/// compartment carry the muscle most atlases put there; the split then follows visible fat septa
/// and keeps the fused boundary where none is visible.
struct MusclePrior {
  LabelMap territory;                   ///< muscle label id (of the leg's side) per compartment voxel;
                                        ///< skeletal_muscle for muscles the catalog does not report; 0 = no prior
  Image<std::uint8_t> agreement;        ///< 0-255: weighted share of the atlases voting for `territory`
  /// Areas the fused atlases give a muscle in one leg and slice (one value per atlas): the spread the
  /// segmented area is judged against.
  struct AreaSpread {
    LabelId label = 0;
    double mean_mm2 = 0, sd_mm2 = 0;
    int atlases = 0;
    int subjects = 0;                   ///< distinct subjects among those atlases
  };
  std::vector<std::vector<AreaSpread>> area_spread;  ///< [slice]: every muscle of every leg in it
  std::vector<std::string> atlases_used;             ///< atlas ids that voted somewhere
  std::vector<std::string> notes;                    ///< how the prior was made (registration, selection)
  bool empty() const { return territory.voxels.empty(); }
};


/// Where the reference bone (protocol.level.bone_key) of one side lies along z, and the fraction
/// along it of a slice; `whole` only when both bone ends are inside the scan and the length is
/// plausible for the protocol.
struct BoneSpan {
  bool whole = false;
  double proximal_z = 0, distal_z = 0;  ///< LPS z (mm)
  double fraction_at(double z) const { return (proximal_z - z) / (proximal_z - distal_z); }
};
BoneSpan reference_bone_span(const LabelMap& labels, const CtProtocol& protocol, Side side);

/// Relabels the compartment of every leg in `segmentation` (its skeletal_muscle and imat voxels):
/// each muscle's territory (its muscle tissue and the fat streaks inside it) gets the muscle's
/// label id; fat in the septa between muscles and under the fascia keeps the imat label. Skin,
/// subcutaneous fat and bones are not changed. Adds per-slice QC flags
/// ("muscle_boundaries_uncertain") and notes. Does nothing when protocol.muscles.enabled is false.
/// `ct` is the volume `segmentation` was made from.
/// With a non-empty `prior` (same geometry as `ct`), the prior replaces the layout: its confident
/// cores are the markers, a boundary moves only onto a visible fat septum, and every muscle of every
/// slice gets a MuscleConfidence in segmentation.muscle_confidence.
void segment_ct_muscles(const ScalarVolume& ct, const CtProtocol& protocol, TissueSegmentation& segmentation,
                        Progress& progress, const MusclePrior* prior = nullptr);

}  // namespace musclecsa::segment
