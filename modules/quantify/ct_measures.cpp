#include "musclecsa/quantify/ct_measures.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>

#include "musclecsa/core/error.h"
#include "musclecsa/core/parallel.h"

namespace musclecsa::quantify {
namespace {

/// Muscle HU values of one structure (or a whole side) in one slice, for their mean, SD and median.
/// When the slice holds whole HU values only (CT as stored) they are counted per HU over the
/// muscle range; otherwise (rescaled values, MRI's pseudo-CT) they are kept in the order met. The
/// statistics are the same either way: sums of whole numbers are exact in any order, and the
/// median is the same order statistic.
class MuscleHuValues {
 public:
  /// `first_hu`..`first_hu + bins - 1`: the whole HU values to count; bins 0: keep the values.
  MuscleHuValues(int first_hu = 0, std::size_t bins = 0) : first_hu_(first_hu), counts_(bins, 0) {}
  void add(float hu) {
    ++n_;
    if (counts_.empty()) values_.push_back(hu);
    else ++counts_[std::size_t(int(hu) - first_hu_)];
  }
  /// Appends another structure's values (same counting), as if its voxels came after these.
  void add(const MuscleHuValues& o) {
    n_ += o.n_;
    if (counts_.empty()) values_.insert(values_.end(), o.values_.begin(), o.values_.end());
    else
      for (std::size_t b = 0; b < counts_.size(); ++b) counts_[b] += o.counts_[b];
  }
  std::size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  /// Sum and sum of squares (as doubles, over the values in the order they were added).
  void sums(double& sum, double& sum2) const {
    sum = 0, sum2 = 0;
    if (counts_.empty()) {
      for (float x : values_) sum += x, sum2 += double(x) * x;
      return;
    }
    for (std::size_t b = 0; b < counts_.size(); ++b)
      if (counts_[b] > 0) {
        const double v = double(first_hu_ + int(b)), c = double(counts_[b]);
        sum += c * v, sum2 += c * (v * v);
      }
  }
  /// The value at position size()/2 in ascending order (the upper median); 0 when empty.
  double median() {
    if (n_ == 0) return 0;
    const std::size_t mid = n_ / 2;
    if (counts_.empty()) {
      std::nth_element(values_.begin(), values_.begin() + long(mid), values_.end());
      return values_[mid];
    }
    std::size_t below = 0;
    for (std::size_t b = 0; b < counts_.size(); ++b) {
      below += counts_[b];
      if (below > mid) return double(first_hu_ + int(b));
    }
    return 0;  // not reached: the counts sum to n_
  }

