// Shared MRI steps: limb masks from a contrast-independent signal, the pseudo-CT, the CT
// compartment logic run on it, MR measures per slice, side, muscle and group, marrow check.

#include <algorithm>
#include <cmath>
#include <map>

#include "mri_internal.h"
#include "musclecsa/core/catalog.h"
#include "musclecsa/core/error.h"
#include "musclecsa/core/parallel.h"
#include "musclecsa/segment/ct_muscles.h"

namespace musclecsa::mri::detail {
namespace {

/// Three passes of a separable box mean (about a Gaussian of SD radius * sqrt(3)/... ), in place.
void box_blur(std::vector<float>& v, std::size_t nx, std::size_t ny, int radius) {
  std::vector<float> tmp(v.size());
  for (int pass = 0; pass < 3; ++pass) {
    for (std::size_t j = 0; j < ny; ++j) {  // rows
      const float* in = v.data() + j * nx;
      float* out = tmp.data() + j * nx;
      double sum = 0;
      int count = 0;
      for (int i = 0; i <= radius && i < int(nx); ++i) sum += in[i], ++count;
      for (int i = 0; i < int(nx); ++i) {
        out[i] = float(sum / count);
        const int add = i + radius + 1, drop = i - radius;
        if (add < int(nx)) sum += in[add], ++count;
        if (drop >= 0) sum -= in[drop], --count;
      }
    }
    for (std::size_t i = 0; i < nx; ++i) {  // columns
      double sum = 0;
      int count = 0;
      for (int j = 0; j <= radius && j < int(ny); ++j) sum += tmp[i + nx * std::size_t(j)], ++count;
      for (int j = 0; j < int(ny); ++j) {
        v[i + nx * std::size_t(j)] = float(sum / count);
        const int add = j + radius + 1, drop = j - radius;
        if (add < int(ny)) sum += tmp[i + nx * std::size_t(add)], ++count;
        if (drop >= 0) sum -= tmp[i + nx * std::size_t(drop)], --count;
      }
    }
  }
}

double median_of(std::vector<float>& v) {
  if (v.empty()) return 0;
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + long(mid), v.end());
  return v[mid];
}

}  // namespace

