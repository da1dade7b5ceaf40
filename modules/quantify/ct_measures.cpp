#include "musclecsa/quantify/ct_measures.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "musclecsa/core/error.h"
#include "musclecsa/core/parallel.h"

namespace musclecsa::quantify {
namespace {

double median_of(std::vector<float>& v) {
  if (v.empty()) return 0;
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + long(mid), v.end());
  return v[mid];
}

/// Voxels of one muscle in one slice, gathered for its measures and its group's.
struct MuscleVoxels {
  double outline_mm2 = 0, fat_mm2 = 0, low_mm2 = 0, normal_mm2 = 0;
  std::vector<float> muscle_hu;
  void add(const MuscleVoxels& o) {
    outline_mm2 += o.outline_mm2, fat_mm2 += o.fat_mm2, low_mm2 += o.low_mm2, normal_mm2 += o.normal_mm2;
    muscle_hu.insert(muscle_hu.end(), o.muscle_hu.begin(), o.muscle_hu.end());
  }
};

StructureMeasures structure_measures(std::string key, bool is_group, MuscleVoxels v, double pixel_mm2) {
  StructureMeasures m;
  m.structure_key = std::move(key);
  m.is_group = is_group;
  m.outline_area_mm2 = v.outline_mm2;
  m.muscle_area_mm2 = double(v.muscle_hu.size()) * pixel_mm2;
  m.intramuscular_fat_area_mm2 = v.fat_mm2;
  m.low_attenuation_muscle_area_mm2 = v.low_mm2;
  m.normal_attenuation_muscle_area_mm2 = v.normal_mm2;
  if (!v.muscle_hu.empty()) {
    double sum = 0, sum2 = 0;
    for (float x : v.muscle_hu) sum += x, sum2 += double(x) * x;
    const double n = double(v.muscle_hu.size());
    m.mean_hu = sum / n;
    m.sd_hu = std::sqrt(std::max(0.0, sum2 / n - m.mean_hu * m.mean_hu));
    m.median_hu = median_of(v.muscle_hu);
  }
  if (m.muscle_area_mm2 + m.intramuscular_fat_area_mm2 > 0)
    m.fat_fraction = m.intramuscular_fat_area_mm2 / (m.muscle_area_mm2 + m.intramuscular_fat_area_mm2);
  return m;
}

SideSliceMeasures measure_side(const ScalarVolume& ct, const LabelMap& labels, std::size_t k, Side side,
                               const segment::CtProtocol& p) {
  const auto& catalog = LabelCatalog::standard();
  const double px = ct.geometry.pixel_area_mm2();
  SideSliceMeasures m;
  m.side = side;
  for (const auto& bin : p.hu_bins) m.hu_bin_areas_mm2.emplace_back(bin.name, 0.0);
  const LabelId* l = labels.slice(k);
  const float* hu = ct.slice(k);
  std::vector<float> muscle_hu;
  double sum = 0, sum2 = 0;
  std::vector<MuscleVoxels> muscle_voxels(256);  // by label id (catalog ids are below 256)
  std::vector<std::uint8_t> muscle_present(256, 0);
  // What each label id means for this side, looked up once (not per voxel).
  enum class Kind : std::uint8_t { Other, Skin, Fat, Bone, Compartment, Muscle };
  static const std::vector<std::pair<Side, Kind>> meaning = [&] {
    std::vector<std::pair<Side, Kind>> table(65536, {Side::None, Kind::Other});
    for (const auto& st : catalog.structures())
      for (Side sd : {Side::Right, Side::Left}) {
        Kind kind = Kind::Compartment;
        if (st.key == "skin") kind = Kind::Skin;
        else if (st.key == "subcutaneous_fat") kind = Kind::Fat;
        else if (st.kind == StructureKind::Bone || st.key == "bone_marrow") kind = Kind::Bone;
        else if (st.kind == StructureKind::Muscle) kind = Kind::Muscle;
        table[catalog.label_id(st.key, sd)] = {sd, kind};
      }
    return table;
  }();
  for (std::size_t o = 0; o < ct.geometry.slice_voxel_count(); ++o) {
    if (l[o] == 0) continue;
    const auto [label_side, kind] = meaning[l[o]];
    if (label_side != side) continue;
    m.limb_area_mm2 += px;
    if (kind == Kind::Skin) {
      m.skin_area_mm2 += px;
      continue;
    }
    if (kind == Kind::Fat) {
      m.subcutaneous_fat_area_mm2 += px;
      continue;
    }
    m.compartment_area_mm2 += px;
    if (kind == Kind::Bone) {
      m.bone_area_mm2 += px;
      continue;
    }
    const float v = hu[o];
    if (kind == Kind::Muscle) {
      if (l[o] >= muscle_voxels.size()) muscle_voxels.resize(std::size_t(l[o]) + 1), muscle_present.resize(std::size_t(l[o]) + 1, 0);
      MuscleVoxels& mv = muscle_voxels[l[o]];
      muscle_present[l[o]] = 1;
      mv.outline_mm2 += px;
      if (p.adipose.contains(v)) mv.fat_mm2 += px;
      if (p.muscle.contains(v)) {
        mv.muscle_hu.push_back(v);
        if (p.low_attenuation_muscle.contains(v)) mv.low_mm2 += px;
        if (p.normal_attenuation_muscle.contains(v)) mv.normal_mm2 += px;
      }
    }
    for (std::size_t b = 0; b < p.hu_bins.size(); ++b)
      if (p.hu_bins[b].range.contains(v)) m.hu_bin_areas_mm2[b].second += px;
    if (p.adipose.contains(v)) m.imat_area_mm2 += px;
    if (p.muscle.contains(v)) {
      m.muscle_area_mm2 += px;
      muscle_hu.push_back(v);
      sum += v;
      sum2 += double(v) * v;
      if (p.low_attenuation_muscle.contains(v)) m.low_attenuation_muscle_area_mm2 += px;
      if (p.normal_attenuation_muscle.contains(v)) m.normal_attenuation_muscle_area_mm2 += px;
    }
  }
  const double n = double(muscle_hu.size());
  if (n > 0) {
    m.muscle_mean_hu = sum / n;
    m.muscle_sd_hu = std::sqrt(std::max(0.0, sum2 / n - m.muscle_mean_hu * m.muscle_mean_hu));
    m.muscle_median_hu = median_of(muscle_hu);
  }
  if (m.imat_area_mm2 + m.muscle_area_mm2 > 0) m.compartment_fat_fraction = m.imat_area_mm2 / (m.imat_area_mm2 + m.muscle_area_mm2);
  // Muscles present, then the region's groups (and muscles reported alone) from their members.
  std::map<LabelId, MuscleVoxels> muscles;
  for (std::size_t label = 0; label < muscle_voxels.size(); ++label)
    if (muscle_present[label]) muscles.emplace(LabelId(label), std::move(muscle_voxels[label]));
  if (!muscles.empty()) {
    for (const auto& [label, voxels] : muscles)
      m.structures.push_back(structure_measures(catalog.decode(label)->structure->key, false, voxels, px));
    for (const Structure* group : catalog.reporting_groups_of(p.region)) {
      if (group->kind != StructureKind::MuscleGroup) continue;
      MuscleVoxels together;
      bool any = false;
      for (const Structure* member : catalog.members_of(group->key))
        if (auto it = muscles.find(catalog.label_id(member->key, side)); it != muscles.end()) together.add(it->second), any = true;
      if (any) m.structures.push_back(structure_measures(group->key, true, std::move(together), px));
    }
  }
  return m;
}

}  // namespace

