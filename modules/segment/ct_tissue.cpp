// Slice-wise tissue segmentation of leg CT (docs/methods.md, "CT tissue segmentation").

#include "musclecsa/segment/ct_tissue.h"

#include <algorithm>
#include <atomic>
#include <cmath>
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

/// Circular median then mean smoothing of a per-ray profile.
std::vector<double> smooth_profile(const std::vector<double>& r, int median_half, int mean_half) {
  const int n = int(r.size());
  std::vector<double> med(r.size()), out(r.size());
  for (int k = 0; k < n; ++k) {
    std::vector<double> w;
    for (int d = -median_half; d <= median_half; ++d) w.push_back(r[std::size_t(((k + d) % n + n) % n)]);
    std::nth_element(w.begin(), w.begin() + long(w.size() / 2), w.end());
    med[std::size_t(k)] = w[w.size() / 2];
  }
  for (int k = 0; k < n; ++k) {
    double sum = 0;
    for (int d = -mean_half; d <= mean_half; ++d) sum += med[std::size_t(((k + d) % n + n) % n)];
    out[std::size_t(k)] = sum / (2 * mean_half + 1);
  }
  return out;
}

/// Linear interpolation of a per-ray profile at angle theta (radians).
double profile_at(const std::vector<double>& r, double theta) {
  const double t = (theta < 0 ? theta + 2 * std::numbers::pi : theta) / (2 * std::numbers::pi) * double(r.size());
  const std::size_t k0 = std::size_t(t) % r.size(), k1 = (k0 + 1) % r.size();
  const double a = t - std::floor(t);
  return (1 - a) * r[k0] + a * r[k1];
}

