// The CT analysis of a case (analyze.h): the thigh or calf -> tissue, muscle and group areas and HU
// per slice, side and at the standard level, with the label map, the protocol and its hash in every
// output; the outputs every modality shares (case_outputs.h); and analyze_case, which sends MRI and
// ultrasound input to mr.cpp and ultrasound.cpp.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <future>
#include <iostream>
#include <thread>
#include <cstdlib>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "case_outputs.h"
#include "musclecsa/pipeline/analyze.h"
#include "case_flags.h"
#include "musclecsa/pipeline/input.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/io/label_names.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/quantify/ct_measures.h"
#include "musclecsa/report/dicom_seg.h"
#include "musclecsa/report/dicom_sr.h"
#include "musclecsa/report/html_report.h"
#include "musclecsa/report/qc_image.h"
#include "musclecsa/report/records.h"
#include "musclecsa/segment/ct_muscles.h"
#include "musclecsa/segment/ct_tissue.h"
#include "musclecsa/version.h"

namespace musclecsa::pipeline {
namespace {

using nlohmann::json;


/// Legend text of a QC image for slice k: title, slice, per-side key numbers, flags.
std::vector<std::string> qc_text(const quantify::SliceMeasures& s, const segment::CtProtocol& protocol,
                                 const std::string& level_name) {
  std::vector<std::string> text = {"MuscleCSA " MUSCLECSA_VERSION_STRING " - " + protocol.name + " (" + protocol.hash() + ")"};
  char line[200];
  std::snprintf(line, sizeof line, "slice %d, z %.1f mm%s", s.slice_index, s.z_mm,
                level_name.empty() ? "" : (", " + level_name).c_str());
  text.emplace_back(line);
  for (const auto& m : s.sides) {
    std::snprintf(line, sizeof line, "%s: muscle %.1f cm2, %.1f HU (SD %.1f)", std::string(to_string(m.side)).c_str(),
                  m.muscle_area_mm2 / 100, m.muscle_mean_hu, m.muscle_sd_hu);
    text.emplace_back(line);
    std::snprintf(line, sizeof line, "   IMAT %.1f cm2, fat %.1f cm2, bone %.1f cm2", m.imat_area_mm2 / 100,
                  m.subcutaneous_fat_area_mm2 / 100, m.bone_area_mm2 / 100);
    text.emplace_back(line);
    for (const auto& st : m.structures) {
      const Structure& structure = LabelCatalog::standard().get(st.structure_key);
      if (!st.is_group && !structure.group_key.empty()) continue;  // groups and muscles reported alone
      std::snprintf(line, sizeof line, "   %s %.1f cm2, %.0f HU%s", structure.name.c_str(), st.muscle_area_mm2 / 100, st.mean_hu,
                    st.confidence.low ? " (low confidence)" : "");
      text.emplace_back(line);
    }
  }
  for (const auto& flag : s.qc_flags) text.push_back("qc flag: " + flag);
  return text;
}

/// "auto": thigh when legs hold one large bone, calf when they hold two (tibia + fibula). The
/// probe segmentation (thigh protocol) is handed back in `probe` so it is not computed twice.
segment::CtProtocol choose_protocol(const std::string& name, const ScalarVolume& ct, std::string& decision,
                                    std::optional<segment::TissueSegmentation>& probe_out, Progress& progress) {
  if (name != "auto") {
    if (name == "thigh-ct" || name == "calf-ct") return segment::builtin_ct_protocol(name);
    return segment::load_ct_protocol(name);
  }
  auto probe = segment::segment_ct_tissues(ct, segment::builtin_ct_protocol("thigh-ct"), progress);
  int one = 0, two = 0;
  for (const auto& s : probe.slices)
    for (const auto& leg : s.legs) {
      if (leg.bone_count == 1) ++one;
      if (leg.bone_count == 2) ++two;
    }
  decision = "auto: " + std::to_string(one) + " leg-slice(s) with one bone, " + std::to_string(two) + " with two";
  if (two > one) return segment::builtin_ct_protocol("calf-ct");
  probe_out = std::move(probe);
  return segment::builtin_ct_protocol("thigh-ct");
}

}  // namespace

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return text;
}

