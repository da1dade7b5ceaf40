#pragma once
// Every QC flag a case carries and where: the case's own flags and each slice's (a level's slice
// included), so that summaries (the HTML page, the console) never show fewer flags than the
// slices and levels hold.

#include <string>
#include <vector>

namespace musclecsa::report {

/// The QC flags of one slice (0-based index).
struct SliceFlags {
  int slice = 0;
  std::vector<std::string> flags;
};

/// A standard level that was found: its side ("right"/"left"), name (e.g. "femur_50pct") and slice.
struct LevelAt {
  std::string side, name;
  int slice = 0;
};

/// One distinct QC flag of a case and where it occurs.
struct FlagOccurrence {
  std::string flag;
  bool whole_case = false;          ///< among the case's own flags (results.json "qc_flags")
  std::vector<int> slices;          ///< slices holding it, ascending
  std::vector<LevelAt> levels;      ///< standard levels whose slice holds it
  std::size_t slice_count = 0;      ///< slices in the case (for "3 of 25 slices")
  /// Where, in words: e.g. "the case; slices 3-5, 12 (4 of 25 slices); at the standard level right
  /// femur_50pct (slice 12)".
  std::string where() const;
};

/// Every distinct flag of a case: the case's own flags in their order, then the slices' flags in
/// the order they first appear; each with the slices and found levels where it occurs.
std::vector<FlagOccurrence> collect_flags(const std::vector<std::string>& case_flags, const std::vector<SliceFlags>& slices,
                                          const std::vector<LevelAt>& levels);

}  // namespace musclecsa::report
