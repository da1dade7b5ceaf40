#pragma once
// Test-retest repeatability of a site's own measurements (issue 20, `musclecsa retest`): from
// analysed cases that are repeated measurements of the same subjects at the same visit, per
// measure the within-subject SD, the coefficient of variation, the intraclass correlation and the
// least significant change (LSC = 2.77 x the within-subject SD: a change between two measurements
// larger than it is real with 95% confidence). docs/longitudinal.md gives the formulas and sources.

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace musclecsa::longitudinal {

/// One value a case reports (results.json "measurements"): what was measured, where, and the value.
struct CaseValue {
  std::string quantity, structure, side, level, unit;
  double value = 0;
};

/// An analysed case folder as retest reads it.
struct CaseRecord {
  std::filesystem::path dir;
  std::string subject;        ///< who was measured: given, or the pseudonym / Patient ID in results.json
  std::string status;         ///< results.json "status" ("ok", "needs_review"; "" for CT/MRI)
  std::string protocol_name, protocol_hash;
  std::vector<CaseValue> values;  ///< withheld values (null) left out
  std::size_t withheld = 0;       ///< how many values were withheld (null) in the case
};

/// Reads DIR/results.json. `subject` given: that is the case's subject; empty: the pseudonym, else
/// the Patient ID of results.json "input". Throws Error(InputNotFound) without results.json,
/// Error(InvalidInput) for a file that is not a MuscleCSA results.json, and when no subject is
/// given and the case names none (results are written without the Patient ID unless asked).
CaseRecord read_case(const std::filesystem::path& dir, const std::string& subject = "");

/// The repeatability of one measure (quantity, structure, side, level) over the subjects measured
/// at least twice. Within-subject SD: the pooled SD of the repeats about each subject's mean,
/// sqrt(sum (x_ij - mean_i)^2 / (N - k)); CV: within-subject SD / grand mean; ICC(1,1): one-way
/// random effects, (MSB - MSW) / (MSB + (n0 - 1) MSW) with n0 for unequal repeats; LSC: 2.77 x
/// within-subject SD (and 2.77 x CV in percent).
struct Repeatability {
  std::string quantity, structure, side, level, unit;
  std::size_t subjects = 0;      ///< subjects measured at least twice
  std::size_t measurements = 0;  ///< values of those subjects
  double mean = 0;
  double within_subject_sd = 0;
  double cv_percent = 0;
  std::optional<double> icc;     ///< needs two subjects or more (and spread between them)
  double lsc = 0;                ///< in `unit`
  double lsc_percent = 0;
  std::vector<std::string> notes;
};

/// Repeatability of every measure the cases share. Cases must use one protocol (same hash), unless
/// `allow_mixed_protocols`: otherwise Error(InvalidArgument) naming two cases that differ. Measures
/// with fewer than one subject measured twice are left out.
std::vector<Repeatability> repeatability(const std::vector<CaseRecord>& cases, bool allow_mixed_protocols = false);

/// retest.json (cases, then one entry per measure) and retest.csv (one row per measure) into `out`.
void write_repeatability(const std::filesystem::path& out, const std::vector<CaseRecord>& cases,
                         const std::vector<Repeatability>& measures);

}  // namespace musclecsa::longitudinal
