// musclecsa info: what files and folders hold, series by series, with every warning.

#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "console_progress.h"
#include "musclecsa/pipeline/input.h"
#include "musclecsa/core/error.h"
#include "musclecsa/dicom/series.h"

namespace musclecsa::app {
namespace {

using pipeline::InputOptions;
using pipeline::LoadedInput;
using pipeline::load_input;
using pipeline::describe;
using pipeline::orientation_name;

struct InfoOptions {
  std::vector<std::string> paths;
  bool json = false;
  bool refuse_non_uniform = false;
};

using nlohmann::json;

json series_json(const dicom::Series& s, std::size_t list_index) {
  const Geometry& g = s.geometry;
  json j = {{"list_index", list_index},
            {"id", s.id},
            {"series_instance_uid", s.series_instance_uid},
            {"series_number", s.series_number},
            {"description", s.series_description},
            {"modality", s.modality},
            {"manufacturer", s.manufacturer},
            {"body_part", s.body_part},
            {"image_type", s.image_type},
            {"dixon_role", std::string(dicom::to_string(s.dixon_role))},
            {"photometric", s.photometric},
            {"size", {g.size[0], g.size[1], g.size[2]}},
            {"source_slices", s.slices.size()},
            {"spacing_mm", {g.spacing_mm[0], g.spacing_mm[1], g.spacing_mm[2]}},
            {"origin_lps_mm", {g.origin_lps_mm.x, g.origin_lps_mm.y, g.origin_lps_mm.z}},
            {"direction", g.direction},
            {"orientation", s.has_patient_geometry ? orientation_name(g) : "none"},
            {"spacing_regularity", s.spacing_regularity},
            {"nominal_spacing_mm", s.nominal_spacing_mm},
            {"min_gap_mm", s.min_gap_mm},
            {"max_gap_mm", s.max_gap_mm},
            {"needs_resampling", s.needs_resampling},
            {"usable", s.usable},
            {"unusable_reason", s.unusable_reason},
            {"qc_flags", s.qc_flags},
            {"notes", s.notes}};
  if (s.ultrasound) {
    const auto& u = *s.ultrasound;
    j["ultrasound"] = {{"calibrated", u.calibrated},
                       {"pixel_width_mm", u.pixel_width_mm},
                       {"pixel_height_mm", u.pixel_height_mm},
                       {"region", {u.region_min_x, u.region_min_y, u.region_max_x, u.region_max_y}},
                       {"note", u.note}};
  }
  return j;
}

int run_info(const InfoOptions& o) {
  ConsoleProgress progress(!o.json);
  std::vector<std::filesystem::path> paths(o.paths.begin(), o.paths.end());
  for (const auto& p : paths) {
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::symlink_status(p, ec)))
      throw Error(ErrorCode::InputNotFound, p.string(), "no such file or folder");
  }
  const dicom::ScanResult scan = dicom::scan_paths(paths, progress);
  dicom::AssemblyOptions assembly;
  if (o.refuse_non_uniform) assembly.non_uniform = dicom::NonUniformPolicy::Refuse;
  const std::vector<dicom::Series> series = dicom::assemble_series(scan.files, assembly);

  // Patients -> studies -> series, in first-seen order.
  std::vector<std::string> patient_order;
  std::map<std::string, std::vector<std::string>> study_order;
  std::map<std::string, std::vector<const dicom::Series*>> by_study;
  for (const auto& s : series) {
    const std::string patient = s.patient_id + "\x1f" + s.patient_name;
    if (!study_order.count(patient)) patient_order.push_back(patient);
    auto& studies = study_order[patient];
    if (std::find(studies.begin(), studies.end(), s.study_instance_uid) == studies.end())
      studies.push_back(s.study_instance_uid);
    by_study[s.study_instance_uid].push_back(&s);
  }

  if (o.json) {
    json patients = json::array();
    for (const auto& patient : patient_order) {
      const auto sep = patient.find('\x1f');
      json studies = json::array();
      for (const auto& study : study_order[patient]) {
        json list = json::array();
        for (const auto* s : by_study[study]) list.push_back(series_json(*s, std::size_t(s - series.data()) + 1));
        const auto* first = by_study[study].front();
        studies.push_back({{"study_instance_uid", study},
                           {"date", first->study_date},
                           {"description", first->study_description},
                           {"series", list}});
      }
      patients.push_back({{"patient_id", patient.substr(0, sep)}, {"patient_name", patient.substr(sep + 1)}, {"studies", studies}});
    }
    json problems = json::array();
    for (const auto& p : scan.problems)
      problems.push_back({{"path", p.path.string()}, {"problem", p.problem}, {"is_dicom", p.is_dicom}});
    const json out = {{"format", "musclecsa-info"},
                      {"version", 1},
                      {"files_seen", scan.files_seen},
                      {"dicom_images", scan.files.size()},
                      {"non_dicom_files", scan.non_dicom_files},
                      {"dicomdir_files", scan.dicomdir_files},
                      {"series_count", series.size()},
                      {"patients", patients},
                      {"problems", problems}};
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return 0;
  }

  std::cout << "Scanned " << scan.files_seen << " file(s): " << scan.files.size() << " DICOM image(s), "
            << scan.non_dicom_files << " not DICOM (skipped), " << scan.dicomdir_files << " DICOMDIR, "
            << scan.problems.size() << " problem(s)\n";
  for (const auto& patient : patient_order) {
    const auto sep = patient.find('\x1f');
    std::cout << "\nPatient " << patient.substr(sep + 1) << " (ID " << patient.substr(0, sep) << ")\n";
    for (const auto& study : study_order[patient]) {
      const auto* first = by_study[study].front();
      std::cout << "  Study " << first->study_date << " \"" << first->study_description << "\"  " << study << "\n";
      for (const auto* s : by_study[study]) {
        std::cout << "    [" << (s - series.data()) + 1 << "] Series " << describe(*s) << "  " << s->spacing_regularity;
        if (s->dixon_role != dicom::DixonRole::None) std::cout << "  Dixon " << dicom::to_string(s->dixon_role);
        if (!s->image_type.empty()) {
          std::string type;
          for (const auto& t : s->image_type) type += (type.empty() ? "" : "\\") + t;
          std::cout << "  [" << type << "]";
        }
        std::cout << "\n      id " << s->id << "\n";
        if (s->ultrasound) std::cout << "      ultrasound calibration: " << s->ultrasound->note << "\n";
        if (!s->usable) std::cout << "      NOT USABLE: " << s->unusable_reason << "\n";
        for (const auto& note : s->notes) std::cout << "      warning: " << note << "\n";
        for (const auto& flag : s->qc_flags) std::cout << "      qc flag: " << flag << "\n";
      }
    }
  }
  if (!scan.problems.empty()) {
    std::cout << "\nProblems:\n";
    for (const auto& p : scan.problems) std::cout << "  " << p.path.string() << ": " << p.problem << "\n";
  }
  return 0;
}

}  // namespace

Command add_info_command(CLI::App& app) {
  auto options = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "List the patients, studies and series in files or folders, with every warning");
  cmd->add_option("paths", options->paths, "DICOM files, folders or DICOMDIRs (searched recursively)")->required();
  cmd->add_flag("--json", options->json, "print JSON (docs/schemas/info.schema.json) instead of text");
  cmd->add_flag("--refuse-non-uniform", options->refuse_non_uniform,
                "report series with uneven slice gaps as unusable instead of resampling them");
  return {cmd, [options] { return run_info(*options); }};
}

}  // namespace musclecsa::app
