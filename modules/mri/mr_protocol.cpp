// MRI protocols (thigh-mr, calf-mr): the CT compartment rules plus the MR thresholds.

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>

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
  // The bone's rim, widened by the interpolation to the finer grid, is no channel for the flood.
  p.compartments.muscles.bone_rim_mm = 1.2;
  return p;
}

namespace {

using nlohmann::json;

constexpr const char* kFormat = "musclecsa-mr-protocol";

json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorCode::InputNotFound, path.string(), "cannot open the protocol");
  try {
    json j;
    in >> j;
    return j;
  } catch (const json::exception& e) {
    throw Error(ErrorCode::InvalidInput, path.string(), std::string("not valid JSON: ") + e.what());
  }
}

/// The compartment (CT) protocol of `base` with the keys of `overrides` replaced (objects such as
/// "muscles" and "level" key by key), read by segment::load_ct_protocol so that the CT rules (key
/// names, types, ranges) are the same in both file kinds. Errors name `file` and "compartments".
segment::CtProtocol compartments_from(const segment::CtProtocol& base, const json& overrides, const std::string& file) {
  if (!overrides.is_object()) throw Error(ErrorCode::InvalidInput, file, "'compartments' must be an object (the CT rules, docs/protocols.md)");
  json merged = json::parse(base.to_json());
  for (auto it = overrides.begin(); it != overrides.end(); ++it) {
    if (it.value().is_null()) throw Error(ErrorCode::InvalidInput, file, "'compartments." + it.key() + "' is null: leave the key out for its default");
    if (it.key() == "name" || it.key() == "format") continue;  // the compartments carry the MR protocol's name
    if (it.key() == "region") {
      if (it.value() != merged["region"])
        throw Error(ErrorCode::InvalidInput, file, "'compartments.region' " + it.value().dump() + " differs from the protocol's 'region' " +
                                                      merged["region"].dump());
      continue;
    }
    if (merged.contains(it.key()) && merged[it.key()].is_object() && it.value().is_object())
      for (auto m = it.value().begin(); m != it.value().end(); ++m) merged[it.key()][m.key()] = m.value();
    else
      merged[it.key()] = it.value();
  }
  // segment::load_ct_protocol reads files: the merged rules go through a private temporary file.
  std::random_device rd;
  const std::filesystem::path temp = std::filesystem::temp_directory_path() /
                                     ("musclecsa-mr-compartments-" + std::to_string(rd()) + std::to_string(rd()) + ".json");
  {
    std::ofstream out(temp);
    out << merged.dump();
    if (!out) throw Error(ErrorCode::OutputFailed, temp.string(), "cannot write a temporary file to read the compartments of " + file);
  }
  try {
    segment::CtProtocol p = segment::load_ct_protocol(temp);
    std::error_code ec;
    std::filesystem::remove(temp, ec);
    return p;
  } catch (const Error& e) {
    std::error_code ec;
    std::filesystem::remove(temp, ec);
    throw Error(e.code(), file, "in 'compartments': " + e.problem());
  }
}

double number_in(const json& v, const std::string& key, double low, double high, const std::string& file, bool low_open = false) {
  if (!v.is_number()) throw Error(ErrorCode::InvalidInput, file, "'" + key + "' has the wrong type: must be a number, is " + v.dump());
  const double x = v.get<double>();
  if (!(low_open ? x > low : x >= low) || !(x <= high)) {
    char range[96];
    std::snprintf(range, sizeof range, low_open ? "above %g and at most %g" : "%g..%g", low, high);
    throw Error(ErrorCode::InvalidInput, file, "'" + key + "' must be " + range + " (is " + v.dump() + ")");
  }
  return x;
}

int integer_in(const json& v, const std::string& key, int low, int high, const std::string& file) {
  if (!v.is_number_integer()) throw Error(ErrorCode::InvalidInput, file, "'" + key + "' has the wrong type: must be a whole number, is " + v.dump());
  const auto x = v.get<std::int64_t>();
  if (x < low || x > high)
    throw Error(ErrorCode::InvalidInput, file, "'" + key + "' must be " + std::to_string(low) + ".." + std::to_string(high) + " (is " + v.dump() + ")");
  return int(x);
}

