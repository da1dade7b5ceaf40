#pragma once
// Measurement records: one value, its UCUM unit, and what and where it measures.

#include <optional>
#include <string>
#include <vector>

#include "musclecsa/core/catalog.h"

namespace musclecsa {

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
};

}  // namespace musclecsa