CtResults measure_ct(const ScalarVolume& ct, const segment::TissueSegmentation& seg, const segment::CtProtocol& p,
                     const LevelOptions& options) {
  const Geometry& g = ct.geometry;
  const auto& catalog = LabelCatalog::standard();
  CtResults r;
  r.qc_flags = seg.qc_flags;
  r.notes = seg.notes;
  std::map<Side, std::vector<int>> bone_slices;  // slices holding the reference bone, per side
  r.slices.resize(g.size[2]);
  std::vector<std::vector<Side>> bone_in_slice(g.size[2]);
  NullProgress quiet;
  parallel_for(g.size[2], quiet, "measuring", 1.0, [&](std::size_t k) {
    SliceMeasures& s = r.slices[k];
    s.slice_index = int(k);
    s.z_mm = g.index_to_lps({0, 0, double(k)}).z;
    if (k < seg.slices.size()) {
      s.qc_flags = seg.slices[k].qc_flags;
      for (const auto& leg : seg.slices[k].legs) {
        s.sides.push_back(measure_side(ct, seg.labels, k, leg.side, p));
        const LabelId bone = catalog.label_id(p.level.bone_key, leg.side);
        const LabelId* l = seg.labels.slice(k);
        if (std::find(l, l + g.slice_voxel_count(), bone) != l + g.slice_voxel_count()) bone_in_slice[k].push_back(leg.side);
      }
    }
    return true;
  });
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (Side side : bone_in_slice[k]) bone_slices[side].push_back(int(k));

  // The standard level, per side.
  const int last = int(g.size[2]) - 1;
  auto z_of = [&](double k) { return g.index_to_lps({0, 0, k}).z; };
  std::vector<Side> sides;
  for (const auto& s : r.slices)
    for (const auto& m : s.sides)
      if (std::find(sides.begin(), sides.end(), m.side) == sides.end()) sides.push_back(m.side);
  if (options.level_slice && (*options.level_slice < 0 || *options.level_slice > last))
    throw Error(ErrorCode::InvalidArgument, "--level-slice " + std::to_string(*options.level_slice),
                "outside the scan (slices 0.." + std::to_string(last) + ")");
  for (Side side : sides) {
    LevelResult level;
    level.side = side;
    const auto& present = bone_slices[side];
    if (!present.empty()) {
      const double z_a = z_of(present.front()), z_b = z_of(present.back());
      level.bone_proximal_z_mm = std::max(z_a, z_b);
      level.bone_distal_z_mm = std::min(z_a, z_b);
      level.bone_length_mm = level.bone_proximal_z_mm - level.bone_distal_z_mm;
    }
    const bool whole_bone = !present.empty() && present.front() > 0 && present.back() < last && level.bone_length_mm > 0;
    const bool plausible = level.bone_length_mm >= p.min_bone_length_mm && level.bone_length_mm <= p.max_bone_length_mm;
    if (options.level_slice) {
      level.found = true;
      level.method = "user_slice";
      level.slice_index = *options.level_slice;
      level.z_mm = z_of(level.slice_index);
    } else if (options.level_z_mm) {
      const double k = g.lps_to_index({0, 0, *options.level_z_mm}).z;
      if (!(k >= -0.5 && k <= last + 0.5))  // also refuses NaN
        throw Error(ErrorCode::InvalidArgument, "--level-z-mm " + std::to_string(*options.level_z_mm),
                    "outside the scan (z " + std::to_string(z_of(0)) + " to " + std::to_string(z_of(last)) + " mm)");
      level.found = true;
      level.method = "user_z";
      level.slice_index = std::clamp(int(std::lround(k)), 0, last);
      level.z_mm = *options.level_z_mm;
    } else if (whole_bone && !plausible) {
      char text[200];
      std::snprintf(text, sizeof text, "the segmented %s is %.0f mm long, outside %.0f-%.0f mm: not a whole %s, or not a leg; ",
                    p.level.bone_key.c_str(), level.bone_length_mm, p.min_bone_length_mm, p.max_bone_length_mm,
                    p.level.bone_key.c_str());
      level.reason = std::string(text) + "give --level-z-mm or --level-slice, or use the per-slice results";
    } else if (whole_bone) {
      level.found = true;
      level.method = "segmented_bone";
      level.z_mm = level.bone_proximal_z_mm - p.level.fraction_from_proximal * level.bone_length_mm;
      level.slice_index = std::clamp(int(std::lround(g.lps_to_index({0, 0, level.z_mm}).z)), 0, last);
    } else {
      level.reason = present.empty() ? "the " + p.level.bone_key + " is not in the scan"
                                     : "the " + p.level.bone_key + " reaches the end of the scanned range, so its length is unknown; "
                                       "give --level-z-mm or --level-slice, or use the per-slice results";
    }
    if (level.found && whole_bone) {
      const double from_proximal = (level.bone_proximal_z_mm - level.z_mm) / level.bone_length_mm;
      level.percent_of_length = 100 * (p.level.bone_key == "tibia" ? 1 - from_proximal : from_proximal);
    }
    r.levels.push_back(level);
  }
  return r;
}

