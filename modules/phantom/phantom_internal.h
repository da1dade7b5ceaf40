#pragma once
// Internal entry points of the phantom module.

#include <functional>
#include <memory>
#include <vector>

#include "anatomy_model.h"
#include "musclecsa/phantom/phantom.h"

namespace musclecsa::phantom::detail {

/// What lies at each point of one axial slice.
class SectionClassifier {
 public:
  virtual ~SectionClassifier() = default;
  virtual Sample classify(double x_lps, double y_lps) const = 0;
  double bone_fraction = 0;    ///< position of the slice along the reference bone (0 proximal end)
};

/// The anatomy a cross-sectional phantom is drawn from: the analytic layout or real atlases.
struct AnatomySource {
  Geometry geometry;                                             ///< the phantom's voxel grid
  LevelTruth level;                                              ///< nearest_slice is filled in by the renderer
  std::function<std::unique_ptr<SectionClassifier>(double z_mm)> section_at;
  std::string description;                                       ///< for series descriptions ("thigh", "VHF thigh")
  AnatomySourceTruth truth;                                      ///< semi-real only
};

/// The analytic layout (anatomy_model) for resolved parameters.
AnatomySource analytic_source(const PhantomParams& resolved);
/// Real anatomy from atlases or a label map (params.anatomy_from). Resolves the grid defaults
/// (slices, spacing, field of view) from the anatomy; `params` is updated to what was used.
AnatomySource atlas_source(PhantomParams& params);

Phantom make_cross_sectional(const PhantomParams& resolved, AnatomySource source, Progress& progress);
Phantom make_ultrasound(const PhantomParams& resolved, Progress& progress);

/// Ground truth of slice k from the phantom's label map, fat fraction and first series'
/// noise-free image; `centre` holds the classification at each pixel centre (for fat streaks).
SliceTruth slice_truth(const Phantom& phantom, std::size_t k, double z_mm, double bone_fraction,
                       const std::vector<Sample>& centre);

}  // namespace musclecsa::phantom::detail
