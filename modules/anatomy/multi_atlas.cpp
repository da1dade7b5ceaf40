// Multi-atlas muscle prior (docs/methods.md, "Muscles and groups"): per leg and key slice, each
// real-anatomy atlas slice at the same position along the reference bone is placed by landmarks (the
// compartment's centroid and extent along the leg's lateral and posterior axes), the most similar
// atlases are kept, each is registered deformably (demons.cpp) on tissue maps that CT and MR share
// (outside / intermuscular fat / muscle / bone), and their muscles are fused by locally weighted
// voting. Slices between key slices reuse the nearest key slice's registrations on their own atlas
// slices.

#include "musclecsa/anatomy/multi_atlas.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <numeric>
#include <set>

#include "demons.h"
#include "musclecsa/atlas/atlas.h"
#include "musclecsa/core/catalog.h"
#include "musclecsa/core/error.h"
#include "musclecsa/core/parallel.h"

namespace musclecsa::anatomy {
namespace {

constexpr std::uint8_t kOutside = 255;       // territory code: not in the compartment
constexpr int kMaxMuscles = 24;              // region muscles + "other" (skeletal_muscle)
enum Tissue : std::uint8_t { kOut = 0, kFat = 1, kMuscle = 2, kBone = 3 };
constexpr float kTissueValue[4] = {0.0f, 0.35f, 1.0f, 1.8f};

/// The region's muscles: index -> catalog key and group; the last index is "other" (muscles the
/// catalog does not report: label skeletal_muscle).
struct RegionMuscles {
  std::vector<std::string> keys;
  std::vector<int> group;                    // index into groups, -1 for muscles reported alone
  std::vector<std::string> groups;
  int other = 0;
  explicit RegionMuscles(BodyRegion region) {
    const auto& catalog = LabelCatalog::standard();
    for (const Structure* s : catalog.muscles_of(region)) {
      keys.push_back(s->key);
      int g = -1;
      if (!s->group_key.empty()) {
        const auto it = std::find(groups.begin(), groups.end(), s->group_key);
        g = int(it - groups.begin());
        if (it == groups.end()) groups.push_back(s->group_key);
      }
      group.push_back(g);
    }
    other = int(keys.size());
    keys.push_back("skeletal_muscle");
    group.push_back(-1);
    if (int(keys.size()) > kMaxMuscles) throw Error(ErrorCode::Internal, "", "too many muscles in the region for the atlas prior");
  }
  int count() const { return int(keys.size()); }
};

/// Leg-local frame of one slice of a label volume: x towards the leg's lateral side, y posterior
/// (mm), origin at the compartment centroid.
struct LegFrame {
  double xi = 0, xj = 0, yi = 0, yj = 0;     // local = [xi xj; yi yj] (i - ci, j - cj)
  double ii = 0, ij = 0, ji = 0, jj = 0;     // inverse: (i - ci, j - cj) = [ii ij; ji jj] local
  double ci = 0, cj = 0;
  double sd_x = 0, sd_y = 0, area_mm2 = 0;
  void set_axes(const Geometry& g, Side side, double step) {
    const Vec3 ai = g.axis(0), aj = g.axis(1);
    const double lateral = side == Side::Right ? -1 : 1;  // patient right is -x in LPS
    xi = lateral * ai.x * g.spacing_mm[0] * step, xj = lateral * aj.x * g.spacing_mm[1] * step;
    yi = ai.y * g.spacing_mm[0] * step, yj = aj.y * g.spacing_mm[1] * step;
    const double det = xi * yj - xj * yi;
    ii = yj / det, ij = -xj / det, ji = -yi / det, jj = xi / det;
  }
  void to_local(double i, double j, double& x, double& y) const {
    x = xi * (i - ci) + xj * (j - cj), y = yi * (i - ci) + yj * (j - cj);
  }
  void to_pixel(double x, double y, double& i, double& j) const {
    i = ii * x + ij * y + ci, j = ji * x + jj * y + cj;
  }
};

/// One atlas slice, cropped to the compartment: tissue class and territory (the muscle owning each
/// compartment pixel: its own label, or the nearest muscle's for fat and bone) per pixel.
struct AtlasSlice {
  bool usable = false;
  int w = 0, h = 0;
  LegFrame frame;                            // pixel indices of the crop
  std::vector<std::uint8_t> tissue, territory;
  std::uint8_t tissue_at(double i, double j) const {
    const long a = std::lround(i), b = std::lround(j);
    if (a < 0 || b < 0 || a >= w || b >= h) return kOut;
    return tissue[std::size_t(a + long(w) * b)];
  }
  std::uint8_t territory_at(double i, double j) const {
    const long a = std::lround(i), b = std::lround(j);
    if (a < 0 || b < 0 || a >= w || b >= h) return kOutside;
    return territory[std::size_t(a + long(w) * b)];
  }
};

struct Atlas {
  std::string id, subject;
  bool has_bone = false;
  double bone_proximal_z = 0, bone_distal_z = 0;
  double top_z = 0, bottom_z = 0;            // compartment extent along z
  std::vector<double> slice_z;
  std::vector<AtlasSlice> slices;
  std::array<bool, kMaxMuscles> votes_as_group{};  // the source labels only this muscle's group
  /// The slice at fraction `f` along the reference bone (or along the compartment's extent when the
  /// atlas has no bone ends), or nullptr when that lies outside the atlas.
  const AtlasSlice* at_fraction(double f) const {
    const double z = has_bone ? bone_proximal_z - f * (bone_proximal_z - bone_distal_z)
                              : top_z - (f - 0.05) / 0.9 * (top_z - bottom_z);
    std::size_t best = 0;
    for (std::size_t k = 1; k < slice_z.size(); ++k)
      if (std::abs(slice_z[k] - z) < std::abs(slice_z[best] - z)) best = k;
    if (slice_z.empty() || std::abs(slice_z[best] - z) > 6) return nullptr;
    return slices[best].usable ? &slices[best] : nullptr;
  }
};

/// Nearest-owner fill: every pixel with `owner` unset (value `unset`) and `allowed` gets the owner
/// of the nearest set pixel, by breadth-first search (4-neighbours) through allowed pixels.
void fill_nearest(std::vector<std::uint8_t>& owner, const std::vector<std::uint8_t>& allowed, int w, int h,
                  std::uint8_t unset) {
  std::vector<std::uint32_t> front, next;
  for (std::size_t q = 0; q < owner.size(); ++q)
    if (allowed[q] && owner[q] != unset) front.push_back(std::uint32_t(q));
  while (!front.empty()) {
    next.clear();
    for (std::size_t q : front) {
      const long a = long(q % std::size_t(w)), b = long(q / std::size_t(w));
      const long nb[4][2] = {{a - 1, b}, {a + 1, b}, {a, b - 1}, {a, b + 1}};
      for (const auto& n : nb) {
        if (n[0] < 0 || n[1] < 0 || n[0] >= w || n[1] >= h) continue;
        const std::size_t r = std::size_t(n[0] + long(w) * n[1]);
        if (!allowed[r] || owner[r] != unset) continue;
        owner[r] = owner[q];
        next.push_back(std::uint32_t(r));
      }
    }
    front.swap(next);
  }
}

Atlas load_atlas(const std::filesystem::path& dir, const atlas::AtlasEntry& entry, const RegionMuscles& muscles) {
  const LabelMap labels = atlas::load_atlas_labels(dir, entry);
  const Geometry& g = labels.geometry;
  const auto& catalog = LabelCatalog::standard();
  Atlas a;
  a.id = entry.id, a.subject = entry.subject;
  if (entry.reference_bone) {
    a.has_bone = true;
    a.bone_proximal_z = entry.reference_bone->proximal_z_mm, a.bone_distal_z = entry.reference_bone->distal_z_mm;
  }
  for (const std::string& group : entry.group_only)
    for (int m = 0; m < muscles.count(); ++m)
      if (muscles.group[std::size_t(m)] >= 0 && muscles.groups[std::size_t(muscles.group[std::size_t(m)])] == group)
        a.votes_as_group[std::size_t(m)] = true;
  // Label id -> (tissue, territory).
  std::map<LabelId, std::pair<std::uint8_t, std::uint8_t>> code;
  for (LabelId id = 1; id < 2 * LabelCatalog::kLeftLabelOffset; ++id) {
    const auto decoded = catalog.decode(id);
    if (!decoded) continue;
    const std::string& key = decoded->structure->key;
    const auto it = std::find(muscles.keys.begin(), muscles.keys.end(), key);
    if (it != muscles.keys.end()) code[id] = {kMuscle, std::uint8_t(it - muscles.keys.begin())};
    else if (key == "imat") code[id] = {kFat, kOutside};
    else if (decoded->structure->kind == StructureKind::Bone || key == "bone_marrow") code[id] = {kBone, kOutside};
    else if (decoded->structure->kind == StructureKind::Muscle) code[id] = {kMuscle, std::uint8_t(muscles.other)};
  }
  const int step = std::max(1, int(std::lround(1.3 / std::min(g.spacing_mm[0], g.spacing_mm[1]))));
  const long nx = long(g.size[0]), ny = long(g.size[1]);
  a.slices.resize(g.size[2]);
  a.slice_z.resize(g.size[2]);
  bool any = false;
  for (std::size_t k = 0; k < g.size[2]; ++k) {
    a.slice_z[k] = g.index_to_lps({0, 0, double(k)}).z;
    const LabelId* l = labels.slice(k);
    long i0 = nx, j0 = ny, i1 = -1, j1 = -1;
    for (long j = 0; j < ny; j += step)
      for (long i = 0; i < nx; i += step)
        if (l[std::size_t(i + nx * j)] != 0) i0 = std::min(i0, i), i1 = std::max(i1, i), j0 = std::min(j0, j), j1 = std::max(j1, j);
    if (i1 < 0) continue;
    AtlasSlice& s = a.slices[k];
    s.w = int((i1 - i0) / step + 1), s.h = int((j1 - j0) / step + 1);
    s.tissue.assign(std::size_t(s.w) * std::size_t(s.h), kOut);
    s.territory.assign(s.tissue.size(), kOutside);
    std::vector<std::uint8_t> inside(s.tissue.size(), 0);
    double si = 0, sj = 0, n = 0;
    for (int b = 0; b < s.h; ++b)
      for (int c = 0; c < s.w; ++c) {
        const LabelId id = l[std::size_t(i0 + c * step + nx * (j0 + b * step))];
        const auto it = code.find(id);
        if (id == 0 || it == code.end()) continue;
        const std::size_t q = std::size_t(c + s.w * b);
        s.tissue[q] = it->second.first, s.territory[q] = it->second.second, inside[q] = 1;
        si += c, sj += b, n += 1;
      }
    if (n < 50) continue;
    fill_nearest(s.territory, inside, s.w, s.h, kOutside);
    s.frame.set_axes(g, entry.side, step);
    s.frame.ci = si / n, s.frame.cj = sj / n;
    double sxx = 0, syy = 0;
    for (int b = 0; b < s.h; ++b)
      for (int c = 0; c < s.w; ++c)
        if (inside[std::size_t(c + s.w * b)]) {
          double x, y;
          s.frame.to_local(c, b, x, y);
          sxx += x * x, syy += y * y;
        }
    s.frame.sd_x = std::sqrt(sxx / n), s.frame.sd_y = std::sqrt(syy / n);
    s.frame.area_mm2 = n * g.spacing_mm[0] * g.spacing_mm[1] * step * step;
    s.usable = true;
    if (!any) a.top_z = a.bottom_z = a.slice_z[k];
    any = true;
    a.top_z = std::max(a.top_z, a.slice_z[k]), a.bottom_z = std::min(a.bottom_z, a.slice_z[k]);
  }
  return a;
}

/// Class of each label of the target on one side.
struct TargetClasses {
  std::array<std::uint8_t, 256> tissue{};    // Tissue, or 255 for labels of the other side / none
  std::array<bool, 256> soft{};              // compartment soft tissue (imat, skeletal_muscle): gets a muscle
  explicit TargetClasses(Side side) {
    tissue.fill(255);
    const auto& c = LabelCatalog::standard();
    tissue[c.label_id("skin", side)] = kOut, tissue[c.label_id("subcutaneous_fat", side)] = kOut;
    tissue[c.label_id("imat", side)] = kFat, tissue[c.label_id("skeletal_muscle", side)] = kMuscle;
    soft[c.label_id("imat", side)] = soft[c.label_id("skeletal_muscle", side)] = true;
    for (const char* bone : {"femur", "tibia", "fibula", "bone_marrow"}) tissue[c.label_id(bone, side)] = kBone;
  }
  std::uint8_t of(LabelId l) const { return l < 256 ? tissue[l] : std::uint8_t(255); }
};

/// One leg in one target slice: its frame and the registration grid around its compartment.
struct TargetLeg {
  bool usable = false;
  LegFrame frame;                            // pixel indices of the slice
  long i0 = 0, j0 = 0, i1 = -1, j1 = -1;     // compartment bounding box (pixels)
  double gx0 = 0, gy0 = 0, gh = 2;           // grid origin (local mm) and spacing
  int gnx = 0, gny = 0;
  std::vector<float> tissue_map;             // smoothed tissue values on the grid
};

void smooth(std::vector<float>& v, int nx, int ny) {
  // Binomial [1 4 6 4 1] / 16 along each axis (sigma about 1 grid point), edges clamped.
  std::vector<float> t(v.size());
  const float k[5] = {1 / 16.f, 4 / 16.f, 6 / 16.f, 4 / 16.f, 1 / 16.f};
  for (int b = 0; b < ny; ++b)
    for (int a = 0; a < nx; ++a) {
      float s = 0;
      for (int d = -2; d <= 2; ++d) s += k[d + 2] * v[std::size_t(std::clamp(a + d, 0, nx - 1) + nx * b)];
      t[std::size_t(a + nx * b)] = s;
    }
  for (int b = 0; b < ny; ++b)
    for (int a = 0; a < nx; ++a) {
      float s = 0;
      for (int d = -2; d <= 2; ++d) s += k[d + 2] * t[std::size_t(a + nx * std::clamp(b + d, 0, ny - 1))];
      v[std::size_t(a + nx * b)] = s;
    }
}

/// The leg's frame and box; with `with_grid`, also the registration grid and its smoothed tissue
/// map (only key slices register: the slices between need the frame alone).
TargetLeg target_leg(const LabelId* labels, const Geometry& g, Side side, const TargetClasses& classes, bool with_grid) {
  TargetLeg leg;
  const long nx = long(g.size[0]), ny = long(g.size[1]);
  double si = 0, sj = 0, n = 0;
  leg.i0 = nx, leg.j0 = ny;
  for (long j = 0; j < ny; ++j)
    for (long i = 0; i < nx; ++i) {
      const std::uint8_t t = classes.of(labels[std::size_t(i + nx * j)]);
      if (t == 255 || t == kOut) continue;
      si += double(i), sj += double(j), n += 1;
      leg.i0 = std::min(leg.i0, i), leg.i1 = std::max(leg.i1, i), leg.j0 = std::min(leg.j0, j), leg.j1 = std::max(leg.j1, j);
    }
  if (n < 100) return leg;
  leg.frame.set_axes(g, side, 1);
  leg.frame.ci = si / n, leg.frame.cj = sj / n;
  double sxx = 0, syy = 0, x0 = 1e9, x1 = -1e9, y0 = 1e9, y1 = -1e9;
  for (long j = leg.j0; j <= leg.j1; ++j)
    for (long i = leg.i0; i <= leg.i1; ++i) {
      const std::uint8_t t = classes.of(labels[std::size_t(i + nx * j)]);
      if (t == 255 || t == kOut) continue;
      double x, y;
      leg.frame.to_local(double(i), double(j), x, y);
      sxx += x * x, syy += y * y;
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  leg.frame.sd_x = std::sqrt(sxx / n), leg.frame.sd_y = std::sqrt(syy / n);
  leg.frame.area_mm2 = n * g.pixel_area_mm2();
  leg.usable = true;
  if (!with_grid) return leg;
  leg.gh = std::clamp(std::sqrt(leg.frame.area_mm2) / 64.0, 1.0, 2.5);
  const double margin = 8;
  leg.gx0 = x0 - margin, leg.gy0 = y0 - margin;
  leg.gnx = int(std::ceil((x1 - x0 + 2 * margin) / leg.gh)) + 1;
  leg.gny = int(std::ceil((y1 - y0 + 2 * margin) / leg.gh)) + 1;
  leg.tissue_map.assign(std::size_t(leg.gnx) * std::size_t(leg.gny), 0.0f);
  for (int b = 0; b < leg.gny; ++b)
    for (int a = 0; a < leg.gnx; ++a) {
      double i, j;
      leg.frame.to_pixel(leg.gx0 + a * leg.gh, leg.gy0 + b * leg.gh, i, j);
      const long pi = std::lround(i), pj = std::lround(j);
      if (pi < 0 || pj < 0 || pi >= nx || pj >= ny) continue;
      const std::uint8_t t = classes.of(labels[std::size_t(pi + nx * pj)]);
      leg.tissue_map[std::size_t(a + leg.gnx * b)] = t == 255 ? 0.0f : kTissueValue[t];
    }
  smooth(leg.tissue_map, leg.gnx, leg.gny);
  return leg;
}

/// Landmark placement: target local (x, y) -> atlas local (x / sx, y / sy), scales from the
/// compartments' extents along the two axes (their ratio kept within 20% of the area scale).
struct Placement {
  double sx = 1, sy = 1;
};
Placement place(const LegFrame& target, const LegFrame& atlas) {
  const double area_scale = std::sqrt(target.area_mm2 / atlas.area_mm2);
  Placement p;
  p.sx = std::clamp(target.sd_x / atlas.sd_x, area_scale / 1.2, area_scale * 1.2);
  p.sy = std::clamp(target.sd_y / atlas.sd_y, area_scale / 1.2, area_scale * 1.2);
  return p;
}

std::vector<float> atlas_tissue_on_grid(const TargetLeg& leg, const AtlasSlice& s, const Placement& p) {
  std::vector<float> out(std::size_t(leg.gnx) * std::size_t(leg.gny), 0.0f);
  for (int b = 0; b < leg.gny; ++b)
    for (int a = 0; a < leg.gnx; ++a) {
      double i, j;
      s.frame.to_pixel((leg.gx0 + a * leg.gh) / p.sx, (leg.gy0 + b * leg.gh) / p.sy, i, j);
      out[std::size_t(a + leg.gnx * b)] = kTissueValue[s.tissue_at(i, j)];
    }
  smooth(out, leg.gnx, leg.gny);
  return out;
}

float bilinear(const std::vector<float>& v, int nx, int ny, double a, double b) {
  a = std::clamp(a, 0.0, double(nx - 1)), b = std::clamp(b, 0.0, double(ny - 1));
  const int a0 = std::min(int(a), nx - 2 < 0 ? 0 : nx - 2), b0 = std::min(int(b), ny - 2 < 0 ? 0 : ny - 2);
  const double fa = a - a0, fb = b - b0;
  const int a1 = std::min(a0 + 1, nx - 1), b1 = std::min(b0 + 1, ny - 1);
  auto at = [&](int x, int y) { return double(v[std::size_t(x + nx * y)]); };
  return float((1 - fa) * (1 - fb) * at(a0, b0) + fa * (1 - fb) * at(a1, b0) + (1 - fa) * fb * at(a0, b1) + fa * fb * at(a1, b1));
}

/// One atlas registered at a key slice: which atlas, its field on the key slice's grid, and the
/// local weight of its vote (from the residual mismatch of the tissue maps after registration).
struct Registered {
  const Atlas* atlas = nullptr;
  DisplacementField field;
  std::vector<float> weight;                 // per grid point
};

struct KeySlice {
  int slice = -1;
  TargetLeg leg;
  std::vector<Registered> atlases;
};

}  // namespace

segment::MusclePrior fuse_atlas_prior(const segment::TissueSegmentation& seg, const segment::CtProtocol& protocol,
                                      const MultiAtlasOptions& options, Progress& progress, PriorSummary* summary) {
  if (protocol.region == BodyRegion::Any) throw Error(ErrorCode::InvalidArgument, protocol.name, "the atlas prior needs a thigh or calf protocol");
  const std::filesystem::path dir = options.atlas_dir.empty() ? atlas::default_atlas_dir() : options.atlas_dir;
  const atlas::Manifest manifest = atlas::read_manifest(dir);
  std::vector<const atlas::AtlasEntry*> entries;
  for (const atlas::AtlasEntry* e : atlas::atlases_excluding(manifest, options.exclude_subjects))
    if (e->region == protocol.region) entries.push_back(e);
  if (entries.empty())
    throw Error(ErrorCode::InvalidInput, dir.string(), "no " + std::string(to_string(protocol.region)) +
                                                  " atlas is left after excluding the subjects given: the muscles cannot be placed");
  const RegionMuscles muscles(protocol.region);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Atlas> atlases(entries.size());
  parallel_for(entries.size(), progress, "loading atlases", 0.1, [&](std::size_t n) {
    atlases[n] = load_atlas(dir, *entries[n], muscles);
    return true;
  });

  const auto t1 = std::chrono::steady_clock::now();
  double register_s = 0, fuse_s = 0;
  const Geometry& g = seg.labels.geometry;
  const std::size_t nz = g.size[2];
  const auto& catalog = LabelCatalog::standard();
  segment::MusclePrior prior;
  prior.territory = LabelMap(g);
  prior.agreement = Image<std::uint8_t>(g);
  prior.area_spread.resize(nz);
  std::set<std::string> used;
  int registrations = 0;
  const double region_length_mm = protocol.region == BodyRegion::Thigh ? 430 : 350;

  for (Side side : {Side::Right, Side::Left}) {
    const auto side_start = std::chrono::steady_clock::now();
    std::vector<int> slices;
    for (std::size_t k = 0; k < nz && k < seg.slices.size(); ++k)
      for (const auto& leg : seg.slices[k].legs)
        if (leg.side == side) slices.push_back(int(k));
    if (slices.empty()) continue;
    // Fraction along the reference bone of each slice: from the bone ends when both are in the
    // scan; else from the leg's extent when the scan covers most of the region, else around the
    // standard level at the middle of the scan.
    const segment::BoneSpan span = segment::reference_bone_span(seg.labels, protocol, side);
    const double z_first = g.index_to_lps({0, 0, double(slices.front())}).z, z_last = g.index_to_lps({0, 0, double(slices.back())}).z;
    const double top = std::max(z_first, z_last), bottom = std::min(z_first, z_last);
    auto fraction_at = [&](double z) {
      if (span.whole) return span.fraction_at(z);
      if (top - bottom >= 0.7 * region_length_mm) return 0.05 + 0.9 * (top - z) / (top - bottom);
      return protocol.level.fraction_from_proximal + (0.5 * (top + bottom) - z) / region_length_mm;
    };
    if (!span.whole)
      prior.notes.push_back(std::string(to_string(side)) + " " + protocol.level.bone_key +
                            ": not whole in the scan, atlas slices matched by the leg's extent along z (less exact)");
    // Key slices along z.
    std::vector<int> keys;
    double last_key_z = 1e300;
    for (int k : slices) {
      const double z = g.index_to_lps({0, 0, double(k)}).z;
      if (std::abs(z - last_key_z) >= protocol.muscles.atlas_key_spacing_mm) keys.push_back(k), last_key_z = z;
    }
    const TargetClasses classes(side);
    std::vector<KeySlice> key_data(keys.size());
    std::mutex used_mutex;
    const ItkOneThreadPerFilter one_thread;
    parallel_for(keys.size(), progress, "registering atlases", 0.6, [&](std::size_t n) {
      KeySlice& key = key_data[n];
      key.slice = keys[n];
      key.leg = target_leg(seg.labels.slice(std::size_t(key.slice)), g, side, classes, true);
      if (!key.leg.usable) return true;
      const double f = fraction_at(g.index_to_lps({0, 0, double(key.slice)}).z);
      // Similarity after the landmark placement; at most one atlas per subject first.
      struct Candidate {
        const Atlas* atlas;
        double ssd;
      };
      std::vector<Candidate> candidates;
      for (const Atlas& a : atlases) {
        const AtlasSlice* s = a.at_fraction(f);
        if (s == nullptr) continue;
        const auto moving = atlas_tissue_on_grid(key.leg, *s, place(key.leg.frame, s->frame));
        double ssd = 0;
        for (std::size_t q = 0; q < moving.size(); ++q) ssd += double(moving[q] - key.leg.tissue_map[q]) * (moving[q] - key.leg.tissue_map[q]);
        candidates.push_back({&a, ssd / double(moving.size())});
      }
      std::sort(candidates.begin(), candidates.end(), [](const Candidate& x, const Candidate& y) {
        return x.ssd != y.ssd ? x.ssd < y.ssd : x.atlas->id < y.atlas->id;
      });
      std::vector<const Atlas*> chosen;
      std::set<std::string> subjects;
      for (int pass = 0; pass < 2; ++pass)
        for (const Candidate& c : candidates) {
          if (int(chosen.size()) >= protocol.muscles.atlases_per_slice) break;
          if (std::find(chosen.begin(), chosen.end(), c.atlas) != chosen.end()) continue;
          if (pass == 0 && subjects.count(c.atlas->subject)) continue;
          subjects.insert(c.atlas->subject);
          chosen.push_back(c.atlas);
        }
      for (const Atlas* a : chosen) {
        const AtlasSlice& s = *a->at_fraction(f);
        Registered r;
        r.atlas = a;
        const auto moving = atlas_tissue_on_grid(key.leg, s, place(key.leg.frame, s.frame));
        if (protocol.muscles.demons_iterations == 0) {  // landmark placement only
          r.field.ux.assign(moving.size(), 0.0f), r.field.uy.assign(moving.size(), 0.0f);
        } else
          r.field = register_demons(key.leg.tissue_map, moving, key.leg.gnx, key.leg.gny, key.leg.gh, protocol.muscles.demons_iterations);
        // Local weight: residual squared difference of the tissue maps after registration, 5x5 mean.
        const int nx = key.leg.gnx, ny = key.leg.gny;
        std::vector<float> residual(moving.size());
        for (int b = 0; b < ny; ++b)
          for (int c = 0; c < nx; ++c) {
            const std::size_t q = std::size_t(c + nx * b);
            const float warped = bilinear(moving, nx, ny, c + r.field.ux[q] / key.leg.gh, b + r.field.uy[q] / key.leg.gh);
            residual[q] = (warped - key.leg.tissue_map[q]) * (warped - key.leg.tissue_map[q]);
          }
        r.weight.assign(moving.size(), 0.0f);
        for (int b = 0; b < ny; ++b)
          for (int c = 0; c < nx; ++c) {
            double sum = 0;
            int count = 0;
            for (int db = -2; db <= 2; ++db)
              for (int dc = -2; dc <= 2; ++dc) {
                const int x = c + dc, y = b + db;
                if (x < 0 || y < 0 || x >= nx || y >= ny) continue;
                sum += residual[std::size_t(x + nx * y)], ++count;
              }
            r.weight[std::size_t(c + nx * b)] = float(std::exp(-sum / count / 0.05) + 1e-3);
          }
        key.atlases.push_back(std::move(r));
      }
      std::lock_guard<std::mutex> lock(used_mutex);
      registrations += int(chosen.size());
      for (const Atlas* a : chosen) used.insert(a->id);
      return true;
    });

    const auto t2 = std::chrono::steady_clock::now();
    register_s += std::chrono::duration<double>(t2 - side_start).count();
    // Every slice of the leg: votes of the nearest key slice's atlases on this slice's own atlas slices.
    std::mutex spread_mutex;
    parallel_for(slices.size(), progress, "fusing atlas labels", 0.2, [&](std::size_t n) {
      const int k = slices[n];
      const double z = g.index_to_lps({0, 0, double(k)}).z;
      const KeySlice* key = nullptr;
      for (const KeySlice& candidate : key_data)
        if (!candidate.atlases.empty() &&
            (key == nullptr || std::abs(candidate.slice - k) < std::abs(key->slice - k)))
          key = &candidate;
      if (key == nullptr) return true;
      const LabelId* labels = seg.labels.slice(std::size_t(k));
      const TargetLeg leg = key->slice == k ? key->leg : target_leg(labels, g, side, classes, false);
      if (!leg.usable) return true;
      const double f = fraction_at(z);
      const long nx = long(g.size[0]);
      const int count = muscles.count();
      const std::size_t box = std::size_t(leg.i1 - leg.i0 + 1) * std::size_t(leg.j1 - leg.j0 + 1);
      std::vector<std::uint8_t> fused(box, kOutside), soft(box, 0), agreement(box, 0);
      std::vector<std::vector<double>> atlas_area(key->atlases.size(), std::vector<double>(std::size_t(count), 0.0));
      std::vector<bool> atlas_voted(key->atlases.size(), false);
      struct Use {
        const Registered* r;
        const AtlasSlice* s;
        Placement p;
      };
      std::vector<Use> uses;
      for (const Registered& r : key->atlases) {
        const AtlasSlice* s = r.atlas->at_fraction(f);
        uses.push_back({&r, s, s != nullptr ? place(leg.frame, s->frame) : Placement{}});
      }
      const double pixel_mm2 = g.pixel_area_mm2();
      for (long j = leg.j0; j <= leg.j1; ++j)
        for (long i = leg.i0; i <= leg.i1; ++i) {
          const LabelId l = labels[std::size_t(i + nx * j)];
          if (l >= 256 || !classes.soft[l]) continue;
          const std::size_t q = std::size_t((i - leg.i0) + (leg.i1 - leg.i0 + 1) * (j - leg.j0));
          soft[q] = 1;
          double x, y;
          leg.frame.to_local(double(i), double(j), x, y);
          // Grid coordinates on the key slice's grid (local mm around each slice's own centroid).
          const double ga = (x - key->leg.gx0) / key->leg.gh, gb = (y - key->leg.gy0) / key->leg.gh;
          std::array<double, kMaxMuscles> votes{};
          std::vector<double> group_votes(muscles.groups.size(), 0.0);
          std::vector<int> group_label(muscles.groups.size(), 0);
          double total = 0;
          for (std::size_t u = 0; u < uses.size(); ++u) {
            if (uses[u].s == nullptr) continue;
            const Registered& r = *uses[u].r;
            const int gnx = key->leg.gnx, gny = key->leg.gny;
            const double ux = bilinear(r.field.ux, gnx, gny, ga, gb), uy = bilinear(r.field.uy, gnx, gny, ga, gb);
            double ai, aj;
            uses[u].s->frame.to_pixel((x + ux) / uses[u].p.sx, (y + uy) / uses[u].p.sy, ai, aj);
            const std::uint8_t t = uses[u].s->territory_at(ai, aj);
            if (t == kOutside) continue;
            const double w = bilinear(r.weight, gnx, gny, ga, gb);
            atlas_area[u][t] += pixel_mm2;
            atlas_voted[u] = true;
            if (r.atlas->votes_as_group[t]) {
              group_votes[std::size_t(muscles.group[t])] += w;
              group_label[std::size_t(muscles.group[t])] = t;
            } else {
              votes[t] += w;
            }
            total += w;
          }
          if (total <= 0) continue;
          // A source that labels only a group (label-map adductors) votes for the group's members in
          // the proportion the other atlases give them here, else for its own label.
          for (std::size_t gi = 0; gi < group_votes.size(); ++gi) {
            if (group_votes[gi] <= 0) continue;
            double members = 0;
            for (int m = 0; m < count; ++m)
              if (muscles.group[std::size_t(m)] == int(gi)) members += votes[std::size_t(m)];
            for (int m = 0; m < count; ++m) {
              if (muscles.group[std::size_t(m)] != int(gi)) continue;
              if (members > 0) votes[std::size_t(m)] += group_votes[gi] * votes[std::size_t(m)] / members;
            }
            if (members <= 0) votes[std::size_t(group_label[gi])] += group_votes[gi];  // none separates it here
          }
          int best = 0;
          for (int m = 1; m < count; ++m)
            if (votes[std::size_t(m)] > votes[std::size_t(best)]) best = m;
          fused[q] = std::uint8_t(best);
          agreement[q] = std::uint8_t(std::clamp(std::lround(255 * votes[std::size_t(best)] / total), 0L, 255L));
        }
      // Pixels no atlas reached: the nearest fused muscle, with no agreement.
      const int bw = int(leg.i1 - leg.i0 + 1), bh = int(leg.j1 - leg.j0 + 1);
      fill_nearest(fused, soft, bw, bh, kOutside);
      LabelId* out = prior.territory.slice(std::size_t(k));
      std::uint8_t* agree = prior.agreement.slice(std::size_t(k));
      for (int b = 0; b < bh; ++b)
        for (int a = 0; a < bw; ++a) {
          const std::size_t q = std::size_t(a + bw * b);
          if (!soft[q] || fused[q] == kOutside) continue;
          const std::size_t o = std::size_t(leg.i0 + a + nx * (leg.j0 + b));
          out[o] = catalog.label_id(muscles.keys[fused[q]], side);
          agree[o] = agreement[q];
        }
      // Area spread of every muscle over the atlases that voted (group-only sources leave their group's members out).
      std::vector<segment::MusclePrior::AreaSpread> spread;
      std::set<std::string> voting_subjects;
      for (std::size_t u = 0; u < uses.size(); ++u)
        if (atlas_voted[u]) voting_subjects.insert(uses[u].r->atlas->subject);
      const auto add_spread = [&](LabelId label, const std::vector<double>& areas) {
        if (areas.empty()) return;
        const double mean = std::accumulate(areas.begin(), areas.end(), 0.0) / double(areas.size());
        double var = 0;
        for (double v : areas) var += (v - mean) * (v - mean);
        spread.push_back({label, mean, areas.size() > 1 ? std::sqrt(var / double(areas.size() - 1)) : 0.0, int(areas.size()),
                          int(voting_subjects.size())});
      };
      for (int m = 0; m < count; ++m) {
        std::vector<double> areas;
        for (std::size_t u = 0; u < uses.size(); ++u)
          if (atlas_voted[u] && !uses[u].r->atlas->votes_as_group[std::size_t(m)]) areas.push_back(atlas_area[u][std::size_t(m)]);
        add_spread(catalog.label_id(muscles.keys[std::size_t(m)], side), areas);
      }
      // Groups: every atlas gives its members' areas together (group-only sources included).
      for (std::size_t gi = 0; gi < muscles.groups.size(); ++gi) {
        std::vector<double> areas;
        for (std::size_t u = 0; u < uses.size(); ++u) {
          if (!atlas_voted[u]) continue;
          double sum = 0;
          for (int m = 0; m < count; ++m)
            if (muscles.group[std::size_t(m)] == int(gi)) sum += atlas_area[u][std::size_t(m)];
          areas.push_back(sum);
        }
        add_spread(catalog.label_id(muscles.groups[gi], side), areas);
      }
      std::lock_guard<std::mutex> lock(spread_mutex);
      auto& list = prior.area_spread[std::size_t(k)];
      list.insert(list.end(), spread.begin(), spread.end());
      return true;
    });
    fuse_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t2).count();
  }
  prior.atlases_used.assign(used.begin(), used.end());
  const std::string method = "multi-atlas: " + std::to_string(atlases.size()) + " " + std::string(to_string(protocol.region)) +
                             " atlases placed on each leg by the compartment's centroid and extent, the " +
                             std::to_string(protocol.muscles.atlases_per_slice) + " most similar registered by diffeomorphic demons on tissue maps every " +
                             std::to_string(int(protocol.muscles.atlas_key_spacing_mm)) + " mm, fused by locally weighted voting";
  prior.notes.insert(prior.notes.begin(), method + " (" + std::to_string(registrations) + " registrations, " +
                                              std::to_string(used.size()) + " atlases used)");
  if (summary != nullptr) {
    summary->load_s = std::chrono::duration<double>(t1 - t0).count();
    summary->register_s = register_s, summary->fuse_s = fuse_s;
    summary->atlases_available.clear();
    for (const Atlas& a : atlases) summary->atlases_available.push_back(a.id);
    summary->atlases_used = prior.atlases_used;
    summary->registrations = registrations;
    summary->method = method;
  }
  return prior;
}

void segment_muscles(const ScalarVolume& volume, const segment::CtProtocol& protocol,
                     segment::TissueSegmentation& segmentation, const MultiAtlasOptions& options, Progress& progress) {
  if (!protocol.muscles.enabled || protocol.region == BodyRegion::Any) return;
  if (protocol.muscles.prior == "layout") {
    segment::segment_ct_muscles(volume, protocol, segmentation, progress);
    segmentation.muscle_prior_description =
        "the hand-made layout of muscle territories per level (protocol muscles.prior = layout; docs/methods.md)";
    return;
  }
  PriorSummary summary;
  const segment::MusclePrior prior = fuse_atlas_prior(segmentation, protocol, options, progress, &summary);
  segment::segment_ct_muscles(volume, protocol, segmentation, progress, &prior);
  segmentation.muscle_prior_description = summary.method;
  segmentation.atlases_available = summary.atlases_available;
  segmentation.atlases_used = summary.atlases_used;
}

}  // namespace musclecsa::anatomy
