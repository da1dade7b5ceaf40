#pragma once
// Where each thigh and calf muscle lies in a cross-section: a coarse anatomical layout used as the
// prior of muscle segmentation and to draw the phantoms (docs/methods.md, "Muscle groups").
//
// Coordinates are normalised to the deep-fascia compartment of one leg: x_lat along the leg's
// lateral direction and y posterior, each divided by the compartment's semi-axis on that axis,
// origin at the limb centre. Each muscle is a seed with a territory weight; the territories are
// the multiplicatively weighted Voronoi cells of the seeds (distance / weight). Positions and
// weights are interpolated between keyframes along the reference bone (femur or tibia).

#include <string_view>
#include <vector>

#include "musclecsa/core/catalog.h"

namespace musclecsa {

/// Territory weights below this mean the muscle is absent at that level.
inline constexpr double kAbsentMuscleWeight = 0.05;

/// One muscle of the layout at one position along the bone.
struct MuscleLayoutSeed {
  std::string_view key;   ///< catalog key of the muscle
  double x_lat = 0;       ///< fascia-normalised lateral coordinate
  double y = 0;           ///< fascia-normalised posterior coordinate
  double weight = 0;      ///< territory weight (relative); 0 where the muscle is absent
};

/// The layout of `region` (Thigh or Calf) at `fraction_from_proximal` along the reference bone
/// (0 = femoral head / tibial plateau, 1 = condyles / distal tibia; clamped to the keyframes).
/// Every muscle of the region is returned, in a fixed order; those absent at that level have a
/// weight below kAbsentMuscleWeight. Throws Error(InvalidArgument) for BodyRegion::Any.
std::vector<MuscleLayoutSeed> muscle_layout(BodyRegion region, double fraction_from_proximal);

}  // namespace musclecsa
