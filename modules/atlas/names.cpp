// The one map from upstream Denver Visible Human mesh names to catalog keys. Upstream spellings
// vary between subjects and sides (Semitendonosus / Semitendinosus, BicepsFemorisLong / Longus /
// LongHead, ExtensorHallicusLongus, QuadratisFemoris, Illiacus); every variant seen is listed.

#include <map>
#include <string>

#include "musclecsa/atlas/atlas.h"

namespace musclecsa::atlas {

std::string catalog_key_for_mesh(const std::string& file_name) {
  static const std::map<std::string, std::string> kNames = {
      {"Muscle_AdductorBrevis", "adductor_brevis"},
      {"Muscle_AdductorLongus", "adductor_longus"},
      {"Muscle_AdductorMagnus", "adductor_magnus"},
      {"Muscle_BicepsFemorisLong", "biceps_femoris_long_head"},
      {"Muscle_BicepsFemorisLongus", "biceps_femoris_long_head"},
      {"Muscle_BicepsFemorisLongHead", "biceps_femoris_long_head"},
      {"Muscle_BicepsFemorisShort", "biceps_femoris_short_head"},
      {"Muscle_BicepsFemorisShortHead", "biceps_femoris_short_head"},
      {"Muscle_ExtensorDigitorumLongus", "extensor_digitorum_longus"},
      {"Muscle_ExtensorHallucisLongus", "extensor_hallucis_longus"},
      {"Muscle_ExtensorHallicusLongus", "extensor_hallucis_longus"},
      {"Muscle_FlexorDigitorumLongus", "flexor_digitorum_longus"},
      {"Muscle_FlexorHallucisLongus", "flexor_hallucis_longus"},
      {"Muscle_FlexorHallicusLongus", "flexor_hallucis_longus"},
      {"Muscle_GastrocnemiusLateral", "gastrocnemius_lateral"},
      {"Muscle_GastrocnemiusMedial", "gastrocnemius_medial"},
      {"Muscle_Gracilis", "gracilis"},
      // Upstream has no separate peroneus brevis: this surface holds both peroneals.
      {"Muscle_PeroneusLongus", "peroneus_longus"},
      {"Muscle_RectusFemoris", "rectus_femoris"},
      {"Muscle_Sartorius", "sartorius"},
      {"Muscle_Semimembranosus", "semimembranosus"},
      {"Muscle_Semitendinosus", "semitendinosus"},
      {"Muscle_Semitendonosus", "semitendinosus"},
      {"Muscle_Soleus", "soleus"},
      {"Muscle_TibialisAnterior", "tibialis_anterior"},
      {"Muscle_TibialisPosterior", "tibialis_posterior"},
      {"Muscle_VastusIntermedius", "vastus_intermedius"},
      {"Muscle_VastusLateralis", "vastus_lateralis"},
      {"Muscle_VastusMedialis", "vastus_medialis"},
      // Hip and knee muscles the catalog does not report: skeletal muscle, unassigned.
      {"Muscle_GluteusMaximus", "skeletal_muscle"},
      {"Muscle_GluteusMedius", "skeletal_muscle"},
      {"Muscle_GluteusMinimus", "skeletal_muscle"},
      {"Muscle_Illiacus", "skeletal_muscle"},
      {"Muscle_Iliacus", "skeletal_muscle"},
      {"Muscle_InferiorGemellus", "skeletal_muscle"},
      {"Muscle_SuperiorGemellus", "skeletal_muscle"},
      {"Muscle_ObturatorExternus", "skeletal_muscle"},
      {"Muscle_ObturatorInternus", "skeletal_muscle"},
      {"Muscle_Pectineus", "skeletal_muscle"},
      {"Muscle_Piriformis", "skeletal_muscle"},
      {"Muscle_Plantaris", "skeletal_muscle"},
      {"Muscle_Popliteus", "skeletal_muscle"},
      {"Muscle_PsoasMajor", "skeletal_muscle"},
      {"Muscle_QuadratusFemoris", "skeletal_muscle"},
      {"Muscle_QuadratisFemoris", "skeletal_muscle"},
      {"Muscle_TensorFasciaeLatae", "skeletal_muscle"},
      {"Bone_Tibia", "tibia"},
      {"Bone_Fibula", "fibula"},
      {"Bone_Femur", "femur"},
      {"Bone_Patella", "patella"},
  };
  // "<SUBJECT>_<Side>_<Kind>_<Name>.stl"
  std::string stem = file_name;
  if (stem.size() > 4 && stem.substr(stem.size() - 4) == ".stl") stem.resize(stem.size() - 4);
  for (const char* side : {"_Left_", "_Right_"}) {
    const auto at = stem.find(side);
    if (at != std::string::npos) {
      stem = stem.substr(at + std::string(side).size());
      break;
    }
  }
  const auto it = kNames.find(stem);
  return it == kNames.end() ? std::string() : it->second;
}

}  // namespace musclecsa::atlas
