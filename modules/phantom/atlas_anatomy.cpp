// Semi-real phantoms: the CT and MR image models drawn over real anatomy (atlases or a label map)
// instead of the analytic layout. The atlas gives the muscles, bones, marrow and the deep-fascia
// compartment; this file adds the deep fascia, subcutaneous fat and skin around the compartment,
// septa of chosen width and fat fraction between muscles, infiltration and atrophy (docs/phantoms.md).

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "anatomy_model.h"
#include "musclecsa/atlas/atlas.h"
#include "musclecsa/core/distance_transform.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "phantom_internal.h"

namespace musclecsa::phantom::detail {
namespace {

namespace fs = std::filesystem;
constexpr double kPi = 3.14159265358979323846;

/// One leg of real anatomy placed in the phantom.
struct PlacedLeg {
  atlas::AtlasEntry entry;
  LabelMap labels;
  double shift_x_mm = 0;        ///< added to the atlas' LPS x (legs moved apart or together)
  double sat_phase = 0;         ///< angle where the subcutaneous fat is thickest
};

/// Calls f with the LPS position (atlas frame, unshifted) of every labelled voxel of the leg.
template <class F>
void for_each_labelled_point(const PlacedLeg& leg, F&& f) {
  const Geometry& g = leg.labels.geometry;
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i)
        if (leg.labels.at(i, j, k)) f(g.index_to_lps({double(i), double(j), double(k)}));
}

bool is_label_file(const std::string& text) {
  auto ends = [&](const char* e) { return text.size() > std::strlen(e) && text.substr(text.size() - std::strlen(e)) == e; };
  return ends(".nii") || ends(".nii.gz") || ends(".nrrd") || ends(".mha");
}

/// A label map in catalog labels: one atlas per side present.
std::vector<atlas::LoadedAtlas> catalog_label_map_legs(const fs::path& file, const LabelMap& map) {
  const auto& catalog = LabelCatalog::standard();
  std::vector<atlas::LoadedAtlas> out;
  for (Side side : {Side::Right, Side::Left}) {
    atlas::LoadedAtlas leg;
    leg.labels = LabelMap(map.geometry);
    bool thigh = false, calf = false, any = false;
    for (std::size_t p = 0; p < map.voxels.size(); ++p) {
      const LabelId v = map.voxels[p];
      if (!v) continue;
      const auto d = catalog.decode(v);
      if (!d) throw Error(ErrorCode::InvalidInput, file.string(), "label " + std::to_string(v) + " is not in the catalog (docs/catalog.md)");
      if (d->side != side) continue;
      leg.labels.voxels[p] = v;
      any = true;
      thigh = thigh || d->structure->region == BodyRegion::Thigh;
      calf = calf || d->structure->region == BodyRegion::Calf;
    }
    if (!any) continue;
    if (thigh == calf)
      throw Error(ErrorCode::InvalidInput, file.string(),
                  std::string("the ") + std::string(to_string(side)) + " leg holds " + (thigh ? "both thigh and calf" : "neither thigh nor calf") +
                      " muscles: its region is unclear");
    leg.entry.id = "file-" + file.stem().stem().string() + "-" + std::string(to_string(side));
    leg.entry.subject = file.stem().stem().string();
    leg.entry.source = "label-map";
    leg.entry.region = thigh ? BodyRegion::Thigh : BodyRegion::Calf;
    leg.entry.side = side;
    leg.entry.size = map.geometry.size;
    leg.entry.spacing_mm = map.geometry.spacing_mm;
    out.push_back(std::move(leg));
  }
  if (out.empty()) throw Error(ErrorCode::InvalidInput, file.string(), "holds no labelled leg");
  return out;
}

std::vector<atlas::LoadedAtlas> load_legs(const PhantomParams& p) {
  if (is_label_file(p.anatomy_from)) {
    const fs::path file = p.anatomy_from;
    if (!fs::exists(file)) throw Error(ErrorCode::InputNotFound, file.string(), "the anatomy label map does not exist");
    const LabelMap map = io::read_label_map(file);
    LabelId highest = 0;
    for (LabelId v : map.voxels) highest = std::max(highest, v);
    if (highest == 0) throw Error(ErrorCode::InvalidInput, file.string(), "the label map is empty");
    // The 11-muscle thigh scheme uses labels 1-11 only; a catalog map always holds tissue or bone labels (>= 40).
    if (highest <= 11) return atlas::atlases_from_label_map(file, atlas::BuildOptions{});
    if (map.geometry.axis(2).z < 0.98 || std::abs(map.geometry.axis(0).x) < 0.98)
      throw Error(ErrorCode::InvalidInput, file.string(), "a catalog label map must be on an axial grid (identity direction)");
    return catalog_label_map_legs(file, map);
  }
  const fs::path dir = p.atlas_dir.empty() ? atlas::default_atlas_dir() : fs::path(p.atlas_dir);
  const atlas::Manifest manifest = atlas::read_manifest(dir);
  std::vector<atlas::LoadedAtlas> legs;
  for (const atlas::AtlasEntry* e : atlas::select_atlases(manifest, p.anatomy_from))
    legs.push_back({*e, atlas::load_atlas_labels(dir, *e)});
  return legs;
}

/// Bilinear sample of a float map on a slice (outside: `outside`).
float bilinear(const std::vector<float>& m, int nx, int ny, double ci, double cj, float outside) {
  if (ci < 0 || cj < 0 || ci > nx - 1 || cj > ny - 1) return outside;
  const int i = std::min(nx - 2, static_cast<int>(ci)), j = std::min(ny - 2, static_cast<int>(cj));
  const double fx = ci - i, fy = cj - j;
  auto at = [&](int a, int b) { return m[static_cast<std::size_t>(a + nx * b)]; };
  return static_cast<float>((1 - fy) * ((1 - fx) * at(i, j) + fx * at(i + 1, j)) + fy * ((1 - fx) * at(i, j + 1) + fx * at(i + 1, j + 1)));
}

bool is_muscle_label(LabelId id) {
  if (!id) return false;
  const auto d = LabelCatalog::standard().decode(id);
  return d && (d->structure->kind == StructureKind::Muscle || d->structure->key == "skeletal_muscle");
}

/// One leg's slice of anatomy, ready for point queries.
struct LegSlice {
  const PlacedLeg* leg = nullptr;
  int nx = 0, ny = 0;
  double sx = 1, sy = 1, ox = 0, oy = 0;
  std::vector<LabelId> labels;
  std::vector<float> signed_distance;   ///< to the compartment outline: < 0 inside, mm
  double cx = 0, cy = 0;                ///< compartment centroid (LPS, shifted)
  std::map<LabelId, std::pair<double, double>> muscle_centroid;  ///< atlas index coordinates
  LabelId skin = 0, sat = 0, imat = 0, fascia = 0;
  LabelId label_at(double ci, double cj) const {
    const long i = std::lround(ci), j = std::lround(cj);
    if (i < 0 || j < 0 || i >= nx || j >= ny) return 0;
    return labels[static_cast<std::size_t>(i + nx * j)];
  }
};

struct Infill {
  float diffuse = 0;
  StreakField streaks;
};

class AtlasSection : public SectionClassifier {
 public:
  AtlasSection(const PhantomParams& p, std::vector<LegSlice> legs, std::map<LabelId, Infill> infill,
               double marrow_epiphysis)
      : p_(p), legs_(std::move(legs)), infill_(std::move(infill)), epiphysis_(static_cast<float>(marrow_epiphysis)) {}

