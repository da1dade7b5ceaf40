// MRI protocols (thigh-mr, calf-mr): the CT compartment rules plus the MR thresholds.

#include <cstdint>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "musclecsa/core/error.h"
#include "musclecsa/core/text_hash.h"
#include "musclecsa/mri/mr_analysis.h"

namespace musclecsa::mri {

std::string MercuriMapping::grade_for(double ff) const {
  static const char* names[] = {"0-1", "2a", "2b", "3", "4"};
  return names[ordinal_for(ff)];
}

int MercuriMapping::ordinal_for(double ff) const {
  if (ff < grade_0_1_below) return 0;
  if (ff < grade_2a_below) return 1;
  if (ff < grade_2b_below) return 2;
  if (ff < grade_3_below) return 3;
  return 4;
}

std::string MrProtocol::to_json() const {
  nlohmann::json j = {
      {"format", "musclecsa-mr-protocol"},
      {"version", version},
      {"name", name},
      {"region", std::string(musclecsa::to_string(compartments.region))},
      {"compartments", nlohmann::json::parse(compartments.to_json())},
      {"fat_ff_threshold", fat_ff_threshold},
      {"noise_floor_sd", noise_floor_sd},
      {"body_fraction_of_local_tissue_signal", body_fraction},
      {"void_fraction_of_local_tissue_signal", void_fraction},
      {"swap_check",
       {{"ring_depth_mm", {swap_ring_depth_mm[0], swap_ring_depth_mm[1]}},
        {"low_ff", swap_low_ff},
        {"high_ff", swap_high_ff},
        {"sectors", swap_sectors},
        {"marrow_low_ff", marrow_low_ff}}},
      {"min_snr", min_snr},
      {"n4",
       {{"enabled", n4.enabled},
        {"shrink_factor", n4.shrink_factor},
        {"fitting_levels", n4.fitting_levels},
        {"iterations_per_level", n4.iterations_per_level},
        {"convergence_threshold", n4.convergence_threshold},
        {"spline_control_points", n4.spline_control_points}}},
      {"mercuri_suggestion",
       {{"grade_0_1_below_ff", mercuri.grade_0_1_below},
        {"grade_2a_below_ff", mercuri.grade_2a_below},
        {"grade_2b_below_ff", mercuri.grade_2b_below},
        {"grade_3_below_ff", mercuri.grade_3_below}}}};
  return j.dump();  // nlohmann::json objects keep keys sorted: canonical
}

std::string MrProtocol::hash() const { return fnv1a_64_hex(to_json()); }

MrProtocol builtin_mr_protocol(const std::string& name) {
  MrProtocol p;
  if (name == "thigh-mr") {
    p.compartments = segment::builtin_ct_protocol("thigh-ct");
  } else if (name == "calf-mr") {
    p.compartments = segment::builtin_ct_protocol("calf-ct");
  } else {
    throw Error(ErrorCode::InvalidArgument, name,
                "unknown MRI protocol: use thigh-mr, calf-mr or auto (CT protocols do not apply to MRI)");
  }
  p.name = name;
  p.compartments.name = name;
  // On the pseudo-CT the deep fascia is found at the fat/muscle edge (the fascia itself carries no
  // fat signal), so the layer given to no muscle is thinner than CT's 1.4 mm (docs/mri.md).
  p.compartments.muscles.fascia_layer_mm = 0.5;
  return p;
}

}  // namespace musclecsa::mri