std::vector<Measurement> to_measurements(const CtResults& results, const segment::CtProtocol& p) {
  std::vector<Measurement> out;
  auto add = [&](const SliceMeasures& s, const SideSliceMeasures& m, const std::string& level) {
    auto push = [&](std::string quantity, double value, std::string unit, std::string structure) {
      Measurement x;
      x.quantity = std::move(quantity);
      x.value = value;
      x.unit_ucum = std::move(unit);
      x.structure_key = std::move(structure);
      x.side = m.side;
      x.slice_index = s.slice_index;
      x.z_mm = s.z_mm;
      x.level = level;
      x.qc_flags = s.qc_flags;
      out.push_back(std::move(x));
    };
    push("csa", m.muscle_area_mm2 / 100, "cm2", "skeletal_muscle");
    push("mean_hu", m.muscle_mean_hu, "[hnsf'U]", "skeletal_muscle");
    push("sd_hu", m.muscle_sd_hu, "[hnsf'U]", "skeletal_muscle");
    push("median_hu", m.muscle_median_hu, "[hnsf'U]", "skeletal_muscle");
    push("low_attenuation_area", m.low_attenuation_muscle_area_mm2 / 100, "cm2", "skeletal_muscle");
    push("normal_attenuation_area", m.normal_attenuation_muscle_area_mm2 / 100, "cm2", "skeletal_muscle");
    push("imat_area", m.imat_area_mm2 / 100, "cm2", "imat");
    push("compartment_fat_fraction", m.compartment_fat_fraction, "1", "skeletal_muscle");
    push("area", m.subcutaneous_fat_area_mm2 / 100, "cm2", "subcutaneous_fat");
    push("area", m.bone_area_mm2 / 100, "cm2", p.level.bone_key);
    push("limb_area", m.limb_area_mm2 / 100, "cm2", "skin");
    for (const auto& [name, area] : m.hu_bin_areas_mm2) push("hu_bin_area:" + name, area / 100, "cm2", "skeletal_muscle");
    // Per muscle and group: everything at the level, the main values on every slice.
    for (const auto& st : m.structures) {
      push("csa", st.muscle_area_mm2 / 100, "cm2", st.structure_key);
      push("mean_hu", st.mean_hu, "[hnsf'U]", st.structure_key);
      push("intramuscular_fat_area", st.intramuscular_fat_area_mm2 / 100, "cm2", st.structure_key);
      push("fat_fraction", st.fat_fraction, "1", st.structure_key);
      if (level.empty()) continue;
      push("outline_area", st.outline_area_mm2 / 100, "cm2", st.structure_key);
      push("sd_hu", st.sd_hu, "[hnsf'U]", st.structure_key);
      push("median_hu", st.median_hu, "[hnsf'U]", st.structure_key);
      push("low_attenuation_area", st.low_attenuation_muscle_area_mm2 / 100, "cm2", st.structure_key);
      push("normal_attenuation_area", st.normal_attenuation_muscle_area_mm2 / 100, "cm2", st.structure_key);
    }
  };
  for (const auto& level : results.levels) {
    if (!level.found) continue;
    const auto& s = results.slices[std::size_t(level.slice_index)];
    for (const auto& m : s.sides)
      if (m.side == level.side) add(s, m, p.level.name);
  }
  for (const auto& s : results.slices)
    for (const auto& m : s.sides) add(s, m, "");
  return out;
}

}  // namespace musclecsa::quantify