  Sample classify(double x, double y) const override {
    const LegSlice* best = nullptr;
    double best_d = std::numeric_limits<double>::max(), best_ci = 0, best_cj = 0;
    for (const auto& l : legs_) {
      const double ci = (x - l.leg->shift_x_mm - l.ox) / l.sx, cj = (y - l.oy) / l.sy;
      const double d = bilinear(l.signed_distance, l.nx, l.ny, ci, cj, 1e6f);
      if (d < best_d) best_d = d, best = &l, best_ci = ci, best_cj = cj;
    }
    if (!best) return {};
    const LegSlice& l = *best;
    if (best_d > 0) {
      const double theta = std::atan2(y - l.cy, x - l.cx);
      const double sat = p_.sat_thickness_mm * (1 + 0.3 * std::cos(theta - l.leg->sat_phase));
      if (best_d > p_.fascia_thickness_mm + sat + p_.skin_thickness_mm) return {};
      if (best_d > p_.fascia_thickness_mm + sat) return {l.skin, Tissue::Skin, 0.05f};
      if (best_d > p_.fascia_thickness_mm) return {l.sat, Tissue::SubcutaneousFat, 1.0f};
      return {l.fascia, Tissue::Fascia, 0.05f};
    }
    LabelId label = l.label_at(best_ci, best_cj);
    if (label == 0 || label == l.imat) return {l.imat, Tissue::Fat, 1.0f};
    const auto& catalog = LabelCatalog::standard();
    const auto decoded = catalog.decode(label);
    if (!decoded) return {l.imat, Tissue::Fat, 1.0f};
    const Structure& s = *decoded->structure;
    if (s.kind == StructureKind::Bone) return {label, Tissue::Cortex, 0.0f};
    if (s.key == "bone_marrow") {
      Sample m{label, Tissue::Marrow, 0.8f - 0.4f * epiphysis_};
      m.marrow_epiphysis = epiphysis_;
      return m;
    }
    if (!is_muscle_label(label)) return {l.imat, Tissue::Fat, 1.0f};
    // Atrophy: the muscle shrinks towards its centroid; what it leaves becomes fat.
    if (p_.muscle_area_scale < 1) {
      const auto c = l.muscle_centroid.find(label);
      if (c != l.muscle_centroid.end()) {
        const double f = 1 / std::sqrt(p_.muscle_area_scale);
        const double qi = c->second.first + (best_ci - c->second.first) * f, qj = c->second.second + (best_cj - c->second.second) * f;
        if (l.label_at(qi, qj) != label) return {l.imat, Tissue::Fat, 1.0f};
      }
    }
    // Septa: within half a septum width of another muscle.
    const double group_half = 0.5 * std::max(p_.septum_width_mm, p_.group_septum_width_mm);
    const double half = 0.5 * p_.septum_width_mm;
    auto other_muscle_within = [&](double h) -> LabelId {
      const double di = h / l.sx, dj = h / l.sy;
      for (const auto& [a, b] : {std::pair{di, 0.0}, std::pair{-di, 0.0}, std::pair{0.0, dj}, std::pair{0.0, -dj}}) {
        const LabelId o = l.label_at(best_ci + a, best_cj + b);
        if (o != label && is_muscle_label(o)) return o;
      }
      return 0;
    };
    const Infill* inf = nullptr;
    if (auto it = infill_.find(label); it != infill_.end()) inf = &it->second;
    const float muscle_ff = inf ? inf->diffuse : 0.0f;
    if (p_.septum_width_mm > 0 || p_.group_septum_width_mm > 0) {
      if (const LabelId other = other_muscle_within(group_half)) {
        const auto od = catalog.decode(other);
        const bool same_group = od && !s.group_key.empty() && od->structure->group_key == s.group_key;
        if (!same_group || other_muscle_within(half)) {
          const float ff = static_cast<float>(p_.septum_fat_fraction);
          if (ff >= 0.5f) return {l.imat, Tissue::Fat, ff};
          return {label, Tissue::Muscle, std::max(muscle_ff, ff)};
        }
      }
    }
    if (inf && inf->streaks.is_fat(x, y)) return {label, Tissue::Fat, 1.0f};
    return {label, Tissue::Muscle, muscle_ff};
  }

