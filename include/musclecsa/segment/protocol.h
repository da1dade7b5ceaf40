#pragma once
// Analysis protocols: every threshold and option of an analysis, versioned, loaded from JSON and
// written (with its hash) into every output.

#include <filesystem>
#include <string>
#include <vector>

#include "musclecsa/core/catalog.h"

namespace musclecsa::segment {

/// A Hounsfield-unit range [low, high] (inclusive).
struct HuRange {
  double low_hu = 0, high_hu = 0;
  bool contains(double hu) const { return hu >= low_hu && hu <= high_hu; }
};

/// A named HU sub-range reported as an area (user bins).
struct HuBin {
  std::string name;
  HuRange range;
};

/// Where the standard level lies.
struct LevelRule {
  std::string name;                ///< "femur_50pct" or "tibia_66pct_from_distal"
  std::string bone_key;            ///< "femur" or "tibia"
  double fraction_from_proximal = 0.5;  ///< 0.5 (femur) or 1 - 0.66 = 0.34 (tibia)
};

/// How the compartment is split into muscles (docs/methods.md, "Muscles and groups").
struct MuscleRule {
  bool enabled = true;                 ///< false: tissue level only (skeletal_muscle label)
  double marker_margin_mm = 4;         ///< markers: layout cells shrunk by this much
  double intermuscular_fat_mm = 1.2;   ///< fat this close to a muscle boundary is intermuscular (imat)
  double fascia_layer_mm = 1.4;        ///< the deep fascia and the fat beneath it: no muscle's tissue
  double uncertain_area_ratio = 2.5;   ///< a territory this many times larger or smaller than its
                                       ///< layout cell flags the slice "muscle_boundaries_uncertain"
  std::string prior = "atlas";         ///< "atlas": fused real-anatomy atlases (modules/anatomy); "layout": the coarse layout
  int atlases_per_slice = 7;           ///< atlases kept per key slice after the landmark placement, by similarity
  double atlas_key_spacing_mm = 16;    ///< registrations every this far along z; slices between reuse the nearest
  int demons_iterations = 10;          ///< at the finest of three resolutions (1.5x and 2x that at the coarser ones)
  int min_atlas_subjects = 3;          ///< fewer distinct subjects among the voting atlases: their spread says nothing, low-confidence
  double min_atlas_agreement = 0.6;    ///< a muscle whose territory the atlases share less than this is low-confidence
  double atlas_area_sd_limit = 3;      ///< ... and one whose area is further than this many atlas SDs
  double atlas_area_tolerance_mm2 = 150;  ///<   plus this from the atlases' mean area
  double confidence_min_area_mm2 = 100;   ///< muscles under 1 cm2 (here and in the atlases) are not judged
  double bone_rim_mm = 0;              ///< soft tissue this close to a bone is no lower ground for the
                                       ///< flood than muscle (0: off; MRI's pseudo-CT: 1.2)
};

/// A CT analysis protocol (docs/protocols.md). Defaults are the literature ranges (docs/methods.md).
struct CtProtocol {
  std::string name = "thigh-ct";   ///< "thigh-ct" or "calf-ct" (or a user name)
  int version = 1;                 ///< protocol schema version
  BodyRegion region = BodyRegion::Thigh;
  HuRange body{-500, 3071};        ///< body (vs air) threshold
  HuRange muscle{-29, 150};        ///< skeletal muscle (Aubrey 2014)
  HuRange adipose{-190, -30};      ///< adipose tissue: SAT and IMAT
  HuRange low_attenuation_muscle{-29, 29};
  HuRange normal_attenuation_muscle{30, 150};
  double bone_hu = 200;            ///< cortical bone threshold
  double metal_hu = 2000;          ///< above: metal (QC flag)
  double min_leg_area_mm2 = 2000;  ///< smaller body components are not legs
  double max_leg_area_mm2 = 45000; ///< larger ones are not one leg (abdomen, pelvis): thigh 450 cm2, calf 250 cm2
  double min_bone_length_mm = 300; ///< plausible reference bone length (femur 300-600 mm, tibia 250-500 mm)
  double max_bone_length_mm = 600;
  double max_skin_mm = 4;          ///< skin thickness searched before subcutaneous fat
  std::vector<HuBin> hu_bins = {{"fat_like", {-190, -30}}, {"low_attenuation", {-29, 29}}, {"normal_attenuation", {30, 150}}};
  LevelRule level{"femur_50pct", "femur", 0.5};
  MuscleRule muscles;

  /// Canonical JSON text (sorted keys, fixed number formatting) of the protocol.
  std::string to_json() const;
  /// FNV-1a 64-bit hash of to_json(), as 16 hex digits: identifies the exact protocol used.
  std::string hash() const;
};

/// Built-in protocols: "thigh-ct", "calf-ct". Throws Error(InvalidArgument) for other names.
CtProtocol builtin_ct_protocol(const std::string& name);

/// Reads a protocol JSON (the keys of to_json(); missing keys keep the defaults of its "region").
/// Throws Error(InputNotFound / InvalidInput, file, ...) naming the bad key.
CtProtocol load_ct_protocol(const std::filesystem::path& file);

}  // namespace musclecsa::segment