/// Segments one leg (its mask) of one slice into skin, subcutaneous fat, compartment tissues and bones.
void segment_leg(const SliceContext& s, const Mask2D& leg, Side side, const CtProtocol& p, LabelId* labels,
                 LegInSlice& found, std::vector<std::string>& notes, int slice_index) {
  const auto& catalog = LabelCatalog::standard();
  // Centroid in pixel units (fractional) and mm.
  double ci = 0, cj = 0;
  std::size_t area = 0;
  for (std::size_t o = 0; o < leg.on.size(); ++o)
    if (leg.on[o]) {
      ci += double(o % s.nx), cj += double(o / s.nx), ++area;
    }
  ci /= double(area), cj /= double(area);
  found.side = side;
  const Vec3 c_lps = s.g.index_to_lps({ci, cj, 0});
  found.centroid_x_mm = c_lps.x;
  found.centroid_y_mm = c_lps.y;

  // Radial profiles (mm): skin surface, start of subcutaneous fat, deep fascia.
  const double step_mm = 0.25;
  const double px = std::min(s.px_i, s.px_j);
  std::vector<double> r_edge(kRays), r_fat(kRays), r_fascia(kRays);
  const double max_r_mm = double(std::max(s.nx * s.px_i, s.ny * s.px_j));
  for (int k = 0; k < kRays; ++k) {
    const double theta = 2 * std::numbers::pi * (k + 0.5) / kRays;
    const double di = std::cos(theta) / s.px_i, dj = std::sin(theta) / s.px_j;  // pixels per mm
    double last_inside = 0;
    for (double r = 0; r < max_r_mm; r += step_mm) {
      if (leg.at(std::lround(ci + r * di), std::lround(cj + r * dj))) last_inside = r;
      else if (r - last_inside > 3 * px) break;
    }
    r_edge[std::size_t(k)] = last_inside;
    auto hu_at = [&](double r) { return sample(s, ci + r * di, cj + r * dj); };
    auto is_fat = [&](double r) { const float v = hu_at(r); return v <= p.adipose.high_hu && v >= p.adipose.low_hu - 100; };
    auto raw_is_fat = [&](double r) {
      const long i = std::lround(ci + r * di), j = std::lround(cj + r * dj);
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
    while (r > 0) {
      if (!is_fat(r)) {
        int solid = 0, total = 0;
        for (double q = r; q > r - 5.0 && q > 0; q -= step_mm, ++total) solid += !is_fat(q);
        if (total > 0 && solid >= 0.45 * total) break;
      }
      r -= step_mm;
    }
    r_fascia[std::size_t(k)] = r;
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
  for (std::size_t o = 0; o < leg.on.size(); ++o) {
    if (!leg.on[o]) continue;
    const double x = (double(o % s.nx) - ci) * s.px_i, y = (double(o / s.nx) - cj) * s.px_j;
    const double rho = std::hypot(x, y), theta = std::atan2(y, x);
    if (rho > profile_at(fat_start, theta)) labels[o] = skin;
    else if (rho > profile_at(fascia, theta)) labels[o] = sat;
    else compartment.on[o] = 1;
  }

  // Bones inside the compartment: cortex above bone_hu, filled; largest components first.
  Mask2D dense(s.nx, s.ny);
  for (std::size_t o = 0; o < dense.on.size(); ++o) dense.on[o] = compartment.on[o] && s.hu[o] >= p.bone_hu;
  const double pixel_mm2 = s.px_i * s.px_j;
  std::vector<Component> bones;
  for (auto& comp : detail::components(dense))
    if (double(comp.pixels.size()) * pixel_mm2 >= 20) bones.push_back(std::move(comp));
  found.bone_count = int(bones.size());
  const LabelId marrow = catalog.label_id("bone_marrow", side);
  for (std::size_t b = 0; b < bones.size(); ++b) {
    std::string key;
    if (p.region == BodyRegion::Thigh) key = b == 0 ? "femur" : "";
    else key = b == 0 ? "tibia" : (b == 1 ? "fibula" : "");
    if (key.empty()) {
      notes.push_back("slice " + std::to_string(slice_index) + ": an extra bone component (" +
                      std::to_string(int(double(bones[b].pixels.size()) * pixel_mm2)) + " mm2) left unlabelled");
      continue;
    }
    Mask2D one(s.nx, s.ny);
    for (std::size_t o : bones[b].pixels) one.on[o] = 1;
    const Mask2D filled = detail::fill_holes(one);
    const LabelId cortex = catalog.label_id(key, side);
    for (std::size_t o = 0; o < filled.on.size(); ++o) {
      if (!filled.on[o] || !compartment.on[o]) continue;
      labels[o] = s.hu[o] >= p.bone_hu ? cortex : marrow;
      compartment.on[o] = 0;
    }
  }
  // Soft tissue of the compartment: adipose (IMAT) or muscle by HU; air/gas stays unlabelled.
  const LabelId imat = catalog.label_id("imat", side), muscle = catalog.label_id("skeletal_muscle", side);
  for (std::size_t o = 0; o < compartment.on.size(); ++o) {
    if (!compartment.on[o]) continue;
    const float v = s.hu[o];
    if (v < p.adipose.low_hu) continue;
    labels[o] = v <= p.adipose.high_hu ? imat : muscle;
  }
}

}  // namespace

TissueSegmentation segment_ct_tissues(const ScalarVolume& ct, const CtProtocol& p, Progress& progress) {
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
  std::atomic<std::size_t> slices_with_legs{0}, slices_with_metal{0};
  out.slices.resize(g.size[2]);
  std::vector<std::vector<std::string>> slice_notes(g.size[2]);
  // Slices are independent: each thread writes only its own slices.
  auto segment_slice = [&](std::size_t k) {
    SliceFindings findings;
    findings.slice_index = int(k);
    const float* hu = ct.slice(k);
    const std::vector<float> smooth = detail::box3(hu, nx, ny);
    const SliceContext s{g, hu, nx, ny, g.spacing_mm[0], g.spacing_mm[1]};
    for (std::size_t o = 0; o < nx * ny; ++o)
      if (hu[o] >= p.metal_hu) {
        findings.qc_flags.push_back("metal");
        ++slices_with_metal;
        break;
      }

    Mask2D body(nx, ny);
    for (std::size_t o = 0; o < body.on.size(); ++o) body.on[o] = smooth[o] > p.body.low_hu;
    std::vector<Mask2D> legs;
    for (const auto& comp : detail::components(body)) {
      if (double(comp.pixels.size()) * pixel_mm2 < p.min_leg_area_mm2) break;
      Mask2D m(nx, ny);
      for (std::size_t o : comp.pixels) m.on[o] = 1;
      legs.push_back(detail::fill_holes(m));
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
    if (legs.empty()) findings.qc_flags.erase(std::remove(findings.qc_flags.begin(), findings.qc_flags.end(), "single_leg"),
                                              findings.qc_flags.end());
    // Sides: patient left is +x (LPS).
    std::vector<double> cx;
    for (const auto& leg : legs) {
      double sum = 0;
      std::size_t n = 0;
      for (std::size_t o = 0; o < leg.on.size(); ++o)
        if (leg.on[o]) sum += g.index_to_lps({double(o % nx), double(o / nx), double(k)}).x, ++n;
      cx.push_back(n ? sum / double(n) : 0);
    }
    if (legs.size() == 2) sides = cx[0] > cx[1] ? std::vector<Side>{Side::Left, Side::Right} : std::vector<Side>{Side::Right, Side::Left};
    else if (legs.size() == 1) sides = {cx[0] > 0 ? Side::Left : Side::Right};
    for (std::size_t l = 0; l < legs.size(); ++l) {
      LegInSlice found;
      segment_leg(s, legs[l], sides[l], p, out.labels.slice(k), found, slice_notes[k], int(k));
      findings.legs.push_back(found);
    }
    if (!legs.empty()) ++slices_with_legs;
    out.slices[k] = std::move(findings);
  };
  parallel_for(g.size[2], progress, "segmenting tissues", 1.0, [&](std::size_t k) {
    segment_slice(k);
    return true;
  });
  for (auto& notes : slice_notes) out.notes.insert(out.notes.end(), notes.begin(), notes.end());
  if (slices_with_legs == 0) {
    out.qc_flags.push_back("no_legs_found");
    out.notes.push_back("no body cross-section between " + std::to_string(int(p.min_leg_area_mm2)) + " and " +
                        std::to_string(int(p.max_leg_area_mm2)) +
                        " mm2 in any slice: not a leg CT (e.g. abdomen), or the legs are out of the field of view");
  }
  if (slices_with_metal > 0) {
    out.qc_flags.push_back("metal");
    out.notes.push_back(std::to_string(slices_with_metal.load()) + " slice(s) contain values above " +
                        std::to_string(int(p.metal_hu)) + " HU (metal): streak artefacts may bias HU and areas");
  }
  return out;
}

}  // namespace musclecsa::segment
