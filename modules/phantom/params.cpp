#include <cmath>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "musclecsa/core/error.h"
#include "musclecsa/phantom/phantom.h"

namespace musclecsa::phantom {

std::string_view to_string(Anatomy a) { return a == Anatomy::Thigh ? "thigh" : "calf"; }

std::string_view to_string(PhantomModality m) {
  switch (m) {
    case PhantomModality::CT: return "ct";
    case PhantomModality::MrT1: return "mr-t1";
    case PhantomModality::MrDixon: return "mr-dixon";
    case PhantomModality::US: return "us";
  }
  return "ct";
}

std::string_view to_string(FatPattern p) {
  switch (p) {
    case FatPattern::Diffuse: return "diffuse";
    case FatPattern::Marbled: return "marbled";
    case FatPattern::Mixed: return "mixed";
  }
  return "diffuse";
}

std::string_view to_string(Legs l) {
  switch (l) {
    case Legs::Both: return "both";
    case Legs::Right: return "right";
    case Legs::Left: return "left";
  }
  return "both";
}

namespace {
[[noreturn]] void bad_choice(std::string_view option, std::string_view value, std::string_view choices) {
  throw Error(ErrorCode::InvalidArgument, std::string(option),
              "'" + std::string(value) + "' is not one of: " + std::string(choices));
}
}  // namespace

Anatomy anatomy_from_string(std::string_view t) {
  if (t == "thigh") return Anatomy::Thigh;
  if (t == "calf") return Anatomy::Calf;
  bad_choice("anatomy", t, "thigh, calf");
}

PhantomModality modality_from_string(std::string_view t) {
  if (t == "ct") return PhantomModality::CT;
  if (t == "mr-t1") return PhantomModality::MrT1;
  if (t == "mr-dixon") return PhantomModality::MrDixon;
  if (t == "us") return PhantomModality::US;
  bad_choice("modality", t, "ct, mr-t1, mr-dixon, us");
}

FatPattern fat_pattern_from_string(std::string_view t) {
  if (t == "diffuse") return FatPattern::Diffuse;
  if (t == "marbled") return FatPattern::Marbled;
  if (t == "mixed") return FatPattern::Mixed;
  bad_choice("fat pattern", t, "diffuse, marbled, mixed");
}

Legs legs_from_string(std::string_view t) {
  if (t == "both") return Legs::Both;
  if (t == "right") return Legs::Right;
  if (t == "left") return Legs::Left;
  bad_choice("legs", t, "both, right, left");
}

namespace {
void require(bool ok, const char* parameter, const std::string& problem) {
  if (!ok) throw Error(ErrorCode::InvalidArgument, parameter, problem);
}
}  // namespace

PhantomParams resolve_defaults(PhantomParams p) {
  const bool thigh = p.anatomy == Anatomy::Thigh;
  const bool ct = p.modality == PhantomModality::CT;
  const bool mr = p.modality == PhantomModality::MrT1 || p.modality == PhantomModality::MrDixon;
  if (p.columns == 0) p.columns = ct ? 512 : (thigh ? 320 : 256);
  if (p.rows == 0) p.rows = p.columns;
  if (p.slices == 0) p.slices = ct ? 48 : 30;
  if (p.pixel_spacing_mm == 0) p.pixel_spacing_mm = (thigh ? 400.0 : 300.0) / static_cast<double>(p.columns);
  if (p.slice_spacing_mm == 0) {
    const double bone_length = thigh ? 440.0 : 370.0;
    p.slice_spacing_mm = std::min(20.0, std::round(1.08 * bone_length / static_cast<double>(p.slices) * 100.0) / 100.0);
  }
  if (p.sat_thickness_mm == 0)
    p.sat_thickness_mm = p.modality == PhantomModality::US ? (thigh ? 8 : 6) : (thigh ? 12 : 8);
  if (p.noise_sd < 0) p.noise_sd = ct ? 20 : (mr ? 12 : 0);
  if (p.bias_field_amplitude < 0) p.bias_field_amplitude = p.modality == PhantomModality::MrT1 ? 0.2 : 0;
  if (p.modality == PhantomModality::US && p.us_muscle == "rectus_femoris" && !thigh)
    p.us_muscle = "gastrocnemius_medial";
  if (p.us_depth_mm == 0) p.us_depth_mm = p.us_muscle == "gastrocnemius_medial" ? 45 : 50;
  if (p.us_width_mm == 0)
    p.us_width_mm = p.us_muscle == "rectus_femoris" ? 60 : (p.us_muscle == "vastus_lateralis" ? 100 : 80);

  require(p.columns >= 32 && p.columns <= 2048, "columns", "must be 32..2048");
  require(p.rows >= 32 && p.rows <= 2048, "rows", "must be 32..2048");
  require(p.slices >= 1 && p.slices <= 2000, "slices", "must be 1..2000");
  require(p.pixel_spacing_mm >= 0.05 && p.pixel_spacing_mm <= 5, "pixel-spacing-mm", "must be 0.05..5 mm");
  require(p.slice_spacing_mm >= 0.1 && p.slice_spacing_mm <= 100, "slice-spacing-mm", "must be 0.1..100 mm");
  require(p.sat_thickness_mm >= 1 && p.sat_thickness_mm <= 60, "sat-thickness-mm", "must be 1..60 mm");
  require(p.skin_thickness_mm >= 0.5 && p.skin_thickness_mm <= 5, "skin-thickness-mm", "must be 0.5..5 mm");
  require(p.muscle_area_scale >= 0.3 && p.muscle_area_scale <= 1.5, "muscle-area-scale", "must be 0.3..1.5");
  require(p.septum_width_mm >= 0 && p.septum_width_mm <= 10, "septum-width-mm", "must be 0..10 mm");
  require(p.group_septum_width_mm >= 0 && p.group_septum_width_mm <= 10, "group-septum-width-mm", "must be 0..10 mm");
  require(p.subfascial_fat_mm >= 0 && p.subfascial_fat_mm <= 10, "subfascial-fat-mm", "must be 0..10 mm");
  require(p.fascia_thickness_mm >= 0 && p.fascia_thickness_mm <= 3, "fascia-thickness-mm", "must be 0..3 mm");
  require(p.shape_variation >= 0 && p.shape_variation <= 2, "shape-variation", "must be 0..2");
  require(p.leg_gap_mm >= -40 && p.leg_gap_mm <= 200, "leg-gap-mm", "must be -40..200 mm");
  require(p.noise_sd >= 0 && p.noise_sd <= 500, "noise-sd", "must be 0..500");
  require(p.bias_field_amplitude >= 0 && p.bias_field_amplitude <= 0.6, "bias-field", "must be 0..0.6");
  require(p.supersampling >= 1 && p.supersampling <= 7 && p.supersampling % 2 == 1, "supersampling",
          "must be an odd number 1..7");
  require(p.us_pixel_spacing_mm >= 0.02 && p.us_pixel_spacing_mm <= 1, "us-pixel-spacing-mm", "must be 0.02..1 mm");
  require(p.us_depth_mm >= 20 && p.us_depth_mm <= 120, "us-depth-mm", "must be 20..120 mm");
  require(p.us_width_mm >= 20 && p.us_width_mm <= 300, "us-width-mm", "must be 20..300 mm");
  require(p.us_depth_mm / p.us_pixel_spacing_mm <= 4096 && p.us_width_mm / p.us_pixel_spacing_mm <= 4096,
          "us-pixel-spacing-mm", "gives an image larger than 4096 pixels");
  require(p.us_echogenicity_gain > 0.2 && p.us_echogenicity_gain <= 3, "us-echogenicity-gain", "must be 0.2..3");
  require(p.us_muscle == "rectus_femoris" || p.us_muscle == "vastus_lateralis" || p.us_muscle == "gastrocnemius_medial",
          "us-muscle", "must be rectus_femoris, vastus_lateralis or gastrocnemius_medial");
  for (const auto& [key, inf] : p.infiltration) {
    if (key != "all") {
      const Structure* s = LabelCatalog::standard().find(key);
      require(s != nullptr && s->kind == StructureKind::Muscle, "infiltration", "'" + key + "' is not a muscle key");
    }
    require(inf.fraction >= 0 && inf.fraction <= 0.9, "infiltration", "fraction of '" + key + "' must be 0..0.9");
  }
  return p;
}

PhantomParams load_preset(const std::filesystem::path& file, PhantomParams p) {
  const std::string name = file.string();
  std::ifstream in(file);
  if (!in) throw Error(ErrorCode::InputNotFound, name, "cannot open the phantom preset");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::InvalidInput, name, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw Error(ErrorCode::InvalidInput, name, "a phantom preset must be a JSON object");
  try {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      const auto& v = it.value();
      if (k == "anatomy") p.anatomy = anatomy_from_string(v.get<std::string>());
      else if (k == "modality") p.modality = modality_from_string(v.get<std::string>());
      else if (k == "seed") p.seed = v.get<std::uint64_t>();
      else if (k == "columns") p.columns = v.get<std::size_t>();
      else if (k == "rows") p.rows = v.get<std::size_t>();
      else if (k == "slices") p.slices = v.get<std::size_t>();
      else if (k == "pixel_spacing_mm") p.pixel_spacing_mm = v.get<double>();
      else if (k == "slice_spacing_mm") p.slice_spacing_mm = v.get<double>();
      else if (k == "legs") p.legs = legs_from_string(v.get<std::string>());
      else if (k == "leg_gap_mm") p.leg_gap_mm = v.get<double>();
      else if (k == "sat_thickness_mm") p.sat_thickness_mm = v.get<double>();
      else if (k == "skin_thickness_mm") p.skin_thickness_mm = v.get<double>();
      else if (k == "muscle_area_scale") p.muscle_area_scale = v.get<double>();
      else if (k == "septum_width_mm") p.septum_width_mm = v.get<double>();
      else if (k == "group_septum_width_mm") p.group_septum_width_mm = v.get<double>();
      else if (k == "subfascial_fat_mm") p.subfascial_fat_mm = v.get<double>();
      else if (k == "fascia_thickness_mm") p.fascia_thickness_mm = v.get<double>();
      else if (k == "shape_variation") p.shape_variation = v.get<double>();
      else if (k == "noise_sd") p.noise_sd = v.get<double>();
      else if (k == "bias_field_amplitude") p.bias_field_amplitude = v.get<double>();
      else if (k == "supersampling") p.supersampling = v.get<int>();
      else if (k == "us_muscle") p.us_muscle = v.get<std::string>();
      else if (k == "us_pixel_spacing_mm") p.us_pixel_spacing_mm = v.get<double>();
      else if (k == "us_depth_mm") p.us_depth_mm = v.get<double>();
      else if (k == "us_width_mm") p.us_width_mm = v.get<double>();
      else if (k == "us_muscle_width_mm") p.us_muscle_width_mm = v.get<double>();
      else if (k == "us_muscle_thickness_mm") p.us_muscle_thickness_mm = v.get<double>();
      else if (k == "us_echogenicity_gain") p.us_echogenicity_gain = v.get<double>();
      else if (k == "infiltration") {
        if (!v.is_object()) throw Error(ErrorCode::InvalidInput, name, "'infiltration' must be an object keyed by muscle");
        for (auto m = v.begin(); m != v.end(); ++m) {
          Infiltration inf;
          inf.fraction = m.value().at("fraction").get<double>();
          inf.pattern = fat_pattern_from_string(m.value().value("pattern", std::string("diffuse")));
          p.infiltration[m.key()] = inf;
        }
      } else if (k == "description" || k == "$comment") {
        // documentation only
      } else {
        throw Error(ErrorCode::InvalidInput, name, "unknown preset key '" + k + "' (see docs/phantoms.md)");
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::InvalidInput, name, std::string("wrong value type in preset: ") + e.what());
  } catch (const Error& e) {
    if (e.input() == name) throw;
    throw Error(ErrorCode::InvalidInput, name, e.what());
  }
  return p;
}

}  // namespace musclecsa::phantom
