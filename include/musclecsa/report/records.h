#pragma once
// Measurement records as results.json holds them.

#include <string>
#include <vector>

#include "musclecsa/core/measurement.h"

namespace musclecsa::report {

/// The catalog code of a structure key as "scheme:code" (e.g. "SCT:..."), "" for keys outside the
/// catalog.
std::string structure_code(const std::string& structure_key);

/// The "measurements" array of results.json as JSON text: one object per record with quantity,
/// value, unit, structure, structure_code, side, level, slice and z_mm (null when not set), in the
/// layout nlohmann::json::dump(1) gives an array nested `depth` levels deep (keys sorted, one space
/// per level, invalid UTF-8 replaced). The text is written directly: building the records as a
/// JSON tree first took most of the time of writing a whole-scan results.json.
std::string records_json_text(const std::vector<Measurement>& records, int depth);

}  // namespace musclecsa::report
