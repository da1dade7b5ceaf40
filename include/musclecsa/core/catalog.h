#pragma once
// The label catalog: every structure MuscleCSA segments or reports, with stable label ids,
// names, side, colour and SNOMED CT codes (DICOM PS3.16).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "musclecsa/core/image.h"

namespace musclecsa {

/// Body side of a structure instance. Both legs are separate instances of each structure.
enum class Side : std::uint8_t { None, Right, Left };

std::string_view to_string(Side side);  ///< "none", "right", "left"
/// Parses "right"/"left"/"none" (also "R"/"L"); throws Error(InvalidArgument) otherwise.
Side side_from_string(std::string_view text);

enum class StructureKind : std::uint8_t { Muscle, MuscleGroup, Tissue, Bone };
enum class BodyRegion : std::uint8_t { Thigh, Calf, Any };

std::string_view to_string(StructureKind kind);  ///< "muscle", "muscle_group", "tissue", "bone"
std::string_view to_string(BodyRegion region);   ///< "thigh", "calf", "any"

/// A coded concept as used in DICOM: coding scheme designator, code value, code meaning.
struct CodedConcept {
  std::string scheme;   ///< "SCT" for SNOMED CT, "DCM" for DICOM
  std::string code;
  std::string meaning;
};

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};

/// A structure of the catalog. Voxel label ids: `base_id` for the right side, `base_id +
/// kLeftLabelOffset` for the left side. Groups have ids too (for SEG segments and reports)
/// but never appear in voxel label maps; their voxels are those of their members.
struct Structure {
  std::string key;                 ///< stable snake_case key, e.g. "vastus_lateralis"
  std::string name;                ///< display name, e.g. "Vastus lateralis"
  StructureKind kind = StructureKind::Muscle;
  BodyRegion region = BodyRegion::Any;
  LabelId base_id = 0;             ///< right-side label id (1..99)
  std::string group_key;           ///< for muscles: key of their group ("" when reported alone)
  CodedConcept category;           ///< SEG segmented property category (SCT 91723000 or 85756007)
  CodedConcept type;               ///< SEG property type / SR finding site: SCT where PS3.16 has a code,
                                   ///< else a code of the private scheme "99MCSA" (docs/coding.md)
  CodedConcept sct_concept;        ///< closest SNOMED CT concept (SCT 102292000 "Muscle of lower limb" for muscles)
  Rgb colour;                      ///< display colour (QC images, viewer, SEG recommended colour)
};

/// One voxel label: a structure on a side.
struct StructureOnSide {
  const Structure* structure = nullptr;
  Side side = Side::None;
};

class LabelCatalog {
 public:
  /// Offset added to base_id for left-side labels.
  static constexpr LabelId kLeftLabelOffset = 100;

  /// The built-in catalog of thigh and calf structures.
  static const LabelCatalog& standard();

  const std::vector<Structure>& structures() const { return structures_; }
  /// Structure by key, or nullptr.
  const Structure* find(std::string_view key) const;
  /// Structure by key; throws Error(InvalidArgument, key, ...) when unknown.
  const Structure& get(std::string_view key) const;
  /// Voxel label id of `key` on `side` (Right or Left; None is treated as Right).
  LabelId label_id(std::string_view key, Side side) const;
  /// The structure and side a label id stands for, or nullopt for 0 and unknown ids.
  std::optional<StructureOnSide> decode(LabelId label) const;
  /// Members of a group, in catalog order (empty for non-groups).
  std::vector<const Structure*> members_of(std::string_view group_key) const;
  /// Muscles of a body region, in catalog order.
  std::vector<const Structure*> muscles_of(BodyRegion region) const;
  /// Groups reported for a region: the muscle groups plus muscles reported alone (sartorius, gracilis).
  std::vector<const Structure*> reporting_groups_of(BodyRegion region) const;

  explicit LabelCatalog(std::vector<Structure> structures);

 private:
  std::vector<Structure> structures_;
};

}  // namespace musclecsa
