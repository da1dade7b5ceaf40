// Dixon analysis: noise estimate, noise-corrected fat fraction (or the vendor's map), fat-water
// swap detection and correction, then the shared compartment logic on the pseudo-CT.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <future>

#include "mri_internal.h"
#include "musclecsa/core/error.h"
#include "musclecsa/core/parallel.h"

namespace musclecsa::mri {
namespace {

constexpr double kPi = 3.14159265358979323846;
/// Signed noise-floor correction constant: E[sign(M^2 - c) sqrt|M^2 - c|] = 0 for Rayleigh M (sigma 1).
constexpr double kRicianFloorFactor = 1.7;

double median_of(std::vector<float>& v) {
  if (v.empty()) return 0;
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + long(mid), v.end());
  return v[mid];
}

std::string percent(double ff) { return std::to_string(int(std::lround(100 * ff))) + "%"; }

void check_axial(const ScalarVolume& v, const std::string& what) {
  v.geometry.validate(v.source.path);
  if (std::abs(v.geometry.axis(2).z) < 0.9)
    throw Error(ErrorCode::InvalidInput, v.source.path.empty() ? what : v.source.path,
                "the " + what + " series is not axial: muscle CSA needs axial slices (reformat or choose the axial series)");
}

}  // namespace

double estimate_noise_sd(const ScalarVolume& image) {
  std::vector<float> sample;
  sample.reserve(image.voxels.size() / 7 + 1);
  for (std::size_t o = 0; o < image.voxels.size(); o += 7) sample.push_back(image.voxels[o]);
  if (sample.size() < 100) return 0;
  std::vector<float> sorted = sample;
  const std::size_t i99 = std::size_t(0.99 * double(sorted.size() - 1));
  std::nth_element(sorted.begin(), sorted.begin() + long(i99), sorted.end());
  const double top = sorted[i99];
  if (!(top > 0)) return 0;
  // Background candidates: well below tissue and not masked to exactly zero.
  std::vector<float> low;
  std::size_t zeros = 0;
  for (float v : sample) {
    if (v <= 0) ++zeros;
    else if (v < 0.1 * top) low.push_back(v);
  }
  if (low.size() < 50 || zeros > low.size()) return 0;  // background masked by the scanner
  // Rayleigh truncated at T: E[M^2 | M < T] = 2 sigma^2 - T^2 e^-a / (1 - e^-a), a = T^2 / (2 sigma^2);
  // solved for sigma by bisection (exact when T is many sigmas, still right at SNR 5).
  // T: 4 x a first estimate from the median (partial-volume tissue stays out), at most 0.1 x tissue.
  const double sigma0 = median_of(low) / std::sqrt(2 * std::log(2.0));
  const double t = std::min(0.1 * top, 4 * sigma0);
  double m2 = 0;
  std::size_t n = 0;
  for (float v : low)
    if (v < t) m2 += double(v) * v, ++n;
  if (n < 50) return sigma0;
  m2 /= double(n);
  auto truncated_mean_square = [t](double sigma) {
    const double a = t * t / (2 * sigma * sigma);
    if (a > 50) return 2 * sigma * sigma;
    return 2 * sigma * sigma - t * t * std::exp(-a) / -std::expm1(-a);
  };
  if (m2 >= truncated_mean_square(100 * t)) return 100 * t;  // flat below T: noise far above the tissue
  double lo = 1e-4 * t, hi = 100 * t;
  for (int i = 0; i < 100; ++i) {
    const double mid = std::sqrt(lo * hi);
    (truncated_mean_square(mid) < m2 ? lo : hi) = mid;
  }
  return std::sqrt(lo * hi);
}

