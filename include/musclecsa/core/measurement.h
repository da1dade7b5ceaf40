#pragma once
// Measurement records: one value, its UCUM unit, and what and where it measures.

#include <optional>
#include <string>
#include <vector>

#include "musclecsa/core/catalog.h"

namespace musclecsa {

/// How far one muscle or group in one leg and slice can be trusted (the atlas prior's agreement and
/// the atlases' area range; docs/methods.md "Confidence").
struct StructureConfidence {
  double atlas_agreement = -1;       ///< 0-1: the atlases' share for the territory; -1: no atlas prior
  bool low = false;                  ///< flagged: values on this slice are uncertain, withheld at the level
  std::string reason;                ///< "atlas_disagreement", "area_outside_atlas_range", "no_atlas_prior",
                                     ///< "member_low_confidence:<muscle>"
};

/// One measured quantity of one structure on one side, at one slice or level (or over a volume).
struct Measurement {
  std::string quantity;              ///< e.g. "csa", "mean_hu", "fat_fraction", "imat_area"
  double value = 0;                  ///< in `unit_ucum`
  std::string unit_ucum;             ///< UCUM unit, e.g. "cm2", "[hnsf'U]", "%", "1"
  std::string structure_key;         ///< LabelCatalog key, e.g. "rectus_femoris", "quadriceps"
  Side side = Side::None;
  std::optional<int> slice_index;    ///< k index of the slice measured (per-slice values)
  std::optional<double> z_mm;        ///< slice position along the slice normal (mm)
  std::string level;                 ///< named standard level, e.g. "femur_50pct" ("" = per slice)
  std::vector<std::string> qc_flags; ///< stable flag names, e.g. "partial_bone_coverage"
  bool withheld = false;             ///< not trustworthy: written as null (JSON), empty (CSV), left out of the SR
  std::string withheld_reason;       ///< why, e.g. "muscle_low_confidence:atlas_disagreement"
};

}  // namespace musclecsa
