#include "musclecsa/report/records.h"

#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

namespace musclecsa::report {

using nlohmann::json;

std::string structure_code(const std::string& structure_key) {
  static const std::map<std::string, std::string> code_of = [] {
    std::map<std::string, std::string> codes;
    for (const auto& st : LabelCatalog::standard().structures()) codes[st.key] = st.type.scheme + ":" + st.type.code;
    return codes;
  }();
  const auto it = code_of.find(structure_key);
  return it == code_of.end() ? std::string() : it->second;
}

std::string records_json_text(const std::vector<Measurement>& records, int depth) {
  if (records.empty()) return "[]";
  // Values are serialised by nlohmann itself (numbers, escaping), so the text is the same as a
  // dump of the tree; the few distinct strings (quantities, units, keys, sides, levels) once each.
  std::unordered_map<std::string, std::string> quoted;
  const auto text_of = [&](const std::string& s) -> const std::string& {
    auto it = quoted.find(s);
    if (it == quoted.end()) it = quoted.emplace(s, json(s).dump(-1, ' ', false, json::error_handler_t::replace)).first;
    return it->second;
  };
  const std::string outer(std::size_t(depth), ' '), object(std::size_t(depth) + 1, ' '), member(std::size_t(depth) + 2, ' ');
  std::string out = "[\n";
  out.reserve(records.size() * 330);
  bool first = true;
  for (const auto& m : records) {
    if (!first) out += ",\n";
    first = false;
    out += object + "{\n";
    // Keys in the order nlohmann's std::map keeps them (sorted).
    const auto add = [&](const char* key, const std::string& value_text, bool last = false) {
      out += member;
      out += '"';
      out += key;
      out += "\": ";
      out += value_text;
      out += last ? "\n" : ",\n";
    };
    add("level", text_of(m.level));
    add("quantity", text_of(m.quantity));
    add("side", text_of(std::string(to_string(m.side))));
    add("slice", m.slice_index ? json(*m.slice_index).dump() : "null");
    add("structure", text_of(m.structure_key));
    add("structure_code", text_of(structure_code(m.structure_key)));
    add("unit", text_of(m.unit_ucum));
    add("value", m.withheld ? std::string("null") : json(m.value).dump());
    if (m.withheld) add("withheld_reason", text_of(m.withheld_reason));
    add("z_mm", m.z_mm ? json(*m.z_mm).dump() : "null", true);
    out += object + "}";
  }
  out += "\n" + outer + "]";
  return out;
}

}  // namespace musclecsa::report
