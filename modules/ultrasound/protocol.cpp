// The built-in ultrasound protocols: target muscle, plausible sizes, echo-intensity correction
// and texture parameters (docs/ultrasound.md).

#include <cstdio>

#include <nlohmann/json.hpp>

#include "musclecsa/core/error.h"
#include "musclecsa/core/text_hash.h"
#include "musclecsa/ultrasound/us_analysis.h"

namespace musclecsa::ultrasound {

namespace {
// Young HJ, Jenkins NT, Zhao Q, McCully KK. Measurement of intramuscular fat by muscle echo
// intensity. Muscle Nerve 2015;52(6):963-971, doi:10.1002/mus.24656 (docs/ultrasound.md).
constexpr const char* kYoung2015 =
    "Young HJ, Jenkins NT, Zhao Q, McCully KK. Measurement of intramuscular fat by muscle echo intensity. "
    "Muscle Nerve 2015;52(6):963-971. doi:10.1002/mus.24656";
}  // namespace

std::vector<std::string> us_protocol_names() { return {"rf-us", "vl-us", "quadriceps-us", "gastrocnemius-us"}; }

UsProtocol builtin_us_protocol(const std::string& name) {
  UsProtocol p;
  p.name = name;
  if (name == "rf-us") {
    p.structure_key = "rectus_femoris";
    p.description = "Rectus femoris anatomical cross-section (transverse B-mode, mid-thigh)";
    p.min_thickness_mm = 8, p.max_thickness_mm = 45, p.min_width_mm = 15;
    p.ei_correction = true, p.ei_coefficient_per_cm = 40.5278, p.ei_source = kYoung2015;
  } else if (name == "vl-us") {
    p.structure_key = "vastus_lateralis";
    p.description = "Vastus lateralis anatomical cross-section (transverse B-mode or panoramic, 50% of thigh length)";
    p.min_thickness_mm = 8, p.max_thickness_mm = 50, p.min_width_mm = 20;
    // Panoramic VL: intramuscular striations are short; the aponeuroses run across the image.
    p.ridge_line_length_mm = 30;
    // Its ends in a panorama: where the superficial and the deep aponeurosis meet.
    p.ends_at_aponeurosis_junction = true;
    p.ei_correction = true, p.ei_coefficient_per_cm = 41.5203, p.ei_source = kYoung2015;
  } else if (name == "quadriceps-us") {
    p.structure_key = "quadriceps";
    p.description = "Anterior quadriceps muscle layer (rectus femoris + vastus intermedius) from the deep fascia to the femur";
    p.min_thickness_mm = 8, p.max_thickness_mm = 80, p.min_width_mm = 15;
    p.layer_to_bone = true;
  } else if (name == "gastrocnemius-us") {
    p.structure_key = "gastrocnemius_medial";
    p.description = "Gastrocnemius medial head cross-section (transverse B-mode, proximal calf)";
    p.min_thickness_mm = 6, p.max_thickness_mm = 35, p.min_width_mm = 15;
  } else {
    throw Error(ErrorCode::InvalidArgument, "--protocol",
                "unknown ultrasound protocol '" + name + "'; use rf-us, vl-us, quadriceps-us or gastrocnemius-us");
  }
  return p;
}

std::string UsProtocol::to_json() const {
  nlohmann::ordered_json j = {
      {"name", name},
      {"modality", "US"},
      {"structure", structure_key},
      {"description", description},
      {"automatic", {{"min_thickness_mm", min_thickness_mm}, {"max_thickness_mm", max_thickness_mm},
                     {"min_width_mm", min_width_mm}, {"ridge_line_length_mm", ridge_line_length_mm},
                     {"ends_at_aponeurosis_junction", ends_at_aponeurosis_junction}, {"layer_to_bone", layer_to_bone}}},
      {"hyperechoic_threshold", hyperechoic_threshold},
      {"glcm", {{"levels", glcm_levels}, {"distance_px", glcm_distance_px}}},
      {"echo_intensity_correction",
       ei_correction ? nlohmann::ordered_json{{"equation", "EI_corrected = EI_raw + SAT_cm * coefficient"},
                                              {"coefficient_per_cm", ei_coefficient_per_cm},
                                              {"source", ei_source}}
                     : nlohmann::ordered_json(nullptr)}};
  return j.dump();
}

std::string UsProtocol::hash() const { return fnv1a_64_hex(to_json()); }

std::string to_string(SegmentationMethod method) {
  switch (method) {
    case SegmentationMethod::Automatic: return "automatic";
    case SegmentationMethod::Assisted: return "assisted";
    case SegmentationMethod::Manual: return "manual";
  }
  return "automatic";
}

}  // namespace musclecsa::ultrasound
