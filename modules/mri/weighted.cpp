// T1- (or T2-) weighted analysis: N4 bias-field correction, k-means tissue classes inside the limb
// (dark: fascia and bone, mid: muscle, bright: fat on T1), a relative fat signal per voxel, then
// the shared compartment logic on the pseudo-CT.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "mri_internal.h"
#include "musclecsa/core/error.h"

namespace musclecsa::mri {

namespace {

/// The weighted analysis with a fixed protocol, or "auto" (`fixed` nullptr); N4 as `n4` says.
MrAnalysis weighted(const ScalarVolume& image, const MrProtocol* fixed, const quantify::LevelOptions& level,
                    const N4Settings& n4, Progress& progress, const anatomy::MultiAtlasOptions& atlas) {
  image.geometry.validate(image.source.path);
  if (std::abs(image.geometry.axis(2).z) < 0.9)
    throw Error(ErrorCode::InvalidInput, image.source.path.empty() ? "input" : image.source.path,
                "the series is not axial: muscle CSA needs axial slices (reformat or choose the axial series)");
  const MrProtocol probe_protocol = fixed ? *fixed : builtin_mr_protocol("thigh-mr");
  MrAnalysis a;
  a.kind = "t1";
  const Geometry& g = image.geometry;
  const double sigma = estimate_noise_sd(image);
  a.ff.noise_sd_water = a.ff.noise_sd_fat = sigma;

  // A generous limb mask on the raw image (a quarter of the median tissue signal, which muscle
  // passes even under a 30% bias), N4 inside it; the final masks come after the classes.
  std::vector<float> bright;
  {
    std::vector<float> all;
    for (std::size_t o = 0; o < g.voxel_count(); o += 3) all.push_back(image.voxels[o]);
    std::sort(all.begin(), all.end());
    const double p99 = all.empty() ? 0 : all[std::size_t(0.99 * double(all.size() - 1))];
    for (float v : all)
      if (v > std::max(5 * sigma, 0.05 * p99)) bright.push_back(v);
  }
  if (bright.size() < 1000)
    throw Error(ErrorCode::InvalidInput, image.source.path.empty() ? "input" : image.source.path,
                "no tissue above the background noise: not a leg MRI, or no signal");
  const double level0 = bright[bright.size() / 2];
  ScalarVolume corrected = image;
  detail::LimbMasks masks = detail::limb_masks(image, 0.25, progress, level0);
  if (n4.enabled) {
    corrected = n4_correct(image, masks.limb, n4);
    a.n4_applied = n4;
  } else {
    a.notes.push_back("N4 bias-field correction switched off (--no-n4): intensity inhomogeneity is not corrected");
  }
  if (sigma > 0) {
    a.snr = level0 / sigma;
    if (a.snr < probe_protocol.min_snr) {
      a.qc_flags.push_back("low_snr");
      char text[160];
      std::snprintf(text, sizeof text, "signal-to-noise ratio %.1f is below %.0f: classes and boundaries are unreliable", a.snr,
                    probe_protocol.min_snr);
      a.notes.push_back(text);
    }
  }
  // k-means with three classes on the limb's voxels deeper than the skin.
  std::vector<float> values;
  for (std::size_t o = 0; o < g.voxel_count(); o += 2)
    if (masks.limb.voxels[o] && masks.depth_mm.voxels[o] > 2.0f) values.push_back(corrected.voxels[o]);
  if (values.size() < 1000)
    throw Error(ErrorCode::InvalidInput, image.source.path.empty() ? "input" : image.source.path,
                "no limb found in the image (too little tissue above the background): not a leg MRI, or no signal");
  std::vector<float> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  std::array<double, 3> centre = {sorted[sorted.size() / 20], sorted[sorted.size() / 2], sorted[sorted.size() * 19 / 20]};
  std::array<double, 3> count{};
  for (int iteration = 0; iteration < 50; ++iteration) {
    std::array<double, 3> sum{};
    count = {};
    for (float v : values) {
      int best = 0;
      for (int c = 1; c < 3; ++c)
        if (std::abs(v - centre[std::size_t(c)]) < std::abs(v - centre[std::size_t(best)])) best = c;
      sum[std::size_t(best)] += v, count[std::size_t(best)] += 1;
    }
    double moved = 0;
    for (std::size_t c = 0; c < 3; ++c)
      if (count[c] > 0) moved = std::max(moved, std::abs(sum[c] / count[c] - centre[c])), centre[c] = sum[c] / count[c];
    if (moved < 0.1) break;
  }
  // Fat is the brightest class; muscle the larger of the other two (the dark class holds fascia,
  // vessels and bone when there are enough of them, else it splits the muscle).
  std::array<std::size_t, 3> order = {0, 1, 2};
  std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return centre[x] < centre[y]; });
  const double fat = centre[order[2]];
  const double muscle = count[order[0]] > count[order[1]] ? centre[order[0]] : centre[order[1]];
  // Final masks on the corrected image relative to the muscle class: body above half of it (skin
  // and muscle are about equal on T1), signal void (cortex) below 0.3 of it, fascia stays tissue.
  masks = detail::limb_masks(corrected, 0.5, progress, muscle);
  if (!(fat > 1.3 * muscle)) {
    a.qc_flags.push_back("tissue_contrast_low");
    a.notes.push_back("fat and muscle classes are not separated (fat/muscle signal ratio below 1.3): not a T1-weighted "
                      "contrast, or strong noise; tissue classes are unreliable");
  }
  // Relative fat signal: 0 at the muscle class, 1 at the fat class (a T1 contrast index, not a PDFF).
  a.ff.signal = corrected;
  a.ff.ff = Image<float>(g);
  a.ff.defined = Image<std::uint8_t>(g);
  a.ff.method = "t1_relative_signal";
  for (std::size_t o = 0; o < g.voxel_count(); ++o) {
    if (!masks.limb.voxels[o]) continue;
    a.ff.defined.voxels[o] = 1;
    a.ff.ff.voxels[o] = float(std::clamp((corrected.voxels[o] - muscle) / (fat - muscle), 0.0, 1.0));
  }
  char text[240];
  std::snprintf(text, sizeof text,
                "T1-weighted: k-means classes: darkest at %.0f, muscle %.0f, fat %.0f; fat fraction is the relative "
                "fat signal (muscle class 0, fat class 1), a T1 contrast index, not a proton-density fat fraction",
                centre[order[0]], muscle, fat);
  a.notes.push_back(text);
  a.pseudo_ct = detail::make_pseudo_ct(corrected, masks, a.ff.ff, 0.3, &a.infiltrated_regions);
  a.pseudo_ct.source = image.source;
  detail::segment_and_measure(a, fixed, level, progress, atlas);
  // The protocol records the N4 settings used (--no-n4 included), so its hash tells the runs apart
  // and its protocol.json, loaded again, repeats the analysis.
  a.protocol.n4 = n4;
  return a;
}

}  // namespace

MrAnalysis analyze_weighted(const ScalarVolume& image, const std::string& protocol_name, const quantify::LevelOptions& level,
                            const N4Settings& n4, Progress& progress, const anatomy::MultiAtlasOptions& atlas) {
  if (protocol_name == "auto") return weighted(image, nullptr, level, n4, progress, atlas);
  const MrProtocol protocol = builtin_mr_protocol(protocol_name);
  return weighted(image, &protocol, level, n4, progress, atlas);
}

MrAnalysis analyze_weighted(const ScalarVolume& image, const MrProtocol& protocol, const quantify::LevelOptions& level,
                            Progress& progress, const anatomy::MultiAtlasOptions& atlas) {
  return weighted(image, &protocol, level, protocol.n4, progress, atlas);
}

}  // namespace musclecsa::mri