LimbMasks limb_masks(const ScalarVolume& signal, double body_fraction, Progress& progress, double fixed_level) {
  const Geometry& g = signal.geometry;
  const std::size_t nx = g.size[0], ny = g.size[1], nz = g.size[2], n = nx * ny;
  LimbMasks m;
  m.local_level = Image<float>(g);
  m.limb = Image<std::uint8_t>(g);
  m.depth_mm = Image<float>(g);
  // Tissue level of the volume: median of the bright half above 30% of the 99th percentile.
  std::vector<float> sample;
  for (std::size_t o = 0; o < signal.voxels.size(); o += 13) sample.push_back(signal.voxels[o]);
  std::vector<float> sorted = sample;
  const std::size_t i99 = sorted.empty() ? 0 : std::size_t(0.99 * double(sorted.size() - 1));
  if (!sorted.empty()) std::nth_element(sorted.begin(), sorted.begin() + long(i99), sorted.end());
  const double p99 = sorted.empty() ? 0 : sorted[i99];
  std::vector<float> tissue;
  for (float v : sample)
    if (v > 0.3 * p99) tissue.push_back(v);
  m.tissue_level = fixed_level > 0 ? fixed_level : median_of(tissue);
  const double level = m.tissue_level;
  if (!(level > 0)) return m;
  const int radius = std::max(2, int(std::lround(12.0 / g.spacing_mm[0])));
  const double dx = g.spacing_mm[0], dy = g.spacing_mm[1], dd = std::hypot(dx, dy);
  parallel_for(nz, progress, "MR limb masks", 0.1, [&](std::size_t k) {
    const float* s = signal.slice(k);
    // Local tissue level: normalised convolution of the tissue pixels (bias-field robust), on a
    // 4x coarser grid (the level is smooth), then bilinear back to the pixels.
    float* local = m.local_level.slice(k);
    if (fixed_level > 0) {
      std::fill(local, local + n, float(fixed_level));
    } else {
      const std::size_t b = 4, cx = (nx + b - 1) / b, cy = (ny + b - 1) / b;
      std::vector<float> num(cx * cy, 0.0f), den(cx * cy, 0.0f);
      for (std::size_t j = 0; j < ny; ++j)
        for (std::size_t i = 0; i < nx; ++i) {
          const float v = s[i + nx * j];
          if (v > 0.5 * level) num[i / b + cx * (j / b)] += v, den[i / b + cx * (j / b)] += 1.0f;
        }
      const int coarse_radius = std::max(1, int(std::lround(double(radius) / double(b))));
      box_blur(num, cx, cy, coarse_radius);
      box_blur(den, cx, cy, coarse_radius);
      std::vector<float> coarse(cx * cy);
      const float min_den = 0.02f * float(b * b);
      for (std::size_t o = 0; o < cx * cy; ++o) coarse[o] = den[o] > min_den ? num[o] / den[o] : float(level);
      for (std::size_t j = 0; j < ny; ++j) {
        const double y = std::clamp((double(j) + 0.5) / double(b) - 0.5, 0.0, double(cy - 1));
        const std::size_t j0 = std::size_t(y), j1 = std::min(cy - 1, j0 + 1);
        const double fy = y - double(j0);
        for (std::size_t i = 0; i < nx; ++i) {
          const double x = std::clamp((double(i) + 0.5) / double(b) - 0.5, 0.0, double(cx - 1));
          const std::size_t i0 = std::size_t(x), i1 = std::min(cx - 1, i0 + 1);
          const double fx = x - double(i0);
          local[i + nx * j] = float((1 - fy) * ((1 - fx) * coarse[i0 + cx * j0] + fx * coarse[i1 + cx * j0]) +
                                    fy * ((1 - fx) * coarse[i0 + cx * j1] + fx * coarse[i1 + cx * j1]));
        }
      }
    }
    // Outside: flood from the border through non-body pixels (4-connected).
    // (The flooded set does not depend on the visiting order: a stack in one buffer.)
    std::vector<std::uint8_t> outside(n, 0);
    std::vector<std::uint32_t> stack;
    stack.reserve(n);
    auto seed = [&](std::size_t o) {
      if (!outside[o] && !(s[o] > body_fraction * local[o])) outside[o] = 1, stack.push_back(std::uint32_t(o));
    };
    for (std::size_t i = 0; i < nx; ++i) seed(i), seed(i + nx * (ny - 1));
    for (std::size_t j = 0; j < ny; ++j) seed(nx * j), seed(nx - 1 + nx * j);
    while (!stack.empty()) {
      const std::size_t o = stack.back();
      stack.pop_back();
      const std::size_t i = o % nx, j = o / nx;
      if (i > 0) seed(o - 1);
      if (i + 1 < nx) seed(o + 1);
      if (j > 0) seed(o - nx);
      if (j + 1 < ny) seed(o + nx);
    }
    std::uint8_t* limb = m.limb.slice(k);
    float* depth = m.depth_mm.slice(k);
    const float big = 1e9f;
    for (std::size_t o = 0; o < n; ++o) {
      limb[o] = outside[o] ? 0 : 1;
      depth[o] = outside[o] ? 0.0f : big;
    }
    // Chamfer distance (mm) to the outside, two passes.
    for (std::size_t j = 0; j < ny; ++j)
      for (std::size_t i = 0; i < nx; ++i) {
        const std::size_t o = i + nx * j;
        if (depth[o] == 0) continue;
        float d = big;
        if (i == 0 || j == 0 || i + 1 == nx) d = float(std::min(dx, dy));  // the border counts as outside
        if (i > 0) d = std::min(d, depth[o - 1] + float(dx));
        if (j > 0) d = std::min(d, depth[o - nx] + float(dy));
        if (i > 0 && j > 0) d = std::min(d, depth[o - nx - 1] + float(dd));
        if (i + 1 < nx && j > 0) d = std::min(d, depth[o - nx + 1] + float(dd));
        depth[o] = d;
      }
    for (std::size_t jj = ny; jj-- > 0;)
      for (std::size_t ii = nx; ii-- > 0;) {
        const std::size_t o = ii + nx * jj;
        if (depth[o] == 0) continue;
        float d = depth[o];
        if (jj + 1 == ny) d = std::min(d, float(std::min(dx, dy)));
        if (ii + 1 < nx) d = std::min(d, depth[o + 1] + float(dx));
        if (jj + 1 < ny) d = std::min(d, depth[o + nx] + float(dy));
        if (ii + 1 < nx && jj + 1 < ny) d = std::min(d, depth[o + nx + 1] + float(dd));
        if (ii > 0 && jj + 1 < ny) d = std::min(d, depth[o + nx - 1] + float(dd));
        depth[o] = d;
      }
    return true;
  });
  return m;
}

