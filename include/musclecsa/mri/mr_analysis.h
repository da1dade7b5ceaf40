#pragma once
// MRI analysis of the thigh and calf (docs/mri.md): Dixon fat fraction (with Rician noise-floor
// correction, vendor FF maps, fat-water swap detection) or T1-weighted images (N4 bias correction,
// k-means tissue classes). The compartments, muscles and levels come from the CT segmentation run on
// a pseudo-CT made from the MR data (fat -100, muscle +50, signal void inside the limb +1250 "HU"),
// so both modalities share one anatomy logic; fat fraction is measured on the MR data itself.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "musclecsa/anatomy/multi_atlas.h"
#include "musclecsa/core/image.h"
#include "musclecsa/core/progress.h"
#include "musclecsa/quantify/ct_measures.h"
#include "musclecsa/segment/ct_tissue.h"
#include "musclecsa/segment/protocol.h"

namespace musclecsa::mri {

/// Suggested Mercuri grade from a mean fat fraction (a suggestion: Mercuri is a visual T1 scale).
/// Upper FF bounds (0..1) of grades "0-1", "2a", "2b", "3"; above the last: "4".
struct MercuriMapping {
  double grade_0_1_below = 0.10;   ///< normal appearance, traces
  double grade_2a_below = 0.30;    ///< mild: < 30% of the muscle
  double grade_2b_below = 0.60;    ///< moderate: 30-60%
  double grade_3_below = 0.80;     ///< washed-out; >= 0.80: end-stage (4)
  /// "0-1", "2a", "2b", "3" or "4".
  std::string grade_for(double fat_fraction) const;
  /// Ordinal 0..4 of grade_for (0 = "0-1", 1 = "2a", 2 = "2b", 3 = "3", 4 = "4").
  int ordinal_for(double fat_fraction) const;
};

/// N4 bias-field correction settings (T1-weighted input).
struct N4Settings {
  bool enabled = true;
  int shrink_factor = 4;              ///< in-plane downsampling for the fit
  int fitting_levels = 3;
  int iterations_per_level = 40;
  double convergence_threshold = 0.001;
  int spline_control_points = 4;
};

/// An MRI analysis protocol: the CT protocol whose compartment logic runs on the pseudo-CT, plus
/// the MR thresholds. Built in: "thigh-mr", "calf-mr".
struct MrProtocol {
  std::string name = "thigh-mr";
  int version = 1;
  segment::CtProtocol compartments;     ///< thigh-ct / calf-ct geometry rules, renamed
  double fat_ff_threshold = 0.5;        ///< voxel FF at or above: fat (IMAT, intramuscular fat)
  double noise_floor_sd = 5;            ///< signal (W+F) below this many noise SDs: FF undefined
  double body_fraction = 0.35;          ///< body: signal above this fraction of the local tissue level
  double void_fraction = 0.5;           ///< signal void inside the limb (cortex): below this fraction
  double swap_ring_depth_mm[2] = {2.0, 5.0};  ///< depth under the skin surface sampled for the SAT check
  double swap_low_ff = 0.3;             ///< SAT ring reading below: swapped
  double swap_high_ff = 0.7;            ///< SAT ring reading above: normal
  int swap_sectors = 8;                 ///< angular sectors per leg for regional swaps
  double marrow_low_ff = 0.2;           ///< shaft marrow reading below: flagged (swap suspected)
  double min_snr = 8;                   ///< tissue signal / noise SD below: low_snr flag
  N4Settings n4;
  MercuriMapping mercuri;

