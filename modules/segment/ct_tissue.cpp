// Slice-wise tissue segmentation of leg CT (docs/methods.md, "CT tissue segmentation").

#include "musclecsa/segment/ct_tissue.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numbers>

#include "mask2d.h"
#include "musclecsa/core/error.h"
#include "musclecsa/core/parallel.h"

namespace musclecsa::segment {
namespace {

using detail::Component;
using detail::Mask2D;

constexpr int kRays = 360;

struct SliceContext {
  const Geometry& g;
  const float* hu;        // raw HU of the slice
  std::size_t nx, ny;
  double px_i, px_j;      // pixel spacing (mm) along i and j
};

/// Bilinear sample of the raw slice at continuous pixel (i, j). Raw, not smoothed: the deep fascia
/// is thinner than a pixel and a smoothing kernel would average it away.
float sample(const SliceContext& s, double i, double j) {
  if (i < 0 || j < 0 || i > double(s.nx - 1) || j > double(s.ny - 1)) return -1000;
  const std::size_t i0 = std::size_t(i), j0 = std::size_t(j);
  const std::size_t i1 = std::min(i0 + 1, s.nx - 1), j1 = std::min(j0 + 1, s.ny - 1);
  const double a = i - double(i0), b = j - double(j0);
  return static_cast<float>((1 - a) * (1 - b) * s.hu[i0 + s.nx * j0] + a * (1 - b) * s.hu[i1 + s.nx * j0] +
                            (1 - a) * b * s.hu[i0 + s.nx * j1] + a * b * s.hu[i1 + s.nx * j1]);
}

/// std::lround (halves away from zero) without the library call: exact for |v| < 2^52.
inline long round_half_away(double v) {
  const long t = long(v);
  const double f = v - double(t);  // exact
  return t + long(f >= 0.5) - long(f <= -0.5);  // branch-free: the fraction is unpredictable
}

/// Circular median then mean smoothing of a per-ray profile.
std::vector<double> smooth_profile(const std::vector<double>& r, int median_half, int mean_half) {
  const int n = int(r.size());
  std::vector<double> med(r.size()), out(r.size());
  std::vector<double> w(std::size_t(2 * median_half + 1));
  const auto wrap = [n](int k) { return std::size_t(k < 0 ? k + n : (k >= n ? k - n : k)); };  // |k| < 2n
  for (int k = 0; k < n; ++k) {
    for (int d = -median_half; d <= median_half; ++d) w[std::size_t(d + median_half)] = r[wrap(k + d)];
    std::nth_element(w.begin(), w.begin() + long(w.size() / 2), w.end());
    med[std::size_t(k)] = w[w.size() / 2];
  }
  for (int k = 0; k < n; ++k) {
    double sum = 0;
    for (int d = -mean_half; d <= mean_half; ++d) sum += med[wrap(k + d)];
    out[std::size_t(k)] = sum / (2 * mean_half + 1);
  }
  return out;
}

/// Linear interpolation of a per-ray profile at angle theta (radians).
double profile_at(const std::vector<double>& r, double theta) {
  const std::size_t n = r.size();
  const double t = (theta < 0 ? theta + 2 * std::numbers::pi : theta) / (2 * std::numbers::pi) * double(n);
  const std::size_t whole = std::size_t(t);  // t >= 0: whole == floor(t)
  const std::size_t k0 = whole < n ? whole : whole % n, k1 = k0 + 1 == n ? 0 : k0 + 1;
  const double a = t - double(whole);
  return (1 - a) * r[k0] + a * r[k1];
}

/// atan2(y, x) mapped to [0, 2 pi) within 1e-5 rad (Abramowitz & Stegun 4.4.47 on the octant):
/// only to choose which profile bins bound a pixel, never as the angle itself.
inline double approx_angle(double y, double x) {
  const double ax = std::abs(x), ay = std::abs(y);
  const double hi = std::max(ax, ay);
  if (hi == 0) return 0;
  const double a = std::min(ax, ay) / hi, s2 = a * a;
  double t = a * (0.9998660 + s2 * (-0.3302995 + s2 * (0.1801410 + s2 * (-0.0851330 + s2 * 0.0208351))));
  if (ay > ax) t = std::numbers::pi / 2 - t;
  if (x < 0) t = std::numbers::pi - t;
  if (y < 0) t = 2 * std::numbers::pi - t;
  return t;
}

/// Exactly `std::hypot(x, y) > v`, given q = x*x + y*y: hypot (slow) only when q is within a
/// relative 1e-12 of v*v, far more than the few ulps q and hypot can be off.
inline bool farther_than(double x, double y, double q, double v) {
  if (v > 1e-3) {
    const double v2 = v * v;
    if (q < v2 * (1 - 1e-12)) return false;
    if (q > v2 * (1 + 1e-12)) return true;
  }
  return std::hypot(x, y) > v;
}

/// Segments one leg (its mask) of one slice into skin, subcutaneous fat, compartment tissues and bones.
void segment_leg(const SliceContext& s, const Mask2D& leg, Side side, const CtProtocol& p, LabelId* labels,
                 LegInSlice& found, std::vector<int>& extra_bone_mm2) {
  const auto& catalog = LabelCatalog::standard();
  // Centroid in pixel units (fractional) and mm: sums of whole numbers, exact in any order, over
  // the leg's bounding box (all later pixel work stays in it too).
  const detail::Box box = detail::bounding_box(leg);
  double ci = 0, cj = 0;
  std::size_t area = 0;
  if (!box.empty)
    for (std::size_t j = box.j0; j <= box.j1; ++j) {
      const std::uint8_t* row = leg.on.data() + s.nx * j;
      std::size_t row_area = 0;
      double row_i = 0;
      for (std::size_t i = box.i0; i <= box.i1; ++i)
        if (row[i]) row_i += double(i), ++row_area;
      ci += row_i, cj += double(j) * double(row_area), area += row_area;
    }
  ci /= double(area), cj /= double(area);
  found.side = side;
  const Vec3 c_lps = s.g.index_to_lps({ci, cj, 0});
  found.centroid_x_mm = c_lps.x;
  found.centroid_y_mm = c_lps.y;

  // Radial profiles (mm): skin surface, start of subcutaneous fat, deep fascia.
  constexpr double step_mm = 0.25;  // a power of two: radii stepped from 0 are exact
  const double px = std::min(s.px_i, s.px_j);
  std::vector<double> r_edge(kRays), r_fat(kRays), r_fascia(kRays);
  const double max_r_mm = double(std::max(s.nx * s.px_i, s.ny * s.px_j));
  // Chessboard distance of each leg pixel to the nearest pixel off the leg (two-pass chamfer over
  // the box with a border of zeros: off the box is off the leg).
  const std::size_t depth_w = box.empty ? 0 : box.i1 - box.i0 + 3, depth_h = box.empty ? 0 : box.j1 - box.j0 + 3;
  std::vector<int> inside_depth(depth_w * depth_h, 0);  // index (i - i0 + 1) + depth_w * (j - j0 + 1)
  // Each pass: the three neighbours in the finished row first, then the running one along the row.
  std::vector<int> row_min(depth_w, 0);
  for (std::size_t b = 1; b + 1 < depth_h; ++b) {
    const std::uint8_t* row = leg.on.data() + box.i0 - 1 + s.nx * (box.j0 + b - 1);
    int* d = inside_depth.data() + depth_w * b;
    const int* up = d - depth_w;
    for (std::size_t a = 1; a + 1 < depth_w; ++a) row_min[a] = std::min(std::min(up[a - 1], up[a]), up[a + 1]);
    int left = 0;
    for (std::size_t a = 1; a + 1 < depth_w; ++a) left = d[a] = row[a] ? 1 + std::min(left, row_min[a]) : 0;
  }
  for (std::size_t b = depth_h >= 2 ? depth_h - 2 : 0; b >= 1 && b + 1 < depth_h; --b) {
    int* d = inside_depth.data() + depth_w * b;
    const int* down = d + depth_w;
    for (std::size_t a = 1; a + 1 < depth_w; ++a) row_min[a] = std::min(std::min(down[a - 1], down[a]), down[a + 1]);
    int right = 0;
    for (std::size_t a = depth_w - 2; a >= 1; --a) right = d[a] = d[a] ? std::min(d[a], 1 + std::min(right, row_min[a])) : 0;
  }
  std::vector<double> radii;            // one ray's samples inward from the fat start
  std::vector<signed char> fat_flags;   // is_fat of each (-1: not yet sampled)
  for (int k = 0; k < kRays; ++k) {
    const double theta = 2 * std::numbers::pi * (k + 0.5) / kRays;
    const double di = std::cos(theta) / s.px_i, dj = std::sin(theta) / s.px_j;  // pixels per mm
    // Steps known to land inside the leg (within the chessboard distance of the last inside pixel)
    // are taken without looking: the same r values, the same last_inside.
    const double px_per_step = step_mm * std::max(std::abs(di), std::abs(dj));
    double last_inside = 0;
    for (double r = 0; r < max_r_mm; r += step_mm) {
      const long i = round_half_away(ci + r * di), j = round_half_away(cj + r * dj);
      if (leg.at(i, j)) {
        last_inside = r;
        // Later samples move by at most n * px_per_step + 1 pixels (rounding) along either axis.
        const int d = inside_depth[std::size_t(i) - box.i0 + 1 + depth_w * (std::size_t(j) - box.j0 + 1)];
        // r is a multiple of step_mm (a power of two) far below 2^50: n additions are one exact jump.
        long n = long((d - 1 - 1e-6) / px_per_step);
        if (n > 0) {
          n = std::min(n, long(std::ceil((max_r_mm - r) / step_mm)) - 1);  // keep r < max_r_mm
          while (n > 0 && r + double(n) * step_mm >= max_r_mm) --n;
          if (n > 0) r += double(n) * step_mm, last_inside = r;
        }
      } else if (r - last_inside > 3 * px) {
        break;
      }
    }
    r_edge[std::size_t(k)] = last_inside;
    auto hu_at = [&](double r) { return sample(s, ci + r * di, cj + r * dj); };
    auto is_fat = [&](double r) { const float v = hu_at(r); return v <= p.adipose.high_hu && v >= p.adipose.low_hu - 100; };
    auto raw_is_fat = [&](double r) {
      const long i = round_half_away(ci + r * di), j = round_half_away(cj + r * dj);
      if (i < 0 || j < 0 || i >= long(s.nx) || j >= long(s.ny)) return false;
      return p.adipose.contains(s.hu[std::size_t(i) + s.nx * std::size_t(j)]);
    };
    // Skin: non-fat tissue under the surface (raw HU: smoothing would mix in the air), at most
    // max_skin_mm thick.
    double r = last_inside;
    while (r > 0 && last_inside - r < p.max_skin_mm && !raw_is_fat(r)) r -= step_mm;
    if (!raw_is_fat(r)) {  // no subcutaneous fat on this ray (thin or absent)
      r_fat[std::size_t(k)] = r_fascia[std::size_t(k)] = std::max(0.0, last_inside - 1.5);
      continue;
    }
    r_fat[std::size_t(k)] = r;
    // Subcutaneous fat until tissue that is largely non-fat over the next 5 mm: the deep fascia with
    // the muscle behind it (thin fat under the fascia and fatty streaks in the muscle allowed). A
    // thin septum inside the fat (about 10% of such a window) is not.
    // The window's samples are the walk's own next samples (q -= step_mm from r gives exactly the
    // walk's next r), so each sample is classified once and reused.
    radii.assign(1, r);
    fat_flags.assign(1, -1);
    const auto radius = [&](std::size_t m) {
      while (radii.size() <= m) radii.push_back(radii.back() - step_mm), fat_flags.push_back(-1);
      return radii[m];
    };
    const auto fat_sample = [&](std::size_t m) {
      radius(m);
      if (fat_flags[m] < 0) fat_flags[m] = is_fat(radii[m]) ? 1 : 0;
      return fat_flags[m] == 1;
    };
    std::size_t m = 0;
    while (radii[m] > 0) {
      if (!fat_sample(m)) {
        int solid = 0, total = 0;
        const double window_end = radii[m] - 5.0;
        for (std::size_t t = m; radius(t) > window_end && radii[t] > 0; ++t, ++total) solid += !fat_sample(t);
        if (total > 0 && solid >= 0.45 * total) break;
      }
      radius(++m);
    }
    r_fascia[std::size_t(k)] = radii[m];
  }
  // The first fat (or first non-fat) sample marks where the tissue starts; pixels centred within
  // half a pixel of it belong to that tissue (the thin skin: a fifth, measured on the phantoms).
  for (int k = 0; k < kRays; ++k) {
    r_fat[std::size_t(k)] -= 0.2 * px;
    r_fascia[std::size_t(k)] += 0.5 * px;
  }
  const auto fat_start = smooth_profile(r_fat, 4, 2);
  const auto fascia = smooth_profile(r_fascia, 7, 3);

  // Classify the leg's pixels by radius; compartment pixels by HU; then bones.
  Mask2D compartment(s.nx, s.ny);
  const LabelId skin = catalog.label_id("skin", side), sat = catalog.label_id("subcutaneous_fat", side);
  // Same decisions as comparing rho = hypot(x, y) with both profiles at theta = atan2(y, x), but a
  // pixel whose radius is clearly on one side of every profile value its angle can interpolate
  // needs neither: bounds per ray bin from an approximate angle (error < 1e-5 rad, far inside
  // the +-1 bin window), with margins far above rounding. Only pixels near a boundary are exact.
  const std::size_t n_bins = fat_start.size();
  double max_abs = 1;
  for (std::size_t b = 0; b < n_bins; ++b) max_abs = std::max({max_abs, std::abs(fat_start[b]), std::abs(fascia[b])});
  const double slack = 1e-9 * max_abs;
  // Squared-radius thresholds: q below q_below(v) means rho < v; q above q_above(v) means rho > v.
  const auto q_below = [&](double v) { v -= slack; return v > 1e-3 ? v * v * (1 - 1e-12) : -1.0; };
  const auto q_above = [&](double v) {
    v += slack;
    return v > 1e-3 ? v * v * (1 + 1e-12) : std::numeric_limits<double>::infinity();
  };
  // Bin window K-1..K+2 holds both interpolation ends for any angle within 0.06 bins of bin K.
  std::vector<double> q_inside(n_bins), q_skin(n_bins), q_not_skin(n_bins), q_sat(n_bins);
  for (std::size_t k = 0; k < n_bins; ++k) {
    double fat_lo = fat_start[k], fat_hi = fat_lo, fascia_lo = fascia[k], fascia_hi = fascia_lo;
    for (std::size_t d : {n_bins - 1, std::size_t{1}, std::size_t{2}}) {
      const std::size_t b = (k + d) % n_bins;
      fat_lo = std::min(fat_lo, fat_start[b]), fat_hi = std::max(fat_hi, fat_start[b]);
      fascia_lo = std::min(fascia_lo, fascia[b]), fascia_hi = std::max(fascia_hi, fascia[b]);
    }
    q_inside[k] = q_below(std::min(fat_lo, fascia_lo));  // below both: compartment
    q_skin[k] = q_above(fat_hi);                          // beyond the fat start: skin
    q_not_skin[k] = q_below(fat_lo);                      // within the fat start ...
    q_sat[k] = q_above(fascia_hi);                        // ... and beyond the fascia: fat
  }
  const double bins_per_rad = double(n_bins) / (2 * std::numbers::pi);
  const double q_deep = *std::min_element(q_inside.begin(), q_inside.end());  // inside every bin's bound
  if (!box.empty)
    for (std::size_t j = box.j0; j <= box.j1; ++j)
      for (std::size_t i = box.i0; i <= box.i1; ++i) {
        const std::size_t o = i + s.nx * j;
        if (!leg.on[o]) continue;
        const double x = (double(i) - ci) * s.px_i, y = (double(j) - cj) * s.px_j;
        const double q = x * x + y * y;
        if (q < q_deep) {  // most of the leg: no angle needed
          compartment.on[o] = 1;
          continue;
        }
        std::size_t k = std::size_t(approx_angle(y, x) * bins_per_rad);  // angle >= 0: truncation = floor
        while (k >= n_bins) k -= n_bins;                                       // 2 pi itself: bin 0
        if (q < q_inside[k]) {
          compartment.on[o] = 1;
          continue;
        }
        if (q > q_skin[k]) {
          labels[o] = skin;
          continue;
        }
        if (q < q_not_skin[k] && q > q_sat[k]) {
          labels[o] = sat;
          continue;
        }
        const double theta = std::atan2(y, x);
        if (farther_than(x, y, q, profile_at(fat_start, theta))) labels[o] = skin;
        else if (farther_than(x, y, q, profile_at(fascia, theta))) labels[o] = sat;
        else compartment.on[o] = 1;
      }

  // Bones inside the compartment: cortex above bone_hu, filled; largest components first.
  // The compartment lies inside the leg's box: the bone work stays there.
  Mask2D dense(s.nx, s.ny);
  if (!box.empty)
    for (std::size_t j = box.j0; j <= box.j1; ++j)
      for (std::size_t o = box.i0 + s.nx * j; o <= box.i1 + s.nx * j; ++o) dense.on[o] = compartment.on[o] && s.hu[o] >= p.bone_hu;
  const double pixel_mm2 = s.px_i * s.px_j;
  std::vector<Component> bones;
  for (auto& comp : detail::components(dense, box))
    if (double(comp.pixels.size()) * pixel_mm2 >= 20) bones.push_back(std::move(comp));
  found.bone_count = int(bones.size());
  const LabelId marrow = catalog.label_id("bone_marrow", side);
  for (std::size_t b = 0; b < bones.size(); ++b) {
    std::string key;
    if (p.region == BodyRegion::Thigh) key = b == 0 ? "femur" : "";
    else key = b == 0 ? "tibia" : (b == 1 ? "fibula" : "");
    if (key.empty()) {
      extra_bone_mm2.push_back(int(double(bones[b].pixels.size()) * pixel_mm2));
      continue;
    }
    Mask2D one(s.nx, s.ny);
    for (std::size_t o : bones[b].pixels) one.on[o] = 1;
    const detail::Box& bone_box = bones[b].box;
    const Mask2D filled = detail::fill_holes(one, bone_box);  // on only inside bone_box
    const LabelId cortex = catalog.label_id(key, side);
    for (std::size_t j = bone_box.j0; j <= bone_box.j1; ++j)
      for (std::size_t o = bone_box.i0 + s.nx * j; o <= bone_box.i1 + s.nx * j; ++o) {
        if (!filled.on[o] || !compartment.on[o]) continue;
        labels[o] = s.hu[o] >= p.bone_hu ? cortex : marrow;
        compartment.on[o] = 0;
      }
  }
  // Soft tissue of the compartment: adipose (IMAT) or muscle by HU; air/gas stays unlabelled.
  const LabelId imat = catalog.label_id("imat", side), muscle = catalog.label_id("skeletal_muscle", side);
  if (!box.empty)
    for (std::size_t j = box.j0; j <= box.j1; ++j)
      for (std::size_t o = box.i0 + s.nx * j; o <= box.i1 + s.nx * j; ++o) {
        if (!compartment.on[o]) continue;
        const float v = s.hu[o];
        if (v < p.adipose.low_hu) continue;
        labels[o] = v <= p.adipose.high_hu ? imat : muscle;
      }
}

}  // namespace

TissueSegmentation segment_ct_tissues(const ScalarVolume& ct, const CtProtocol& p, Progress& progress, TissueValues values) {
  const bool from_mr = values == TissueValues::PseudoCtFromMr;
  if (ct.modality != Modality::CT)
    throw Error(ErrorCode::InvalidInput, ct.source.path.empty() ? "input" : ct.source.path,
                "CT tissue segmentation needs a CT volume (modality " + std::string(to_string(ct.modality)) + ")");
  const Geometry& g = ct.geometry;
  g.validate(ct.source.path);
  if (std::abs(g.axis(2).z) < 0.9)
    throw Error(ErrorCode::InvalidInput, ct.source.path.empty() ? "input" : ct.source.path,
                "the series is not axial (slice normal " + std::to_string(g.axis(2).x) + ", " +
                    std::to_string(g.axis(2).y) + ", " + std::to_string(g.axis(2).z) + "): leg CSA needs axial slices");
  TissueSegmentation out;
  out.labels = LabelMap(g);
  const std::size_t nx = g.size[0], ny = g.size[1];
  const double pixel_mm2 = g.pixel_area_mm2();
  std::atomic<std::size_t> slices_with_legs{0}, slices_with_metal{0}, slices_with_cut_limb{0};
  out.slices.resize(g.size[2]);
  std::vector<std::vector<int>> extra_bones_mm2(g.size[2]);  // bone components beyond the expected ones
  // Slices are independent: each thread writes only its own slices.
  auto segment_slice = [&](std::size_t k) {
    SliceFindings findings;
    findings.slice_index = int(k);
    const float* hu = ct.slice(k);
    const SliceContext s{g, hu, nx, ny, g.spacing_mm[0], g.spacing_mm[1]};
    for (std::size_t o = 0; o < nx * ny; ++o)
      if (hu[o] >= p.metal_hu) {
        findings.qc_flags.push_back("metal");
        ++slices_with_metal;
        break;
      }

    const Mask2D body = detail::box3_above(hu, nx, ny, p.body.low_hu);
    std::vector<Mask2D> legs;
    for (const auto& comp : detail::components(body)) {
      if (double(comp.pixels.size()) * pixel_mm2 < p.min_leg_area_mm2) break;
      Mask2D m(nx, ny);
      for (std::size_t o : comp.pixels) m.on[o] = 1;
      legs.push_back(detail::fill_holes(m, comp.box));
      if (legs.size() == 2) break;
    }
    std::vector<Side> sides;
    const auto area_of = [&](const Mask2D& m) {
      return double(std::count(m.on.begin(), m.on.end(), std::uint8_t{1})) * pixel_mm2;
    };
    if (legs.size() == 1) {
      // One body component: two legs touching (two separate bone groups far apart), or one leg.
      Mask2D dense(nx, ny);
      for (std::size_t o = 0; o < dense.on.size(); ++o) dense.on[o] = legs[0].on[o] && hu[o] >= p.bone_hu;
      std::vector<double> bone_x;
      for (const auto& comp : detail::components(dense))
        if (double(comp.pixels.size()) * pixel_mm2 >= 40) bone_x.push_back(comp.centroid_i * g.spacing_mm[0]);
      std::sort(bone_x.begin(), bone_x.end());
      double gap = 0, split_mm = 0;
      for (std::size_t b = 1; b < bone_x.size(); ++b)
        if (bone_x[b] - bone_x[b - 1] > gap) {
          gap = bone_x[b] - bone_x[b - 1];
          // The legs meet at the column with the fewest body pixels between the two bone groups.
          std::size_t best = 0, best_count = ny + 1;
          for (std::size_t i = std::size_t(bone_x[b - 1] / g.spacing_mm[0]); i <= std::size_t(bone_x[b] / g.spacing_mm[0]) && i < nx; ++i) {
            std::size_t count = 0;
            for (std::size_t j = 0; j < ny; ++j) count += legs[0].on[i + nx * j];
            if (count < best_count) best_count = count, best = i;
          }
          split_mm = double(best) * g.spacing_mm[0];
        }
      if (gap > 60) {
        Mask2D a(nx, ny), b(nx, ny);
        const std::size_t split = std::size_t(split_mm / g.spacing_mm[0]);
        for (std::size_t o = 0; o < legs[0].on.size(); ++o)
          if (legs[0].on[o]) (o % nx < split ? a : b).on[o] = 1;
        legs = {a, b};
        findings.qc_flags.push_back("legs_touching_split");
      } else {
        findings.qc_flags.push_back("single_leg");
      }
    }
    // A section larger than one leg that could not be split into two is no leg (abdomen, pelvis);
    // what lies beside a torso in the same slice is an arm or an object, not a leg either.
    const bool torso = std::any_of(legs.begin(), legs.end(), [&](const Mask2D& m) { return area_of(m) > p.max_leg_area_mm2; });
    if (torso) {
      findings.qc_flags.push_back("not_a_leg_section");
      legs.clear();
    }
    // The field of view's edge: a section covering most of it is no leg but a uniform image (a
    // phantom cylinder filling the view, a blank or masked volume); a leg lying on it over 5 mm or
    // more is cut off there, and its limb and fat areas are too small (a few grazing pixels are not).
    {
      const std::size_t border = 2 * (nx + ny) - 4;
      const double cut_pixels = 5.0 / std::min(s.px_i, s.px_j);
      bool fills = false, cut = false;
      for (const auto& leg : legs) {
        std::size_t on_border = 0;
        for (std::size_t i = 0; i < nx; ++i) on_border += leg.on[i] + leg.on[i + nx * (ny - 1)];
        for (std::size_t j = 1; j + 1 < ny; ++j) on_border += leg.on[nx * j] + leg.on[nx - 1 + nx * j];
        if (double(on_border) > 0.5 * double(border)) fills = true;
        else if (double(on_border) >= cut_pixels) cut = true;
      }
      if (fills) {
        findings.qc_flags.push_back("section_fills_field_of_view");
        legs.clear();
      } else if (cut) {
        findings.qc_flags.push_back("limb_cut_by_field_of_view");
        ++slices_with_cut_limb;
      }
    }
    if (legs.empty()) findings.qc_flags.erase(std::remove(findings.qc_flags.begin(), findings.qc_flags.end(), "single_leg"),
                                              findings.qc_flags.end());
    // Sides: patient left is +x (LPS).
    // Mean LPS x of each leg: g.index_to_lps(i, j, k).x term by term in its order (same sum).
    std::vector<double> cx;
    const double ox = g.origin_lps_mm.x, ax = g.direction[0], ay = g.direction[1], az = g.direction[2];
    const double z_term = (double(k) * g.spacing_mm[2]) * az;
    for (const auto& leg : legs) {
      double sum = 0;
      std::size_t n = 0;
      const detail::Box box = detail::bounding_box(leg);
      for (std::size_t j = box.j0; !box.empty && j <= box.j1; ++j) {
        const std::uint8_t* row = leg.on.data() + nx * j;
        const double y_term = (double(j) * g.spacing_mm[1]) * ay;
        for (std::size_t i = box.i0; i <= box.i1; ++i)
          if (row[i]) sum += ((ox + (double(i) * g.spacing_mm[0]) * ax) + y_term) + z_term, ++n;
      }
      cx.push_back(n ? sum / double(n) : 0);
    }
    if (legs.size() == 2) sides = cx[0] > cx[1] ? std::vector<Side>{Side::Left, Side::Right} : std::vector<Side>{Side::Right, Side::Left};
    else if (legs.size() == 1) sides = {cx[0] > 0 ? Side::Left : Side::Right};
    for (std::size_t l = 0; l < legs.size(); ++l) {
      LegInSlice found;
      segment_leg(s, legs[l], sides[l], p, out.labels.slice(k), found, extra_bones_mm2[k]);
      findings.legs.push_back(found);
    }
    if (!legs.empty()) ++slices_with_legs;
    out.slices[k] = std::move(findings);
  };
  parallel_for(g.size[2], progress, "segmenting tissues", 1.0, [&](std::size_t k) {
    segment_slice(k);
    return true;
  });
  // Extra bone components (the pelvis or patella at the scan's ends, calcifications): one note
  // naming the slices, not one line per component.
  {
    std::vector<std::size_t> slices;
    std::size_t components = 0;
    int smallest = std::numeric_limits<int>::max(), largest = 0;
    for (std::size_t k = 0; k < extra_bones_mm2.size(); ++k) {
      if (extra_bones_mm2[k].empty()) continue;
      slices.push_back(k);
      components += extra_bones_mm2[k].size();
      for (int a : extra_bones_mm2[k]) smallest = std::min(smallest, a), largest = std::max(largest, a);
    }
    if (!slices.empty()) {
      std::string ranges;  // runs of consecutive slices: "58-60, 350-351"
      for (std::size_t n = 0; n < slices.size();) {
        std::size_t m = n;
        while (m + 1 < slices.size() && slices[m + 1] == slices[m] + 1) ++m;
        ranges += (ranges.empty() ? "" : ", ") + std::to_string(slices[n]) + (m > n ? "-" + std::to_string(slices[m]) : "");
        n = m + 1;
      }
      out.notes.push_back(std::to_string(components) + " extra bone component(s) (" + std::to_string(smallest) +
                          (largest > smallest ? "-" + std::to_string(largest) : "") + " mm2) not counted as bone in " +
                          std::to_string(slices.size()) + " slice(s): " + ranges +
                          (from_mr ? " (e.g. the pelvis or patella at the ends of the scan, or another signal void inside the limb)"
                                   : " (e.g. the pelvis or patella at the ends of the scan; their HU lie above the muscle range)"));
    }
  }
  if (slices_with_legs == 0) {
    out.qc_flags.push_back("no_legs_found");
    out.notes.push_back("no body cross-section between " + std::to_string(int(p.min_leg_area_mm2)) + " and " +
                        std::to_string(int(p.max_leg_area_mm2)) +
                        " mm2 in any slice: not a leg CT (e.g. abdomen), or the legs are out of the field of view");
  }
  // Legs without any bone in the whole scan: no femur, tibia or fibula anywhere is no leg CT (or a
  // volume whose values are not HU): no numbers rather than confident wrong ones.
  const bool any_bone = std::any_of(out.slices.begin(), out.slices.end(), [](const SliceFindings& f) {
    return std::any_of(f.legs.begin(), f.legs.end(), [](const LegInSlice& leg) { return leg.bone_count > 0; });
  });
  if (slices_with_legs > 0 && !any_bone) {
    out.qc_flags.push_back("no_bone_found");
    out.notes.push_back(from_mr ? "a body section was found in " + std::to_string(slices_with_legs.load()) +
                                      " slice(s) but no bone (no cortical signal void or marrow) in any: not a leg MRI; "
                                      "nothing is measured"
                                : "a body section was found in " + std::to_string(slices_with_legs.load()) +
                                      " slice(s) but no bone (>= " + std::to_string(int(p.bone_hu)) +
                                      " HU) in any: not a leg CT, or its values are not Hounsfield units; nothing is measured");
    // Nothing is measured, so a leg cut by the field of view changes no number: no edge flag or note.
    for (auto& f : out.slices) {
      f.legs.clear();
      std::erase_if(f.qc_flags, [](const std::string& flag) {
        return flag == "single_leg" || flag == "legs_touching_split" || flag == "limb_cut_by_field_of_view";
      });
    }
    std::fill(out.labels.voxels.begin(), out.labels.voxels.end(), LabelId{0});
    slices_with_cut_limb = 0;
  }
  if (slices_with_cut_limb > 0) {
    out.qc_flags.push_back("limb_cut_by_field_of_view");
    out.notes.push_back(std::to_string(slices_with_cut_limb.load()) +
                        " slice(s) have a leg lying on the edge of the field of view (5 mm or more): the leg is cut off there, so its "
                        "limb and subcutaneous fat areas (and possibly muscle) are too small; check the QC images");
  }
  if (slices_with_metal > 0) {
    out.qc_flags.push_back("metal");
    out.notes.push_back(from_mr ? std::to_string(slices_with_metal.load()) +
                                      " slice(s) hold what the compartment logic reads as metal: susceptibility artefacts may "
                                      "bias the areas and fat fractions"
                                : std::to_string(slices_with_metal.load()) + " slice(s) contain values above " +
                                      std::to_string(int(p.metal_hu)) + " HU (metal): streak artefacts may bias HU and areas");
  }
  return out;
}

}  // namespace musclecsa::segment