namespace {

/// Square min (erode) or max (dilate) filter of a 0/1 mask with half-width r, separable, in place:
/// window sums from running totals (a pixel outside the image counts as 0).
void square_filter(std::vector<std::uint8_t>& m, std::size_t nx, std::size_t ny, int r, bool dilate) {
  const int full = 2 * r + 1;
  auto pass = [&](const std::uint8_t* in, std::uint8_t* out, std::size_t count, std::size_t stride) {
    int sum = 0;
    for (int d = 0; d <= r && d < int(count); ++d) sum += in[std::size_t(d) * stride];
    for (std::size_t x = 0; x < count; ++x) {
      out[x * stride] = dilate ? sum > 0 : sum == full;
      const long add = long(x) + r + 1, drop = long(x) - r;
      if (add < long(count)) sum += in[std::size_t(add) * stride];
      if (drop >= 0) sum -= in[std::size_t(drop) * stride];
    }
  };
  std::vector<std::uint8_t> tmp(m.size());
  for (std::size_t j = 0; j < ny; ++j) pass(m.data() + nx * j, tmp.data() + nx * j, nx, 1);
  for (std::size_t i = 0; i < nx; ++i) pass(tmp.data() + i, m.data() + i, ny, nx);
}

}  // namespace

ScalarVolume make_pseudo_ct(const ScalarVolume& signal, const LimbMasks& masks, const Image<float>& fat_part,
                            double void_fraction, std::vector<std::size_t>* infiltrated_regions) {
  ScalarVolume ct(signal.geometry, -1000.0f);
  ct.modality = Modality::CT;
  ct.unit_ucum = "[hnsf'U]";
  ct.source = signal.source;
  const Geometry& g = signal.geometry;
  const std::size_t nx = g.size[0], ny = g.size[1], n = nx * ny;
  const double px = g.pixel_area_mm2();
  std::vector<std::size_t> regions(g.size[2], 0);
  NullProgress quiet;
  parallel_for(g.size[2], quiet, "pseudo-CT", 0.0, [&](std::size_t k) {
    const std::uint8_t* limb = masks.limb.slice(k);
    const float* depth = masks.depth_mm.slice(k);
    const float* s = signal.slice(k);
    const float* local = masks.local_level.slice(k);
    const float* f = fat_part.slice(k);
    float* out = ct.slice(k);
    std::vector<std::uint8_t> tissue(n, 0);
    for (std::size_t o = 0; o < n; ++o) {
      if (!limb[o]) continue;
      if (depth[o] > 2.0f && s[o] < void_fraction * local[o]) {
        out[o] = 1250.0f;  // signal void inside the limb: cortical bone
      } else {
        out[o] = 50.0f - 150.0f * std::clamp(f[o], 0.0f, 1.0f);
        tissue[o] = 1;
      }
    }
    // Infiltrated muscle: pure fat (septa, subcutaneous fat, IMAT) reads near 100% fat, muscle with
    // diffuse fat in between. Blocks of tissue whose 3x3 mean reads 35-88% fat, at least 2 cm2 after
    // an opening of 2 pixels (which removes the partial-volume edges of septa), are muscle: there
    // the fat scale starts at the block's median, so the muscle maps to muscle HU and only fat
    // above it (streaks, septa) to fat HU. Without this a muscle over ~50% fat became "fat".
    std::vector<std::uint8_t> mid(n, 0);
    for (std::size_t j = 1; j + 1 < ny; ++j)
      for (std::size_t i = 1; i + 1 < nx; ++i) {
        const std::size_t o = i + nx * j;
        if (!tissue[o] || depth[o] < 3.0f) continue;
        double sum = 0;
        bool all_tissue = true;
        for (long dj = -1; dj <= 1; ++dj)
          for (long di = -1; di <= 1; ++di) {
            const std::size_t q = std::size_t(long(o) + di + long(nx) * dj);
            all_tissue = all_tissue && tissue[q];
            sum += std::clamp(f[q], 0.0f, 1.0f);
          }
        const double mean = sum / 9;
        mid[o] = all_tissue && mean >= 0.35 && mean <= 0.88;
      }
    if (std::find(mid.begin(), mid.end(), std::uint8_t(1)) == mid.end()) return true;
    square_filter(mid, nx, ny, 2, false);
    square_filter(mid, nx, ny, 2, true);
    std::vector<int> component(n, -1);
    for (std::size_t start = 0; start < n; ++start) {
      if (!mid[start] || component[start] >= 0) continue;
      std::vector<std::size_t> pixels = {start};
      component[start] = 0;
      for (std::size_t q = 0; q < pixels.size(); ++q) {
        const std::size_t o = pixels[q];
        const std::size_t i = o % nx, j = o / nx;
        for (std::size_t next : {i > 0 ? o - 1 : o, i + 1 < nx ? o + 1 : o, j > 0 ? o - nx : o, j + 1 < ny ? o + nx : o})
          if (mid[next] && component[next] < 0 && tissue[next]) component[next] = 0, pixels.push_back(next);
      }
      if (double(pixels.size()) * px < 200.0) continue;
      std::vector<float> values;
      values.reserve(pixels.size());
      for (std::size_t o : pixels) values.push_back(std::clamp(f[o], 0.0f, 1.0f));
      const float base = std::min(0.85f, float(median_of(values)));
      for (std::size_t o : pixels) {
        const float g2 = std::clamp((f[o] - base) / (1.0f - base), 0.0f, 1.0f);
        out[o] = 50.0f - 150.0f * g2;
      }
      ++regions[k];
    }
    return true;
  });
  if (infiltrated_regions != nullptr) *infiltrated_regions = std::move(regions);
  return ct;
}

