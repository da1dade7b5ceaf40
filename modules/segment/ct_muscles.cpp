// Muscle-level CT segmentation: marker-controlled watershed of each leg's compartment along the fat
// septa, markers from the anatomical layout (docs/methods.md, "Muscles and groups").

#include "musclecsa/segment/ct_muscles.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <string>

#include "musclecsa/core/distance_transform.h"
#include "musclecsa/core/error.h"
#include "musclecsa/core/muscle_layout.h"
#include "musclecsa/core/parallel.h"

namespace musclecsa::segment {
namespace {

constexpr std::uint8_t kNone = 0xff;  // no muscle (owner index) yet
constexpr int kLevels = 256;          // flooding levels: elevation in 2-HU steps

/// Label ids of one side, looked up once, and a table from label id to its class on this side.
struct SideLabels {
  enum Class : std::uint8_t { kOther = 0, kOuter = 1, kSoft = 2, kBone = 3 };  // kOuter: skin, fat
  LabelId skin, sat, imat, muscle_tissue, marrow;
  std::array<std::uint8_t, 256> class_of{};
  SideLabels(Side side) {
    const auto& c = LabelCatalog::standard();
    skin = c.label_id("skin", side), sat = c.label_id("subcutaneous_fat", side), imat = c.label_id("imat", side);
    muscle_tissue = c.label_id("skeletal_muscle", side), marrow = c.label_id("bone_marrow", side);
    for (LabelId l : {skin, sat}) class_of.at(l) = kOuter;
    for (LabelId l : {imat, muscle_tissue}) class_of.at(l) = kSoft;
    for (LabelId l : {c.label_id("femur", side), c.label_id("tibia", side), c.label_id("fibula", side), marrow})
      class_of.at(l) = kBone;
  }
  std::uint8_t class_for(LabelId l) const { return l < class_of.size() ? class_of[l] : std::uint8_t(kOther); }
  bool is_bone(LabelId l) const { return class_for(l) == kBone; }
  bool is_side(LabelId l) const { return class_for(l) != kOther; }
};

/// Where one leg lies in a slice: the bounding box of its compartment (pixels) and the limb's
/// centroid (pixel indices), from one pass over the slice for both legs.
struct LegFrame {
  long i0 = 0, j0 = 0, i1 = -1, j1 = -1;
  double limb_i = 0, limb_j = 0, limb_n = 0;
};

void find_leg_frames(const LabelId* labels, std::size_t nx, std::size_t ny, const SideLabels& right,
                     const SideLabels& left, LegFrame& right_frame, LegFrame& left_frame) {
  right_frame.i0 = left_frame.i0 = long(nx), right_frame.j0 = left_frame.j0 = long(ny);
  for (std::size_t j = 0; j < ny; ++j) {
    const LabelId* row = labels + nx * j;
    for (std::size_t i = 0; i < nx; ++i) {
      const LabelId l = row[i];
      if (l == 0) continue;
      std::uint8_t c = right.class_for(l);
      LegFrame* f = &right_frame;
      if (c == SideLabels::kOther) c = left.class_for(l), f = &left_frame;
      if (c == SideLabels::kOther) continue;
      f->limb_i += double(i), f->limb_j += double(j), f->limb_n += 1;
      if (c == SideLabels::kOuter) continue;
      f->i0 = std::min(f->i0, long(i)), f->i1 = std::max(f->i1, long(i)), f->j0 = std::min(f->j0, long(j)), f->j1 = std::max(f->j1, long(j));
    }
  }
}

/// A layout seed placed in the slice: leg-local mm (x lateral, y posterior).
struct PlacedSeed {
  LabelId label = 0;
  double x = 0, y = 0, weight = 1;
  std::string_view key;
  double inverse_weight2 = 1;  ///< 1 / weight^2, for ranking by squared weighted distance
};

/// Nearest and second-nearest seeds by weighted distance, and the distance (mm, first order) from
/// the point to the boundary of the nearest one's cell.
struct CellHit {
  int best = -1;
  double margin_mm = 0;
};

CellHit nearest_cell(const std::vector<PlacedSeed>& seeds, double x, double y, bool with_margin = true) {
  // Ranked by squared weighted distance (same order, no square root per seed).
  double q1 = std::numeric_limits<double>::max(), q2 = q1;
  int n1 = -1, n2 = -1;
  for (int s = 0; s < int(seeds.size()); ++s) {
    const PlacedSeed& seed = seeds[std::size_t(s)];
    const double dx = x - seed.x, dy = y - seed.y;
    const double q = (dx * dx + dy * dy) * seed.inverse_weight2;
    if (q < q1) q2 = q1, n2 = n1, q1 = q, n1 = s;
    else if (q < q2) q2 = q, n2 = s;
  }
  CellHit hit{n1, std::numeric_limits<double>::max()};
  if (n2 >= 0 && with_margin) {
    const PlacedSeed& a = seeds[std::size_t(n1)];
    const PlacedSeed& b = seeds[std::size_t(n2)];
    const double ra = std::max(1e-9, std::sqrt(q1) * a.weight), rb = std::max(1e-9, std::sqrt(q2) * b.weight);
    const double d1 = std::sqrt(q1), d2 = std::sqrt(q2);
    const double gx = (x - b.x) / (rb * b.weight) - (x - a.x) / (ra * a.weight);
    const double gy = (y - b.y) / (rb * b.weight) - (y - a.y) / (ra * a.weight);
    hit.margin_mm = (d2 - d1) / std::max(1e-9, std::sqrt(gx * gx + gy * gy));
  }
  return hit;
}

/// The atlas prior of one leg in one slice, when there is one.
struct LegPrior {
  const LabelId* territory = nullptr;        // slice of MusclePrior::territory
  const std::uint8_t* agreement = nullptr;   // slice of MusclePrior::agreement
  const std::vector<MusclePrior::AreaSpread>* spread = nullptr;
  std::vector<MuscleConfidence>* confidence = nullptr;  // appended to
};

/// Splits one leg's compartment in slice k, by the atlas prior when given (and holding muscles
/// here), else by the layout at `fraction` along the bone. Returns false when the split looks
/// unreliable.
bool split_leg(const ScalarVolume& ct, const CtProtocol& p, LabelId* labels, std::size_t k, Side side,
               double fraction, const SideLabels& ids, const LegFrame& frame, LegPrior* prior = nullptr) {
  const Geometry& g = ct.geometry;
  const std::size_t nx = g.size[0], ny = g.size[1];
  const float* hu = ct.slice(k);
  const auto& catalog = LabelCatalog::standard();

  // Bounding box, limb centroid and compartment moments, in leg-local mm.
  const long i0 = frame.i0, j0 = frame.j0, i1 = frame.i1, j1 = frame.j1;
  if (i1 < 0 || frame.limb_n == 0) return true;
  const double limb_i = frame.limb_i / frame.limb_n, limb_j = frame.limb_j / frame.limb_n;
  // Leg-local axes: x towards the leg's lateral side (patient right is -x in LPS), y posterior (+y).
  const Vec3 ai = g.axis(0), aj = g.axis(1);
  const double lateral = side == Side::Right ? -1 : 1;
  const double xi = lateral * ai.x * g.spacing_mm[0], xj = lateral * aj.x * g.spacing_mm[1];
  const double yi = ai.y * g.spacing_mm[0], yj = aj.y * g.spacing_mm[1];
  auto local = [&](double i, double j, double& x, double& y) {
    x = xi * (i - limb_i) + xj * (j - limb_j);
    y = yi * (i - limb_i) + yj * (j - limb_j);
  };

  const std::size_t w = std::size_t(i1 - i0 + 1), h = std::size_t(j1 - j0 + 1);
  auto at = [&](std::size_t a, std::size_t b) { return std::size_t(i0) + a + nx * (std::size_t(j0) + b); };
  std::vector<std::uint8_t> soft(w * h, 0), bone(w * h, 0);
  double sx = 0, sy = 0, sxx = 0, syy = 0, n = 0;
  for (std::size_t b = 0; b < h; ++b)
    for (std::size_t a = 0; a < w; ++a) {
      const std::uint8_t c = ids.class_for(labels[at(a, b)]);
      const bool is_soft = c == SideLabels::kSoft;
      const bool is_bone = c == SideLabels::kBone;
      if (!is_soft && !is_bone) continue;
      soft[a + w * b] = is_soft;
      bone[a + w * b] = is_bone;
      double x, y;
      local(double(i0) + double(a), double(j0) + double(b), x, y);
      sx += x, sy += y, sxx += x * x, syy += y * y, n += 1;
    }
  if (n < 50) return true;
  // Semi-axes of the compartment as an ellipse: variance a^2 / 4 along each axis.
  const double mx = sx / n, my = sy / n;
  const double semi_x = 2 * std::sqrt(std::max(1.0, sxx / n - mx * mx));
  const double semi_y = 2 * std::sqrt(std::max(1.0, syy / n - my * my));

  std::vector<PlacedSeed> seeds;
  std::vector<MuscleConfidence>* confidence_out = prior != nullptr ? prior->confidence : nullptr;
  // With an atlas prior: one seed per muscle the prior puts in this leg (no position: cells come
  // from the prior itself).
  if (prior != nullptr) {
    std::vector<LabelId> present;
    for (std::size_t b = 0; b < h; ++b)
      for (std::size_t a = 0; a < w; ++a) {
        const LabelId t = prior->territory[at(a, b)];
        if (soft[a + w * b] && t != 0 && std::find(present.begin(), present.end(), t) == present.end()) present.push_back(t);
      }
    std::sort(present.begin(), present.end());
    if (present.empty() || present.size() >= kNone) prior = nullptr;  // no prior here: the layout
    for (LabelId t : present)
      if (prior != nullptr) seeds.push_back({t, 0, 0, 1, {}, 1});
  }
  if (prior == nullptr)
    for (const auto& s : muscle_layout(p.region, fraction)) {
      if (s.weight < kAbsentMuscleWeight) continue;
      seeds.push_back({catalog.label_id(s.key, side), s.x_lat * semi_x, s.y * semi_y, s.weight, s.key, 1 / (s.weight * s.weight)});
    }
  if (seeds.empty()) return true;
  const std::size_t count = seeds.size();

  // Layout cell of every compartment pixel, and its core: muscle pixels at least the marker margin
  // inside the cell.
  std::vector<std::uint8_t> cell(w * h, kNone), core(w * h, kNone), owner(w * h, kNone);
  std::vector<double> cell_area(count, 0.0);
  std::vector<std::size_t> core_pixels(count, 0);
  const double pixel_mm2 = g.pixel_area_mm2();
  if (prior != nullptr) {
    // Cells: the fused territories; cores: muscle pixels where the atlases agree (>= 60%) at least
    // the marker margin away from another territory.
    std::map<LabelId, std::uint8_t> index_of;
    for (std::size_t m = 0; m < count; ++m) index_of[seeds[m].label] = std::uint8_t(m);
    std::vector<std::uint8_t> boundary(w * h, 0);
    for (std::size_t b = 0; b < h; ++b)
      for (std::size_t a = 0; a < w; ++a) {
        const std::size_t q = a + w * b;
        if (!soft[q]) continue;
        const auto it = index_of.find(prior->territory[at(a, b)]);
        if (it != index_of.end()) cell[q] = it->second, cell_area[it->second] += pixel_mm2;
      }
    for (std::size_t b = 0; b < h; ++b)
      for (std::size_t a = 0; a < w; ++a) {
        const std::size_t q = a + w * b;
        if (cell[q] == kNone) continue;
        if ((a > 0 && cell[q - 1] != kNone && cell[q - 1] != cell[q]) || (a + 1 < w && cell[q + 1] != kNone && cell[q + 1] != cell[q]) ||
            (b > 0 && cell[q - w] != kNone && cell[q - w] != cell[q]) || (b + 1 < h && cell[q + w] != kNone && cell[q + w] != cell[q]))
          boundary[q] = 1;
      }
    const auto margin = distance_to_nonzero(boundary, int(w), int(h), g.spacing_mm[0], g.spacing_mm[1]);
    for (std::size_t b = 0; b < h; ++b)
      for (std::size_t a = 0; a < w; ++a) {
        const std::size_t q = a + w * b;
        if (cell[q] == kNone || labels[at(a, b)] != ids.muscle_tissue) continue;
        if (margin[q] >= p.muscles.marker_margin_mm && prior->agreement[at(a, b)] >= 153) {
          core[q] = cell[q];
          ++core_pixels[cell[q]];
        }
      }
  }
  for (std::size_t b = 0; b < h && prior == nullptr; ++b)
    for (std::size_t a = 0; a < w; ++a) {
      const std::size_t q = a + w * b;
      if (!soft[q]) continue;
      double x, y;
      local(double(i0) + double(a), double(j0) + double(b), x, y);
      const bool is_muscle = labels[at(a, b)] == ids.muscle_tissue;  // only muscle pixels need the margin
      const CellHit hit = nearest_cell(seeds, x, y, is_muscle);
      cell[q] = std::uint8_t(hit.best);
      cell_area[std::size_t(hit.best)] += pixel_mm2;
      if (is_muscle && hit.margin_mm >= p.muscles.marker_margin_mm) {
        core[q] = std::uint8_t(hit.best);
        ++core_pixels[std::size_t(hit.best)];
      }
    }

  // The fascia layer: compartment pixels within fascia_layer_mm of the subcutaneous fat (the deep
  // fascia and the thin fat beneath it) belong to no muscle. Chamfer (3-4) distance to the outside.
  const double px = std::min(g.spacing_mm[0], g.spacing_mm[1]);
  std::vector<int> chamfer(w * h, 1 << 20);
  for (std::size_t q = 0; q < w * h; ++q)
    if (!soft[q] && !bone[q]) chamfer[q] = 0;
  for (std::size_t b = 0; b < h; ++b)
    for (std::size_t a = 0; a < w; ++a) {
      int& d = chamfer[a + w * b];
      if (a == 0 || b == 0 || a + 1 == w) d = std::min(d, 3);  // beyond the bounding box is outside
      if (a > 0) d = std::min(d, chamfer[a - 1 + w * b] + 3);
      if (b > 0) {
        d = std::min(d, chamfer[a + w * (b - 1)] + 3);
        if (a > 0) d = std::min(d, chamfer[a - 1 + w * (b - 1)] + 4);
        if (a + 1 < w) d = std::min(d, chamfer[a + 1 + w * (b - 1)] + 4);
      }
    }
  for (std::size_t b = h; b-- > 0;)
    for (std::size_t a = w; a-- > 0;) {
      int& d = chamfer[a + w * b];
      if (a + 1 == w || b + 1 == h) d = std::min(d, 3);
      if (a + 1 < w) d = std::min(d, chamfer[a + 1 + w * b] + 3);
      if (b + 1 < h) {
        d = std::min(d, chamfer[a + w * (b + 1)] + 3);
        if (a + 1 < w) d = std::min(d, chamfer[a + 1 + w * (b + 1)] + 4);
        if (a > 0) d = std::min(d, chamfer[a - 1 + w * (b + 1)] + 4);
      }
    }
  std::vector<std::uint8_t> ring(w * h, 0);
  for (std::size_t q = 0; q < w * h; ++q)
    if (soft[q] && (chamfer[q] / 3.0 - 0.5) * px <= p.muscles.fascia_layer_mm) ring[q] = 1;

  // Smoothed HU (3x3 binomial) and the flooding elevation: fat high, in 2-HU levels from 100 HU down.
  std::vector<float> smooth(w * h, 0.0f);
  std::vector<std::uint8_t> elevation(w * h, 0);
  std::vector<float> muscle_values;
  for (std::size_t b = 0; b < h; ++b)
    for (std::size_t a = 0; a < w; ++a) {
      if (!soft[a + w * b]) continue;
      const long i = i0 + long(a), j = j0 + long(b);
      double sum = 0, weight = 0;
      if (i > 0 && j > 0 && i + 1 < long(nx) && j + 1 < long(ny)) {  // inside the image: all 9 (same order)
        const float* up = hu + std::size_t(i - 1) + nx * std::size_t(j - 1);
        const float* mid = up + nx;
        const float* down = mid + nx;
        sum = double(up[0]) + 2.0 * up[1] + double(up[2]) + 2.0 * mid[0] + 4.0 * mid[1] + 2.0 * mid[2] + double(down[0]) +
              2.0 * down[1] + double(down[2]);
        weight = 16;
      } else {
        for (long dj = -1; dj <= 1; ++dj)
          for (long di = -1; di <= 1; ++di) {
            const long u = i + di, v = j + dj;
            if (u < 0 || v < 0 || u >= long(nx) || v >= long(ny)) continue;
            const double wgt = (di == 0 ? 2 : 1) * (dj == 0 ? 2 : 1);
            sum += wgt * hu[std::size_t(u) + nx * std::size_t(v)];
            weight += wgt;
          }
      }
      const float value = float(sum / weight);
      smooth[a + w * b] = value;
      elevation[a + w * b] = std::uint8_t(std::clamp((100.0 - value) / 2.0, 0.0, double(kLevels - 1)));
      if (labels[at(a, b)] == ids.muscle_tissue && !ring[a + w * b]) muscle_values.push_back(value);
    }
  if (muscle_values.empty()) return true;
  std::nth_element(muscle_values.begin(), muscle_values.begin() + long(muscle_values.size() / 2), muscle_values.end());
  const double muscle_hu = muscle_values[muscle_values.size() / 2];
  // The partial-volume rim around a bone (within bone_rim_mm of it) is brighter than muscle, but no
  // lower ground: it would otherwise be a channel along which one muscle's flood runs round the
  // bone into its neighbour's territory before that neighbour's own flood arrives (MRI's pseudo-CT,
  // whose rim is widened by the interpolation to the finer grid).
  if (const auto rim = std::size_t(std::floor(p.muscles.bone_rim_mm / px + 0.5)); rim > 0) {
    const auto muscle_level = std::uint8_t(std::clamp((100.0 - muscle_hu) / 2.0, 0.0, double(kLevels - 1)));
    for (std::size_t b = 0; b < h; ++b)
      for (std::size_t a = 0; a < w; ++a) {
        const std::size_t q = a + w * b;
        if (!soft[q] || elevation[q] >= muscle_level) continue;
        bool near_bone = false;
        for (std::size_t y = b >= rim ? b - rim : 0; y <= std::min(h - 1, b + rim) && !near_bone; ++y)
          for (std::size_t x = a >= rim ? a - rim : 0; x <= std::min(w - 1, a + rim); ++x)
            if (bone[x + w * y]) {
              near_bone = true;
              break;
            }
        if (near_bone) elevation[q] = muscle_level;
      }
  }
  const double fat_hu = 0.5 * (p.adipose.low_hu + p.adipose.high_hu);
  const float basin_hu = float(0.5 * (muscle_hu + fat_hu));

  // Basins: connected muscle-like pixels (smoothed HU above midway to fat), which the fat septa
  // separate. A basin holding at least half of one muscle's core becomes as a whole that muscle's
  // marker, and so does a basin lying (80%) in one muscle's core. A basin holding most of the cores of two or more muscles (joined through a gap in a faint
  // septum) is eroded, up to twice, to cut such bridges; what is still joined keeps the cores as
  // markers and the flood splits it. Other basins (slivers near a cell boundary, pieces cut off by
  // fat streaks) are left to the flood.
  std::vector<int> stamp_of(w * h, 0);
  int stamp = 0;
  auto components_of = [&](const std::vector<std::uint32_t>& pixels) {
    ++stamp;
    for (std::size_t q : pixels) stamp_of[q] = stamp;
    std::vector<std::vector<std::uint32_t>> parts;
    std::vector<std::uint32_t> stack;
    for (std::size_t start : pixels) {
      if (stamp_of[start] != stamp) continue;
      std::vector<std::uint32_t> part;
      stamp_of[start] = -stamp;
      stack.push_back(std::uint32_t(start));
      while (!stack.empty()) {
        const std::size_t q = stack.back();
        stack.pop_back();
        part.push_back(std::uint32_t(q));
        const std::size_t a = q % w, b = q / w;
        const std::size_t next[4] = {a > 0 ? q - 1 : q, a + 1 < w ? q + 1 : q, b > 0 ? q - w : q, b + 1 < h ? q + w : q};
        for (std::size_t r : next)
          if (stamp_of[r] == stamp) stamp_of[r] = -stamp, stack.push_back(std::uint32_t(r));
      }
      parts.push_back(std::move(part));
    }
    return parts;
  };
  const double min_basin_mm2 = 20;
  std::vector<std::vector<std::uint32_t>> unassigned;
  // Splits a basin holding several cores by a flood from those cores inside it. A split line that
  // runs through muscle (its mean HU within a quarter of the way from muscle to the basin level: no
  // fat along it) is no septum, only a misplaced layout: the parts it separates are joined under the
  // muscle with the most core pixels there.
  std::vector<std::uint8_t> split_part(w * h, kNone);
  // A quarter of the way from muscle to the basin level: a septum blurred by coarse pixels (1.5 mm
  // MRI: rectus femoris over vastus intermedius) still darkens its line that much.
  const double muscle_like_hu = 0.75 * muscle_hu + 0.25 * basin_hu;
  auto split_basin = [&](const std::vector<std::uint32_t>& members, const std::vector<std::size_t>& cores_here) {
    ++stamp;
    std::array<std::vector<std::uint32_t>, kLevels> basin_queue;
    for (std::size_t q : members) {
      stamp_of[q] = stamp;
      split_part[q] = core[q];
      if (core[q] != kNone) basin_queue[elevation[q]].push_back(std::uint32_t(q));
    }
    for (int level = 0; level < kLevels; ++level)
      for (std::size_t n_at = 0; n_at < basin_queue[std::size_t(level)].size(); ++n_at) {
        const std::size_t q = basin_queue[std::size_t(level)][n_at];
        for (std::size_t r : {q - 1, q + 1, q - w, q + w}) {  // basin pixels are never on the box edge
          if (stamp_of[r] != stamp || split_part[r] != kNone) continue;
          split_part[r] = split_part[q];
          basin_queue[std::max<std::size_t>(std::size_t(level), elevation[r])].push_back(std::uint32_t(r));
        }
      }
    std::map<std::pair<int, int>, std::pair<double, int>> line;  // HU sum and count along each split line
    for (std::size_t q : members)
      for (std::size_t r : {q + 1, q + w}) {
        if (stamp_of[r] != stamp || split_part[r] == split_part[q] || split_part[r] == kNone || split_part[q] == kNone) continue;
        auto& [sum, samples] = line[{std::min(split_part[q], split_part[r]), std::max(split_part[q], split_part[r])}];
        sum += smooth[q] + smooth[r];
        samples += 2;
      }
    std::vector<int> parent(count);
    for (std::size_t m = 0; m < count; ++m) parent[m] = int(m);
    std::function<int(int)> root = [&](int m) { return parent[std::size_t(m)] == m ? m : parent[std::size_t(m)] = root(parent[std::size_t(m)]); };
    for (const auto& [pair, stats] : line)
      if (prior == nullptr && stats.first / stats.second > muscle_like_hu) {
        const int a = root(pair.first), b = root(pair.second);
        if (a == b) continue;
        if (cores_here[std::size_t(a)] >= cores_here[std::size_t(b)]) parent[std::size_t(b)] = a;
        else parent[std::size_t(a)] = b;
      }
    for (std::size_t q : members)
      if (split_part[q] != kNone) owner[q] = std::uint8_t(root(split_part[q]));
  };
  std::function<void(const std::vector<std::uint32_t>&, int)> assign = [&](const std::vector<std::uint32_t>& members,
                                                                            int erosions) {
    if (double(members.size()) * pixel_mm2 < min_basin_mm2) return;
    std::vector<std::size_t> cores_here(count, 0);
    for (std::size_t q : members)
      if (core[q] != kNone) ++cores_here[core[q]];
    int holders = 0;
    for (std::size_t m = 0; m < count; ++m)
      if (core_pixels[m] > 0 && cores_here[m] * 2 >= core_pixels[m]) ++holders;
    if (holders >= 2 && erosions < 2) {
      ++stamp;
      for (std::size_t q : members) stamp_of[q] = stamp;
      std::vector<std::uint32_t> eroded;
      for (std::size_t q : members) {
        const std::size_t a = q % w, b = q / w;
        if (a > 0 && b > 0 && a + 1 < w && b + 1 < h && stamp_of[q - 1] == stamp && stamp_of[q + 1] == stamp &&
            stamp_of[q - w] == stamp && stamp_of[q + w] == stamp)
          eroded.push_back(std::uint32_t(q));
      }
      for (const auto& part : components_of(eroded)) assign(part, erosions + 1);
      return;
    }
    if (holders >= 2) {
      split_basin(members, cores_here);
    } else {
      const auto top = std::size_t(std::max_element(cores_here.begin(), cores_here.end()) - cores_here.begin());
      if (holders == 1)
        for (std::size_t q : members) owner[q] = std::uint8_t(top);
      else
        unassigned.push_back(members);
    }
  };
  std::vector<std::uint32_t> candidates;
  for (std::size_t q = 0; q < w * h; ++q)
    if (soft[q] && !ring[q] && smooth[q] > basin_hu) candidates.push_back(std::uint32_t(q));
  for (const auto& basin : components_of(candidates)) assign(basin, 0);

  // A muscle without a marker yet: the unassigned basin holding most of its core; else its free core
  // pixels, or its free muscle pixels within 3 mm of its seed.
  std::vector<std::size_t> marker_pixels(count, 0);
  for (std::size_t q = 0; q < w * h; ++q)
    if (owner[q] != kNone) ++marker_pixels[owner[q]];
  for (std::size_t m = 0; m < count; ++m) {
    if (marker_pixels[m] > 0) continue;
    std::vector<std::uint32_t>* best = nullptr;
    std::size_t best_count = 0;
    for (auto& basin : unassigned) {
      if (owner[basin.front()] != kNone) continue;
      const auto held = std::size_t(std::count_if(basin.begin(), basin.end(), [&](std::uint32_t q) { return core[q] == m; }));
      if (held > best_count) best_count = held, best = &basin;
    }
    if (best != nullptr) {
      for (std::size_t q : *best) owner[q] = std::uint8_t(m);
      continue;
    }
    for (std::size_t b = 0; b < h; ++b)
      for (std::size_t a = 0; a < w; ++a) {
        const std::size_t q = a + w * b;
        if (cell[q] != m || labels[at(a, b)] != ids.muscle_tissue || ring[q] || owner[q] != kNone) continue;
        double x, y;
        local(double(i0) + double(a), double(j0) + double(b), x, y);
        if (core[q] == m || (prior == nullptr && std::hypot(x - seeds[m].x, y - seeds[m].y) <= 3) ||
            (prior != nullptr && prior->agreement[at(a, b)] >= 128))
          owner[q] = std::uint8_t(m);
      }
  }

  // Pockets: basins no muscle holds (cut off by septa on all sides) go to the muscle whose layout
  // cell holds the pocket's centre.
  for (const auto& basin : unassigned) {
    if (owner[basin.front()] != kNone) continue;
    std::uint8_t top = 0;
    if (prior != nullptr) {  // the territory holding most of the pocket
      std::vector<std::size_t> held(count, 0);
      for (std::size_t q : basin)
        if (cell[q] != kNone) ++held[cell[q]];
      top = std::uint8_t(std::max_element(held.begin(), held.end()) - held.begin());
    } else {
      double ca = 0, cb = 0;
      for (std::size_t q : basin) ca += double(q % w), cb += double(q / w);
      double x, y;
      local(double(i0) + ca / double(basin.size()), double(j0) + cb / double(basin.size()), x, y);
      top = std::uint8_t(nearest_cell(seeds, x, y).best);
    }
    for (std::size_t q : basin) owner[q] = top;
  }

  // Priority flood from the markers (Meyer): each level in first-in first-out order.
  std::array<std::vector<std::uint32_t>, kLevels> queue;
  for (std::size_t q = 0; q < w * h; ++q)
    if (owner[q] != kNone) queue[elevation[q]].push_back(std::uint32_t(q));
  for (int level = 0; level < kLevels; ++level) {
    auto& bucket = queue[std::size_t(level)];
    for (std::size_t n_at = 0; n_at < bucket.size(); ++n_at) {
      const std::size_t q = bucket[n_at];
      const std::size_t a = q % w, b = q / w;
      const std::size_t next[4] = {a > 0 ? q - 1 : q, a + 1 < w ? q + 1 : q, b > 0 ? q - w : q, b + 1 < h ? q + w : q};
      for (std::size_t r : next) {
        if (r == q || !soft[r] || ring[r] || owner[r] != kNone) continue;
        owner[r] = owner[q];
        queue[std::max<std::size_t>(std::size_t(level), elevation[r])].push_back(std::uint32_t(r));
      }
    }
    bucket.clear();
    bucket.shrink_to_fit();
  }
  // Islands no flood reached (cut off by fat or bone) and the fascia layer: their cell.
  for (std::size_t q = 0; q < w * h; ++q)
    if (soft[q] && owner[q] == kNone) owner[q] = cell[q] != kNone ? cell[q] : std::uint8_t(0);

  // Intermuscular fat: fat pixels within intermuscular_fat_mm (through fat) of a boundary between
  // muscles or of the fascia ring. Fat further inside a territory is intramuscular.
  const int reach = int(std::floor(p.muscles.intermuscular_fat_mm / px + 1e-9));
  std::vector<int> steps(w * h, -1);
  std::vector<std::uint32_t> front;
  auto is_fat = [&](std::size_t q) { return soft[q] && labels[at(q % w, q / w)] == ids.imat; };
  for (std::size_t q = 0; q < w * h; ++q) {
    if (!is_fat(q)) continue;
    const std::size_t a = q % w, b = q / w;
    bool border = ring[q] != 0 || a == 0 || b == 0 || a + 1 == w || b + 1 == h;
    if (!border)
      for (std::size_t r : {q - 1, q + 1, q - w, q + w})
        if (ring[r] || (soft[r] && owner[r] != owner[q])) border = true;
    if (border) steps[q] = 0, front.push_back(std::uint32_t(q));
  }
  for (int d = 1; d <= reach && !front.empty(); ++d) {
    std::vector<std::uint32_t> next_front;
    for (std::size_t q : front) {
      const std::size_t a = q % w, b = q / w;
      const std::size_t next[4] = {a > 0 ? q - 1 : q, a + 1 < w ? q + 1 : q, b > 0 ? q - w : q, b + 1 < h ? q + w : q};
      for (std::size_t r : next)
        if (r != q && steps[r] < 0 && is_fat(r)) steps[r] = d, next_front.push_back(std::uint32_t(r));
    }
    front.swap(next_front);
  }

  std::vector<double> territory_area(count, 0.0), territory_agreement(count, 0.0);
  for (std::size_t b = 0; b < h; ++b)
    for (std::size_t a = 0; a < w; ++a) {
      const std::size_t q = a + w * b;
      if (!soft[q]) continue;
      if (steps[q] >= 0) {
        labels[at(a, b)] = ids.imat;
        continue;
      }
      if (ring[q]) {
        labels[at(a, b)] = ids.muscle_tissue;
        continue;
      }
      labels[at(a, b)] = seeds[owner[q]].label;
      territory_area[owner[q]] += pixel_mm2;
      if (prior != nullptr) {  // the atlases' share for the muscle this pixel went to
        const double share = prior->agreement[at(a, b)] / 255.0;
        territory_agreement[owner[q]] += (owner[q] == cell[q] ? share : 0.5 * (1 - share)) * pixel_mm2;
      }
    }
  if (confidence_out != nullptr && prior == nullptr) {  // the atlases gave nothing here: the layout split is not trusted
    for (std::size_t m = 0; m < count; ++m) {
      MuscleConfidence c;
      c.slice_index = int(k), c.label = seeds[m].label, c.area_mm2 = territory_area[m];
      c.low_confidence = true, c.reason = "no_atlas_prior";
      confidence_out->push_back(c);
    }
  } else if (prior != nullptr && prior->confidence != nullptr) {
    // Low: the atlases disagree over the territory, or its area lies outside the areas the atlases
    // give it here (muscles under confidence_min_area_mm2 here and in the atlases are not judged).
    const auto judge = [&](MuscleConfidence& c) {
      if (c.area_mm2 < p.muscles.confidence_min_area_mm2 && c.atlas_mean_area_mm2 < p.muscles.confidence_min_area_mm2) return;
      const double tolerance = p.muscles.atlas_area_sd_limit * c.atlas_sd_area_mm2 + p.muscles.atlas_area_tolerance_mm2;
      if (c.atlas_subjects < p.muscles.min_atlas_subjects) c.low_confidence = true, c.reason = "few_atlas_subjects";
      else if (c.agreement < p.muscles.min_atlas_agreement) c.low_confidence = true, c.reason = "atlas_disagreement";
      else if (std::abs(c.area_mm2 - c.atlas_mean_area_mm2) > tolerance) c.low_confidence = true, c.reason = "area_outside_atlas_range";
    };
    // The atlases' area range of a muscle or group here.
    const auto take_spread = [&](MuscleConfidence& c) {
      if (prior->spread == nullptr) return;
      for (const auto& s : *prior->spread)
        if (s.label == c.label) c.atlas_mean_area_mm2 = s.mean_mm2, c.atlas_sd_area_mm2 = s.sd_mm2, c.atlas_subjects = s.subjects;
    };
    // Every muscle: the atlases' agreement over its territory, its area against theirs.
    for (std::size_t m = 0; m < count; ++m) {
      MuscleConfidence c;
      c.slice_index = int(k), c.label = seeds[m].label, c.area_mm2 = territory_area[m];
      c.agreement = territory_area[m] > 0 ? territory_agreement[m] / territory_area[m] : 0;
      take_spread(c);
      judge(c);
      prior->confidence->push_back(c);
    }
    // Groups: their members' territories together against the atlases' group areas (confusions
    // inside a group do not touch it), and the members' agreement.
    for (const Structure* group : catalog.reporting_groups_of(p.region)) {
      if (group->kind != StructureKind::MuscleGroup) continue;
      MuscleConfidence c;
      c.slice_index = int(k), c.label = catalog.label_id(group->key, side);
      double agreement = 0;
      for (const Structure* member : catalog.members_of(group->key))
        for (std::size_t m = 0; m < count; ++m)
          if (seeds[m].label == catalog.label_id(member->key, side))
            c.area_mm2 += territory_area[m], agreement += territory_agreement[m];
      take_spread(c);
      if (c.area_mm2 <= 0 && c.atlas_mean_area_mm2 <= 0) continue;
      c.agreement = c.area_mm2 > 0 ? agreement / c.area_mm2 : 0;
      judge(c);
      prior->confidence->push_back(c);
    }
  }
  // Plausibility: every territory within a factor of its layout cell.
  const double ratio = p.muscles.uncertain_area_ratio;
  for (std::size_t m = 0; m < count; ++m) {
    if (cell_area[m] < 100) continue;  // cells under 1 cm2 (muscles appearing or ending) are not judged
    const double r = territory_area[m] / cell_area[m];
    if (r > ratio || r < 1 / ratio) return false;
  }
  return true;
}

}  // namespace

BoneSpan reference_bone_span(const LabelMap& labels, const CtProtocol& p, Side side) {
  const Geometry& g = labels.geometry;
  const LabelId bone = LabelCatalog::standard().label_id(p.level.bone_key, side);
  int first = -1, last = -1;
  for (std::size_t k = 0; k < g.size[2]; ++k) {
    const LabelId* l = labels.slice(k);
    if (std::find(l, l + g.slice_voxel_count(), bone) == l + g.slice_voxel_count()) continue;
    if (first < 0) first = int(k);
    last = int(k);
  }
  BoneSpan span;
  if (first <= 0 || last >= int(g.size[2]) - 1 || last <= first) return span;
  const double za = g.index_to_lps({0, 0, double(first)}).z, zb = g.index_to_lps({0, 0, double(last)}).z;
  span.whole = true;
  span.proximal_z = std::max(za, zb);
  span.distal_z = std::min(za, zb);
  const double length = span.proximal_z - span.distal_z;
  span.whole = length >= p.min_bone_length_mm && length <= p.max_bone_length_mm;
  return span;
}

void segment_ct_muscles(const ScalarVolume& ct, const CtProtocol& p, TissueSegmentation& seg, Progress& progress,
                        const MusclePrior* muscle_prior) {
  if (!p.muscles.enabled || p.region == BodyRegion::Any) return;
  if (muscle_prior != nullptr && muscle_prior->empty()) muscle_prior = nullptr;
  if (muscle_prior != nullptr && (muscle_prior->territory.geometry.size != ct.geometry.size ||
                                  muscle_prior->agreement.voxels.size() != muscle_prior->territory.voxels.size()))
    throw Error(ErrorCode::Internal, "muscle prior", "the atlas prior does not have the volume's geometry");
  const Geometry& g = ct.geometry;
  std::vector<std::vector<MuscleConfidence>> confidence(seg.slices.size());
  std::map<Side, BoneSpan> spans;
  for (Side side : {Side::Right, Side::Left}) spans[side] = reference_bone_span(seg.labels, p, side);
  bool fallback_level = false;
  for (const auto& s : seg.slices)
    for (const auto& leg : s.legs)
      if (!spans[leg.side].whole) fallback_level = true;
  const SideLabels right(Side::Right), left(Side::Left);
  std::vector<std::uint8_t> uncertain(g.size[2], 0);
  parallel_for(seg.slices.size(), progress, "segmenting muscles", 1.0, [&](std::size_t k) {
    const double z = g.index_to_lps({0, 0, double(k)}).z;
    if (seg.slices[k].legs.empty()) return true;
    LegFrame right_frame, left_frame;
    find_leg_frames(seg.labels.slice(k), g.size[0], g.size[1], right, left, right_frame, left_frame);
    for (const auto& leg : seg.slices[k].legs) {
      const BoneSpan& span = spans.at(leg.side);
      const double fraction = span.whole ? span.fraction_at(z) : p.level.fraction_from_proximal;
      const bool is_right = leg.side == Side::Right;
      LegPrior leg_prior;
      if (muscle_prior != nullptr) {
        leg_prior.territory = muscle_prior->territory.slice(k);
        leg_prior.agreement = muscle_prior->agreement.slice(k);
        leg_prior.spread = k < muscle_prior->area_spread.size() ? &muscle_prior->area_spread[k] : nullptr;
        leg_prior.confidence = &confidence[k];
      }
      if (!split_leg(ct, p, seg.labels.slice(k), k, leg.side, fraction, is_right ? right : left,
                     is_right ? right_frame : left_frame, muscle_prior != nullptr ? &leg_prior : nullptr))
        uncertain[k] = 1;
    }
    return true;
  });
  seg.muscle_prior = muscle_prior != nullptr ? "atlas" : "layout";
  seg.muscle_confidence.clear();
  int low_confidence_slices = 0;
  for (std::size_t k = 0; k < confidence.size(); ++k) {
    bool low = false;
    for (const auto& c : confidence[k]) low = low || c.low_confidence;
    if (low) {
      seg.slices[k].qc_flags.push_back("muscle_low_confidence");
      ++low_confidence_slices;
    }
    seg.muscle_confidence.insert(seg.muscle_confidence.end(), confidence[k].begin(), confidence[k].end());
  }
  if (muscle_prior != nullptr) {
    seg.notes.insert(seg.notes.end(), muscle_prior->notes.begin(), muscle_prior->notes.end());
    if (low_confidence_slices > 0)
      seg.notes.push_back(std::to_string(low_confidence_slices) +
                          " slice(s) have a muscle the atlases disagree on or whose area lies outside the atlases' range "
                          "(muscle_low_confidence): its values there are flagged, and withheld at the standard level");
  }
  int uncertain_count = 0;
  for (std::size_t k = 0; k < seg.slices.size(); ++k)
    if (uncertain[k]) {
      seg.slices[k].qc_flags.push_back("muscle_boundaries_uncertain");
      ++uncertain_count;
    }
  // Consistency along z: a muscle whose area in a slice is over 1.5 times both its neighbours' or
  // under both divided by 1.5 (all three over 2 cm2) spikes: anatomy changes smoothly, so the
  // split there is suspect. Muscles that start or end change monotonically and are not flagged.
  const auto& catalog = LabelCatalog::standard();
  const std::size_t nz = seg.slices.size();
  std::vector<std::map<LabelId, double>> area_mm2(nz);
  parallel_for(nz, progress, "checking muscles along z", 0.0, [&](std::size_t k) {
    std::vector<std::size_t> count;
    const LabelId* l = seg.labels.slice(k);
    for (std::size_t o = 0; o < g.slice_voxel_count(); ++o)
      if (l[o] != 0) {
        if (l[o] >= count.size()) count.resize(std::size_t(l[o]) + 1, 0);
        ++count[l[o]];
      }
    for (std::size_t label = 1; label < count.size(); ++label)
      if (count[label] > 0) area_mm2[k][LabelId(label)] = double(count[label]) * g.pixel_area_mm2();
    return true;
  });
  int jumps = 0;
  for (std::size_t k = 1; k + 1 < nz; ++k) {
    bool jump = false;
    for (const auto& [label, area] : area_mm2[k]) {
      const auto decoded = catalog.decode(label);
      if (!decoded || decoded->structure->kind != StructureKind::Muscle) continue;
      const auto before = area_mm2[k - 1].find(label), after = area_mm2[k + 1].find(label);
      if (before == area_mm2[k - 1].end() || after == area_mm2[k + 1].end()) continue;
      const double low = std::min(before->second, after->second), high = std::max(before->second, after->second);
      if (low >= 200 && area >= 200 && (area > 1.5 * high || area * 1.5 < low)) jump = true;
    }
    if (jump) {
      seg.slices[k].qc_flags.push_back("muscle_area_jump");
      ++jumps;
    }
  }
  seg.muscles_segmented = true;
  if (jumps > 0)
    seg.notes.push_back(std::to_string(jumps) + " slice(s) have a muscle whose area jumps against its neighbouring slices "
                        "(muscle_area_jump): check the muscle split there");
  if (fallback_level && muscle_prior == nullptr)
    seg.notes.push_back("the whole " + p.level.bone_key + " is not in the scan: the muscle layout of the standard level (" +
                        std::to_string(int(std::lround(100 * p.level.fraction_from_proximal))) +
                        "% from the proximal end) was used as the prior for every slice");
  if (uncertain_count > 0)
    seg.notes.push_back(std::to_string(uncertain_count) +
                        " slice(s) have a muscle territory far from its expected size (muscle_boundaries_uncertain): "
                        "check the muscle split in the QC images");
}

}  // namespace musclecsa::segment
