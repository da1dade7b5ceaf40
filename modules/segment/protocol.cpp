#include "musclecsa/segment/protocol.h"

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "musclecsa/core/error.h"
#include "musclecsa/core/text_hash.h"

namespace musclecsa::segment {
namespace {

using nlohmann::json;

json range_json(const HuRange& r) { return json::array({r.low_hu, r.high_hu}); }

HuRange range_from(const json& j, const std::string& key, const std::string& file) {
  if (!j.is_array() || j.size() != 2 || !j[0].is_number() || !j[1].is_number() || j[0].get<double>() > j[1].get<double>())
    throw Error(ErrorCode::InvalidInput, file, "'" + key + "' must be [low_hu, high_hu] with low <= high");
  return {j[0].get<double>(), j[1].get<double>()};
}

}  // namespace

std::string CtProtocol::to_json() const {
  json bins = json::array();
  for (const auto& b : hu_bins) bins.push_back({{"name", b.name}, {"range_hu", range_json(b.range)}});
  json j = {{"format", "musclecsa-ct-protocol"},
                  {"version", version},
                  {"name", name},
                  {"region", std::string(musclecsa::to_string(region))},
                  {"body_hu", range_json(body)},
                  {"muscle_hu", range_json(muscle)},
                  {"adipose_hu", range_json(adipose)},
                  {"low_attenuation_muscle_hu", range_json(low_attenuation_muscle)},
                  {"normal_attenuation_muscle_hu", range_json(normal_attenuation_muscle)},
                  {"bone_hu", bone_hu},
                  {"metal_hu", metal_hu},
                  {"min_leg_area_mm2", min_leg_area_mm2},
                  {"max_leg_area_mm2", max_leg_area_mm2},
                  {"bone_length_mm", json::array({min_bone_length_mm, max_bone_length_mm})},
                  {"max_skin_mm", max_skin_mm},
                  {"hu_bins", bins},
                  {"muscles", {{"enabled", muscles.enabled},
                               {"marker_margin_mm", muscles.marker_margin_mm},
                               {"intermuscular_fat_mm", muscles.intermuscular_fat_mm},
                               {"fascia_layer_mm", muscles.fascia_layer_mm},
                               {"uncertain_area_ratio", muscles.uncertain_area_ratio},
                               {"prior", muscles.prior},
                               {"atlases_per_slice", muscles.atlases_per_slice},
                               {"atlas_key_spacing_mm", muscles.atlas_key_spacing_mm},
                               {"demons_iterations", muscles.demons_iterations},
                               {"min_atlas_subjects", muscles.min_atlas_subjects},
                               {"min_atlas_agreement", muscles.min_atlas_agreement},
                               {"atlas_area_sd_limit", muscles.atlas_area_sd_limit},
                               {"atlas_area_tolerance_mm2", muscles.atlas_area_tolerance_mm2},
                               {"confidence_min_area_mm2", muscles.confidence_min_area_mm2}}},
                  {"level", {{"name", level.name}, {"bone", level.bone_key}, {"fraction_from_proximal", level.fraction_from_proximal}}}};
  // Written only when on, so protocols without it keep their text and hash.
  if (muscles.bone_rim_mm > 0) j["muscles"]["bone_rim_mm"] = muscles.bone_rim_mm;
  return j.dump();  // nlohmann::json objects keep keys sorted: canonical text
}

std::string CtProtocol::hash() const { return fnv1a_64_hex(to_json()); }

CtProtocol builtin_ct_protocol(const std::string& name) {
  CtProtocol p;
  if (name == "thigh-ct") return p;
  if (name == "calf-ct") {
    p.name = "calf-ct";
    p.region = BodyRegion::Calf;
    p.level = {"tibia_66pct_from_distal", "tibia", 1.0 - 0.66};
    p.min_leg_area_mm2 = 1000;
    p.max_leg_area_mm2 = 25000;
    p.min_bone_length_mm = 250;
    p.max_bone_length_mm = 500;
    return p;
  }
  throw Error(ErrorCode::InvalidArgument, "--protocol " + name, "unknown protocol (thigh-ct, calf-ct, auto or a JSON file)");
}

CtProtocol load_ct_protocol(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::ifstream in(path);
  if (!in) throw Error(ErrorCode::InputNotFound, file, "cannot open the protocol");
  json j;
  try {
    in >> j;
  } catch (const json::exception& e) {
    throw Error(ErrorCode::InvalidInput, file, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw Error(ErrorCode::InvalidInput, file, "a protocol must be a JSON object");
  const json region_value = j.contains("region") ? j.at("region") : json("thigh");
  if (!region_value.is_string() || (region_value != "thigh" && region_value != "calf"))
    throw Error(ErrorCode::InvalidInput, file, "'region' must be \"thigh\" or \"calf\"");
  CtProtocol p = builtin_ct_protocol(region_value == "calf" ? "calf-ct" : "thigh-ct");
  std::string k;
  try {
    for (auto it = j.begin(); it != j.end(); ++it) {
      k = it.key();
      const json& v = it.value();
      if (k == "format" || k == "region" || k == "$comment" || k == "description") continue;
      if (k == "version") {
        if (!v.is_number_integer() || v.get<int>() != 1)
          throw Error(ErrorCode::InvalidInput, file, "protocol version " + v.dump() + " is not supported (1)");
      } else if (k == "name") p.name = v.get<std::string>();
      else if (k == "body_hu") p.body = range_from(v, k, file);
      else if (k == "muscle_hu") p.muscle = range_from(v, k, file);
      else if (k == "adipose_hu") p.adipose = range_from(v, k, file);
      else if (k == "low_attenuation_muscle_hu") p.low_attenuation_muscle = range_from(v, k, file);
      else if (k == "normal_attenuation_muscle_hu") p.normal_attenuation_muscle = range_from(v, k, file);
      else if (k == "bone_hu") p.bone_hu = v.get<double>();
      else if (k == "metal_hu") p.metal_hu = v.get<double>();
      else if (k == "min_leg_area_mm2") p.min_leg_area_mm2 = v.get<double>();
      else if (k == "max_leg_area_mm2") p.max_leg_area_mm2 = v.get<double>();
      else if (k == "bone_length_mm") {
        const HuRange r = range_from(v, k, file);  // [min, max] in mm
        p.min_bone_length_mm = r.low_hu;
        p.max_bone_length_mm = r.high_hu;
      }
      else if (k == "max_skin_mm") p.max_skin_mm = v.get<double>();
      else if (k == "hu_bins") {
        p.hu_bins.clear();
        for (const auto& b : v) p.hu_bins.push_back({b.at("name").get<std::string>(), range_from(b.at("range_hu"), "hu_bins", file)});
      } else if (k == "level") {
        p.level.name = v.at("name").get<std::string>();
        p.level.bone_key = v.at("bone").get<std::string>();
        p.level.fraction_from_proximal = v.at("fraction_from_proximal").get<double>();
        if (p.level.bone_key != "femur" && p.level.bone_key != "tibia")
          throw Error(ErrorCode::InvalidInput, file, "'level.bone' must be femur or tibia");
        if (!(p.level.fraction_from_proximal >= 0 && p.level.fraction_from_proximal <= 1))
          throw Error(ErrorCode::InvalidInput, file, "'level.fraction_from_proximal' must be 0..1");
      } else if (k == "muscles") {
        if (!v.is_object()) throw Error(ErrorCode::InvalidInput, file, "'muscles' must be an object");
        for (auto m = v.begin(); m != v.end(); ++m) {
          k = "muscles." + m.key();
          if (m.key() == "enabled") p.muscles.enabled = m.value().get<bool>();
          else if (m.key() == "marker_margin_mm") p.muscles.marker_margin_mm = m.value().get<double>();
          else if (m.key() == "intermuscular_fat_mm") p.muscles.intermuscular_fat_mm = m.value().get<double>();
          else if (m.key() == "fascia_layer_mm") p.muscles.fascia_layer_mm = m.value().get<double>();
          else if (m.key() == "uncertain_area_ratio") p.muscles.uncertain_area_ratio = m.value().get<double>();
          else if (m.key() == "bone_rim_mm") p.muscles.bone_rim_mm = m.value().get<double>();
          else if (m.key() == "prior") p.muscles.prior = m.value().get<std::string>();
          else if (m.key() == "atlases_per_slice") p.muscles.atlases_per_slice = m.value().get<int>();
          else if (m.key() == "atlas_key_spacing_mm") p.muscles.atlas_key_spacing_mm = m.value().get<double>();
          else if (m.key() == "demons_iterations") p.muscles.demons_iterations = m.value().get<int>();
          else if (m.key() == "min_atlas_agreement") p.muscles.min_atlas_agreement = m.value().get<double>();
          else if (m.key() == "min_atlas_subjects") p.muscles.min_atlas_subjects = m.value().get<int>();
          else if (m.key() == "atlas_area_sd_limit") p.muscles.atlas_area_sd_limit = m.value().get<double>();
          else if (m.key() == "atlas_area_tolerance_mm2") p.muscles.atlas_area_tolerance_mm2 = m.value().get<double>();
          else if (m.key() == "confidence_min_area_mm2") p.muscles.confidence_min_area_mm2 = m.value().get<double>();
          else throw Error(ErrorCode::InvalidInput, file, "unknown protocol key '" + k + "' (docs/protocols.md)");
        }
        if (!(p.muscles.marker_margin_mm >= 0 && p.muscles.marker_margin_mm <= 30))
          throw Error(ErrorCode::InvalidInput, file, "'muscles.marker_margin_mm' must be 0..30 mm");
        if (!(p.muscles.intermuscular_fat_mm >= 0 && p.muscles.intermuscular_fat_mm <= 10))
          throw Error(ErrorCode::InvalidInput, file, "'muscles.intermuscular_fat_mm' must be 0..10 mm");
        if (!(p.muscles.fascia_layer_mm >= 0 && p.muscles.fascia_layer_mm <= 10))
          throw Error(ErrorCode::InvalidInput, file, "'muscles.fascia_layer_mm' must be 0..10 mm");
        if (!(p.muscles.bone_rim_mm >= 0 && p.muscles.bone_rim_mm <= 5))
          throw Error(ErrorCode::InvalidInput, file, "'muscles.bone_rim_mm' must be 0..5 mm");
        if (!(p.muscles.uncertain_area_ratio > 1))
          throw Error(ErrorCode::InvalidInput, file, "'muscles.uncertain_area_ratio' must be above 1");
        if (p.muscles.prior != "atlas" && p.muscles.prior != "layout")
          throw Error(ErrorCode::InvalidInput, file, "'muscles.prior' must be \"atlas\" or \"layout\"");
        if (p.muscles.atlases_per_slice < 1 || p.muscles.atlases_per_slice > 40)
          throw Error(ErrorCode::InvalidInput, file, "'muscles.atlases_per_slice' must be 1..40");
        if (!(p.muscles.atlas_key_spacing_mm > 0 && p.muscles.atlas_key_spacing_mm <= 100))
          throw Error(ErrorCode::InvalidInput, file, "'muscles.atlas_key_spacing_mm' must be above 0 and at most 100 mm");
        if (p.muscles.demons_iterations < 0 || p.muscles.demons_iterations > 500)
          throw Error(ErrorCode::InvalidInput, file, "'muscles.demons_iterations' must be 0..500");
        if (p.muscles.min_atlas_subjects < 0 || p.muscles.min_atlas_subjects > 40)
          throw Error(ErrorCode::InvalidInput, file, "'muscles.min_atlas_subjects' must be 0..40");
        if (!(p.muscles.min_atlas_agreement >= 0 && p.muscles.min_atlas_agreement <= 1))
          throw Error(ErrorCode::InvalidInput, file, "'muscles.min_atlas_agreement' must be 0..1");
        if (!(p.muscles.atlas_area_sd_limit > 0) || !(p.muscles.atlas_area_tolerance_mm2 >= 0) ||
            !(p.muscles.confidence_min_area_mm2 >= 0))
          throw Error(ErrorCode::InvalidInput, file,
                      "'muscles.atlas_area_sd_limit' must be above 0, 'atlas_area_tolerance_mm2' and 'confidence_min_area_mm2' 0 or more");
      } else {
        throw Error(ErrorCode::InvalidInput, file, "unknown protocol key '" + k + "' (docs/protocols.md)");
      }
    }
  } catch (const json::exception& e) {
    throw Error(ErrorCode::InvalidInput, file, "'" + k + "' has the wrong type (" + e.what() + ")");
  }
  if (p.bone_hu <= p.muscle.high_hu) throw Error(ErrorCode::InvalidInput, file, "'bone_hu' must be above the muscle range");
  return p;
}

}  // namespace musclecsa::segment
