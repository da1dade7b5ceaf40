// Steps shared by every atlas source: marrow, the deep-fascia compartment, the structures present.

#include <set>

#include "builder.h"
#include "musclecsa/core/parallel.h"
#include "slice_ops.h"

namespace musclecsa::atlas::detail {

namespace {
SliceShape shape_of(const Geometry& g) {
  return {static_cast<int>(g.size[0]), static_cast<int>(g.size[1]), g.spacing_mm[0], g.spacing_mm[1]};
}
}  // namespace

void add_marrow(LabelMap& labels, Side side, const std::function<double(const std::string&, double)>& cortex_mm) {
  const auto& catalog = LabelCatalog::standard();
  const Geometry& g = labels.geometry;
  const std::size_t n = g.slice_voxel_count();
  const LabelId marrow = catalog.label_id("bone_marrow", side);
  for (const char* key : {"femur", "tibia", "fibula"}) {
    const LabelId id = catalog.label_id(key, side);
    for (std::size_t k = 0; k < g.size[2]; ++k) {
      LabelId* s = labels.slice(k);
      std::vector<std::uint8_t> not_bone(n);
      bool any = false;
      for (std::size_t p = 0; p < n; ++p) not_bone[p] = s[p] != id, any = any || s[p] == id;
      if (!any) continue;
      const double z = g.index_to_lps({0, 0, double(k)}).z;
      const double cortex = cortex_mm(key, z);
      const auto depth = distance_to(not_bone, shape_of(g));
      for (std::size_t p = 0; p < n; ++p)
        if (s[p] == id && depth[p] > cortex) s[p] = marrow;
    }
  }
}

void fill_compartment(LabelMap& labels, Side side, double closing_radius_mm) {
  const auto& catalog = LabelCatalog::standard();
  const Geometry& g = labels.geometry;
  const std::size_t n = g.slice_voxel_count();
  const LabelId imat = catalog.label_id("imat", side);
  for (std::size_t k = 0; k < g.size[2]; ++k) {
    LabelId* s = labels.slice(k);
    std::vector<std::uint8_t> tissue(n);
    bool any = false;
    for (std::size_t p = 0; p < n; ++p) tissue[p] = s[p] != 0, any = any || s[p] != 0;
    if (!any) continue;
    const auto compartment = close_and_fill(tissue, shape_of(g), closing_radius_mm);
    for (std::size_t p = 0; p < n; ++p)
      if (compartment[p] && s[p] == 0) s[p] = imat;
  }
}

std::vector<std::string> structures_present(const LabelMap& labels, Side side) {
  const auto& catalog = LabelCatalog::standard();
  std::set<LabelId> ids(labels.voxels.begin(), labels.voxels.end());
  std::vector<std::string> keys;
  for (const auto& s : catalog.structures()) {
    if (s.kind == StructureKind::MuscleGroup) continue;
    if (ids.count(catalog.label_id(s.key, side))) keys.push_back(s.key);
  }
  return keys;
}

}  // namespace musclecsa::atlas::detail