namespace {

/// Fat-water swap check of one slice: the ring just under the skin (subcutaneous fat) must read
/// fatty. Whole legs reading inverted, with their deep tissue reading fatty too, are corrected
/// (FF -> 1 - FF); partial inversions are flagged only.
std::vector<SwapFinding> check_swaps(const MrProtocol& p, const detail::LimbMasks& masks, Image<float>& ff,
                                     const Image<std::uint8_t>& defined, std::size_t k, bool correct) {
  const Geometry& g = ff.geometry;
  const std::size_t nx = g.size[0], ny = g.size[1], n = nx * ny;
  const std::uint8_t* limb = masks.limb.slice(k);
  const float* depth = masks.depth_mm.slice(k);
  float* f = ff.slice(k);
  const std::uint8_t* def = defined.slice(k);
  // Legs: 8-connected components of the limb mask large enough to be a leg.
  std::vector<int> component(n, -1);
  std::vector<SwapFinding> findings;
  int next = 0;
  const double px = g.pixel_area_mm2();
  for (std::size_t start = 0; start < n; ++start) {
    if (!limb[start] || component[start] >= 0) continue;
    std::vector<std::size_t> pixels = {start};
    component[start] = next;
    for (std::size_t q = 0; q < pixels.size(); ++q) {
      const std::size_t o = pixels[q];
      const long i = long(o % nx), j = long(o / nx);
      for (long dj = -1; dj <= 1; ++dj)
        for (long di = -1; di <= 1; ++di) {
          const long ii = i + di, jj = j + dj;
          if (ii < 0 || jj < 0 || ii >= long(nx) || jj >= long(ny)) continue;
          const std::size_t o2 = std::size_t(ii) + nx * std::size_t(jj);
          if (limb[o2] && component[o2] < 0) component[o2] = next, pixels.push_back(o2);
        }
    }
    ++next;
    if (double(pixels.size()) * px < 0.5 * p.compartments.min_leg_area_mm2) continue;
    double ci = 0, cj = 0;
    for (std::size_t o : pixels) ci += double(o % nx), cj += double(o / nx);
    ci /= double(pixels.size()), cj /= double(pixels.size());
    const int sectors = std::max(1, p.swap_sectors);
    std::vector<std::vector<float>> ring(std::size_t(sectors) + 0);
    std::vector<float> all_ring, deep;
    for (std::size_t o : pixels) {
      if (!def[o]) continue;
      if (depth[o] >= p.swap_ring_depth_mm[0] && depth[o] <= p.swap_ring_depth_mm[1]) {
        // Angle from anterior (image up), clockwise on the screen.
        double angle = std::atan2(double(o % nx) - ci, -(double(o / nx) - cj));
        if (angle < 0) angle += 2 * kPi;
        const int sector = std::min(sectors - 1, int(angle / (2 * kPi) * sectors));
        ring[std::size_t(sector)].push_back(f[o]);
        all_ring.push_back(f[o]);
      } else if (depth[o] > 15.0) {
        deep.push_back(f[o]);
      }
    }
    if (all_ring.size() < 20) continue;
    const double ring_ff = median_of(all_ring);
    std::vector<int> low, high;
    for (int s = 0; s < sectors; ++s) {
      auto& values = ring[std::size_t(s)];
      if (values.size() < 5) continue;
      const double m = median_of(values);
      if (m < p.swap_low_ff) low.push_back(s);
      else if (m > p.swap_high_ff) high.push_back(s);
    }
    if (low.empty()) continue;
    SwapFinding finding;
    finding.slice_index = int(k);
    const Vec3 centre = g.index_to_lps({ci, cj, double(k)});
    finding.side = centre.x > 0 ? Side::Left : Side::Right;
    finding.check = "subcutaneous_fat";
    finding.measured_ff = ring_ff;
    finding.low_sectors = low;
    finding.sectors = sectors;
    const double deep_ff = median_of(deep);
    if (high.empty() && ring_ff < p.swap_low_ff && !deep.empty() && deep_ff > 0.5) {
      // The whole leg is inverted: fat reads as water and muscle as fat. Unambiguous: exchange.
      finding.description = std::string(to_string(finding.side)) + " leg, slice " + std::to_string(k) +
                            ": subcutaneous fat reads FF " + percent(ring_ff) + " and deep tissue " + percent(deep_ff) +
                            ": water and fat are swapped in the whole leg";
      if (correct) {
        for (std::size_t o : pixels)
          if (def[o]) f[o] = 1.0f - f[o];
        finding.corrected = true;
        finding.description += "; corrected (FF -> 1 - FF in this leg and slice)";
      } else {
        finding.description += "; not corrected";
      }
    } else {
      finding.description = std::string(to_string(finding.side)) + " leg, slice " + std::to_string(k) + ": " +
                            std::to_string(low.size()) + " of " + std::to_string(sectors) +
                            " sectors of the subcutaneous fat read FF below " + percent(p.swap_low_ff) +
                            " (whole ring " + percent(ring_ff) +
                            "): a fat-water swap in part of the leg (or no subcutaneous fat there); not corrected, "
                            "measurements in this slice are unreliable";
    }
    findings.push_back(finding);
  }
  return findings;
}

}  // namespace