 private:
  int first_hu_ = 0;
  std::vector<std::uint32_t> counts_;
  std::vector<float> values_;
  std::size_t n_ = 0;
};

/// Voxels of one muscle in one slice, gathered for its measures and its group's.
struct MuscleVoxels {
  double outline_mm2 = 0, fat_mm2 = 0, low_mm2 = 0, normal_mm2 = 0;
  MuscleHuValues muscle_hu;
  void add(const MuscleVoxels& o) {
    outline_mm2 += o.outline_mm2, fat_mm2 += o.fat_mm2, low_mm2 += o.low_mm2, normal_mm2 += o.normal_mm2;
    muscle_hu.add(o.muscle_hu);
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
    v.muscle_hu.sums(sum, sum2);
    const double n = double(v.muscle_hu.size());
    m.mean_hu = sum / n;
    m.sd_hu = std::sqrt(std::max(0.0, sum2 / n - m.mean_hu * m.mean_hu));
    m.median_hu = v.muscle_hu.median();
  }
  if (m.muscle_area_mm2 + m.intramuscular_fat_area_mm2 > 0)
    m.fat_fraction = m.intramuscular_fat_area_mm2 / (m.muscle_area_mm2 + m.intramuscular_fat_area_mm2);
  return m;
}

/// What each label id means: its side and the kind of tissue it is measured as.
enum class Kind : std::uint8_t { Other, Skin, Fat, Bone, Compartment, Muscle };
const std::vector<std::pair<Side, Kind>>& label_meanings() {
  static const std::vector<std::pair<Side, Kind>> table = [] {
    const auto& catalog = LabelCatalog::standard();
    std::vector<std::pair<Side, Kind>> t(65536, {Side::None, Kind::Other});
    for (const auto& st : catalog.structures())
      for (Side sd : {Side::Right, Side::Left}) {
        Kind kind = Kind::Compartment;
        if (st.key == "skin") kind = Kind::Skin;
        else if (st.key == "subcutaneous_fat") kind = Kind::Fat;
        else if (st.kind == StructureKind::Bone || st.key == "bone_marrow") kind = Kind::Bone;
        else if (st.kind == StructureKind::Muscle) kind = Kind::Muscle;
        t[catalog.label_id(st.key, sd)] = {sd, kind};
      }
    return t;
  }();
  return table;
}

/// The measures of each leg of slice k (in the order of `sides`), from one pass over the slice;
/// `has_bone[n]` tells whether the slice holds side n's reference bone (the protocol's level bone).
std::vector<SideSliceMeasures> measure_slice(const ScalarVolume& ct, const LabelMap& labels, std::size_t k,
                                             const std::vector<Side>& sides, const segment::CtProtocol& p,
                                             std::vector<bool>& has_bone) {
  const auto& catalog = LabelCatalog::standard();
  const auto& meaning = label_meanings();
  const double px = ct.geometry.pixel_area_mm2();
  const std::size_t n_voxels = ct.geometry.slice_voxel_count();
  const LabelId* l = labels.slice(k);
  const float* hu = ct.slice(k);
  // Whole HU values are counted per HU over the muscle range (when it is a sensible size).
  const double first = std::ceil(p.muscle.low_hu), last = std::floor(p.muscle.high_hu);
  const bool whole_values =
      last >= first && last - first < 65536 && std::all_of(hu, hu + n_voxels, [](float v) { return std::trunc(v) == v; });
  const int first_hu = whole_values ? int(first) : 0;
  const std::size_t bins = whole_values ? std::size_t(last - first) + 1 : 0;

  struct Accumulator {
    SideSliceMeasures m;
    MuscleHuValues muscle_hu;
    std::vector<MuscleVoxels> muscle_voxels;  // by label id (catalog ids are below 256)
    std::vector<std::uint8_t> muscle_present;
    LabelId bone = 0;
    bool bone_seen = false;
  };
  std::vector<Accumulator> acc(sides.size());
  std::array<int, 3> slot_of{-1, -1, -1};  // by Side
  for (std::size_t n = 0; n < sides.size(); ++n) {
    Accumulator& a = acc[n];
    a.m.side = sides[n];
    for (const auto& bin : p.hu_bins) a.m.hu_bin_areas_mm2.emplace_back(bin.name, 0.0);
    a.muscle_hu = MuscleHuValues(first_hu, bins);
    a.muscle_voxels.assign(256, MuscleVoxels{0, 0, 0, 0, MuscleHuValues(first_hu, 0)});
    a.muscle_present.assign(256, 0);
    a.bone = catalog.label_id(p.level.bone_key, sides[n]);
    slot_of[std::size_t(sides[n])] = int(n);
  }
  for (std::size_t o = 0; o < n_voxels; ++o) {
    if (l[o] == 0) continue;
    const auto [label_side, kind] = meaning[l[o]];
    const int slot = slot_of[std::size_t(label_side)];
    if (slot < 0) continue;
    Accumulator& a = acc[std::size_t(slot)];
    SideSliceMeasures& m = a.m;
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
      if (l[o] == a.bone) a.bone_seen = true;
      continue;
    }
    const float v = hu[o];
    if (kind == Kind::Muscle) {
      if (l[o] >= a.muscle_voxels.size())
        a.muscle_voxels.resize(std::size_t(l[o]) + 1, MuscleVoxels{0, 0, 0, 0, MuscleHuValues(first_hu, 0)}),
            a.muscle_present.resize(std::size_t(l[o]) + 1, 0);
      MuscleVoxels& mv = a.muscle_voxels[l[o]];
      if (!a.muscle_present[l[o]]) a.muscle_present[l[o]] = 1, mv.muscle_hu = MuscleHuValues(first_hu, bins);
      mv.outline_mm2 += px;
      if (p.adipose.contains(v)) mv.fat_mm2 += px;
      if (p.muscle.contains(v)) {
        mv.muscle_hu.add(v);
        if (p.low_attenuation_muscle.contains(v)) mv.low_mm2 += px;
        if (p.normal_attenuation_muscle.contains(v)) mv.normal_mm2 += px;
      }
    }
    for (std::size_t b = 0; b < p.hu_bins.size(); ++b)
      if (p.hu_bins[b].range.contains(v)) m.hu_bin_areas_mm2[b].second += px;
    if (p.adipose.contains(v)) m.imat_area_mm2 += px;
    if (p.muscle.contains(v)) {
      m.muscle_area_mm2 += px;
      a.muscle_hu.add(v);
      if (p.low_attenuation_muscle.contains(v)) m.low_attenuation_muscle_area_mm2 += px;
      if (p.normal_attenuation_muscle.contains(v)) m.normal_attenuation_muscle_area_mm2 += px;
    }
  }
  std::vector<SideSliceMeasures> out;
  has_bone.assign(sides.size(), false);
  for (std::size_t n = 0; n < sides.size(); ++n) {
    Accumulator& a = acc[n];
    SideSliceMeasures& m = a.m;
    has_bone[n] = a.bone_seen;
    const double count = double(a.muscle_hu.size());
    if (count > 0) {
      double sum = 0, sum2 = 0;
      a.muscle_hu.sums(sum, sum2);
      m.muscle_mean_hu = sum / count;
      m.muscle_sd_hu = std::sqrt(std::max(0.0, sum2 / count - m.muscle_mean_hu * m.muscle_mean_hu));
      m.muscle_median_hu = a.muscle_hu.median();
    }
    if (m.imat_area_mm2 + m.muscle_area_mm2 > 0) m.compartment_fat_fraction = m.imat_area_mm2 / (m.imat_area_mm2 + m.muscle_area_mm2);
    // Muscles present, then the region's groups (and muscles reported alone) from their members.
    std::map<LabelId, MuscleVoxels> muscles;
    for (std::size_t label = 0; label < a.muscle_voxels.size(); ++label)
      if (a.muscle_present[label]) muscles.emplace(LabelId(label), std::move(a.muscle_voxels[label]));
    if (!muscles.empty()) {
      for (const auto& [label, voxels] : muscles)
        m.structures.push_back(structure_measures(catalog.decode(label)->structure->key, false, voxels, px));
      for (const Structure* group : catalog.reporting_groups_of(p.region)) {
        if (group->kind != StructureKind::MuscleGroup) continue;
        MuscleVoxels together{0, 0, 0, 0, MuscleHuValues(first_hu, bins)};
        bool any = false;
        for (const Structure* member : catalog.members_of(group->key))
          if (auto it = muscles.find(catalog.label_id(member->key, m.side)); it != muscles.end()) together.add(it->second), any = true;
        if (any) m.structures.push_back(structure_measures(group->key, true, std::move(together), px));
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

CtResults measure_ct(const ScalarVolume& ct, const segment::TissueSegmentation& seg, const segment::CtProtocol& p,
                     const LevelOptions& options) {
  const Geometry& g = ct.geometry;
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
      std::vector<Side> sides;
      for (const auto& leg : seg.slices[k].legs) sides.push_back(leg.side);
      std::vector<bool> has_bone;
      s.sides = measure_slice(ct, seg.labels, k, sides, p, has_bone);
      for (std::size_t n = 0; n < sides.size(); ++n)
        if (has_bone[n]) bone_in_slice[k].push_back(sides[n]);
    }
    return true;
  });
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (Side side : bone_in_slice[k]) bone_slices[side].push_back(int(k));
  const ConfidenceIndex confidence(seg);
  for (auto& s : r.slices)
    for (auto& m : s.sides)
      for (auto& st : m.structures) st.confidence = confidence.of(s.slice_index, m.side, st.structure_key, st.is_group);

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

void mark_low_confidence(std::vector<Measurement>& records, std::size_t first, const StructureConfidence& confidence,
                         const std::string& level) {
  if (!confidence.low) return;
  for (std::size_t n = first; n < records.size(); ++n) {
    records[n].qc_flags.push_back("muscle_low_confidence");
    if (level.empty()) continue;
    records[n].withheld = true;
    records[n].withheld_reason = "muscle_low_confidence:" + confidence.reason;
  }
}

ConfidenceIndex::ConfidenceIndex(const segment::TissueSegmentation& segmentation) : segmentation_(&segmentation) {
  for (const auto& c : segmentation.muscle_confidence) by_slice_label_[{c.slice_index, c.label}] = &c;
}

StructureConfidence ConfidenceIndex::of(int slice_index, Side side, const std::string& key, bool is_group) const {
  StructureConfidence out;
  if (segmentation_->muscle_prior != "atlas") return out;
  const auto& catalog = LabelCatalog::standard();
  const auto find = [&](const std::string& muscle) -> const segment::MuscleConfidence* {
    const auto it = by_slice_label_.find({slice_index, catalog.label_id(muscle, side)});
    return it == by_slice_label_.end() ? nullptr : it->second;
  };
  if (const auto* c = find(key)) {  // a muscle, or a group judged as a whole (atlas prior)
    out.atlas_agreement = c->agreement, out.low = c->low_confidence, out.reason = c->reason;
    return out;
  }
  if (!is_group) return out;
  double area = 0, agreement = 0, low_area = 0;
  std::string low_member;
  for (const Structure* member : catalog.members_of(key)) {
    const auto* c = find(member->key);
    if (c == nullptr) continue;
    area += c->area_mm2, agreement += c->agreement * c->area_mm2;
    if (c->low_confidence) {
      low_area += c->area_mm2;
      if (low_member.empty()) low_member = member->key;
    }
  }
  if (area <= 0) return out;
  out.atlas_agreement = agreement / area;
  if (low_area > 0.25 * area) out.low = true, out.reason = "member_low_confidence:" + low_member;
  return out;
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
      const std::size_t first = out.size();
      push("csa", st.muscle_area_mm2 / 100, "cm2", st.structure_key);
      push("mean_hu", st.mean_hu, "[hnsf'U]", st.structure_key);
      push("intramuscular_fat_area", st.intramuscular_fat_area_mm2 / 100, "cm2", st.structure_key);
      push("fat_fraction", st.fat_fraction, "1", st.structure_key);
      if (!level.empty()) {
        push("outline_area", st.outline_area_mm2 / 100, "cm2", st.structure_key);
        push("sd_hu", st.sd_hu, "[hnsf'U]", st.structure_key);
        push("median_hu", st.median_hu, "[hnsf'U]", st.structure_key);
        push("low_attenuation_area", st.low_attenuation_muscle_area_mm2 / 100, "cm2", st.structure_key);
        push("normal_attenuation_area", st.normal_attenuation_muscle_area_mm2 / 100, "cm2", st.structure_key);
      }
      mark_low_confidence(out, first, st.confidence, level);
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