  /// Canonical JSON (sorted keys) of the protocol, the compartment protocol included.
  std::string to_json() const;
  /// FNV-1a 64-bit hash of to_json() as 16 hex digits.
  std::string hash() const;
};

/// "thigh-mr" or "calf-mr"; throws Error(InvalidArgument) for other names.
MrProtocol builtin_mr_protocol(const std::string& name);

/// Reads an MR protocol file (docs/protocols.md, "MR protocol files"): format
/// "musclecsa-mr-protocol", version 1, the keys of MrProtocol::to_json(), each optional with its
/// default from the built-in protocol of its "region" (thigh -> thigh-mr, calf -> calf-mr); the
/// "compartments" object overrides that protocol's compartment (CT) rules key by key. A
/// protocol.json written by an MR analysis loads back to the same protocol (same hash).
/// Throws Error(InputNotFound, file) or Error(InvalidInput, file, ...) naming the bad key, also for
/// a CT protocol file.
MrProtocol load_mr_protocol(const std::filesystem::path& file);

/// True when `file` is a JSON object whose "format" is "musclecsa-mr-protocol" (false when it cannot
/// be read or parsed): lets CT refuse an MR protocol file by name.
bool is_mr_protocol_file(const std::filesystem::path& file);

/// The series of a Dixon acquisition, on one grid (water and fat required).
struct DixonSeries {
  ScalarVolume water, fat;
  std::optional<ScalarVolume> in_phase, opposed_phase;
  std::optional<ScalarVolume> vendor_fat_fraction;  ///< as stored (0..1, percent or per mille)
};

/// Rician noise SD of a magnitude image from its background (air: Rayleigh distributed), 0 when
/// the background is masked to zero.
double estimate_noise_sd(const ScalarVolume& magnitude);

/// One fat-water swap finding.
struct SwapFinding {
  int slice_index = 0;
  Side side = Side::None;
  std::string check;               ///< "subcutaneous_fat" (ring under the skin) or "marrow"
  double measured_ff = 0;          ///< median FF where fat is expected
  std::vector<int> low_sectors;    ///< sectors (0 = anterior, clockwise in the image) reading low
  int sectors = 0;
  bool corrected = false;          ///< water and fat were exchanged in that leg and slice
  std::string description;
};

/// A fat-fraction map and how it was made.
struct FatFractionMap {
  Image<float> ff;                 ///< 0..1; 0 where undefined
  Image<std::uint8_t> defined;     ///< 1 where signal is above the noise floor
  ScalarVolume signal;             ///< W + F (noise-corrected), the anatomy image
  double noise_sd_water = 0, noise_sd_fat = 0;
  std::string method;              ///< "magnitude_dixon_noise_corrected", "vendor_map", "t1_relative_signal"
  std::string vendor_scale;        ///< vendor map: "fraction", "percent" or "per_mille"
};

/// Per-muscle or per-group measures in one slice and side (MR).
struct MrStructureMeasures {
  std::string structure_key;
  bool is_group = false;
  double area_mm2 = 0;               ///< CSA: the muscle's outline (territory)
  double mean_ff = 0, median_ff = 0; ///< over the outline
  double fat_free_area_mm2 = 0;      ///< area x (1 - mean FF)
  double fat_area_mm2 = 0;           ///< voxels with FF >= the fat threshold (intramuscular fat)
  std::string mercuri;               ///< suggested grade
  StructureConfidence confidence;    ///< with an atlas prior: its agreement and the low-confidence flag
};

struct MrSideMeasures {
  Side side = Side::None;
  double limb_area_mm2 = 0, skin_area_mm2 = 0, subcutaneous_fat_area_mm2 = 0, compartment_area_mm2 = 0,
         bone_area_mm2 = 0;
  double muscle_area_mm2 = 0;        ///< all muscle outlines and the unassigned muscle layer
  double imat_area_mm2 = 0;          ///< compartment voxels outside muscle outlines (bone, marrow excluded) with FF >= threshold
  double muscle_mean_ff = 0, muscle_median_ff = 0;  ///< over all muscle outlines
  double fat_free_muscle_area_mm2 = 0;
  double subcutaneous_fat_mean_ff = 0, marrow_mean_ff = 0;
  std::vector<MrStructureMeasures> structures;  ///< muscles, then reporting groups
};

struct MrSliceMeasures {
  int slice_index = 0;
  double z_mm = 0;
  std::vector<MrSideMeasures> sides;
  std::vector<std::string> qc_flags;
};

/// A complete MRI analysis.
struct MrAnalysis {
  MrProtocol protocol;
  std::string protocol_decision;          ///< "auto: ..." when chosen from the bones
  std::string kind;                       ///< "dixon" or "t1"
  FatFractionMap ff;
  ScalarVolume pseudo_ct;                 ///< the HU-like image the compartments were segmented on
  segment::TissueSegmentation segmentation;
  quantify::CtResults compartments;       ///< levels and bone ends from the CT measures
  std::vector<MrSliceMeasures> slices;
  std::vector<SwapFinding> swaps;
  std::vector<std::string> qc_flags, notes;
  double snr = 0;                         ///< median tissue signal / noise SD
  std::vector<std::size_t> infiltrated_regions;  ///< per slice: blocks of infiltrated muscle rescaled in the pseudo-CT
  std::optional<N4Settings> n4_applied;
};

/// Analyses a Dixon set. `protocol_name`: "thigh-mr", "calf-mr" or "auto".
/// Throws Error(InvalidInput, ...) for mismatched grids or non-axial series.
/// `atlas`: where the atlases of the muscle prior are and which subjects to leave out.
MrAnalysis analyze_dixon(DixonSeries dixon, const std::string& protocol_name, const quantify::LevelOptions& level,
                         Progress& progress, const anatomy::MultiAtlasOptions& atlas = {});
/// The same with a given protocol (e.g. from load_mr_protocol).
MrAnalysis analyze_dixon(DixonSeries dixon, const MrProtocol& protocol, const quantify::LevelOptions& level, Progress& progress,
                         const anatomy::MultiAtlasOptions& atlas = {});

/// Analyses a T1- (or T2-) weighted axial series: N4, k-means classes, pseudo-CT.
/// The protocol of the result records the N4 settings used (`n4`).
MrAnalysis analyze_weighted(const ScalarVolume& image, const std::string& protocol_name,
                            const quantify::LevelOptions& level, const N4Settings& n4, Progress& progress,
                            const anatomy::MultiAtlasOptions& atlas = {});
/// The same with a given protocol; N4 as its `n4` settings say.
MrAnalysis analyze_weighted(const ScalarVolume& image, const MrProtocol& protocol, const quantify::LevelOptions& level,
                            Progress& progress, const anatomy::MultiAtlasOptions& atlas = {});

/// N4 bias-field correction (ITK) of a positive-valued MR volume, fitted on a downsampled copy;
/// `mask` (same grid, 1 = tissue) limits the fit. Returns the corrected image.
ScalarVolume n4_correct(const ScalarVolume& image, const Image<std::uint8_t>& mask, const N4Settings& settings);

/// Writes a QC PNG of slice k: the anatomy image with label outlines (left) and the FF map as a
/// colour overlay with a colour bar (right), plus text lines. Radiological display.
void write_mr_qc_image(const MrAnalysis& analysis, std::size_t k, const std::vector<std::string>& text,
                       const std::filesystem::path& png_path);

}  // namespace musclecsa::mri
