#include "musclecsa/io/label_names.h"

#include <nlohmann/json.hpp>

#include "musclecsa/core/catalog.h"
#include "musclecsa/io/text_file.h"

namespace musclecsa::io {

std::string label_names_json() {
  using nlohmann::json;
  const auto& catalog = LabelCatalog::standard();
  json labels = json::array();
  for (const auto& s : catalog.structures()) {
    if (s.kind == StructureKind::MuscleGroup) continue;
    for (Side side : {Side::Right, Side::Left}) {
      labels.push_back({{"id", catalog.label_id(s.key, side)},
                        {"structure", s.key},
                        {"name", s.name},
                        {"side", to_string(side)},
                        {"kind", to_string(s.kind)},
                        {"group", s.group_key},
                        {"colour", {s.colour.r, s.colour.g, s.colour.b}},
                        {"type", {{"scheme", s.type.scheme}, {"code", s.type.code}, {"meaning", s.type.meaning}}}});
    }
  }
  return json{{"format", "musclecsa-labels"}, {"version", 1}, {"labels", labels}}.dump(2) + "\n";
}

void write_label_names(const std::filesystem::path& path) { write_text_atomically(path, label_names_json()); }

}  // namespace musclecsa::io
