#pragma once
// Shared steps of the Dixon and T1-weighted pipelines (not public).

#include <cstdint>
#include <vector>

#include "musclecsa/mri/mr_analysis.h"

namespace musclecsa::mri::detail {

/// Per-slice anatomy masks from a signal image that does not depend on the tissue contrast.
struct LimbMasks {
  Image<float> local_level;        ///< local tissue signal level (smoothed over tissue pixels)
  Image<std::uint8_t> limb;        ///< inside the body surface (holes included)
  Image<float> depth_mm;           ///< distance from outside the body (0 outside)
  double tissue_level = 0;         ///< median tissue signal over the volume
};

/// Body, limb interior and depth per slice: body = signal above `body_fraction` of the local
/// tissue level; limb = body plus enclosed holes. The local level is the smoothed signal of the
/// tissue pixels (a contrast-free signal such as W + F), or `fixed_level` everywhere when it is > 0
/// (a bias-corrected weighted image, whose tissues differ in signal).
LimbMasks limb_masks(const ScalarVolume& signal, double body_fraction, Progress& progress, double fixed_level = 0);

/// The HU-like image the CT compartment logic runs on: outside -1000; signal void deeper than 2 mm
/// inside the limb (< void_fraction of the local level) +1250; other limb voxels 50 - 150 x the
/// voxel's fat volume fraction `fat_part` (fat signal / local tissue level: muscle +50, fat -100,
/// linear in the volume of fat as CT partial volume is, also next to low-density tissue).
/// Blocks of at least 2 cm2 reading 35-88% fat (infiltrated muscle, not pure fat) are rescaled so
/// that their median maps to muscle; their number per slice is returned in `infiltrated_regions`.
ScalarVolume make_pseudo_ct(const ScalarVolume& signal, const LimbMasks& masks, const Image<float>& fat_part,
                            double void_fraction, std::vector<std::size_t>* infiltrated_regions = nullptr);

/// Everything after the pseudo-CT: protocol choice, CT segmentation, levels, MR measures,
/// marrow check and QC flags. `analysis` holds ff, pseudo_ct and the flags so far. `fixed`: the
/// protocol to use; nullptr: "auto" (thigh-mr or calf-mr from the bones).
void segment_and_measure(MrAnalysis& analysis, const MrProtocol* fixed, const quantify::LevelOptions& level,
                         Progress& progress, const anatomy::MultiAtlasOptions& atlas);

}  // namespace musclecsa::mri::detail