namespace {

json structure_json(const quantify::StructureMeasures& st) {
  return {{"structure", st.structure_key},
          {"kind", st.is_group ? "muscle_group" : "muscle"},
          {"outline_area_cm2", st.outline_area_mm2 / 100},
          {"muscle_area_cm2", st.muscle_area_mm2 / 100},
          {"intramuscular_fat_area_cm2", st.intramuscular_fat_area_mm2 / 100},
          {"low_attenuation_muscle_area_cm2", st.low_attenuation_muscle_area_mm2 / 100},
          {"normal_attenuation_muscle_area_cm2", st.normal_attenuation_muscle_area_mm2 / 100},
          {"mean_hu", st.mean_hu},
          {"sd_hu", st.sd_hu},
          {"median_hu", st.median_hu},
          {"fat_fraction", st.fat_fraction},
          {"confidence", confidence_json(st.confidence)}};
}

json side_json(const quantify::SideSliceMeasures& m, bool at_level = false) {
  json bins = json::object();
  for (const auto& [name, area] : m.hu_bin_areas_mm2) bins[name] = area / 100;
  json structures = json::array();
  for (const auto& st : m.structures) structures.push_back(withhold_if_low(structure_json(st), st.confidence, at_level));
  json side = limb_side_json(m);
  side.update({{"muscle_area_cm2", m.muscle_area_mm2 / 100},
               {"low_attenuation_muscle_area_cm2", m.low_attenuation_muscle_area_mm2 / 100},
               {"normal_attenuation_muscle_area_cm2", m.normal_attenuation_muscle_area_mm2 / 100},
               {"muscle_mean_hu", m.muscle_mean_hu},
               {"muscle_sd_hu", m.muscle_sd_hu},
               {"muscle_median_hu", m.muscle_median_hu},
               {"compartment_fat_fraction", m.compartment_fat_fraction},
               {"hu_bin_areas_cm2", std::move(bins)},
               {"structures", std::move(structures)}});
  return side;
}

/// The pseudonym of `patient_id` from a CSV map (patient_id,pseudonym per line; a header line is
/// allowed). A patient missing from the map is an error: results must not go out unpseudonymised.
std::string pseudonym_for(const std::string& map_path, const std::string& patient_id) {
  std::istringstream lines(io::read_text(map_path));
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto comma = line.find(',');
    if (comma == std::string::npos) continue;
    if (line.substr(0, comma) == patient_id && comma + 1 < line.size()) return line.substr(comma + 1);
  }
  throw Error(ErrorCode::InvalidInput, map_path,
              "the input's Patient ID is not in the pseudonym map (lines: patient_id,pseudonym); nothing was written");
}

}  // namespace

