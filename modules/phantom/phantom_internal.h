#pragma once
// Internal entry points of the phantom module.

#include <vector>

#include "anatomy_model.h"
#include "musclecsa/phantom/phantom.h"

namespace musclecsa::phantom::detail {

Phantom make_cross_sectional(const PhantomParams& resolved, Progress& progress);
Phantom make_ultrasound(const PhantomParams& resolved, Progress& progress);

/// Ground truth of slice k from the phantom's label map, fat fraction and first series'
/// noise-free image; `centre` holds the classification at each pixel centre (for fat streaks).
SliceTruth slice_truth(const Phantom& phantom, std::size_t k, double z_mm, double bone_fraction,
                       const std::vector<Sample>& centre);

}  // namespace musclecsa::phantom::detail