namespace {

struct Accumulator {
  double area = 0, fat_area = 0, ff_sum = 0;
  std::vector<float> ff;
  void add(float v, double px, double threshold) {
    area += px;
    ff_sum += v;
    ff.push_back(v);
    if (v >= threshold) fat_area += px;
  }
  void add(const Accumulator& o) {
    area += o.area, fat_area += o.fat_area, ff_sum += o.ff_sum;
    ff.insert(ff.end(), o.ff.begin(), o.ff.end());
  }
};

MrStructureMeasures structure_measures(const std::string& key, bool is_group, Accumulator a, const MrProtocol& p) {
  MrStructureMeasures m;
  m.structure_key = key;
  m.is_group = is_group;
  m.area_mm2 = a.area;
  m.fat_area_mm2 = a.fat_area;
  if (!a.ff.empty()) {
    m.mean_ff = a.ff_sum / double(a.ff.size());  // unclamped voxel values: noise averages out
    for (float& v : a.ff) v = std::clamp(v, 0.0f, 1.0f);
    m.median_ff = median_of(a.ff);
  }
  m.fat_free_area_mm2 = m.area_mm2 * (1 - m.mean_ff);
  m.mercuri = p.mercuri.grade_for(m.mean_ff);
  return m;
}

/// What each label id is to the MR measures (its side and role), looked up once per label, not per voxel.
enum class Role : std::uint8_t { Other, Skin, SubcutaneousFat, Bone, Marrow, Muscle, MuscleTissue, Compartment };
const std::vector<std::pair<Side, Role>>& label_roles() {
  static const std::vector<std::pair<Side, Role>> table = [] {
    const auto& catalog = LabelCatalog::standard();
    std::vector<std::pair<Side, Role>> t(65536, {Side::None, Role::Other});
    for (const auto& st : catalog.structures())
      for (Side sd : {Side::Right, Side::Left}) {
        Role role = Role::Compartment;
        if (st.key == "skin") role = Role::Skin;
        else if (st.key == "subcutaneous_fat") role = Role::SubcutaneousFat;
        else if (st.key == "bone_marrow") role = Role::Marrow;
        else if (st.kind == StructureKind::Bone) role = Role::Bone;
        else if (st.kind == StructureKind::Muscle) role = Role::Muscle;
        else if (st.key == "skeletal_muscle") role = Role::MuscleTissue;
        t[catalog.label_id(st.key, sd)] = {sd, role};
      }
    return t;
  }();
  return table;
}

MrSideMeasures measure_side(const MrAnalysis& a, std::size_t k, Side side) {
  const auto& catalog = LabelCatalog::standard();
  const auto& roles = label_roles();
  const MrProtocol& p = a.protocol;
  const double px = a.ff.ff.geometry.pixel_area_mm2();
  const std::size_t n = a.ff.ff.geometry.slice_voxel_count();
  const LabelId* labels = a.segmentation.labels.slice(k);
  const float* ff = a.ff.ff.slice(k);
  MrSideMeasures m;
  m.side = side;
  std::vector<Accumulator> per_muscle;  // by label id
  Accumulator muscle_all, sat, marrow;
  for (std::size_t o = 0; o < n; ++o) {
    if (labels[o] == 0) continue;
    const auto [label_side, role] = roles[labels[o]];
    if (role == Role::Other || label_side != side) continue;
    m.limb_area_mm2 += px;
    if (role == Role::Skin) {
      m.skin_area_mm2 += px;
      continue;
    }
    if (role == Role::SubcutaneousFat) {
      m.subcutaneous_fat_area_mm2 += px;
      sat.add(ff[o], px, p.fat_ff_threshold);
      continue;
    }
    m.compartment_area_mm2 += px;
    if (role == Role::Bone || role == Role::Marrow) {
      m.bone_area_mm2 += px;
      if (role == Role::Marrow) marrow.add(ff[o], px, p.fat_ff_threshold);
      continue;
    }
    // IMAT: fat outside the muscle outlines (septa, under the fascia); fat inside an outline is
    // that muscle's intramuscular fat, so muscle CSA and IMAT never overlap.
    if (ff[o] >= p.fat_ff_threshold && role != Role::Muscle && role != Role::MuscleTissue) m.imat_area_mm2 += px;
    if (role == Role::Muscle || role == Role::MuscleTissue) {
      muscle_all.add(ff[o], px, p.fat_ff_threshold);
      if (role == Role::Muscle) {
        if (labels[o] >= per_muscle.size()) per_muscle.resize(std::size_t(labels[o]) + 1);
        per_muscle[labels[o]].add(ff[o], px, p.fat_ff_threshold);
      }
    }
  }
  const MrStructureMeasures all = structure_measures("skeletal_muscle", true, muscle_all, p);
  m.muscle_area_mm2 = all.area_mm2;
  m.muscle_mean_ff = all.mean_ff;
  m.muscle_median_ff = all.median_ff;
  m.fat_free_muscle_area_mm2 = all.fat_free_area_mm2;
  m.subcutaneous_fat_mean_ff = sat.ff.empty() ? 0 : sat.ff_sum / double(sat.ff.size());
  m.marrow_mean_ff = marrow.ff.empty() ? 0 : marrow.ff_sum / double(marrow.ff.size());
  const BodyRegion region = p.compartments.region;
  const auto measured = [&](const std::string& key) -> const Accumulator* {
    const LabelId id = catalog.label_id(key, side);
    return id < per_muscle.size() && per_muscle[id].area > 0 ? &per_muscle[id] : nullptr;
  };
  for (const Structure* muscle : catalog.muscles_of(region)) {
    const Accumulator* voxels = measured(muscle->key);
    if (voxels == nullptr) continue;
    m.structures.push_back(structure_measures(muscle->key, false, *voxels, p));
  }
  for (const Structure* group : catalog.reporting_groups_of(region)) {
    if (group->kind != StructureKind::MuscleGroup) continue;  // muscles reported alone are listed above
    Accumulator sum;
    bool any = false;
    for (const Structure* member : catalog.members_of(group->key)) {
      const Accumulator* voxels = measured(member->key);
      if (voxels == nullptr) continue;
      sum.add(*voxels);
      any = true;
    }
    if (any) m.structures.push_back(structure_measures(group->key, true, std::move(sum), p));
  }
  return m;
}

/// In-plane linear upsampling by 2 onto a grid whose even samples are the original voxel centres
/// (size 2n - 1): the CT logic then follows septa at half the pixel size, and the labels at the
/// original centres are read back exactly.
ScalarVolume upsample2(const ScalarVolume& v) {
  const Geometry& g = v.geometry;
  Geometry f = g;
  f.size[0] = 2 * g.size[0] - 1, f.size[1] = 2 * g.size[1] - 1;
  f.spacing_mm[0] = g.spacing_mm[0] / 2, f.spacing_mm[1] = g.spacing_mm[1] / 2;
  ScalarVolume out(f);
  out.modality = v.modality, out.unit_ucum = v.unit_ucum, out.source = v.source;
  const std::size_t nx = g.size[0], ny = g.size[1], fx = f.size[0], fy = f.size[1];
  for (std::size_t k = 0; k < g.size[2]; ++k) {
    const float* in = v.slice(k);
    float* o = out.slice(k);
    for (std::size_t j = 0; j < fy; ++j)
      for (std::size_t i = 0; i < fx; ++i) {
        const std::size_t i0 = i / 2, j0 = j / 2, i1 = std::min(nx - 1, i0 + (i & 1)), j1 = std::min(ny - 1, j0 + (j & 1));
        o[i + fx * j] = 0.25f * (in[i0 + nx * j0] + in[i1 + nx * j0] + in[i0 + nx * j1] + in[i1 + nx * j1]);
      }
  }
  return out;
}

}  // namespace

