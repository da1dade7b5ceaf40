#pragma once
// Muscle-level segmentation of a leg CT: splits each leg's deep-fascia compartment into the
// individual muscles of the thigh or calf (and so their groups), along the fat septa, with
// markers placed from the anatomical layout (docs/methods.md, "Muscles and groups").

#include "musclecsa/core/image.h"
#include "musclecsa/core/progress.h"
#include "musclecsa/segment/ct_tissue.h"
#include "musclecsa/segment/protocol.h"

namespace musclecsa::segment {

/// Relabels the compartment of every leg in `segmentation` (its skeletal_muscle and imat voxels):
/// each muscle's territory (its muscle tissue and the fat streaks inside it) gets the muscle's
/// label id; fat in the septa between muscles and under the fascia keeps the imat label. Skin,
/// subcutaneous fat and bones are not changed. Adds per-slice QC flags
/// ("muscle_boundaries_uncertain") and notes. Does nothing when protocol.muscles.enabled is false.
/// `ct` is the volume `segmentation` was made from.
void segment_ct_muscles(const ScalarVolume& ct, const CtProtocol& protocol, TissueSegmentation& segmentation,
                        Progress& progress);

}  // namespace musclecsa::segment
