// HTML case and batch reports from results.json (docs/cli.md, "musclecsa report").

#include "musclecsa/report/html_report.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "musclecsa/core/catalog.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/report/flags.h"

namespace musclecsa::report {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string number(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

/// A table cell holding a number; data-value keeps full precision for sorting.
std::string number_cell(const json& value, int decimals) {
  if (!value.is_number()) return "<td></td>";
  return "<td class=\"num\" data-value=\"" + number(value.get<double>(), 6) + "\">" + number(value.get<double>(), decimals) + "</td>";
}

std::string structure_name(const std::string& key) {
  const Structure* s = LabelCatalog::standard().find(key);
  return s != nullptr ? s->name : key;
}

const char* kStyle = R"(<style>
body { font-family: system-ui, sans-serif; margin: 24px; color: #1d1d1f; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin-top: 28px; } h3 { font-size: 15px; }
.meta { color: #555; font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0 16px; background: #fff; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: middle; }
th { background: #f0f0f3; cursor: pointer; user-select: none; } th[data-order="asc"]::after { content: " \25B2"; }
th[data-order="desc"]::after { content: " \25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.group td { font-weight: 600; } tr.failed td { background: #fdecea; }
.flag { display: inline-block; background: #fff3cd; border: 1px solid #e0c36a; border-radius: 3px; padding: 0 5px; margin: 1px; font-size: 12px; }
.qc img { max-width: 100%; border: 1px solid #ccc; } img.thumb { width: 220px; border: 1px solid #ccc; }
details pre { background: #fff; border: 1px solid #ddd; padding: 8px; font-size: 12px; }
.needs-review { background: #c62828; color: #fff; padding: 8px 12px; border-radius: 4px; } .needs-review ul { margin: 4px 0; }
</style>)";

/// Click a header to sort its table; numbers by data-value, text otherwise.
const char* kSortScript = R"(<script>
document.querySelectorAll('table.sortable th').forEach(function (th, column) {
  th.addEventListener('click', function () {
    var body = th.closest('table').tBodies[0];
    var ascending = th.dataset.order !== 'asc';
    th.closest('tr').querySelectorAll('th').forEach(function (h) { delete h.dataset.order; });
    th.dataset.order = ascending ? 'asc' : 'desc';
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[column].dataset.value || a.cells[column].textContent;
      var y = b.cells[column].dataset.value || b.cells[column].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
</script>)";

std::string page(const std::string& title, const std::string& body) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + escape(title) + "</title>\n" + kStyle +
         "</head><body>\n" + body + kSortScript + "\n</body></html>\n";
}

json read_results(const fs::path& case_dir) {
  const fs::path file = case_dir / "results.json";
  if (!fs::exists(file)) throw Error(ErrorCode::InputNotFound, file.string(), "no results.json: run musclecsa analyze into this folder first");
  json j;
  try {
    j = json::parse(io::read_text(file));
  } catch (const json::exception& e) {
    throw Error(ErrorCode::InvalidInput, file.string(), std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object() || j.value("format", "") != "musclecsa-results")
    throw Error(ErrorCode::InvalidInput, file.string(), "not a MuscleCSA results file (format musclecsa-results)");
  return j;
}

std::vector<std::string> qc_images_in(const fs::path& case_dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(case_dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && (name.rfind("qc_", 0) == 0 || name == "qc.png") && entry.path().extension() == ".png")
      names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string flags_html(const json& flags) {
  std::string out;
  if (flags.is_array())
    for (const auto& f : flags) out += "<span class=\"flag\">" + escape(f.get<std::string>()) + "</span>";
  return out;
}

/// Every distinct QC flag of a results.json document and where it occurs: the case's own flags,
/// each slice's (CT "slices", MRI "mri.slices") and the found standard levels at such slices.
std::vector<FlagOccurrence> flags_of(const json& r) {
  std::vector<std::string> case_flags;
  for (const auto& f : r.value("qc_flags", json::array())) case_flags.push_back(f.get<std::string>());
  const json& slices_json = r.contains("slices") ? r["slices"]
                            : r.contains("mri")   ? r["mri"].value("slices", json::array())
                                                  : json::array();
  std::vector<SliceFlags> slices;
  for (const auto& s : slices_json) {
    SliceFlags x;
    x.slice = s.value("slice", -1);
    for (const auto& f : s.value("qc_flags", json::array())) x.flags.push_back(f.get<std::string>());
    slices.push_back(std::move(x));
  }
  std::vector<LevelAt> levels;
  for (const auto& l : r.value("levels", json::array()))
    if (l.value("found", false)) levels.push_back({l.value("side", ""), l.value("name", ""), l.value("slice", -1)});
  return collect_flags(case_flags, slices, levels);
}

/// The flags of a batch table row: each distinct flag of the case, where it occurs as its tooltip.
std::string all_flags_html(const json& r) {
  std::string out;
  for (const auto& f : flags_of(r))
    out += "<span class=\"flag\" title=\"" + escape(f.where()) + "\">" + escape(f.flag) + "</span>";
  return out;
}

/// A level's heading, where it lies and its slice's QC flags (from `slices`, CT's or MRI's);
/// false (after saying why) when no level was found.
bool level_heading(std::ostringstream& o, const json& level, const json& slices) {
  o << "<h3>" << escape(level.value("side", "")) << " leg, " << escape(level.value("name", "")) << "</h3>\n";
  if (!level.value("found", false)) {
    o << "<p>No standard level: " << escape(level.value("reason", "")) << "</p>\n";
    return false;
  }
  o << "<p class=\"meta\">slice " << level.value("slice", -1) << ", z " << number(level.value("z_mm", 0.0), 1) << " mm";
  if (level.contains("percent_of_length"))
    o << ", " << number(level["percent_of_length"].get<double>(), 1) << "% of " << escape(level.value("bone", "")) << " length";
  o << " (" << escape(level.value("method", "")) << ")</p>\n";
  for (const auto& s : slices)
    if (s.value("slice", -1) == level.value("slice", -2) && !s["qc_flags"].empty())
      o << "<p>QC flags of this slice: " << flags_html(s["qc_flags"]) << "</p>\n";
  return true;
}

/// A structure the analysis could not trust at the level (results.json "confidence" low): a row
/// saying so and why, in place of its numbers. Returns false for a trusted structure.
bool withheld_row(std::ostream& o, const json& st, bool group, int value_columns) {
  const json c = st.value("confidence", json());
  if (!c.is_object() || !c.value("low", false)) return false;
  o << "<tr class=\"withheld" << (group ? " group" : "") << "\"><td>" << escape(structure_name(st.value("structure", ""))) << "</td><td>"
    << (group ? "group" : "muscle") << "</td><td colspan=\"" << value_columns << "\">withheld: low confidence ("
    << escape(c.value("reason", "")) << ")</td></tr>\n";
  return true;
}

std::string level_section(const json& level, const json& results) {
  std::ostringstream o;
  const std::string side = level.value("side", "");
  if (!level_heading(o, level, results.value("slices", json::array()))) return o.str();
  const json& m = level["measures"];
  o << "<table><tbody>\n";
  auto row = [&](const std::string& name, const json& value, const std::string& unit, int decimals) {
    o << "<tr><th>" << escape(name) << "</th>" << number_cell(value, decimals) << "<td>" << escape(unit) << "</td></tr>\n";
  };
  row("Muscle CSA", m["muscle_area_cm2"], "cm2", 2);
  row("Muscle mean HU", m["muscle_mean_hu"], "HU", 1);
  row("Low-attenuation muscle", m["low_attenuation_muscle_area_cm2"], "cm2", 2);
  row("IMAT", m["imat_area_cm2"], "cm2", 2);
  row("Subcutaneous fat", m["subcutaneous_fat_area_cm2"], "cm2", 2);
  row("Bone", m["bone_area_cm2"], "cm2", 2);
  if (level.contains("muscle_area_per_height2_cm2_m2")) row("Muscle CSA / height2", level["muscle_area_per_height2_cm2_m2"], "cm2/m2", 2);
  o << "</tbody></table>\n";
  if (m.contains("structures") && !m["structures"].empty()) {
    o << "<table class=\"sortable\" id=\"structures-" << escape(side) << "\"><thead><tr><th>Structure</th><th>Kind</th>"
      << "<th>CSA (cm2)</th><th>Outline (cm2)</th><th>Intramuscular fat (cm2)</th><th>Mean HU</th><th>SD HU</th>"
      << "<th>Fat fraction</th></tr></thead><tbody>\n";
    for (const auto& st : m["structures"]) {
      const bool group = st.value("kind", "") == "muscle_group";
      if (withheld_row(o, st, group, 6)) continue;
      o << "<tr" << (group ? " class=\"group\"" : "") << "><td>" << escape(structure_name(st.value("structure", ""))) << "</td><td>"
        << (group ? "group" : "muscle") << "</td>" << number_cell(st["muscle_area_cm2"], 2) << number_cell(st["outline_area_cm2"], 2)
        << number_cell(st["intramuscular_fat_area_cm2"], 2) << number_cell(st["mean_hu"], 1) << number_cell(st["sd_hu"], 1)
        << number_cell(st["fat_fraction"], 3) << "</tr>\n";
    }
    o << "</tbody></table>\n";
  }
  return o.str();
}

/// A value of an MR table scaled (fractions shown as percent), or null.
json scaled(const json& value, double factor) { return value.is_number() ? json(value.get<double>() * factor) : json(); }

/// The standard level of one side of an MRI case (results.json "levels" and "mri.levels"): muscle
/// CSA, fat fraction, fat-free CSA and the per-muscle and per-group table with the suggested
/// Mercuri grade. A T1-weighted series' "fat fraction" is a relative fat signal and is named so.
std::string mr_level_section(const json& level, const json& results) {
  std::ostringstream o;
  const std::string side = level.value("side", "");
  const json& mri = results["mri"];
  const bool dixon = mri.value("kind", "") == "dixon";
  const std::string ff = dixon ? "fat fraction" : "relative fat signal";
  if (!level_heading(o, level, mri.value("slices", json::array()))) return o.str();
  json m;
  for (const auto& l : mri.value("levels", json::array()))
    if (l.value("side", "") == side && l.value("slice", -1) == level.value("slice", -2)) m = l.value("measures", json());
  if (!m.is_object()) return o.str();
  o << "<table id=\"mr-level-" << escape(side) << "\"><tbody>\n";
  auto row = [&](const std::string& name, const json& value, const std::string& unit, int decimals) {
    o << "<tr><th>" << escape(name) << "</th>" << number_cell(value, decimals) << "<td>" << escape(unit) << "</td></tr>\n";
  };
  row("Muscle CSA", m.value("muscle_csa_cm2", json()), "cm2", 2);
  row("Muscle mean " + ff, scaled(m.value("muscle_mean_fat_fraction", json()), 100), "%", 1);
  row("Muscle median " + ff, scaled(m.value("muscle_median_fat_fraction", json()), 100), "%", 1);
  row("Fat-free muscle CSA", m.value("fat_free_muscle_csa_cm2", json()), "cm2", 2);
  row("IMAT", m.value("imat_area_cm2", json()), "cm2", 2);
  row("Subcutaneous fat", m.value("subcutaneous_fat_area_cm2", json()), "cm2", 2);
  row("Bone", m.value("bone_area_cm2", json()), "cm2", 2);
  if (m.contains("muscle_csa_per_height2_cm2_m2")) row("Muscle CSA / height2", m["muscle_csa_per_height2_cm2_m2"], "cm2/m2", 2);
  o << "</tbody></table>\n";
  if (m.contains("structures") && !m["structures"].empty()) {
    const std::string short_ff = dixon ? "FF" : "rel. fat signal";
    o << "<table class=\"sortable\" id=\"structures-" << escape(side) << "\"><thead><tr><th>Structure</th><th>Kind</th>"
      << "<th>CSA (cm2)</th><th>Mean " << short_ff << " (%)</th><th>Median " << short_ff << " (%)</th><th>Fat-free CSA (cm2)</th>"
      << "<th>Intramuscular fat (cm2)</th><th>Suggested Mercuri grade</th></tr></thead><tbody>\n";
    for (const auto& st : m["structures"]) {
      const bool group = st.value("kind", "") == "muscle_group";
      if (withheld_row(o, st, group, 6)) continue;
      o << "<tr" << (group ? " class=\"group\"" : "") << "><td>" << escape(structure_name(st.value("structure", ""))) << "</td><td>"
        << (group ? "group" : "muscle") << "</td>" << number_cell(st.value("csa_cm2", json()), 2)
        << number_cell(scaled(st.value("mean_fat_fraction", json()), 100), 1)
        << number_cell(scaled(st.value("median_fat_fraction", json()), 100), 1) << number_cell(st.value("fat_free_csa_cm2", json()), 2)
        << number_cell(st.value("intramuscular_fat_area_cm2", json()), 2) << "<td data-value=\"" << st.value("suggested_mercuri_ordinal", -1)
        << "\">" << escape(st.value("suggested_mercuri_grade", "")) << "</td></tr>\n";
    }
    o << "</tbody></table>\n";
  }
  return o.str();
}

/// What the MR numbers mean: the FF definition and that the Mercuri grade is a suggestion.
std::string mr_notes(const json& mri) {
  std::ostringstream o;
  o << "<p class=\"meta\" id=\"mr-definition\">" << (mri.value("kind", "") == "dixon" ? "Fat fraction" : "Relative fat signal")
    << ": " << escape(mri.value("fat_fraction_definition", "")) << ". Suggested Mercuri grade: from the mean "
    << (mri.value("kind", "") == "dixon" ? "fat fraction" : "relative fat signal")
    << " by the protocol's cut-offs, not a visual rating (docs/mri.md).</p>\n";
  return o.str();
}

std::string case_page_from(json& r, const fs::path& case_dir);

/// A path segment for a link: everything but unreserved characters percent-encoded.
std::string url_segment(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += char(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

/// Level value of one side for the batch table, or null.
json level_value(const json& results, const std::string& side, const std::string& key) {
  if (results.contains("mri")) {  // MRI: the level measures are in mri.levels, muscle area as muscle_csa_cm2
    const std::string mr_key = key == "muscle_area_cm2" ? "muscle_csa_cm2" : key;
    for (const auto& level : results["mri"].value("levels", json::array()))
      if (level.value("side", "") == side && level.contains("measures")) return level["measures"].value(mr_key, json());
    return json();
  }
  for (const auto& level : results.value("levels", json::array()))
    if (level.value("side", "") == side && level.value("found", false) && level.contains("measures"))
      return level["measures"].value(key, json());
  return json();
}

/// A Dixon case's mean muscle fat fraction at the level, in percent; null for CT and for T1-weighted
/// MR, whose relative fat signal is no fat fraction (its case page shows it, named as such).
json dixon_ff_percent(const json& results, const std::string& side) {
  if (!results.contains("mri") || results["mri"].value("kind", "") != "dixon") return json();
  const json ff = level_value(results, side, "muscle_mean_fat_fraction");
  return ff.is_number() ? json(100 * ff.get<double>()) : json();
}

}  // namespace

namespace {

/// The case page of `case_dir`'s results. Unexpected content becomes Error(InvalidInput, results.json).
std::string case_page(const fs::path& case_dir) {
  json r = read_results(case_dir);
  try {
    return case_page_from(r, case_dir);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::InvalidInput, (case_dir / "results.json").string(), std::string("unexpected content: ") + e.what());
  }
}

}  // namespace

void write_case_report(const fs::path& case_dir) { io::write_text_atomically(case_dir / "report.html", case_page(case_dir)); }

namespace {

std::string case_page_from(json& r, const fs::path& case_dir) {
  const json& in = r["input"];
  std::ostringstream o;
  o << "<h1>MuscleCSA report</h1>\n<p class=\"meta\">" << escape(in.value("series_description", "")) << " &middot; "
    << escape(in.value("modality", "")) << " &middot; created " << escape(r.value("created_utc", "")) << " by MuscleCSA "
    << escape(r["software"].value("version", "")) << "</p>\n";
  o << "<table><tbody>\n";
  auto info = [&](const std::string& name, const std::string& value) {
    if (!value.empty()) o << "<tr><th>" << escape(name) << "</th><td>" << escape(value) << "</td></tr>\n";
  };
  info("Pseudonym", in.value("pseudonym", ""));
  info("Patient ID", in.value("patient_id", ""));
  info("Study Instance UID", in.value("study_instance_uid", ""));
  info("Series Instance UID", in.value("series_instance_uid", ""));
  info("Input", in.value("path", ""));
  info("Protocol", r["protocol"].value("name", "") + " (hash " + r["protocol"].value("hash", "") + ")");
  info("Segmentation", r.value("segmentation", ""));
  o << "</tbody></table>\n";
  // An automatic result that failed its plausibility check (ultrasound): said first, its values withheld.
  if (r.value("status", "") == "needs_review") {
    o << "<div class=\"needs-review\" id=\"needs-review\"><strong>Needs review:</strong> the automatic contour failed its plausibility "
         "check; its measurements are withheld.<ul>\n";
    const json plausibility = r.contains("ultrasound") ? r["ultrasound"].value("plausibility", json::object()) : json::object();
    for (const auto& reason : plausibility.value("reasons", json::array())) o << "<li>" << escape(reason.get<std::string>()) << "</li>\n";
    o << "</ul>";
    const json how = plausibility.value("how_to_review", json());
    if (how.is_string()) o << escape(how.get<std::string>());
    o << "</div>\n";
  }
  // Every flag the case carries, its slices' and levels' included, and where.
  const std::vector<FlagOccurrence> flags = flags_of(r);
  if (flags.empty()) {
    o << "<h2>QC</h2>\n<p id=\"qc-flags\">no QC flags</p>\n";
  } else {
    o << "<h2>QC</h2>\n<ul id=\"qc-flags\">\n";
    for (const auto& f : flags) o << "<li><span class=\"flag\">" << escape(f.flag) << "</span> " << escape(f.where()) << "</li>\n";
    o << "</ul>\n";
  }
  if (!r["notes"].empty()) {
    o << "<ul>\n";
    for (const auto& note : r["notes"]) o << "<li>" << escape(note.get<std::string>()) << "</li>\n";
    o << "</ul>\n";
  }
  if (r.contains("levels") && r.contains("mri")) {
    o << "<h2>Standard level</h2>\n";
    for (const auto& level : r["levels"]) o << mr_level_section(level, r);
    o << mr_notes(r["mri"]);
  } else if (r.contains("levels")) {
    o << "<h2>Standard level</h2>\n";
    for (const auto& level : r["levels"]) o << level_section(level, r);
  } else {
    // Results without levels (an ultrasound image): every measurement, as recorded.
    o << "<h2>Measurements</h2>\n<table class=\"sortable\" id=\"measurements\"><thead><tr><th>Structure</th><th>Side</th>"
      << "<th>Quantity</th><th>Value</th><th>Unit</th></tr></thead><tbody>\n";
    for (const auto& m : r["measurements"])
      o << "<tr><td>" << escape(structure_name(m.value("structure", ""))) << "</td><td>" << escape(m.value("side", ""))
        << "</td><td>" << escape(m.value("quantity", "")) << "</td>"
        << (m["value"].is_null() && r.value("status", "") == "needs_review" ? std::string("<td>withheld (needs review)</td>") : number_cell(m["value"], 3))
        << "<td>"
        << escape(m.value("unit", "")) << "</td></tr>\n";
    o << "</tbody></table>\n";
  }
  const auto images = qc_images_in(case_dir);
  if (!images.empty()) {
    o << "<h2>QC images</h2>\n<div class=\"qc\">\n";
    if (r.contains("mri"))
      o << "<p class=\"meta\">Left: the anatomy image with every structure's outline; right: the "
        << (r["mri"].value("kind", "") == "dixon" ? "fat-fraction map" : "relative fat signal map")
        << " (0-100%, colour bar) with the muscle outlines. Radiological display.</p>\n";
    for (const auto& name : images)
      o << "<p><img src=\"" << escape(name) << "\" alt=\"" << escape(name) << "\" onload=\"this.dataset.loaded='1'\"></p>\n";
    o << "</div>\n";
  }
  if (r.contains("mri") && r["mri"].contains("volumes") && !r["mri"]["volumes"].empty()) {
    o << "<h2>Volumes over the scanned range</h2>\n<table class=\"sortable\" id=\"mr-volumes\"><thead><tr><th>Side</th><th>Structure</th>"
      << "<th>Volume (cm3)</th><th>Fat-free volume (cm3)</th></tr></thead><tbody>\n";
    for (const auto& v : r["mri"]["volumes"]) {
      const json structures = v.value("structures", json::object());
      for (const auto& [key, volumes] : structures.items())
        o << "<tr><td>" << escape(v.value("side", "")) << "</td><td>" << escape(structure_name(key)) << "</td>"
          << number_cell(volumes.value("volume_cm3", json()), 1) << number_cell(volumes.value("fat_free_volume_cm3", json()), 1)
          << "</tr>\n";
    }
    o << "</tbody></table>\n";
  } else if (r.contains("volumes") && !r["volumes"].empty()) {
    o << "<h2>Volumes over the scanned range</h2>\n<table class=\"sortable\"><thead><tr><th>Side</th><th>Muscle (cm3)</th>"
      << "<th>IMAT (cm3)</th><th>Subcutaneous fat (cm3)</th></tr></thead><tbody>\n";
    for (const auto& v : r["volumes"])
      o << "<tr><td>" << escape(v.value("side", "")) << "</td>" << number_cell(v["muscle_volume_cm3"], 1)
        << number_cell(v["imat_volume_cm3"], 1) << number_cell(v["subcutaneous_fat_volume_cm3"], 1) << "</tr>\n";
    o << "</tbody></table>\n";
  }
  o << "<h2>Protocol</h2>\n<details><summary>" << escape(r["protocol"].value("name", "")) << " definition</summary><pre>"
    << escape(r["protocol"]["definition"].dump(2)) << "</pre></details>\n";
  o << "<p class=\"meta\">Every value per slice: results.csv and results.json in this folder.</p>\n";
  return page("MuscleCSA report - " + in.value("series_description", ""), o.str());
}

}  // namespace

BatchCaseSummary summarise_case(const fs::path& case_dir) {
  BatchCaseSummary s;
  s.dir = case_dir;
  s.name = case_dir.filename().string();
  if (s.name.empty()) s.name = case_dir.parent_path().filename().string();
  if (fs::exists(case_dir / "results.json")) {
    s.analysed = true;
    return s;
  }
  if (fs::exists(case_dir / "error.txt")) {
    std::istringstream text(io::read_text(case_dir / "error.txt"));
    std::getline(text, s.failure_reason);
  }
  if (s.failure_reason.empty()) s.failure_reason = "no results.json";
  return s;
}

namespace {
std::string failed_row(const std::string& name, const std::string& reason) {
  return "<tr class=\"failed\"><td>" + escape(name) + "</td><td>failed: " + escape(reason) +
         "</td><td></td><td></td><td></td><td></td><td></td><td></td><td></td><td></td><td></td><td></td><td></td></tr>\n";
}
}  // namespace

void write_batch_report(const std::vector<BatchCaseSummary>& cases, const fs::path& out_dir) {
  std::ostringstream o;
  int analysed = 0, failed = 0;
  for (const auto& c : cases) (c.analysed ? analysed : failed) += 1;
  o << "<h1>MuscleCSA batch report</h1>\n<p class=\"meta\" id=\"summary\">" << cases.size() << " case(s): " << analysed
    << " analysed, " << failed << " failed</p>\n";
  o << "<table class=\"sortable\" id=\"cases\"><thead><tr><th>Case</th><th>Status</th><th>Protocol</th>"
    << "<th>Right muscle CSA (cm2)</th><th>Left muscle CSA (cm2)</th><th>Right IMAT (cm2)</th><th>Left IMAT (cm2)</th>"
    << "<th>Right mean HU</th><th>Left mean HU</th><th>Right muscle FF (%)</th><th>Left muscle FF (%)</th>"
    << "<th>QC flags</th><th>QC image</th></tr></thead><tbody>\n";
  std::set<std::string> used;
  for (std::size_t n = 0; n < cases.size(); ++n) {
    const auto& c = cases[n];
    std::string name = c.name.empty() ? "case" : c.name;
    for (int suffix = 2; used.count(name); ++suffix) name = c.name + "_" + std::to_string(suffix);
    used.insert(name);
    if (!c.analysed) {
      o << failed_row(name, c.failure_reason);
      continue;
    }
    // A case whose results cannot be read or shown is a failed row, not a failed page.
    json r;
    std::string case_html, row;
    try {
      r = read_results(c.dir);
      case_html = case_page(c.dir);
      const std::string base = "cases/" + url_segment(name) + "/";
      const auto images = qc_images_in(c.dir);
      std::ostringstream cells;
      cells << "<tr><td><a href=\"" << base << "report.html\">" << escape(name) << "</a></td><td>analysed</td><td>"
            << escape(r["protocol"].value("name", "")) << "</td>" << number_cell(level_value(r, "right", "muscle_area_cm2"), 2)
            << number_cell(level_value(r, "left", "muscle_area_cm2"), 2) << number_cell(level_value(r, "right", "imat_area_cm2"), 2)
            << number_cell(level_value(r, "left", "imat_area_cm2"), 2) << number_cell(level_value(r, "right", "muscle_mean_hu"), 1)
            << number_cell(level_value(r, "left", "muscle_mean_hu"), 1) << number_cell(dixon_ff_percent(r, "right"), 1)
            << number_cell(dixon_ff_percent(r, "left"), 1) << "<td>" << all_flags_html(r) << "</td><td>";
      if (!images.empty())
        cells << "<a href=\"" << base << "report.html\"><img class=\"thumb\" src=\"" << base << url_segment(images.front())
              << "\" alt=\"QC\" onload=\"this.dataset.loaded='1'\"></a>";
      cells << "</td></tr>\n";
      row = cells.str();
    } catch (const json::exception& e) {
      row = failed_row(name, (c.dir / "results.json").string() + ": unexpected content: " + e.what());
    } catch (const Error& e) {
      row = failed_row(name, e.what());
    }
    if (case_html.empty()) {
      o << row;
      continue;
    }
    // The case's page, images and results go into cases/<name>/ so the batch folder stands alone;
    // the case folder itself is only read.
    const fs::path target = out_dir / "cases" / name;
    std::error_code ec;
    fs::create_directories(target, ec);
    if (ec) throw Error(ErrorCode::OutputFailed, target.string(), "cannot create the folder: " + ec.message());
    io::write_text_atomically(target / "report.html", case_html);
    std::vector<std::string> files = qc_images_in(c.dir);
    for (const char* file : {"results.json", "results.csv"})
      if (fs::exists(c.dir / file)) files.emplace_back(file);
    for (const std::string& file : files) {
      fs::copy_file(c.dir / file, target / file, fs::copy_options::overwrite_existing, ec);
      if (ec) throw Error(ErrorCode::OutputFailed, (target / file).string(), "cannot copy: " + ec.message());
    }
    o << row;
  }
  o << "</tbody></table>\n<p class=\"meta\">Click a column header to sort.</p>\n";
  io::write_text_atomically(out_dir / "index.html", page("MuscleCSA batch report", o.str()));
}

}  // namespace musclecsa::report