/// Test hook for batch isolation tests (docs/batch.md): MUSCLECSA_INJECT_FAULT="crash:TEXT" or
/// "hang:TEXT" (several joined by ';') makes the analysis of a series whose description contains
/// TEXT abort or hang, as a real defect would. Without the variable nothing happens.
void inject_fault_for_tests(const std::string& series_description) {
  const char* fault = std::getenv("MUSCLECSA_INJECT_FAULT");
  if (fault == nullptr) return;
  std::istringstream specs(fault);
  std::string spec;
  while (std::getline(specs, spec, ';')) {
    const auto colon = spec.find(':');
    if (colon == std::string::npos || colon + 1 >= spec.size()) continue;
    if (series_description.find(spec.substr(colon + 1)) == std::string::npos) continue;
    if (spec.compare(0, colon, "crash") == 0) std::abort();
    if (spec.compare(0, colon, "hang") == 0)
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

bool wants_format(const AnalyzeOptions& o, const std::string& format) {
  return std::find(o.formats.begin(), o.formats.end(), format) != o.formats.end();
}

json level_json(const quantify::LevelResult& l, const std::string& name, const std::string& bone_key) {
  json j = {{"side", std::string(to_string(l.side))}, {"name", name}, {"found", l.found}};
  if (l.found) {
    j["method"] = l.method;
    j["slice"] = l.slice_index;
    j["z_mm"] = l.z_mm;
  } else {
    j["reason"] = l.reason;
  }
  if (l.bone_length_mm > 0) {
    j["bone"] = bone_key;
    j["bone_proximal_z_mm"] = l.bone_proximal_z_mm;
    j["bone_distal_z_mm"] = l.bone_distal_z_mm;
    j["bone_length_mm"] = l.bone_length_mm;
    if (l.found && l.method == "segmented_bone") j["percent_of_length"] = l.percent_of_length;
  }
  return j;
}

Measurement csa_per_height2_record(const quantify::LevelResult& l, const std::string& level_name, double cm2_per_m2) {
  Measurement x;
  x.quantity = "csa_per_height2", x.value = cm2_per_m2, x.unit_ucum = "cm2/m2", x.structure_key = "skeletal_muscle";
  x.side = l.side, x.slice_index = l.slice_index, x.z_mm = l.z_mm, x.level = level_name;
  return x;
}

report::DicomSource dicom_source_of(const LoadedInput& in) {
  report::DicomSource source;
  source.series = in.volume.source;
  source.geometry = in.volume.geometry;
  source.one_instance_per_slice = in.one_instance_per_slice;
  source.any_file = in.any_dicom_file;
  return source;
}

std::string csv_escape(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string results_json_text(json document, const std::vector<Measurement>& records) {
  // The records are most of the file: they are written as text, in the place and layout dump(1)
  // gives the "measurements" key (a placeholder marks it).
  const std::string placeholder = "\x01measurements\x01", quoted = json(placeholder).dump();
  document["measurements"] = placeholder;
  std::string text = document.dump(1, ' ', false, json::error_handler_t::replace);
  const std::size_t at = text.find("\n \"measurements\": " + quoted);
  if (at == std::string::npos) throw Error(ErrorCode::Internal, "results.json", "the measurements could not be placed");
  text.replace(at + std::string("\n \"measurements\": ").size(), quoted.size(), report::records_json_text(records, 1));
  return text + "\n";
}

std::string results_csv_text(const AnalyzeOptions& o, const LoadedInput& in, const std::string& pseudonym,
                             const std::string& protocol_name, const std::string& protocol_hash,
                             const std::vector<Measurement>& records) {
  std::ostringstream csv;
  csv << "subject,study_instance_uid,series_instance_uid,protocol,protocol_hash,level,slice,z_mm,side,structure,structure_code,"
         "quantity,value,unit,withheld_reason\n";
  const std::string subject = csv_escape(o.include_patient_id ? in.series->patient_id : pseudonym);
  const std::string case_columns = subject + "," + csv_escape(in.volume.source.study_instance_uid) + "," +
                                   csv_escape(in.volume.source.series_instance_uid) + "," + csv_escape(protocol_name) + "," +
                                   protocol_hash + ",";
  for (const auto& m : records) {
    csv << case_columns << csv_escape(m.level) << "," << (m.slice_index ? std::to_string(*m.slice_index) : "") << ","
        << (m.z_mm ? std::to_string(*m.z_mm) : "") << "," << to_string(m.side) << "," << csv_escape(m.structure_key) << ","
        << csv_escape(report::structure_code(m.structure_key)) << "," << csv_escape(m.quantity) << ",";
    if (!m.withheld) csv << m.value;
    csv << "," << csv_escape(m.unit_ucum) << "," << csv_escape(m.withheld_reason) << "\n";
  }
  return csv.str();
}

anatomy::MultiAtlasOptions atlas_options(const AnalyzeOptions& o) {
  anatomy::MultiAtlasOptions options;
  options.exclude_subjects = o.atlas_exclude_subjects;
  options.prior = o.muscle_prior;
  return options;
}

json withhold_if_low(json structure, const StructureConfidence& c, bool at_level) {
  if (!at_level || !c.low) return structure;
  for (auto& [key, value] : structure.items())
    if (value.is_number() || key == "suggested_mercuri_grade") value = nullptr;  // every value, the grade from FF too
  structure["withheld_reason"] = "muscle_low_confidence:" + c.reason;
  return structure;
}

json confidence_json(const StructureConfidence& c) {
  if (c.atlas_agreement < 0 && !c.low) return nullptr;
  return {{"atlas_agreement", c.atlas_agreement}, {"low", c.low}, {"reason", c.reason}};
}

json anatomy_prior_json(const AnalyzeOptions& o, const segment::TissueSegmentation& segmentation) {
  const bool atlas = segmentation.muscle_prior == "atlas";
  return {{"method", segmentation.muscle_prior.empty() ? "none" : atlas ? "multi_atlas" : "layout_cells"},
          {"description", segmentation.muscle_prior_description},
          {"atlases_available", segmentation.atlases_available},
          {"atlases_used", segmentation.atlases_used},
          {"excluded_atlas_subjects", o.atlas_exclude_subjects}};
}

json input_json(const AnalyzeOptions& o, const LoadedInput& in, const std::string& pseudonym, const std::string& modality,
                const json& kvp, const std::string& contrast_agent) {
  const Geometry& g = in.volume.geometry;
  // The input path only with --include-patient-id: archive folders are often named after the patient.
  json input = {{"path", o.include_patient_id ? o.input : std::string()},
                {"kind", in.kind},
                {"study_instance_uid", in.volume.source.study_instance_uid},
                {"series_instance_uid", in.volume.source.series_instance_uid},
                {"series_description", in.volume.source.series_description},
                {"modality", modality},
                {"kvp", kvp},
                {"contrast_agent", contrast_agent},
                {"size", {g.size[0], g.size[1], g.size[2]}},
                {"spacing_mm", {g.spacing_mm[0], g.spacing_mm[1], g.spacing_mm[2]}}};
  if (o.include_patient_id) input["patient_id"] = in.series->patient_id;
  if (!pseudonym.empty()) input["pseudonym"] = pseudonym;
  return input;
}

std::string pseudonym_for_input(const AnalyzeOptions& o, const LoadedInput& in) {
  if ((o.include_patient_id || !o.pseudonym_map.empty()) && (!in.series || in.series->patient_id.empty()))
    throw Error(ErrorCode::InvalidArgument, o.input, "the input has no Patient ID to include or pseudonymise");
  return o.pseudonym_map.empty() ? "" : pseudonym_for(o.pseudonym_map, in.series->patient_id);
}

CtAnalysis remeasure_ct(const AnalyzeOptions& o, const LoadedInput& in, segment::CtProtocol protocol,
                        segment::TissueSegmentation segmentation) {
  quantify::LevelOptions level_options;
  level_options.level_z_mm = o.level_z_mm;
  level_options.level_slice = o.level_slice;
  CtAnalysis analysis{std::move(protocol), "", std::move(segmentation), {}};
  analysis.results = quantify::measure_ct(in.volume, analysis.segmentation, analysis.protocol, level_options);
  return analysis;
}

CtAnalysis analyze_ct(const AnalyzeOptions& o, const LoadedInput& in, Progress& progress) {
  std::string decision;
  std::optional<segment::TissueSegmentation> probe;
  segment::CtProtocol protocol = choose_protocol(o.protocol, in.volume, decision, probe, progress);
  if (!o.muscle_prior.empty()) protocol.muscles.prior = o.muscle_prior;
  auto seg = probe ? std::move(*probe) : segment::segment_ct_tissues(in.volume, protocol, progress);
  anatomy::segment_muscles(in.volume, protocol, seg, atlas_options(o), progress);
  progress.report(0, "measuring");
  CtAnalysis analysis = remeasure_ct(o, in, std::move(protocol), std::move(seg));
  progress.report(0, "writing");
  analysis.protocol_decision = decision;
  return analysis;
}

void check_requested_formats(const AnalyzeOptions& o, const LabelMap& labels, bool any_level_found) {
  if (wants_format(o, "seg") && std::all_of(labels.voxels.begin(), labels.voxels.end(), [](LabelId l) { return l == 0; }))
    throw Error(ErrorCode::InvalidInput, o.input, "nothing was segmented (no legs found): there is no DICOM SEG to write; leave out --format seg");
  if (wants_format(o, "sr") && !any_level_found)
    throw Error(ErrorCode::InvalidInput, o.input,
                "no standard level was found, and a DICOM SR holds the level's measurements: give --level-z-mm or "
                "--level-slice, or leave out --format sr");
}

std::future<void> write_images_meanwhile(const std::filesystem::path& dir, const LabelMap* labels,
                                         const Image<float>* fat_fraction) {
  return std::async(std::launch::async, [dir, labels, fat_fraction] {
    io::write_image(*labels, dir / "labels.nii.gz");
    io::write_label_names(dir / "labels.json");
    if (fat_fraction != nullptr) io::write_image(*fat_fraction, dir / "fat_fraction.nii.gz");
  });
}

std::vector<std::string> write_closing_outputs(const AnalyzeOptions& o, const LoadedInput& in, const LabelMap& labels,
                                               const std::vector<Measurement>& sr_records, std::future<void>& images,
                                               json document, const std::vector<Measurement>& records) {
  const std::filesystem::path dir(o.out);
  const report::DicomSource source = dicom_source_of(in);  // for MR Dixon, the water series
  std::optional<report::DicomSegInfo> seg_info;
  std::vector<std::string> written;
  if (wants_format(o, "seg")) {
    report::SegOptions seg_options;
    seg_options.software_version = MUSCLECSA_VERSION_STRING;
    seg_info = report::write_dicom_seg(labels, source, seg_options, dir / "segmentation.dcm");
    written.push_back("segmentation.dcm");
  }
  if (wants_format(o, "sr")) {
    report::SrOptions sr_options;
    sr_options.software_version = MUSCLECSA_VERSION_STRING;
    report::write_dicom_sr(sr_records, source, seg_info ? &*seg_info : nullptr, sr_options, dir / "measurements.dcm");
    written.push_back("measurements.dcm");
  }
  images.get();
  io::write_text_atomically(dir / "results.json", results_json_text(std::move(document), records));
  if (wants_format(o, "html")) {
    report::write_case_report(dir);
    written.push_back("report.html");
  }
  return written;
}

void write_ct_outputs(const AnalyzeOptions& o, const LoadedInput& in, const CtAnalysis& analysis) {
  const std::string pseudonym = pseudonym_for_input(o, in);
  const segment::CtProtocol& protocol = analysis.protocol;
  const std::string& decision = analysis.protocol_decision;
  const segment::TissueSegmentation& seg = analysis.segmentation;
  const quantify::CtResults& results = analysis.results;
  const std::filesystem::path dir(o.out);
  // What SEG and SR need is checked before anything is written; results.json, which marks a
  // finished case (musclecsa report, batch), is written last.
  check_requested_formats(o, seg.labels, std::any_of(results.levels.begin(), results.levels.end(), [](const auto& l) { return l.found; }));
  auto images = write_images_meanwhile(dir, &seg.labels, nullptr);
  auto measurements = quantify::to_measurements(results, protocol);
  const double slice_mm = in.volume.geometry.spacing_mm[2];

  // Volumes over the scanned range, and CSA / height^2 at the level.
  std::vector<std::string> qc = in.qc_flags;
  qc.insert(qc.end(), results.qc_flags.begin(), results.qc_flags.end());
  // IV contrast raises muscle HU by about 7-8 HU (docs/methods.md): record it, correct nothing.
  const std::string contrast = in.series ? in.series->contrast_agent : "";
  if (!contrast.empty()) qc.push_back("contrast_enhanced");
  json volumes = json::array();
  for (Side side : {Side::Right, Side::Left}) {
    double muscle = 0, imat = 0, sat = 0;
    std::map<std::string, double> structure_volume;  // muscle tissue per muscle and group
    bool any = false;
    for (const auto& s : results.slices)
      for (const auto& m : s.sides)
        if (m.side == side) {
          any = true;
          muscle += m.muscle_area_mm2 * slice_mm, imat += m.imat_area_mm2 * slice_mm, sat += m.subcutaneous_fat_area_mm2 * slice_mm;
          for (const auto& st : m.structures) structure_volume[st.structure_key] += st.muscle_area_mm2 * slice_mm;
        }
    if (!any) continue;
    json per_structure = json::object();
    for (const auto& [key, volume] : structure_volume) {
      per_structure[key] = volume / 1000;
      Measurement x;
      x.quantity = "volume", x.value = volume / 1000, x.unit_ucum = "cm3", x.structure_key = key, x.side = side;
      x.level = "scanned_range";
      measurements.push_back(x);
    }
    volumes.push_back({{"side", std::string(to_string(side))}, {"muscle_volume_cm3", muscle / 1000},
                       {"imat_volume_cm3", imat / 1000}, {"subcutaneous_fat_volume_cm3", sat / 1000},
                       {"structure_muscle_volumes_cm3", per_structure}});
    for (auto [quantity, value, structure] : {std::tuple{"volume", muscle, "skeletal_muscle"}, std::tuple{"volume", imat, "imat"},
                                              std::tuple{"volume", sat, "subcutaneous_fat"}}) {
      Measurement m;
      m.quantity = quantity, m.value = value / 1000, m.unit_ucum = "cm3", m.structure_key = structure, m.side = side;
      m.level = "scanned_range";
      measurements.push_back(m);
    }
  }
  json levels = json::array();
  for (const auto& l : results.levels) {
    json j = level_json(l, protocol.level.name, protocol.level.bone_key);
    if (l.found)
      for (const auto& m : results.slices[std::size_t(l.slice_index)].sides)
        if (m.side == l.side) {
          j["measures"] = side_json(m, true);
          if (o.height_m) {
            const double per_h2 = m.muscle_area_mm2 / 100 / (*o.height_m * *o.height_m);
            j["muscle_area_per_height2_cm2_m2"] = per_h2;
            measurements.push_back(csa_per_height2_record(l, protocol.level.name, per_h2));
          }
        }
    levels.push_back(j);
  }
  // The measurements are complete here: results.csv is built on another thread meanwhile.
  auto csv_text = std::async(std::launch::async, [&] {
    return results_csv_text(o, in, pseudonym, protocol.name, protocol.hash(), measurements);
  });
  json slices = json::array();
  for (const auto& s : results.slices) {
    json sides = json::array();
    for (const auto& m : s.sides) sides.push_back(side_json(m));
    slices.push_back({{"slice", s.slice_index}, {"z_mm", s.z_mm}, {"qc_flags", s.qc_flags}, {"sides", sides}});
  }
  const json input = input_json(o, in, pseudonym, std::string(to_string(in.volume.modality)),
                                in.series && in.series->kvp > 0 ? json(in.series->kvp) : json(nullptr), contrast);
  std::vector<std::string> notes = in.notes;
  if (!contrast.empty())
    notes.push_back("contrast-enhanced scan (" + contrast + "): muscle HU is raised (about 7-8 HU with IV contrast); "
                    "HU values are reported as measured, without correction");
  notes.insert(notes.end(), results.notes.begin(), results.notes.end());
  if (!decision.empty()) notes.push_back("protocol " + protocol.name + " chosen by " + decision);
  const bool single_leg = std::any_of(results.slices.begin(), results.slices.end(), [](const auto& sl) {
    return std::find(sl.qc_flags.begin(), sl.qc_flags.end(), "single_leg") != sl.qc_flags.end();
  });
  if (single_leg && in.kind == "research")
    notes.push_back("one leg only: its side is taken from the sign of its x position, which assumes scanner "
                    "coordinates (isocentre at the midline); check it for research-format input");
  json out = {{"format", "musclecsa-results"},
              {"version", 1},
              {"software", {{"name", "MuscleCSA"}, {"version", MUSCLECSA_VERSION_STRING}}},
              {"created_utc", utc_now()},
              {"input", input},
              {"protocol", {{"name", protocol.name}, {"hash", protocol.hash()}, {"definition", json::parse(protocol.to_json())}}},
              {"anatomy_prior", anatomy_prior_json(o, seg)},
              {"segmentation", seg.muscles_segmented
                                   ? "muscle level: skin, subcutaneous fat, deep fascia, bones, each muscle (its groups from its members), IMAT (docs/methods.md)"
                                   : "tissue level: skin, subcutaneous fat, deep fascia, bones, muscle tissue, IMAT (docs/methods.md)"},
              {"qc_flags", qc},
              {"notes", notes},
              {"levels", std::move(levels)},
              {"volumes", std::move(volumes)},
              {"slices", std::move(slices)}};

  io::write_text_atomically(dir / "protocol.json", json::parse(protocol.to_json()).dump(2) + "\n");
  io::write_text_atomically(dir / "results.csv", csv_text.get());
  // QC images: each level slice (both legs in one picture), and every slice on request.
  std::vector<int> level_slices;
  for (const auto& l : results.levels)
    if (l.found && std::find(level_slices.begin(), level_slices.end(), l.slice_index) == level_slices.end())
      level_slices.push_back(l.slice_index);
  std::vector<std::string> qc_images;
  for (int k : level_slices) {
    report::QcImageOptions picture;
    picture.text = qc_text(results.slices[std::size_t(k)], protocol, protocol.level.name);
    const std::string name = "qc_" + protocol.level.name + (level_slices.size() > 1 ? "_slice" + std::to_string(k) : "") + ".png";
    report::write_qc_image(in.volume, seg.labels, std::size_t(k), picture, dir / name);
    qc_images.push_back(name);
  }
  if (o.qc_every_slice)
    for (const auto& s : results.slices) {
      report::QcImageOptions picture;
      picture.text = qc_text(s, protocol, "");
      char name[32];
      std::snprintf(name, sizeof name, "slice_%04d.png", s.slice_index);
      report::write_qc_image(in.volume, seg.labels, std::size_t(s.slice_index), picture, dir / "qc" / name);
    }

  const std::vector<std::string> extra_outputs =
      write_closing_outputs(o, in, seg.labels, measurements, images, std::move(out), measurements);

  if (o.quiet) return;
  *o.console << "MuscleCSA " << MUSCLECSA_VERSION_STRING << " analyze: protocol " << protocol.name << " (" << protocol.hash() << ")\n";
  for (const auto& l : results.levels) {
    if (!l.found) {
      *o.console << "  " << to_string(l.side) << " leg: no standard level: " << l.reason << "\n";
      continue;
    }
    for (const auto& m : results.slices[std::size_t(l.slice_index)].sides) {
      if (m.side != l.side) continue;
      char line[512];
      std::snprintf(line, sizeof line,
                    "  %-5s %s: slice %d (z %.1f mm%s)\n"
                    "        muscle %.2f cm2 (mean %.1f HU, SD %.1f; low-attenuation %.2f cm2), IMAT %.2f cm2, "
                    "subcutaneous fat %.2f cm2, bone %.2f cm2\n",
                    std::string(to_string(m.side)).c_str(), protocol.level.name.c_str(), l.slice_index, l.z_mm,
                    l.method == "segmented_bone" ? (", " + std::to_string(int(std::lround(l.percent_of_length))) + "% of " +
                                                    protocol.level.bone_key + " length").c_str()
                                                 : (", " + l.method).c_str(),
                    m.muscle_area_mm2 / 100, m.muscle_mean_hu, m.muscle_sd_hu, m.low_attenuation_muscle_area_mm2 / 100,
                    m.imat_area_mm2 / 100, m.subcutaneous_fat_area_mm2 / 100, m.bone_area_mm2 / 100);
      *o.console << line;
      for (const auto& st : m.structures) {
        const Structure& structure = LabelCatalog::standard().get(st.structure_key);
        if (!st.is_group && !structure.group_key.empty()) continue;
        if (st.confidence.low)
          std::snprintf(line, sizeof line, "        %-20s withheld: low confidence (%s)\n", structure.name.c_str(),
                        st.confidence.reason.c_str());
        else
          std::snprintf(line, sizeof line, "        %-20s CSA %6.2f cm2 (outline %6.2f, intramuscular fat %5.2f), %5.1f HU\n",
                        structure.name.c_str(), st.muscle_area_mm2 / 100, st.outline_area_mm2 / 100,
                        st.intramuscular_fat_area_mm2 / 100, st.mean_hu);
        *o.console << line;
      }
    }
  }
  print_case_flags(*o.console, qc, results.slices, results.levels, protocol.level.name);
  for (const auto& note : notes) *o.console << "  note: " << note << "\n";
  *o.console << "  Outputs: " << (dir / "results.json").string() << ", results.csv, labels.nii.gz, labels.json, protocol.json";
  for (const auto& name : qc_images) *o.console << ", " << name;
  if (o.qc_every_slice) *o.console << ", qc/slice_*.png";
  for (const auto& name : extra_outputs) *o.console << ", " << name;
  *o.console << "\n";
}

int analyze_case(const AnalyzeOptions& o, Progress& progress) {
  if (auto done = run_mr_analysis_before_loading(o, progress)) return *done;
  InputOptions in_options;
  in_options.series = o.series;
  in_options.path_is_file_list = o.files_from;
  in_options.pixel_size_mm = o.us.pixel_size_mm;
  LoadedInput in = load_input(o.input, in_options, progress);
  if (in.kind == "research") {
    if (o.modality != "ct" && o.modality != "mr")
      throw Error(ErrorCode::InvalidArgument, o.input,
                  "a NIfTI/NRRD/MetaImage file has no modality: give --modality ct for a CT in HU, or --modality mr for a "
                  "T1/T2-weighted MR (a Dixon pair: --water and --fat)");
    in.volume.modality = o.modality == "mr" ? Modality::MR : Modality::CT;
  } else {
    check_modality_option(o, in);  // DICOM carries its modality: a contradicting --modality is refused
  }
  if ((wants_format(o, "seg") || wants_format(o, "sr")) && in.kind != "dicom")
    throw Error(ErrorCode::InvalidArgument, o.input,
                "DICOM SEG and SR need DICOM input (they reference its study and images); this input is " + in.kind +
                    ": leave out --format seg/sr");
  inject_fault_for_tests(in.volume.source.series_description);
  if (in.volume.modality == Modality::US || in.kind == "bitmap") return run_us_analysis(o, in, progress);
  if (in.volume.modality == Modality::MR) return run_mr_analysis(o, in, progress);
  if (in.volume.modality != Modality::CT) throw Error(ErrorCode::InvalidInput, o.input, "not a CT series (modality " + std::string(to_string(in.volume.modality)) + ")");
  refuse_mr_protocol_for_ct(o);
  pseudonym_for_input(o, in);  // privacy options checked before the analysis
  for (const auto& flag : in.qc_flags)
    if (flag == "no_pixel_spacing")
      throw Error(ErrorCode::InvalidInput, o.input, "the series has no Pixel Spacing: areas cannot be measured");
  write_ct_outputs(o, in, analyze_ct(o, in, progress));
  return 0;
}

}  // namespace musclecsa::pipeline
