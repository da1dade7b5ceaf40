#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "musclecsa/core/catalog.h"
#include "musclecsa/core/error.h"

using namespace musclecsa;

namespace {
const LabelCatalog& catalog() { return LabelCatalog::standard(); }

std::vector<std::string> keys(const std::vector<const Structure*>& v) {
  std::vector<std::string> out;
  for (const auto* s : v) out.push_back(s->key);
  return out;
}
}  // namespace

TEST(LabelCatalog, HoldsEveryMuscleGroupAndTissueTheFoundationIssueNames) {
  for (const char* key :
       {"rectus_femoris", "vastus_lateralis", "vastus_medialis", "vastus_intermedius", "sartorius", "gracilis",
        "adductor_longus", "adductor_brevis", "adductor_magnus", "biceps_femoris_long_head",
        "biceps_femoris_short_head", "semitendinosus", "semimembranosus", "tibialis_anterior",
        "extensor_digitorum_longus", "extensor_hallucis_longus", "peroneus_longus", "peroneus_brevis",
        "gastrocnemius_medial", "gastrocnemius_lateral", "soleus", "tibialis_posterior", "flexor_digitorum_longus",
        "flexor_hallucis_longus", "quadriceps", "hamstrings", "adductors", "anterior_compartment_leg",
        "lateral_compartment_leg", "superficial_posterior_compartment_leg", "deep_posterior_compartment_leg",
        "subcutaneous_fat", "imat", "femur", "tibia", "fibula", "bone_marrow"})
    EXPECT_NE(catalog().find(key), nullptr) << key;
}

TEST(LabelCatalog, EveryLabelIdDecodesBackToItsStructureAndSide) {
  std::set<LabelId> seen;
  for (const auto& s : catalog().structures()) {
    for (Side side : {Side::Right, Side::Left}) {
      const LabelId id = catalog().label_id(s.key, side);
      EXPECT_TRUE(seen.insert(id).second) << "duplicate id " << id;
      const auto decoded = catalog().decode(id);
      ASSERT_TRUE(decoded.has_value()) << s.key;
      EXPECT_EQ(decoded->structure->key, s.key);
      EXPECT_EQ(decoded->side, side);
    }
  }
  EXPECT_FALSE(catalog().decode(0).has_value());
  EXPECT_FALSE(catalog().decode(99).has_value());
}

TEST(LabelCatalog, GroupsHaveTheAnatomicalMembers) {
  using V = std::vector<std::string>;
  EXPECT_EQ(keys(catalog().members_of("quadriceps")),
            (V{"rectus_femoris", "vastus_lateralis", "vastus_medialis", "vastus_intermedius"}));
  EXPECT_EQ(keys(catalog().members_of("hamstrings")),
            (V{"biceps_femoris_long_head", "biceps_femoris_short_head", "semitendinosus", "semimembranosus"}));
  EXPECT_EQ(keys(catalog().members_of("adductors")), (V{"adductor_longus", "adductor_brevis", "adductor_magnus"}));
  EXPECT_EQ(keys(catalog().members_of("superficial_posterior_compartment_leg")),
            (V{"gastrocnemius_medial", "gastrocnemius_lateral", "soleus"}));
  EXPECT_EQ(keys(catalog().members_of("deep_posterior_compartment_leg")),
            (V{"tibialis_posterior", "flexor_digitorum_longus", "flexor_hallucis_longus"}));
  // Thigh reporting: the three groups plus sartorius and gracilis on their own.
  const auto thigh = keys(catalog().reporting_groups_of(BodyRegion::Thigh));
  EXPECT_EQ(thigh.size(), 5u);
  EXPECT_NE(std::find(thigh.begin(), thigh.end(), "sartorius"), thigh.end());
  EXPECT_NE(std::find(thigh.begin(), thigh.end(), "gracilis"), thigh.end());
  EXPECT_EQ(catalog().reporting_groups_of(BodyRegion::Calf).size(), 4u);
}

TEST(LabelCatalog, TissueAndBoneCodesAreTheDicomPs316Ones) {
  // Values checked against PS3.16 (pydicom concept dictionary, DCMTK CID 4031); see docs/coding.md.
  EXPECT_EQ(catalog().get("femur").type.code, "71341001");
  EXPECT_EQ(catalog().get("tibia").type.code, "12611008");
  EXPECT_EQ(catalog().get("fibula").type.code, "87342007");
  EXPECT_EQ(catalog().get("bone_marrow").type.code, "14016003");
  EXPECT_EQ(catalog().get("skin").type.code, "39937001");
  EXPECT_EQ(catalog().get("subcutaneous_fat").type.code, "71966008");
  EXPECT_EQ(catalog().get("imat").type.code, "55603005");
  EXPECT_EQ(catalog().get("skeletal_muscle").type.code, "91727004");
  EXPECT_EQ(catalog().get("femur").category.code, "91723000");
  EXPECT_EQ(catalog().get("imat").category.code, "85756007");
}

TEST(LabelCatalog, MusclesWithoutPs316CodesUseThePrivateSchemeAndMuscleOfLowerLimb) {
  std::set<std::string> private_codes;
  for (const auto& s : catalog().structures()) {
    if (s.kind != StructureKind::Muscle && s.kind != StructureKind::MuscleGroup) {
      EXPECT_EQ(s.type.scheme, "SCT") << s.key;
      EXPECT_TRUE(std::all_of(s.type.code.begin(), s.type.code.end(), ::isdigit)) << s.key;
      continue;
    }
    EXPECT_EQ(s.type.scheme, "99MCSA") << s.key;
    EXPECT_TRUE(private_codes.insert(s.type.code).second) << "duplicate private code " << s.type.code;
    EXPECT_EQ(s.sct_concept.code, "102292000") << s.key;
    EXPECT_EQ(s.sct_concept.meaning, "Muscle of lower limb");
  }
}

TEST(LabelCatalog, MuscleColoursDifferWithinARegion) {
  for (BodyRegion region : {BodyRegion::Thigh, BodyRegion::Calf}) {
    std::set<std::tuple<int, int, int>> colours;
    for (const auto* m : catalog().muscles_of(region))
      EXPECT_TRUE(colours.insert({m->colour.r, m->colour.g, m->colour.b}).second) << m->key;
  }
}

TEST(LabelCatalog, UnknownKeyThrowsNamingTheKey) {
  try {
    catalog().get("vastus_maximus");
    FAIL() << "unknown key accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_EQ(e.input(), "vastus_maximus");
  }
  EXPECT_THROW(side_from_string("middle"), Error);
  EXPECT_EQ(side_from_string("L"), Side::Left);
}