bool boolean(const json& v, const std::string& key, const std::string& file) {
  if (!v.is_boolean()) throw Error(ErrorCode::InvalidInput, file, "'" + key + "' has the wrong type: must be true or false, is " + v.dump());
  return v.get<bool>();
}

const json& object(const json& v, const std::string& key, const std::string& file) {
  if (!v.is_object()) throw Error(ErrorCode::InvalidInput, file, "'" + key + "' must be an object");
  return v;
}

[[noreturn]] void unknown_key(const std::string& key, const std::string& file, const segment::CtProtocol& compartments) {
  if (json::parse(compartments.to_json()).contains(key))
    throw Error(ErrorCode::InvalidInput, file,
                "'" + key + "' is a CT protocol key: in an MR protocol the CT rules go inside \"compartments\" (docs/protocols.md)");
  throw Error(ErrorCode::InvalidInput, file, "unknown MR protocol key '" + key + "' (docs/protocols.md)");
}

}  // namespace

bool is_mr_protocol_file(const std::filesystem::path& file) {
  try {
    const json j = read_json_file(file);
    return j.is_object() && j.contains("format") && j["format"] == kFormat;
  } catch (const Error&) {
    return false;
  }
}

MrProtocol load_mr_protocol(const std::filesystem::path& path) {
  const std::string file = path.string();
  const json j = read_json_file(path);
  if (!j.is_object()) throw Error(ErrorCode::InvalidInput, file, "an MR protocol must be a JSON object");
  if (j.contains("format") && j["format"] != kFormat) {
    if (j["format"] == "musclecsa-ct-protocol")
      throw Error(ErrorCode::InvalidInput, file,
                  "a CT protocol file (format musclecsa-ct-protocol): MRI takes an MR protocol (format musclecsa-mr-protocol, "
                  "e.g. the protocol.json of an MR analysis; docs/protocols.md)");
    throw Error(ErrorCode::InvalidInput, file, "'format' must be \"" + std::string(kFormat) + "\" (is " + j["format"].dump() + ")");
  }
  const json region = j.contains("region") ? j["region"] : json("thigh");
  if (region != "thigh" && region != "calf") throw Error(ErrorCode::InvalidInput, file, "'region' must be \"thigh\" or \"calf\"");
  MrProtocol p = builtin_mr_protocol(region == "calf" ? "calf-mr" : "thigh-mr");
  if (j.contains("version")) {
    const json& v = j["version"];
    if (!v.is_number_integer() || v.get<std::int64_t>() != 1)
      throw Error(ErrorCode::InvalidInput, file, "MR protocol version " + v.dump() + " is not supported (1)");
  }
  if (j.contains("name")) {
    if (!j["name"].is_string() || j["name"].get<std::string>().empty())
      throw Error(ErrorCode::InvalidInput, file, "'name' has the wrong type: must be a non-empty string");
    p.name = j["name"].get<std::string>();
  }
  if (j.contains("compartments")) p.compartments = compartments_from(p.compartments, j["compartments"], file);
  p.compartments.name = p.name;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (k == "format" || k == "version" || k == "name" || k == "region" || k == "compartments" || k == "$comment" ||
        k == "description")
      continue;
    if (k == "fat_ff_threshold") p.fat_ff_threshold = number_in(v, k, 0, 1, file, true);
    else if (k == "noise_floor_sd") p.noise_floor_sd = number_in(v, k, 0, 100, file);
    else if (k == "body_fraction_of_local_tissue_signal") p.body_fraction = number_in(v, k, 0, 1, file, true);
    else if (k == "void_fraction_of_local_tissue_signal") p.void_fraction = number_in(v, k, 0, 1, file, true);
    else if (k == "min_snr") p.min_snr = number_in(v, k, 0, 1000, file);
    else if (k == "swap_check") {
      for (auto m = object(v, k, file).begin(); m != v.end(); ++m) {
        const std::string key = k + "." + m.key();
        const json& x = m.value();
        if (m.key() == "ring_depth_mm") {
          if (!x.is_array() || x.size() != 2)
            throw Error(ErrorCode::InvalidInput, file, "'" + key + "' must be [from_mm, to_mm] with from < to");
          p.swap_ring_depth_mm[0] = number_in(x[0], key, 0, 50, file);
          p.swap_ring_depth_mm[1] = number_in(x[1], key, 0, 50, file);
          if (!(p.swap_ring_depth_mm[0] < p.swap_ring_depth_mm[1]))
            throw Error(ErrorCode::InvalidInput, file, "'" + key + "' must be [from_mm, to_mm] with from < to");
        } else if (m.key() == "low_ff") p.swap_low_ff = number_in(x, key, 0, 1, file);
        else if (m.key() == "high_ff") p.swap_high_ff = number_in(x, key, 0, 1, file);
        else if (m.key() == "sectors") p.swap_sectors = integer_in(x, key, 1, 64, file);
        else if (m.key() == "marrow_low_ff") p.marrow_low_ff = number_in(x, key, 0, 1, file);
        else throw Error(ErrorCode::InvalidInput, file, "unknown MR protocol key '" + key + "' (docs/protocols.md)");
      }
      if (!(p.swap_low_ff < p.swap_high_ff))
        throw Error(ErrorCode::InvalidInput, file, "'swap_check.low_ff' must be below 'swap_check.high_ff'");
    } else if (k == "n4") {
      for (auto m = object(v, k, file).begin(); m != v.end(); ++m) {
        const std::string key = k + "." + m.key();
        const json& x = m.value();
        if (m.key() == "enabled") p.n4.enabled = boolean(x, key, file);
        else if (m.key() == "shrink_factor") p.n4.shrink_factor = integer_in(x, key, 1, 16, file);
        else if (m.key() == "fitting_levels") p.n4.fitting_levels = integer_in(x, key, 1, 8, file);
        else if (m.key() == "iterations_per_level") p.n4.iterations_per_level = integer_in(x, key, 1, 1000, file);
        else if (m.key() == "convergence_threshold") p.n4.convergence_threshold = number_in(x, key, 0, 1, file, true);
        else if (m.key() == "spline_control_points") p.n4.spline_control_points = integer_in(x, key, 4, 64, file);
        else throw Error(ErrorCode::InvalidInput, file, "unknown MR protocol key '" + key + "' (docs/protocols.md)");
      }
    } else if (k == "mercuri_suggestion") {
      for (auto m = object(v, k, file).begin(); m != v.end(); ++m) {
        const std::string key = k + "." + m.key();
        if (m.key() == "grade_0_1_below_ff") p.mercuri.grade_0_1_below = number_in(m.value(), key, 0, 1, file);
        else if (m.key() == "grade_2a_below_ff") p.mercuri.grade_2a_below = number_in(m.value(), key, 0, 1, file);
        else if (m.key() == "grade_2b_below_ff") p.mercuri.grade_2b_below = number_in(m.value(), key, 0, 1, file);
        else if (m.key() == "grade_3_below_ff") p.mercuri.grade_3_below = number_in(m.value(), key, 0, 1, file);
        else throw Error(ErrorCode::InvalidInput, file, "unknown MR protocol key '" + key + "' (docs/protocols.md)");
      }
      const auto& g = p.mercuri;
      if (!(g.grade_0_1_below <= g.grade_2a_below && g.grade_2a_below <= g.grade_2b_below && g.grade_2b_below <= g.grade_3_below))
        throw Error(ErrorCode::InvalidInput, file, "the 'mercuri_suggestion' cut-offs must rise from grade 0-1 to grade 3");
    } else {
      unknown_key(k, file, p.compartments);
    }
  }
  return p;
}

}  // namespace musclecsa::mri
