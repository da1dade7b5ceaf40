#include "musclecsa/core/catalog.h"

#include <set>
#include <string>

#include "musclecsa/core/error.h"

namespace musclecsa {

std::string_view to_string(Side side) {
  switch (side) {
    case Side::Right: return "right";
    case Side::Left: return "left";
    case Side::None: return "none";
  }
  return "none";
}

Side side_from_string(std::string_view text) {
  if (text == "right" || text == "R") return Side::Right;
  if (text == "left" || text == "L") return Side::Left;
  if (text == "none" || text.empty()) return Side::None;
  throw Error(ErrorCode::InvalidArgument, std::string(text), "not a side (expected right, left or none)");
}

std::string_view to_string(StructureKind kind) {
  switch (kind) {
    case StructureKind::Muscle: return "muscle";
    case StructureKind::MuscleGroup: return "muscle_group";
    case StructureKind::Tissue: return "tissue";
    case StructureKind::Bone: return "bone";
  }
  return "tissue";
}

std::string_view to_string(BodyRegion region) {
  switch (region) {
    case BodyRegion::Thigh: return "thigh";
    case BodyRegion::Calf: return "calf";
    case BodyRegion::Any: return "any";
  }
  return "any";
}

namespace {

// Codes verified against DICOM PS3.16 as distributed in pydicom's concept dictionary and DCMTK's
// CID headers (docs/coding.md lists each source). PS3.16 has no codes for the individual thigh and
// leg muscles or the compartments: those carry a code of the private scheme 99MCSA plus the SCT
// concept "Muscle of lower limb".
const CodedConcept kAnatomicalStructure{"SCT", "91723000", "Anatomical Structure"};
const CodedConcept kTissue{"SCT", "85756007", "Tissue"};
const CodedConcept kMuscleOfLowerLimb{"SCT", "102292000", "Muscle of lower limb"};

Structure muscle(LabelId id, std::string key, std::string name, BodyRegion region, std::string group,
                 std::string private_code, Rgb colour) {
  Structure s;
  s.key = std::move(key);
  s.name = name;
  s.kind = StructureKind::Muscle;
  s.region = region;
  s.base_id = id;
  s.group_key = std::move(group);
  s.category = kAnatomicalStructure;
  s.type = {"99MCSA", std::move(private_code), std::move(name)};
  s.sct_concept = kMuscleOfLowerLimb;
  s.colour = colour;
  return s;
}

Structure group(LabelId id, std::string key, std::string name, BodyRegion region, std::string private_code,
                Rgb colour) {
  Structure s = muscle(id, std::move(key), std::move(name), region, "", std::move(private_code), colour);
  s.kind = StructureKind::MuscleGroup;
  return s;
}

Structure coded(LabelId id, std::string key, std::string name, StructureKind kind, CodedConcept category,
                CodedConcept type, Rgb colour) {
  Structure s;
  s.key = std::move(key);
  s.name = std::move(name);
  s.kind = kind;
  s.region = BodyRegion::Any;
  s.base_id = id;
  s.category = std::move(category);
  s.type = type;
  s.sct_concept = std::move(type);
  s.colour = colour;
  return s;
}

std::vector<Structure> standard_structures() {
  using R = BodyRegion;
  const auto T = R::Thigh;
  const auto C = R::Calf;
  std::vector<Structure> s = {
      // Thigh muscles (ids 1-13). Colours: quadriceps warm, hamstrings blue, adductors green.
      muscle(1, "rectus_femoris", "Rectus femoris", T, "quadriceps", "RF", {230, 60, 60}),
      muscle(2, "vastus_lateralis", "Vastus lateralis", T, "quadriceps", "VL", {245, 140, 50}),
      muscle(3, "vastus_medialis", "Vastus medialis", T, "quadriceps", "VM", {250, 200, 60}),
      muscle(4, "vastus_intermedius", "Vastus intermedius", T, "quadriceps", "VI", {190, 90, 30}),
      muscle(5, "sartorius", "Sartorius", T, "", "SA", {240, 110, 200}),
      muscle(6, "gracilis", "Gracilis", T, "", "GR", {160, 230, 230}),
      muscle(7, "adductor_longus", "Adductor longus", T, "adductors", "AL", {60, 180, 75}),
      muscle(8, "adductor_brevis", "Adductor brevis", T, "adductors", "AB", {130, 220, 100}),
      muscle(9, "adductor_magnus", "Adductor magnus", T, "adductors", "AM", {30, 120, 60}),
      muscle(10, "biceps_femoris_long_head", "Biceps femoris long head", T, "hamstrings", "BFLH", {70, 110, 230}),
      muscle(11, "biceps_femoris_short_head", "Biceps femoris short head", T, "hamstrings", "BFSH", {120, 170, 255}),
      muscle(12, "semitendinosus", "Semitendinosus", T, "hamstrings", "ST", {110, 60, 200}),
      muscle(13, "semimembranosus", "Semimembranosus", T, "hamstrings", "SM", {40, 60, 150}),
      // Calf muscles (ids 21-31).
      muscle(21, "tibialis_anterior", "Tibialis anterior", C, "anterior_compartment_leg", "TA", {230, 60, 60}),
      muscle(22, "extensor_digitorum_longus", "Extensor digitorum longus", C, "anterior_compartment_leg", "EDL", {245, 140, 50}),
      muscle(23, "extensor_hallucis_longus", "Extensor hallucis longus", C, "anterior_compartment_leg", "EHL", {250, 200, 60}),
      muscle(24, "peroneus_longus", "Peroneus (fibularis) longus", C, "lateral_compartment_leg", "PL", {60, 180, 75}),
      muscle(25, "peroneus_brevis", "Peroneus (fibularis) brevis", C, "lateral_compartment_leg", "PB", {130, 220, 100}),
      muscle(26, "gastrocnemius_medial", "Gastrocnemius medial head", C, "superficial_posterior_compartment_leg", "GM", {70, 110, 230}),
      muscle(27, "gastrocnemius_lateral", "Gastrocnemius lateral head", C, "superficial_posterior_compartment_leg", "GL", {120, 170, 255}),
      muscle(28, "soleus", "Soleus", C, "superficial_posterior_compartment_leg", "SO", {110, 60, 200}),
      muscle(29, "tibialis_posterior", "Tibialis posterior", C, "deep_posterior_compartment_leg", "TP", {240, 110, 200}),
      muscle(30, "flexor_digitorum_longus", "Flexor digitorum longus", C, "deep_posterior_compartment_leg", "FDL", {160, 230, 230}),
      muscle(31, "flexor_hallucis_longus", "Flexor hallucis longus", C, "deep_posterior_compartment_leg", "FHL", {190, 90, 30}),
      // Tissues and bones (ids 40-49).
      coded(40, "skin", "Skin", StructureKind::Tissue, kTissue, {"SCT", "39937001", "Skin"}, {235, 200, 180}),
      coded(41, "subcutaneous_fat", "Subcutaneous adipose tissue", StructureKind::Tissue, kTissue,
            {"SCT", "71966008", "Subcutaneous tissue"}, {255, 235, 140}),
      coded(42, "imat", "Intermuscular adipose tissue", StructureKind::Tissue, kTissue,
            {"SCT", "55603005", "Fat"}, {255, 255, 0}),
      coded(43, "skeletal_muscle", "Skeletal muscle (unassigned)", StructureKind::Tissue, kTissue,
            {"SCT", "91727004", "Muscle"}, {200, 80, 80}),
      coded(44, "bone_marrow", "Bone marrow", StructureKind::Tissue, kAnatomicalStructure,
            {"SCT", "14016003", "Bone Marrow"}, {150, 110, 70}),
      coded(45, "femur", "Femur", StructureKind::Bone, kAnatomicalStructure, {"SCT", "71341001", "Femur"},
            {240, 240, 225}),
      coded(46, "tibia", "Tibia", StructureKind::Bone, kAnatomicalStructure, {"SCT", "12611008", "Tibia"},
            {240, 240, 225}),
      coded(47, "fibula", "Fibula", StructureKind::Bone, kAnatomicalStructure, {"SCT", "87342007", "Fibula"},
            {220, 220, 200}),
      // Groups (ids 60-66): never in voxel label maps; their voxels are their members'.
      group(60, "quadriceps", "Quadriceps femoris", T, "QF", {235, 120, 50}),
      group(61, "hamstrings", "Hamstrings", T, "HS", {80, 110, 220}),
      group(62, "adductors", "Adductors", T, "ADD", {60, 170, 80}),
      group(63, "anterior_compartment_leg", "Anterior compartment of leg", C, "ANTC", {235, 120, 50}),
      group(64, "lateral_compartment_leg", "Lateral compartment of leg", C, "LATC", {60, 170, 80}),
      group(65, "superficial_posterior_compartment_leg", "Superficial posterior compartment of leg", C, "SPC",
            {80, 110, 220}),
      group(66, "deep_posterior_compartment_leg", "Deep posterior compartment of leg", C, "DPC", {200, 100, 200}),
  };
  return s;
}

}  // namespace

LabelCatalog::LabelCatalog(std::vector<Structure> structures) : structures_(std::move(structures)) {
  std::set<LabelId> ids;
  std::set<std::string> keys;
  for (const auto& s : structures_) {
    if (s.base_id == 0 || s.base_id >= kLeftLabelOffset)
      throw Error(ErrorCode::Internal, s.key, "label id out of range 1..99");
    if (!ids.insert(s.base_id).second) throw Error(ErrorCode::Internal, s.key, "duplicate label id");
    if (!keys.insert(s.key).second) throw Error(ErrorCode::Internal, s.key, "duplicate structure key");
  }
}

const LabelCatalog& LabelCatalog::standard() {
  static const LabelCatalog catalog(standard_structures());
  return catalog;
}

const Structure* LabelCatalog::find(std::string_view key) const {
  for (const auto& s : structures_)
    if (s.key == key) return &s;
  return nullptr;
}

const Structure& LabelCatalog::get(std::string_view key) const {
  if (const Structure* s = find(key)) return *s;
  throw Error(ErrorCode::InvalidArgument, std::string(key), "unknown structure (see docs/catalog.md for the keys)");
}

LabelId LabelCatalog::label_id(std::string_view key, Side side) const {
  const Structure& s = get(key);
  return side == Side::Left ? static_cast<LabelId>(s.base_id + kLeftLabelOffset) : s.base_id;
}

std::optional<StructureOnSide> LabelCatalog::decode(LabelId label) const {
  if (label == 0) return std::nullopt;
  const Side side = label > kLeftLabelOffset ? Side::Left : Side::Right;
  const LabelId base = side == Side::Left ? static_cast<LabelId>(label - kLeftLabelOffset) : label;
  for (const auto& s : structures_)
    if (s.base_id == base) return StructureOnSide{&s, side};
  return std::nullopt;
}

std::vector<const Structure*> LabelCatalog::members_of(std::string_view group_key) const {
  std::vector<const Structure*> out;
  for (const auto& s : structures_)
    if (s.kind == StructureKind::Muscle && s.group_key == group_key && !group_key.empty()) out.push_back(&s);
  return out;
}

std::vector<const Structure*> LabelCatalog::muscles_of(BodyRegion region) const {
  std::vector<const Structure*> out;
  for (const auto& s : structures_)
    if (s.kind == StructureKind::Muscle && s.region == region) out.push_back(&s);
  return out;
}

std::vector<const Structure*> LabelCatalog::reporting_groups_of(BodyRegion region) const {
  std::vector<const Structure*> out;
  for (const auto& s : structures_)
    if (s.region == region &&
        (s.kind == StructureKind::MuscleGroup || (s.kind == StructureKind::Muscle && s.group_key.empty())))
      out.push_back(&s);
  return out;
}

}  // namespace musclecsa
