// The built-in ultrasound protocols: target muscle, plausible sizes, echo-intensity correction
// and texture parameters (docs/ultrasound.md).

#include <cmath>
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
// Plausible muscle thickness by ultrasound (docs/ultrasound.md, "Plausibility check").
constexpr const char* kThicknessVl =
    "domain brief: adult vastus lateralis 1.5-3 cm thick at mid-thigh; older adults (70 +- 7 y) 1.54 +- 0.34 cm "
    "(Using ultrasound to assess muscle thickness of the quadriceps in young and older adults, core.ac.uk/works/9142611); "
    "range: about the older adults' mean - 2 SD (0.86 cm) rounded down to the segmentation's own minimum, to 1.5 x 3 cm";
constexpr const char* kThicknessRf =
    "rectus femoris 1.64 +- 0.38 cm in young and 1.33 +- 0.40 cm in older adults (core.ac.uk/works/9142611); "
    "range: about the older adults' mean - 2 SD (0.53 cm) to 4 cm";
constexpr const char* kThicknessOwn = "no published range built in (verify): the automatic segmentation's own thickness range";
constexpr const char* kAcsaRange =
    "minimum: an ellipse of the protocol's minimum thickness and minimum width (the smallest muscle the protocol describes); "
    "maximum 60 cm2: no single thigh or calf muscle holds half of the mid-thigh muscle area "
    "(132.7 +- 22.4 cm2 in men aged 70-79 by CT, Goodpaster 2001, J Appl Physiol 90:2157)";

/// The plausibility limits of a protocol from its segmentation limits and a thickness range.
UsPlausibilityLimits plausibility_limits(const UsProtocol& p, double thickness_min_mm, double thickness_max_mm, const char* source) {
  UsPlausibilityLimits l;
  l.thickness_min_mm = thickness_min_mm, l.thickness_max_mm = thickness_max_mm, l.thickness_source = source;
  l.acsa_min_cm2 = std::round(0.25 * 3.141592653589793 * thickness_min_mm * p.min_width_mm) / 100;
  l.acsa_max_cm2 = 60;
  l.acsa_source = kAcsaRange;
  l.check_area = !p.layer_to_bone;
  return l;
}

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
  if (name == "vl-us") {
    p.plausibility = plausibility_limits(p, 8, 45, kThicknessVl);
    // The VL's striated texture ends at its deep aponeurosis (the vastus intermedius under it is less
    // striated), as the automatic segmentation assumes when it lowers a deep boundary; the RF sits on
    // the more striated VI (real RF images: 1.17-1.68), the gastrocnemius on the soleus (not measured).
    p.plausibility.texture_below_ratio = 1.0;
    p.plausibility.open_end_ratio = 0.5;
  }
  else if (name == "rf-us") p.plausibility = plausibility_limits(p, 5, 40, kThicknessRf);
  else p.plausibility = plausibility_limits(p, p.min_thickness_mm, p.max_thickness_mm, kThicknessOwn);
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
      {"plausibility", {{"thickness_cm", {plausibility.thickness_min_mm / 10, plausibility.thickness_max_mm / 10}},
                        {"thickness_source", plausibility.thickness_source},
                        {"check_area", plausibility.check_area},
                        {"acsa_cm2", {plausibility.acsa_min_cm2, plausibility.acsa_max_cm2}},
                        {"acsa_source", plausibility.acsa_source},
                        {"line_strength", plausibility.line_strength},
                        {"line_search_mm", plausibility.line_search_mm},
                        {"bottom_edge_fraction", plausibility.bottom_edge_fraction},
                        {"texture_below_ratio", plausibility.texture_below_ratio},
                        {"striated_ratio", plausibility.striated_ratio},
                        {"thickness_agreement", plausibility.thickness_agreement},
                        {"open_end_ratio", plausibility.open_end_ratio}}},
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
