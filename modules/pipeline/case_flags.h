#pragma once
// The console's QC flag lines of analyze (CT and MRI): every distinct flag of the case, its
// slices' and standard levels' included, with where it occurs (musclecsa/report/flags.h), so the
// summary never shows fewer flags than results.json holds.

#include <ostream>
#include <string>
#include <vector>

#include "musclecsa/quantify/ct_measures.h"
#include "musclecsa/report/flags.h"

namespace musclecsa::pipeline {

/// Prints "  qc flag: NAME (where)" per distinct flag: `case_flags`, then those of `slices` (each
/// with slice_index and qc_flags), with the found `levels` (named `level_name`) at their slices.
template <class Slices>
void print_case_flags(std::ostream& out, const std::vector<std::string>& case_flags, const Slices& slices,
                      const std::vector<quantify::LevelResult>& levels, const std::string& level_name) {
  std::vector<report::SliceFlags> per_slice;
  for (const auto& s : slices) per_slice.push_back({s.slice_index, s.qc_flags});
  std::vector<report::LevelAt> at;
  for (const auto& l : levels)
    if (l.found) at.push_back({std::string(to_string(l.side)), level_name, l.slice_index});
  for (const auto& f : report::collect_flags(case_flags, per_slice, at)) out << "  qc flag: " << f.flag << " (" << f.where() << ")\n";
}

}  // namespace musclecsa::pipeline
