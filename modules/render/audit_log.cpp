// The audit log of viewer edits (docs/viewer.md) and the display presets' names.

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "musclecsa/core/error.h"
#include "musclecsa/render/viewer.h"

namespace musclecsa::render {

std::string audit_json_line(const AuditEntry& e) {
  nlohmann::json other = nlohmann::json::object();
  for (const auto& [name, change] : e.other_structures_cm2) other[name] = change;
  const nlohmann::json line = {{"user", e.user},
                               {"time_utc", e.time_utc},
                               {"action", e.action},
                               {"edit", e.edit_number},
                               {"structure", e.structure},
                               {"side", e.side},
                               {"label", e.label},
                               {"slices", e.slices},
                               {"area_before_cm2", e.area_before_cm2},
                               {"area_after_cm2", e.area_after_cm2},
                               {"voxels_changed", e.voxels_changed},
                               {"other_structures_area_change_cm2", other}};
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string current_user_name() {
  if (const char* user = std::getenv("USER"); user != nullptr && *user != '\0') return user;
  if (const passwd* entry = ::getpwuid(::getuid()); entry != nullptr && entry->pw_name != nullptr) return entry->pw_name;
  return "uid " + std::to_string(::getuid());
}

std::string to_string(DisplayPreset preset) {
  switch (preset) {
    case DisplayPreset::CtMuscle: return "ct";
    case DisplayPreset::MrAuto: return "mr";
    case DisplayPreset::Ultrasound: return "us";
  }
  return "ct";
}

DisplayPreset display_preset_from_string(const std::string& text, const std::string& option_name) {
  if (text == "ct") return DisplayPreset::CtMuscle;
  if (text == "mr") return DisplayPreset::MrAuto;
  if (text == "us") return DisplayPreset::Ultrasound;
  throw Error(ErrorCode::InvalidArgument, option_name, "unknown window preset '" + text + "' (ct, mr or us)");
}

}  // namespace musclecsa::render