 private:
  const PhantomParams p_;
  std::vector<LegSlice> legs_;
  std::map<LabelId, Infill> infill_;
  float epiphysis_ = 0;
};

}  // namespace

AnatomySource atlas_source(PhantomParams& p) {
  const PhantomParams given = p;
  std::vector<atlas::LoadedAtlas> loaded = load_legs(p);
  if (p.legs != Legs::Both) {
    const Side keep = p.legs == Legs::Right ? Side::Right : Side::Left;
    std::erase_if(loaded, [keep](const atlas::LoadedAtlas& a) { return a.entry.side != keep; });
    if (loaded.empty())
      throw Error(ErrorCode::InvalidArgument, "--legs", "the anatomy '" + p.anatomy_from + "' has no " + std::string(to_string(keep)) + " leg");
  }
  const BodyRegion region = loaded.front().entry.region;
  for (const auto& a : loaded)
    if (a.entry.region != region)
      throw Error(ErrorCode::InvalidArgument, p.anatomy_from, "selects both thigh and calf atlases; name one region (e.g. vhf-thigh)");
  p.anatomy = region == BodyRegion::Thigh ? Anatomy::Thigh : Anatomy::Calf;
  if (p.septum_fat_fraction < 0 || p.septum_fat_fraction > 1)
    throw Error(ErrorCode::InvalidArgument, "septum-fat-fraction", "must be 0..1");

  // Resolve the generic defaults (modality, noise, columns, ...) as for the analytic phantom, then the
  // grid from the anatomy where the user left it open.
  PhantomParams r = resolve_defaults(p);
  std::vector<PlacedLeg> legs;
  std::mt19937_64 rng(p.seed ^ 0xa71a5);
  std::uniform_real_distribution<double> angle(-kPi, kPi);
  for (auto& a : loaded) legs.push_back({std::move(a.entry), std::move(a.labels), 0.0, angle(rng)});

  // Compartment extents (LPS) of each leg.
  auto extent_of = [](const PlacedLeg& leg) {
    double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300, z0 = 1e300, z1 = -1e300;
    for_each_labelled_point(leg, [&](const Vec3& q) {
      x0 = std::min(x0, q.x), x1 = std::max(x1, q.x), y0 = std::min(y0, q.y), y1 = std::max(y1, q.y);
      z0 = std::min(z0, q.z), z1 = std::max(z1, q.z);
    });
    return std::array<double, 6>{x0, x1, y0, y1, z0, z1};
  };
  std::vector<std::array<double, 6>> ext;
  for (const auto& l : legs) ext.push_back(extent_of(l));
  const double shell = r.fascia_thickness_mm + 1.3 * r.sat_thickness_mm + r.skin_thickness_mm;
  double y0 = 1e300, y1 = -1e300, z0 = 1e300, z1 = -1e300;
  for (std::size_t n = 0; n < legs.size(); ++n)
    y0 = std::min(y0, ext[n][2]), y1 = std::max(y1, ext[n][3]), z0 = std::min(z0, ext[n][4]), z1 = std::max(z1, ext[n][5]);

  // The reference bone (mean of the legs that have one) and the standard level.
  AnatomySource source;
  const bool thigh = region == BodyRegion::Thigh;
  source.level.name = thigh ? "femur_50pct" : "tibia_66pct_from_distal";
  source.level.bone_key = thigh ? "femur" : "tibia";
  double prox = 0, dist = 0;
  int with_bone = 0;
  for (const auto& l : legs)
    if (l.entry.reference_bone) prox += l.entry.reference_bone->proximal_z_mm, dist += l.entry.reference_bone->distal_z_mm, ++with_bone;
  source.level.known = with_bone == static_cast<int>(legs.size());
  const double level_fraction = thigh ? 0.5 : 0.34;
  if (source.level.known) {
    prox /= with_bone, dist /= with_bone;
    source.level.bone_proximal_z_mm = prox;
    source.level.bone_distal_z_mm = dist;
    source.level.bone_length_mm = prox - dist;
    source.level.level_z_mm = prox - level_fraction * (prox - dist);
  }

  // Grid: slices over 108% of the bone (as the analytic phantom) (centred on its middle) or the atlas' own slices; a field of
  // view holding the legs with their fat and skin.
  const auto& g0 = legs.front().labels.geometry;
  double z_first = 0;
  if (given.slice_spacing_mm == 0 || given.slices == 0) {
    if (source.level.known) {
      const double length = source.level.bone_length_mm;
      if (given.slice_spacing_mm == 0)
        r.slice_spacing_mm = std::min(20.0, std::round(1.08 * length / static_cast<double>(r.slices) * 100.0) / 100.0);
      if (given.slices == 0) r.slices = std::max<std::size_t>(1, static_cast<std::size_t>(1.08 * length / r.slice_spacing_mm) + 1);
    } else {
      if (given.slice_spacing_mm == 0) r.slice_spacing_mm = g0.spacing_mm[2];
      if (given.slices == 0) r.slices = static_cast<std::size_t>(std::lround((z1 - z0) / r.slice_spacing_mm)) + 1;
    }
  }
  const double z_centre = source.level.known ? 0.5 * (source.level.bone_proximal_z_mm + source.level.bone_distal_z_mm)
                                             : 0.5 * (z0 + z1);
  z_first = z_centre - 0.5 * (static_cast<double>(r.slices) - 1) * r.slice_spacing_mm;
  if (!source.level.known && given.slice_spacing_mm == 0) {
    // On the source's own slices, the middle ones when fewer are asked for.
    const double dz = r.slice_spacing_mm;
    const long spare = std::lround((z1 - z0) / dz) + 1 - static_cast<long>(r.slices);
    z_first = z0 + static_cast<double>(std::max(0L, spare / 2)) * dz;
  }
  const double scan_lo = z_first, scan_hi = z_first + (static_cast<double>(r.slices) - 1) * r.slice_spacing_mm;
  if (legs.size() == 2 && p.atlas_leg_gap_mm > -1e8) {
    // The closest approach of the two compartments at the same height within the scan, plus their fat and skin.
    const int right = legs[0].entry.side == Side::Right ? 0 : 1, left = 1 - right;
    auto x_extent_by_z = [](const PlacedLeg& leg) {
      std::map<std::pair<long, long>, std::pair<double, double>> by_z;  // (z, y) rounded to 1 mm -> (min x, max x)
      for_each_labelled_point(leg, [&](const Vec3& q) {
        auto [it, added] = by_z.emplace(std::pair{std::lround(q.z), std::lround(q.y)}, std::pair{q.x, q.x});
        it->second.first = std::min(it->second.first, q.x);
        it->second.second = std::max(it->second.second, q.x);
      });
      return by_z;
    };
    const auto r_ext = x_extent_by_z(legs[right]), l_ext = x_extent_by_z(legs[left]);
    double closest = 1e300;
    for (const auto& [z, xr] : r_ext)
      if (auto it = l_ext.find(z); it != l_ext.end() && z.first >= scan_lo - 1 && z.first <= scan_hi + 1) closest = std::min(closest, it->second.first - xr.second);
    if (closest > 1e299) closest = ext[left][0] - ext[right][1];
    // Facing sides carry the thinnest fat (the thickness varies +-30% around the leg).
    const double facing_shell = r.fascia_thickness_mm + 0.7 * r.sat_thickness_mm + r.skin_thickness_mm;
    const double gap_now = closest - 2 * facing_shell;
    const double move = 0.5 * (p.atlas_leg_gap_mm - gap_now);
    legs[right].shift_x_mm = -move;
    legs[left].shift_x_mm = move;
  }
  double x0 = 1e300, x1 = -1e300;
  for (std::size_t n = 0; n < legs.size(); ++n)
    x0 = std::min(x0, ext[n][0] + legs[n].shift_x_mm), x1 = std::max(x1, ext[n][1] + legs[n].shift_x_mm);
  const double need_x = (x1 - x0) + 2 * shell + 30, need_y = (y1 - y0) + 2 * shell + 30;
  if (given.pixel_spacing_mm == 0)
    r.pixel_spacing_mm = std::max({(thigh ? 400.0 : 300.0), need_x, need_y}) / static_cast<double>(r.columns);
  r = resolve_defaults(r);
  const double px = r.pixel_spacing_mm;
  const double cx = 0.5 * (x0 + x1), cy = 0.5 * (y0 + y1);
  source.geometry = make_axial_geometry({r.columns, r.rows, r.slices}, {px, px, r.slice_spacing_mm},
                                        {cx - 0.5 * (r.columns - 1) * px, cy - 0.5 * (r.rows - 1) * px, z_first});

  // Infiltration per muscle label (diffuse and streaked), as in the analytic model.
  const auto& catalog = LabelCatalog::standard();
  std::map<LabelId, Infill> infill;
  for (const auto& s : catalog.structures()) {
    if (s.kind != StructureKind::Muscle && s.key != "skeletal_muscle") continue;
    const MuscleFat fat = muscle_fat(r, s.key);
    for (Side side : {Side::Right, Side::Left}) {
      Infill f;
      f.diffuse = static_cast<float>(fat.diffuse);
      if (fat.marbled > 0) {
        std::mt19937_64 m(r.seed * 7919 + catalog.label_id(s.key, side));
        std::uniform_real_distribution<double> mu(-1, 1);
        const double streak_angle = kPi * mu(m);
        const double phase = kPi * mu(m);
        const double warp_phase = kPi * mu(m);
        f.streaks = marbled_streaks(fat.marbled, streak_angle, phase, warp_phase);
      }
      infill[catalog.label_id(s.key, side)] = f;
    }
  }

  auto shared_legs = std::make_shared<std::vector<PlacedLeg>>(std::move(legs));
  auto shared_params = std::make_shared<PhantomParams>(r);
  const LevelTruth level = source.level;
  source.section_at = [shared_legs, shared_params, infill, level](double z) -> std::unique_ptr<SectionClassifier> {
    std::vector<LegSlice> slices;
    for (const auto& leg : *shared_legs) {
      const Geometry& g = leg.labels.geometry;
      const double kf = (z - g.origin_lps_mm.z) / g.spacing_mm[2];
      const long k = std::lround(kf);
      if (k < 0 || k >= static_cast<long>(g.size[2]) || std::abs(kf - k) * g.spacing_mm[2] > 0.5 * g.spacing_mm[2] + 1e-6) continue;
      LegSlice s;
      s.leg = &leg;
      s.nx = static_cast<int>(g.size[0]), s.ny = static_cast<int>(g.size[1]);
      s.sx = g.spacing_mm[0], s.sy = g.spacing_mm[1], s.ox = g.origin_lps_mm.x, s.oy = g.origin_lps_mm.y;
      const LabelId* src = leg.labels.slice(static_cast<std::size_t>(k));
      s.labels.assign(src, src + g.slice_voxel_count());
      std::vector<std::uint8_t> inside(s.labels.size()), outside(s.labels.size());
      double sum_x = 0, sum_y = 0, count = 0;
      std::map<LabelId, std::array<double, 3>> sums;
      for (std::size_t q = 0; q < s.labels.size(); ++q) {
        inside[q] = s.labels[q] != 0;
        outside[q] = !inside[q];
        if (inside[q]) {
          sum_x += double(q % s.nx), sum_y += double(q / s.nx), count += 1;
          auto& m = sums[s.labels[q]];
          m[0] += double(q % s.nx), m[1] += double(q / s.nx), m[2] += 1;
        }
      }
      if (count == 0) continue;
      const auto to_inside = distance_to_nonzero(inside, s.nx, s.ny, s.sx, s.sy);
      const auto to_outside = distance_to_nonzero(outside, s.nx, s.ny, s.sx, s.sy);
      s.signed_distance.resize(s.labels.size());
      for (std::size_t q = 0; q < s.labels.size(); ++q) s.signed_distance[q] = to_inside[q] - to_outside[q];
      s.cx = s.ox + s.sx * sum_x / count + leg.shift_x_mm;
      s.cy = s.oy + s.sy * sum_y / count;
      for (const auto& [label, m] : sums) s.muscle_centroid[label] = {m[0] / m[2], m[1] / m[2]};
      const auto& labels_catalog = LabelCatalog::standard();
      s.skin = labels_catalog.label_id("skin", leg.entry.side);
      s.sat = labels_catalog.label_id("subcutaneous_fat", leg.entry.side);
      s.imat = labels_catalog.label_id("imat", leg.entry.side);
      s.fascia = labels_catalog.label_id("skeletal_muscle", leg.entry.side);
      slices.push_back(std::move(s));
    }
    double fraction = 0.5, epiphysis = 0;
    if (level.known) {
      fraction = (level.bone_proximal_z_mm - z) / level.bone_length_mm;
      epiphysis = std::clamp((0.2 - std::min(fraction, 1 - fraction)) / 0.1, 0.0, 1.0);
    }
    auto section = std::make_unique<AtlasSection>(*shared_params, std::move(slices), infill, epiphysis);
    section->bone_fraction = level.known ? fraction : 0;
    return section;
  };
  for (const auto& l : *shared_legs) {
    source.truth.atlas_ids.push_back(l.entry.id);
    source.truth.subjects.push_back(l.entry.subject);
    for (const auto& g : l.entry.group_only)
      if (std::find(source.truth.group_only.begin(), source.truth.group_only.end(), g) == source.truth.group_only.end())
        source.truth.group_only.push_back(g);
    for (const auto& n : l.entry.notes) source.truth.notes.push_back(l.entry.id + ": " + n);
  }
  source.truth.anatomy_from = p.anatomy_from;
  source.description = std::string(to_string(p.anatomy)) + " (" + shared_legs->front().entry.subject + ")";
  p = r;
  return source;
}

}  // namespace musclecsa::phantom::detail