void segment_and_measure(MrAnalysis& a, const MrProtocol* fixed, const quantify::LevelOptions& level,
                         Progress& progress, const anatomy::MultiAtlasOptions& atlas) {
  // Coarse pixels (> 1 mm) are segmented on a 2x finer grid (docs/mri.md); labels are read back at
  // the original voxel centres.
  const bool fine = a.pseudo_ct.geometry.spacing_mm[0] > 1.0 || a.pseudo_ct.geometry.spacing_mm[1] > 1.0;
  const ScalarVolume fine_ct = fine ? upsample2(a.pseudo_ct) : ScalarVolume();
  const ScalarVolume& seg_ct = fine ? fine_ct : a.pseudo_ct;
  // Protocol: as CT's "auto", one bone per leg is a thigh, two a calf.
  std::optional<segment::TissueSegmentation> probe;
  if (fixed == nullptr) {
    a.protocol = builtin_mr_protocol("thigh-mr");
    probe = segment::segment_ct_tissues(seg_ct, a.protocol.compartments, progress, segment::TissueValues::PseudoCtFromMr);  // notes in MR terms
    int one = 0, two = 0;
    for (const auto& s : probe->slices)
      for (const auto& leg : s.legs) {
        if (leg.bone_count == 1) ++one;
        if (leg.bone_count == 2) ++two;
      }
    a.protocol_decision = "auto: " + std::to_string(one) + " leg-slice(s) with one bone, " + std::to_string(two) + " with two";
    if (two > one) {
      a.protocol = builtin_mr_protocol("calf-mr");
      probe.reset();
    }
  } else {
    a.protocol = *fixed;
  }
  if (!atlas.prior.empty()) a.protocol.compartments.muscles.prior = atlas.prior;
  a.segmentation = probe ? std::move(*probe)
                         : segment::segment_ct_tissues(seg_ct, a.protocol.compartments, progress,
                                                       segment::TissueValues::PseudoCtFromMr);
  anatomy::segment_muscles(seg_ct, a.protocol.compartments, a.segmentation, atlas, progress);
  if (fine) {
    const Geometry& g = a.pseudo_ct.geometry;
    LabelMap labels(g);
    const std::size_t fx = seg_ct.geometry.size[0];
    for (std::size_t k = 0; k < g.size[2]; ++k)
      for (std::size_t j = 0; j < g.size[1]; ++j)
        for (std::size_t i = 0; i < g.size[0]; ++i)
          labels.slice(k)[i + g.size[0] * j] = a.segmentation.labels.slice(k)[2 * i + fx * 2 * j];
    a.segmentation.labels = std::move(labels);
    a.notes.push_back("pixels larger than 1 mm: compartments and muscles segmented on a 2x finer in-plane grid (linear "
                      "interpolation), labels read back at the voxel centres");
  }
  progress.report(0, "measuring");
  a.compartments = quantify::measure_ct(a.pseudo_ct, a.segmentation, a.protocol.compartments, level);
  a.qc_flags.insert(a.qc_flags.end(), a.segmentation.qc_flags.begin(), a.segmentation.qc_flags.end());
  for (const auto& note : a.segmentation.notes) a.notes.push_back(note);
  for (const auto& note : a.compartments.notes)
    if (std::find(a.notes.begin(), a.notes.end(), note) == a.notes.end()) a.notes.push_back(note);
  for (const auto& flag : a.compartments.qc_flags)
    if (std::find(a.qc_flags.begin(), a.qc_flags.end(), flag) == a.qc_flags.end()) a.qc_flags.push_back(flag);
  // The MR edge check (tissue_at_field_of_view_edge, on the signal) already says what the compartment
  // logic's limb_cut_by_field_of_view says: one flag and one note, not two.
  if (std::find(a.qc_flags.begin(), a.qc_flags.end(), "tissue_at_field_of_view_edge") != a.qc_flags.end()) {
    std::erase(a.qc_flags, std::string("limb_cut_by_field_of_view"));
    std::erase_if(a.notes, [](const std::string& note) { return note.find("lying on the edge of the field of view") != std::string::npos; });
  }

  const Geometry& g = a.ff.ff.geometry;
  a.slices.resize(g.size[2]);
  // Slices are measured independently (in parallel); their findings are gathered in slice order.
  struct SliceFindings {
    std::vector<SwapFinding> swaps;
    bool marrow_low = false, fatty_muscle = false, infiltrated = false;
  };
  std::vector<SliceFindings> findings(g.size[2]);
  const quantify::ConfidenceIndex confidence(a.segmentation);
  parallel_for(g.size[2], progress, "measuring fat fraction", 0.0, [&](std::size_t k) {
    MrSliceMeasures& s = a.slices[k];
    SliceFindings& found = findings[k];
    s.slice_index = int(k);
    s.z_mm = g.index_to_lps({0, 0, double(k)}).z;
    if (k < a.segmentation.slices.size()) s.qc_flags = a.segmentation.slices[k].qc_flags;
    if (k < a.infiltrated_regions.size() && a.infiltrated_regions[k] > 0) {
      s.qc_flags.push_back("infiltrated_muscle_split_uncertain");
      found.infiltrated = true;
    }
    for (Side side : {Side::Right, Side::Left}) {
      MrSideMeasures m = measure_side(a, k, side);
      if (m.limb_area_mm2 <= 0) continue;
      // Marrow should read fatty (yellow marrow in adults): low FF there suggests a fat-water swap.
      if (a.kind == "dixon" && m.bone_area_mm2 > 0 && m.marrow_mean_ff > 0 && m.marrow_mean_ff < a.protocol.marrow_low_ff) {
        SwapFinding f;
        f.slice_index = int(k);
        f.side = side;
        f.check = "marrow";
        f.measured_ff = m.marrow_mean_ff;
        f.description = "bone marrow reads FF " + std::to_string(int(std::lround(100 * m.marrow_mean_ff))) +
                        "% (expected fatty): fat-water swap suspected (or red marrow)";
        found.swaps.push_back(f);
        s.qc_flags.push_back("marrow_fat_fraction_low");
        found.marrow_low = true;
      }
      for (auto& st : m.structures) st.confidence = confidence.of(int(k), side, st.structure_key, st.is_group);
      s.sides.push_back(std::move(m));
    }
    // Muscle infiltrated beyond ~50% fat looks like fat to the compartment logic: its territory
    // becomes IMAT, or subcutaneous fat when it lies under the fascia. Pure fat reads near 100%; a
    // block of such voxels reading 45-95% (every neighbour too, so not a partial-volume edge) is
    // such a muscle: flag it.
    const std::size_t nx = g.size[0], ny = g.size[1];
    const LabelId* labels = a.segmentation.labels.slice(k);
    const float* ff = a.ff.ff.slice(k);
    const auto& catalog = LabelCatalog::standard();
    auto intermediate = [&](std::size_t o) { return ff[o] >= 0.45f && ff[o] <= 0.95f; };
    for (Side side : {Side::Right, Side::Left}) {
      const LabelId imat = catalog.label_id("imat", side), sat = catalog.label_id("subcutaneous_fat", side);
      std::size_t count = 0;
      for (std::size_t j = 1; j + 1 < ny; ++j)
        for (std::size_t i = 1; i + 1 < nx; ++i) {
          const std::size_t o = i + nx * j;
          if ((labels[o] != imat && labels[o] != sat) || !intermediate(o)) continue;
          bool interior = true;
          for (long dj = -1; dj <= 1 && interior; ++dj)
            for (long di = -1; di <= 1; ++di)
              if (!intermediate(std::size_t(long(o) + di + long(nx) * dj))) {
                interior = false;
                break;
              }
          count += interior;
        }
      if (double(count) * g.pixel_area_mm2() >= 100.0) {
        s.qc_flags.push_back("fatty_muscle_counted_as_fat");
        found.fatty_muscle = true;
      }
    }
    return true;
  });
  bool marrow_low = false, fatty_muscle = false, infiltrated = false;
  for (auto& found : findings) {
    a.swaps.insert(a.swaps.end(), found.swaps.begin(), found.swaps.end());
    marrow_low = marrow_low || found.marrow_low;
    fatty_muscle = fatty_muscle || found.fatty_muscle;
    infiltrated = infiltrated || found.infiltrated;
  }
  if (marrow_low) a.qc_flags.push_back("marrow_fat_fraction_low");
  if (infiltrated) {
    a.qc_flags.push_back("infiltrated_muscle_split_uncertain");
    a.notes.push_back("muscle reading 35-88% fat was rescaled to muscle for the compartment logic (docs/mri.md): its group's "
                      "CSA and FF hold, but the boundary between it and its neighbours is uncertain in the slices flagged "
                      "infiltrated_muscle_split_uncertain (a fatty muscle can take a lean neighbour's area)");
  }
  if (fatty_muscle) {
    a.qc_flags.push_back("fatty_muscle_counted_as_fat");
    a.notes.push_back("muscle with more than about 50% fat reads as fat to the compartment logic: in the slices flagged "
                      "fatty_muscle_counted_as_fat, more than 1 cm2 of IMAT or subcutaneous fat reads 45-95% fat (pure fat "
                      "reads near 100%), i.e. an infiltrated muscle whose area went to fat; its CSA and the group's are too "
                      "low there "
                      "(docs/mri.md)");
  }
}

}  // namespace musclecsa::mri::detail
