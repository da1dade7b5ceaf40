#pragma once
// Accuracy scoring of one `musclecsa analyze` result against a truth (docs/accuracy.md): the
// functions behind musclecsa_score, callable in-process by the tests. A test tool, not a module:
// it reads files through musclecsa::io and compares label maps voxel by voxel in patient LPS.

#include <array>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "musclecsa/core/catalog.h"
#include "musclecsa/core/image.h"

namespace musclecsa::accuracy {

/// The standard level of one side, as the truth or the result gives it.
struct SideLevel {
  bool found = false;
  std::string reason;                       ///< why there is no level (when !found)
  int slice = -1;                           ///< slice index (k) on the owner's grid
  std::optional<double> z_mm;               ///< patient LPS z (mm) of that slice's centre
  std::map<std::string, double> area_cm2;   ///< CSA at the level per catalog key; "muscle" = all muscle
  std::string field;                        ///< which value the areas are (e.g. "outline_area_cm2")
  std::vector<std::string> flags;           ///< QC flags analyze put on the level slice (result only)
  std::set<std::string> withheld;           ///< structures whose level values analyze withheld (low confidence)
};

/// Side index used in the arrays below: 0 right, 1 left.
inline constexpr std::array<Side, 2> kSides{Side::Right, Side::Left};

/// What the result is compared with.
struct Truth {
  std::string source;                       ///< file or folder, for messages
  std::string form;                         ///< "phantom" or "reference_labels"
  LabelMap labels;                          ///< catalog ids; a group's own id where only the group is known
  std::optional<Image<float>> fat_fraction; ///< voxel fat fraction 0..1 on the labels' grid (phantoms)
  std::array<SideLevel, 2> level;           ///< standard level per side (right, left)
  /// Thigh or calf: only its muscles and groups are scored (Any: every muscle present). Muscles of
  /// the other region in the truth (a gastrocnemius head above the knee) count in "muscle" only.
  BodyRegion region = BodyRegion::Any;
  /// Groups whose members the source does not separate: scored as groups only.
  std::set<std::string> group_only;
};

/// One analyze output folder.
struct Result {
  std::string source;
  std::string modality;                     ///< "ct", "mr-dixon", "mr-t1" (from results.json)
  std::string protocol;                     ///< the protocol analyze used (results.json protocol.name)
  LabelMap labels;                          ///< catalog ids, on the analysis grid
  std::optional<Image<float>> fat_fraction; ///< the Dixon fat-fraction map (0..1); absent for CT and T1
  std::string ff_note;                      ///< why there is no fat fraction, when there is none
  std::array<SideLevel, 2> level;
  /// (slice, side index, structure key) analyze flagged low-confidence (results.json "confidence").
  std::set<std::tuple<int, int, std::string>> low_confidence;
};

/// Scores of one structure on one side.
struct Record {
  Side side = Side::Right;
  std::string structure;                    ///< catalog key, or "muscle" for all muscle labels
  std::string kind;                         ///< "muscle", "group" or "tissue"
  std::size_t truth_voxels = 0, result_voxels = 0;
  std::optional<double> dice;               ///< over the whole truth volume
  std::optional<double> csa_level_truth_cm2, csa_level_result_cm2, csa_level_error_pct;
  std::optional<int> csa_level_truth_slice, csa_level_result_slice;
  std::optional<double> csa_level_truth_z_mm, csa_level_result_z_mm;
  std::string csa_level_result_field;
  std::string csa_level_note;               ///< why a level value is null
  /// The result's label area against the truth's at the truth's level slice (both from the label
  /// maps): the level error without the level placement.
  std::optional<double> csa_at_truth_level_error_pct;
  std::optional<double> csa_slices_mean_abs_error_pct, csa_slices_worst_abs_error_pct;
  std::optional<double> csa_slices_worst_z_mm;
  int csa_slices_count = 0;                 ///< truth slices with at least 1 cm2 of the structure
  /// Of those, slices where the result's area is off by more than 15%, and how many of them analyze
  /// did not flag low-confidence (a confident wrong number; counted when the grids are the same).
  int csa_slices_over_15pct = 0, csa_slices_over_15pct_unflagged = 0;
  std::optional<bool> csa_level_withheld;   ///< analyze withheld this structure at its level
  std::optional<double> ff_truth_pct, ff_result_pct, ff_error_points;  ///< volume means, percent
  std::string ff_note;
  std::vector<std::string> flags;           ///< the result's QC flags on its level slice
};

/// Names the case in the output.
struct CaseInfo {
  std::string case_id, subject, modality;
  std::map<std::string, std::string> tags;  ///< condition tags (--tag key=value)
};

/// Reads a phantom folder written by `musclecsa phantom --out P`: P/truth/labels.nii.gz,
/// P/truth/truth.json and P/truth/fat_fraction.nii.gz. Throws Error naming the file.
Truth read_phantom_truth(const std::filesystem::path& phantom_dir);

/// Reads a reference label map in the 11-label thigh scheme (1 sartorius, 2 rectus femoris,
/// 3 vastus lateralis, 4 vastus intermedius, 5 vastus medialis, 6 adductors (group), 7 gracilis,
/// 8 biceps femoris long head, 9 semitendinosus, 10 semimembranosus, 11 biceps femoris short
/// head) and converts it with reference_to_catalog. Throws Error naming the file.
Truth read_reference_truth(const std::filesystem::path& labels_file);

/// Converts an 11-label map to catalog ids on the same grid. The side of a voxel comes from its
/// patient LPS x against the midline between the two thighs (+x is the patient's left), never
/// from the array order. Label 6 becomes the adductors group id. Throws Error(InvalidInput,
/// source) for a label above 11.
LabelMap reference_to_catalog(const LabelMap& reference, const std::string& source);

/// Patient LPS x (mm) of the midline between the two legs of a label map: the centre of the
/// widest label-free gap between the two clusters of labelled voxels' x. Throws
/// Error(InvalidInput, source) when the map is empty or has no gap (one leg only).
double midline_x_mm(const LabelMap& labels, const std::string& source);

/// Reads an analyze output folder: labels.nii.gz, results.json and, for Dixon, fat_fraction.nii.gz.
/// Throws Error naming the file.
Result read_result(const std::filesystem::path& result_dir);

/// Copies `source` onto `target` by nearest neighbour through patient LPS (0 outside `source`).
LabelMap resample_labels(const LabelMap& source, const Geometry& target);
Image<float> resample_values(const Image<float>& source, const Geometry& target);

/// Scores every structure of the truth's region on each side (docs/accuracy.md).
std::vector<Record> score(const Truth& truth, const Result& result);

/// The records as the JSON array musclecsa_score writes.
nlohmann::json to_json(const std::vector<Record>& records, const CaseInfo& info, const Truth& truth,
                       const Result& result);

}  // namespace musclecsa::accuracy
