// Test-retest repeatability from analysed cases (retest.h; docs/longitudinal.md).

#include "musclecsa/longitudinal/retest.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "musclecsa/core/error.h"
#include "musclecsa/io/text_file.h"

namespace musclecsa::longitudinal {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

/// 1.96 x sqrt(2): the 95% limit of the difference of two measurements with the same error.
constexpr double kLscFactor = 2.77;

std::string text_of(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

using MeasureKey = std::tuple<std::string, std::string, std::string, std::string>;  // quantity, structure, side, level

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string number(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

}  // namespace

CaseRecord read_case(const fs::path& dir, const std::string& subject) {
  const fs::path file = dir / "results.json";
  if (!fs::exists(file)) throw Error(ErrorCode::InputNotFound, dir.string(), "no results.json: not an analysed case folder");
  json doc;
  try {
    doc = json::parse(io::read_text(file));
  } catch (const json::exception& e) {
    throw Error(ErrorCode::InvalidInput, file.string(), std::string("not valid JSON: ") + e.what());
  }
  if (!doc.is_object() || text_of(doc, "format") != "musclecsa-results" || !doc.contains("measurements") ||
      !doc["measurements"].is_array())
    throw Error(ErrorCode::InvalidInput, file.string(), "not a MuscleCSA results.json (no \"format\": \"musclecsa-results\")");
  CaseRecord record;
  record.dir = dir;
  record.status = text_of(doc, "status");
  if (doc.contains("protocol") && doc["protocol"].is_object()) {
    record.protocol_name = text_of(doc["protocol"], "name");
    record.protocol_hash = text_of(doc["protocol"], "hash");
  }
  const json input = doc.value("input", json::object());
  record.subject = !subject.empty() ? subject : !text_of(input, "pseudonym").empty() ? text_of(input, "pseudonym")
                                                                                       : text_of(input, "patient_id");
  if (record.subject.empty())
    throw Error(ErrorCode::InvalidInput, dir.string(),
                "names no subject (results.json holds neither a pseudonym nor a Patient ID: analyse with "
                "--pseudonym-map or --include-patient-id, or say who each case is with --subjects FILE)");
  for (const json& m : doc["measurements"]) {
    if (!m.is_object()) continue;
    const auto value = m.find("value");
    if (value == m.end() || !value->is_number()) {
      ++record.withheld;
      continue;
    }
    const double v = value->get<double>();
    if (!std::isfinite(v)) continue;
    record.values.push_back({text_of(m, "quantity"), text_of(m, "structure"), text_of(m, "side"), text_of(m, "level"),
                             text_of(m, "unit"), v});
  }
  return record;
}

std::vector<Repeatability> repeatability(const std::vector<CaseRecord>& cases, bool allow_mixed_protocols) {
  if (!allow_mixed_protocols)
    for (const auto& c : cases)
      if (c.protocol_hash != cases.front().protocol_hash)
        throw Error(ErrorCode::InvalidArgument, c.dir.string(),
                    "was analysed with protocol " + c.protocol_name + " (" + c.protocol_hash + "), " +
                        cases.front().dir.string() + " with " + cases.front().protocol_name + " (" +
                        cases.front().protocol_hash + "): repeatability needs one protocol (--allow-mixed-protocols to go on)");
  // measure -> subject -> values; the unit of each measure.
  std::map<MeasureKey, std::map<std::string, std::vector<double>>> values;
  std::map<MeasureKey, std::string> units;
  for (const auto& c : cases)
    for (const auto& v : c.values) {
      const MeasureKey key{v.quantity, v.structure, v.side, v.level};
      values[key][c.subject].push_back(v.value);
      units[key] = v.unit;
    }
  std::vector<Repeatability> out;
  for (const auto& [key, by_subject] : values) {
    Repeatability r;
    std::tie(r.quantity, r.structure, r.side, r.level) = key;
    r.unit = units[key];
    double sum = 0, squares_within = 0, sum_n2 = 0;
    std::vector<std::pair<double, std::size_t>> subject_means;  // mean, n
    for (const auto& [subject, xs] : by_subject) {
      if (xs.size() < 2) continue;
      double m = 0;
      for (double x : xs) m += x;
      m /= double(xs.size());
      for (double x : xs) squares_within += (x - m) * (x - m);
      subject_means.emplace_back(m, xs.size());
      sum += m * double(xs.size());
      r.measurements += xs.size();
      sum_n2 += double(xs.size()) * double(xs.size());
    }
    r.subjects = subject_means.size();
    if (r.subjects == 0) continue;
    const double n_total = double(r.measurements), k = double(r.subjects);
    r.mean = sum / n_total;
    const double msw = squares_within / (n_total - k);
    r.within_subject_sd = std::sqrt(msw);
    r.cv_percent = r.mean != 0 ? 100 * r.within_subject_sd / std::fabs(r.mean) : 0;
    r.lsc = kLscFactor * r.within_subject_sd;
    r.lsc_percent = kLscFactor * r.cv_percent;
    if (r.mean == 0) r.notes.push_back("mean 0: no coefficient of variation");
    if (r.subjects >= 2) {
      double squares_between = 0;
      for (const auto& [m, n] : subject_means) squares_between += double(n) * (m - r.mean) * (m - r.mean);
      const double msb = squares_between / (k - 1);
      const double n0 = (n_total - sum_n2 / n_total) / (k - 1);
      const double denominator = msb + (n0 - 1) * msw;
      if (denominator > 0) r.icc = (msb - msw) / denominator;
      else r.notes.push_back("no spread between or within subjects: no ICC");
    } else {
      r.notes.push_back("one subject: the ICC needs two or more");
    }
    out.push_back(std::move(r));
  }
  return out;
}

void write_repeatability(const fs::path& out, const std::vector<CaseRecord>& cases, const std::vector<Repeatability>& measures) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw Error(ErrorCode::OutputFailed, out.string(), "cannot create the folder: " + ec.message());
  json case_list = json::array();
  for (const auto& c : cases)
    case_list.push_back({{"folder", c.dir.string()}, {"subject", c.subject}, {"status", c.status},
                         {"protocol", {{"name", c.protocol_name}, {"hash", c.protocol_hash}}},
                         {"values", c.values.size()}, {"withheld_values", c.withheld}});
  json list = json::array();
  std::ostringstream csv;
  csv << "quantity,structure,side,level,unit,subjects,measurements,mean,within_subject_sd,cv_percent,icc,lsc,lsc_percent,notes\n";
  for (const auto& r : measures) {
    std::string notes;
    for (const auto& n : r.notes) notes += (notes.empty() ? "" : "; ") + n;
    list.push_back({{"quantity", r.quantity}, {"structure", r.structure}, {"side", r.side}, {"level", r.level},
                    {"unit", r.unit}, {"subjects", r.subjects}, {"measurements", r.measurements}, {"mean", r.mean},
                    {"within_subject_sd", r.within_subject_sd}, {"cv_percent", r.cv_percent},
                    {"icc", r.icc ? json(*r.icc) : json(nullptr)}, {"lsc", r.lsc}, {"lsc_percent", r.lsc_percent},
                    {"notes", r.notes}});
    csv << csv_field(r.quantity) << ',' << csv_field(r.structure) << ',' << csv_field(r.side) << ',' << csv_field(r.level) << ','
        << csv_field(r.unit) << ',' << r.subjects << ',' << r.measurements << ',' << number(r.mean) << ','
        << number(r.within_subject_sd) << ',' << number(r.cv_percent) << ',' << (r.icc ? number(*r.icc) : std::string()) << ','
        << number(r.lsc) << ',' << number(r.lsc_percent) << ',' << csv_field(notes) << '\n';
  }
  const json doc = {{"format", "musclecsa-retest"},
                    {"version", 1},
                    {"lsc_factor", kLscFactor},
                    {"cases", std::move(case_list)},
                    {"measures", std::move(list)}};
  io::write_text_atomically(out / "retest.csv", csv.str());
  io::write_text_atomically(out / "retest.json", doc.dump(1) + "\n");
}

}  // namespace musclecsa::longitudinal
