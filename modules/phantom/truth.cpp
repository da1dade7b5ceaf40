// Ground truth per slice, side and structure, recounted from the label map.

#include <map>

#include "phantom_internal.h"

namespace musclecsa::phantom::detail {

SliceTruth slice_truth(const Phantom& ph, std::size_t k, double z_mm, double bone_fraction,
                       const std::vector<Sample>& centre) {
  const auto& catalog = LabelCatalog::standard();
  const Geometry& g = ph.labels.geometry;
  const double pixel_mm2 = g.pixel_area_mm2();
  const std::size_t count = g.slice_voxel_count();
  const LabelId* labels = ph.labels.slice(k);
  const float* ff = ph.fat_fraction.slice(k);
  const float* value = ph.series.front().noise_free.slice(k);

  struct Sum {
    std::size_t voxels = 0;
    double ff = 0, value = 0;
  };
  std::map<LabelId, Sum> sums;
  std::map<Side, SideSliceTruth> sides;
  for (std::size_t o = 0; o < count; ++o) {
    const LabelId label = labels[o];
    if (label == 0) continue;
    Sum& s = sums[label];
    ++s.voxels;
    s.ff += ff[o];
    s.value += value[o];
    const auto decoded = catalog.decode(label);
    if (!decoded) continue;
    SideSliceTruth& side = sides[decoded->side];
    side.side = decoded->side;
    const Structure& st = *decoded->structure;
    side.limb_area_mm2 += pixel_mm2;
    if (st.key != "skin" && st.key != "subcutaneous_fat") side.compartment_area_mm2 += pixel_mm2;
    if (st.key == "imat") side.imat_area_mm2 += pixel_mm2;
    if (st.kind == StructureKind::Muscle || st.key == "skeletal_muscle") {
      side.muscle_area_mm2 += pixel_mm2;
      if (centre[o].tissue == Tissue::Fat) {
        side.imat_area_mm2 += pixel_mm2;
        side.intramuscular_fat_area_mm2 += pixel_mm2;
      }
    }
  }

  SliceTruth truth;
  truth.slice_index = static_cast<int>(k);
  truth.z_mm = z_mm;
  truth.bone_fraction = bone_fraction;
  std::map<std::pair<std::string, Side>, Sum> groups;
  for (const auto& [label, s] : sums) {
    const auto decoded = catalog.decode(label);
    if (!decoded) continue;
    StructureTruth t;
    t.structure_key = decoded->structure->key;
    t.side = decoded->side;
    t.voxel_count = s.voxels;
    t.area_mm2 = s.voxels * pixel_mm2;
    t.fat_fraction = s.ff / s.voxels;
    t.mean_value = s.value / s.voxels;
    truth.structures.push_back(t);
    if (!decoded->structure->group_key.empty()) {
      Sum& gs = groups[{decoded->structure->group_key, decoded->side}];
      gs.voxels += s.voxels;
      gs.ff += s.ff;
      gs.value += s.value;
    }
  }
  for (const auto& [key, s] : groups) {
    StructureTruth t;
    t.structure_key = key.first;
    t.side = key.second;
    t.voxel_count = s.voxels;
    t.area_mm2 = s.voxels * pixel_mm2;
    t.fat_fraction = s.ff / s.voxels;
    t.mean_value = s.value / s.voxels;
    truth.structures.push_back(t);
  }
  for (const auto& [side, st] : sides) truth.sides.push_back(st);
  return truth;
}

}  // namespace musclecsa::phantom::detail
