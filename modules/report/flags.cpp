// Every QC flag of a case and where it occurs (include/musclecsa/report/flags.h).

#include "musclecsa/report/flags.h"

#include <algorithm>

namespace musclecsa::report {

std::string FlagOccurrence::where() const {
  std::vector<std::string> parts;
  if (whole_case) parts.push_back("the case");
  if (!slices.empty()) {
    std::string text = slices.size() == 1 ? "slice " : "slices ";
    for (std::size_t n = 0; n < slices.size();) {  // runs of consecutive slices as "a-b"
      std::size_t end = n;
      while (end + 1 < slices.size() && slices[end + 1] == slices[end] + 1) ++end;
      if (n > 0) text += ", ";
      text += std::to_string(slices[n]);
      if (end > n) text += "-" + std::to_string(slices[end]);
      n = end + 1;
    }
    if (slice_count > 0) text += " (" + std::to_string(slices.size()) + " of " + std::to_string(slice_count) + " slices)";
    parts.push_back(text);
  }
  if (!levels.empty()) {
    std::string text = "at the standard level ";
    for (std::size_t n = 0; n < levels.size(); ++n)
      text += (n > 0 ? ", " : "") + levels[n].side + " " + levels[n].name + " (slice " + std::to_string(levels[n].slice) + ")";
    parts.push_back(text);
  }
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : "; ") + part;
  return out;
}

std::vector<FlagOccurrence> collect_flags(const std::vector<std::string>& case_flags, const std::vector<SliceFlags>& slices,
                                          const std::vector<LevelAt>& levels) {
  std::vector<FlagOccurrence> out;
  auto entry = [&](const std::string& flag) -> FlagOccurrence& {
    for (auto& f : out)
      if (f.flag == flag) return f;
    out.push_back(FlagOccurrence{flag, false, {}, {}, slices.size()});
    return out.back();
  };
  for (const auto& flag : case_flags) entry(flag).whole_case = true;
  std::vector<const SliceFlags*> ordered;
  for (const auto& s : slices) ordered.push_back(&s);
  std::stable_sort(ordered.begin(), ordered.end(), [](const SliceFlags* a, const SliceFlags* b) { return a->slice < b->slice; });
  for (const SliceFlags* s : ordered)
    for (const auto& flag : s->flags) {
      FlagOccurrence& f = entry(flag);
      if (!f.slices.empty() && f.slices.back() == s->slice) continue;  // named twice in one slice
      f.slices.push_back(s->slice);
      for (const auto& level : levels)
        if (level.slice == s->slice) f.levels.push_back(level);
    }
  return out;
}

}  // namespace musclecsa::report