namespace {

/// The Dixon analysis with a fixed protocol, or "auto" (`fixed` nullptr).
MrAnalysis dixon(DixonSeries d, const MrProtocol* fixed, const quantify::LevelOptions& level, Progress& progress,
                 const anatomy::MultiAtlasOptions& atlas) {
  check_axial(d.water, "water");
  check_axial(d.fat, "fat");
  if (!d.water.geometry.same_grid_as(d.fat.geometry, 0.01))
    throw Error(ErrorCode::InvalidInput, d.fat.source.path.empty() ? "fat" : d.fat.source.path,
                "the fat series is not on the water series' grid (size, spacing, position or orientation differ): "
                "they are not one Dixon acquisition");
  for (const auto* other : {d.in_phase ? &*d.in_phase : nullptr, d.opposed_phase ? &*d.opposed_phase : nullptr,
                            d.vendor_fat_fraction ? &*d.vendor_fat_fraction : nullptr})
    if (other != nullptr && !other->geometry.same_grid_as(d.water.geometry, 0.01))
      throw Error(ErrorCode::InvalidInput, other->source.path.empty() ? "Dixon series" : other->source.path,
                  "this Dixon series is not on the water series' grid: not part of the same acquisition");
  // The thresholds: of the fixed protocol, or of a probe (with "auto" the final one is chosen from
  // the bones; thigh-mr and calf-mr share their MR thresholds).
  const MrProtocol probe_protocol = fixed ? *fixed : builtin_mr_protocol("thigh-mr");

  MrAnalysis a;
  a.kind = "dixon";
  const Geometry g = d.water.geometry;
  FatFractionMap& map = a.ff;
  // The two noise estimates (each a selection over a seventh of its volume) run side by side.
  auto fat_noise = std::async(std::launch::async, [&d] { return estimate_noise_sd(d.fat); });
  map.noise_sd_water = estimate_noise_sd(d.water);
  map.noise_sd_fat = fat_noise.get();
  const double sw = map.noise_sd_water, sf = map.noise_sd_fat;
  map.signal = ScalarVolume(g);  // filled below, every voxel
  map.signal.modality = d.water.modality;
  map.signal.unit_ucum = d.water.unit_ucum;
  map.signal.source = d.water.source;
  map.ff = Image<float>(g);
  map.defined = Image<std::uint8_t>(g);
  // Rician noise floor: a magnitude M of a zero signal is Rayleigh (mean 1.25 sigma), which biases
  // FF up in muscle and down in fat. Each component becomes sign(M^2 - c sigma^2) sqrt|M^2 - c sigma^2|
  // with c = 1.7, whose mean is zero for a zero signal (docs/mri.md); large signals are unchanged.
  auto denoise = [](double m, double sigma) {
    const double x = m * m - kRicianFloorFactor * sigma * sigma;
    return x >= 0 ? std::sqrt(x) : -std::sqrt(-x);
  };
  const std::size_t per_slice_voxels = g.slice_voxel_count();
  parallel_for(g.size[2], progress, "fat fraction", 0.05, [&](std::size_t k) {
    for (std::size_t o = k * per_slice_voxels; o < (k + 1) * per_slice_voxels; ++o) {
      const double w = d.water.voxels[o], f = d.fat.voxels[o];
      const double wc = denoise(w, sw), fc = denoise(f, sf);
      map.signal.voxels[o] = float(std::max(0.0, wc + fc));
      map.ff.voxels[o] = wc + fc > 0 ? float(std::clamp(fc / (wc + fc), -0.1, 1.1)) : 0.0f;
    }
    return true;
  });
  const double sigma = std::max(sw, sf);
  detail::LimbMasks masks = detail::limb_masks(map.signal, probe_protocol.body_fraction, progress);
  const double floor = sigma > 0 ? probe_protocol.noise_floor_sd * sigma : 0.02 * masks.tissue_level;
  NullProgress quiet;  // the whole-volume steps below are part of the stages around them
  const auto each_slice = [&](const std::function<void(std::size_t begin, std::size_t end)>& work) {
    parallel_for(g.size[2], quiet, "", 0.0, [&](std::size_t k) {
      work(k * per_slice_voxels, (k + 1) * per_slice_voxels);
      return true;
    });
  };
  each_slice([&](std::size_t begin, std::size_t end) {
    for (std::size_t o = begin; o < end; ++o) map.defined.voxels[o] = d.water.voxels[o] + d.fat.voxels[o] > floor ? 1 : 0;
  });
  // The magnitudes are not needed any more (the FF map and W + F carry on): free them early.
  const SourceSeries water_source = d.water.source;
  d.water = ScalarVolume();
  d.fat = ScalarVolume();
  map.method = "magnitude_dixon_noise_corrected";
  if (d.vendor_fat_fraction) {
    // Vendor maps come as fractions, percent or per mille: the scale follows from the range.
    std::vector<float> values;
    for (std::size_t o = 0; o < g.voxel_count(); o += 5)
      if (map.defined.voxels[o]) values.push_back(d.vendor_fat_fraction->voxels[o]);
    std::sort(values.begin(), values.end());
    const double p99 = values.empty() ? 0 : values[std::size_t(0.99 * double(values.size() - 1))];
    const double scale = p99 <= 1.5 ? 1 : p99 <= 150 ? 100 : 1000;
    map.vendor_scale = scale == 1 ? "fraction" : scale == 100 ? "percent" : "per_mille";
    for (std::size_t o = 0; o < g.voxel_count(); ++o)
      map.ff.voxels[o] = float(std::clamp(d.vendor_fat_fraction->voxels[o] / scale, 0.0, 1.0));
    map.method = "vendor_map";
    a.notes.push_back("fat fraction from the scanner's fat-fraction map (" + d.vendor_fat_fraction->source.series_description +
                      ", read as " + map.vendor_scale + "); water and fat images used for the anatomy and the swap check");
  }
  each_slice([&](std::size_t begin, std::size_t end) {
    for (std::size_t o = begin; o < end; ++o)
      if (!map.defined.voxels[o]) map.ff.voxels[o] = 0;
  });
  if (sigma <= 0) {
    a.qc_flags.push_back("noise_not_estimated");
    a.notes.push_back("no background noise found (masked background): no Rician noise correction; fat fractions near 0 "
                      "and 100% are biased by the noise");
  }

  // Fat-water swaps, slice by slice.
  std::vector<std::vector<SwapFinding>> per_slice(g.size[2]);
  parallel_for(g.size[2], progress, "fat-water swap check", 0.05, [&](std::size_t k) {
    per_slice[k] = check_swaps(probe_protocol, masks, map.ff, map.defined, k, true);
    return true;
  });
  bool corrected = false, suspected = false;
  for (auto& findings : per_slice)
    for (auto& f : findings) {
      (f.corrected ? corrected : suspected) = true;
      a.swaps.push_back(std::move(f));
    }
  if (corrected) a.qc_flags.push_back("fat_water_swap_corrected");
  if (suspected) a.qc_flags.push_back("fat_water_swap_suspected");

  // Image quality: SNR of the tissue, and a limb touching the field-of-view edge (fold-over).
  if (sigma > 0) {
    a.snr = masks.tissue_level / sigma;
    if (a.snr < probe_protocol.min_snr) {
      a.qc_flags.push_back("low_snr");
      char text[200];
      std::snprintf(text, sizeof text,
                    "signal-to-noise ratio %.1f (tissue signal / noise SD) is below %.0f: fat fractions and boundaries "
                    "are unreliable",
                    a.snr, probe_protocol.min_snr);
      a.notes.push_back(text);
    }
  }
  {
    const std::size_t nx = g.size[0], ny = g.size[1];
    std::size_t edge = 0, total = 0;
    for (std::size_t k = 0; k < g.size[2]; ++k) {
      const std::uint8_t* limb = masks.limb.slice(k);
      for (std::size_t i = 0; i < nx; ++i) edge += limb[i] + limb[i + nx * (ny - 1)], total += 2;
      for (std::size_t j = 0; j < ny; ++j) edge += limb[nx * j] + limb[nx - 1 + nx * j], total += 2;
    }
    if (total > 0 && double(edge) / double(total) > 0.02) {
      a.qc_flags.push_back("tissue_at_field_of_view_edge");
      a.notes.push_back("tissue reaches the edge of the field of view: limbs may be cut off or folded over (wrap-around); "
                        "check the QC images");
    }
  }
  // Fat volume fraction per voxel for the pseudo-CT: FF x signal / local tissue level.
  {
    Image<float> fat_part(g);
    each_slice([&](std::size_t begin, std::size_t end) {
      for (std::size_t o = begin; o < end; ++o)
        fat_part.voxels[o] = map.defined.voxels[o] && masks.local_level.voxels[o] > 0
                                 ? float(map.ff.voxels[o] * map.signal.voxels[o] / masks.local_level.voxels[o])
                                 : 0.0f;
    });
    a.pseudo_ct = detail::make_pseudo_ct(map.signal, masks, fat_part, probe_protocol.void_fraction, &a.infiltrated_regions);
  }
  a.pseudo_ct.source = water_source;
  masks = detail::LimbMasks();  // free the masks before the segmentation
  detail::segment_and_measure(a, fixed, level, progress, atlas);
  return a;
}

}  // namespace

MrAnalysis analyze_dixon(DixonSeries d, const std::string& protocol_name, const quantify::LevelOptions& level,
                         Progress& progress, const anatomy::MultiAtlasOptions& atlas) {
  if (protocol_name == "auto") return dixon(std::move(d), nullptr, level, progress, atlas);
  const MrProtocol protocol = builtin_mr_protocol(protocol_name);
  return dixon(std::move(d), &protocol, level, progress, atlas);
}

MrAnalysis analyze_dixon(DixonSeries d, const MrProtocol& protocol, const quantify::LevelOptions& level, Progress& progress,
                         const anatomy::MultiAtlasOptions& atlas) {
  return dixon(std::move(d), &protocol, level, progress, atlas);
}

}  // namespace musclecsa::mri
