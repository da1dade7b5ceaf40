// The MRI analysis's outputs: the case folder of an MR analysis (results.json, results.csv, labels,
// the FF map, QC images, DICOM SEG/SR and the HTML page; docs/mri.md "Outputs").

#include "mr_outputs.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <future>
#include <iostream>
#include <map>
#include <sstream>

#include "case_outputs.h"
#include "musclecsa/pipeline/analyze.h"
#include "case_flags.h"
#include "musclecsa/core/catalog.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/version.h"

namespace musclecsa::pipeline {

using nlohmann::json;

namespace {

std::string level_name_of(const mri::MrAnalysis& a) { return a.protocol.compartments.level.name; }

json structure_json(const mri::MrStructureMeasures& st, const mri::MercuriMapping& mercuri) {
  return {{"structure", st.structure_key},
          {"kind", st.is_group ? "muscle_group" : "muscle"},
          {"csa_cm2", st.area_mm2 / 100},
          {"mean_fat_fraction", st.mean_ff},
          {"median_fat_fraction", st.median_ff},
          {"fat_free_csa_cm2", st.fat_free_area_mm2 / 100},
          {"intramuscular_fat_area_cm2", st.fat_area_mm2 / 100},
          {"suggested_mercuri_grade", st.mercuri},
          {"suggested_mercuri_ordinal", mercuri.ordinal_for(st.mean_ff)},
          {"confidence", confidence_json(st.confidence)}};
}

json side_json(const mri::MrSideMeasures& m, const mri::MercuriMapping& mercuri, bool at_level = false) {
  json structures = json::array();
  for (const auto& st : m.structures) structures.push_back(withhold_if_low(structure_json(st, mercuri), st.confidence, at_level));
  json side = limb_side_json(m);
  side.update({{"muscle_csa_cm2", m.muscle_area_mm2 / 100},
               {"muscle_mean_fat_fraction", m.muscle_mean_ff},
               {"muscle_median_fat_fraction", m.muscle_median_ff},
               {"fat_free_muscle_csa_cm2", m.fat_free_muscle_area_mm2 / 100},
               {"subcutaneous_fat_mean_fat_fraction", m.subcutaneous_fat_mean_ff},
               {"marrow_mean_fat_fraction", m.marrow_mean_ff},
               {"structures", std::move(structures)}});
  return side;
}

std::vector<Measurement> measurements_of(const mri::MrAnalysis& a) {
  std::vector<Measurement> out;
  const std::string level_name = level_name_of(a);
  auto add = [&](const mri::MrSliceMeasures& s, const mri::MrSideMeasures& m, const std::string& level) {
    auto push = [&](std::string quantity, double value, std::string unit, std::string structure) {
      Measurement x;
      x.quantity = std::move(quantity), x.value = value, x.unit_ucum = std::move(unit), x.structure_key = std::move(structure);
      x.side = m.side, x.slice_index = s.slice_index, x.z_mm = s.z_mm, x.level = level, x.qc_flags = s.qc_flags;
      out.push_back(std::move(x));
    };
    push("csa", m.muscle_area_mm2 / 100, "cm2", "skeletal_muscle");
    push("mean_fat_fraction", m.muscle_mean_ff, "1", "skeletal_muscle");
    push("median_fat_fraction", m.muscle_median_ff, "1", "skeletal_muscle");
    push("fat_free_csa", m.fat_free_muscle_area_mm2 / 100, "cm2", "skeletal_muscle");
    push("imat_area", m.imat_area_mm2 / 100, "cm2", "imat");
    push("area", m.subcutaneous_fat_area_mm2 / 100, "cm2", "subcutaneous_fat");
    push("area", m.bone_area_mm2 / 100, "cm2", a.protocol.compartments.level.bone_key);
    push("limb_area", m.limb_area_mm2 / 100, "cm2", "skin");
    for (const auto& st : m.structures) {
      const std::size_t first = out.size();
      push("csa", st.area_mm2 / 100, "cm2", st.structure_key);
      push("mean_fat_fraction", st.mean_ff, "1", st.structure_key);
      push("fat_free_csa", st.fat_free_area_mm2 / 100, "cm2", st.structure_key);
      if (!level.empty()) {
        push("median_fat_fraction", st.median_ff, "1", st.structure_key);
        push("intramuscular_fat_area", st.fat_area_mm2 / 100, "cm2", st.structure_key);
        push("suggested_mercuri_grade_ordinal", a.protocol.mercuri.ordinal_for(st.mean_ff), "{ordinal}", st.structure_key);
      }
      quantify::mark_low_confidence(out, first, st.confidence, level);
    }
  };
  for (const auto& level : a.compartments.levels) {
    if (!level.found) continue;
    const auto& s = a.slices[std::size_t(level.slice_index)];
    for (const auto& m : s.sides)
      if (m.side == level.side) add(s, m, level_name);
  }
  for (const auto& s : a.slices)
    for (const auto& m : s.sides) add(s, m, "");
  return out;
}

std::vector<std::string> qc_text(const mri::MrAnalysis& a, const mri::MrSliceMeasures& s, const std::string& level_name) {
  std::vector<std::string> text = {"MuscleCSA " MUSCLECSA_VERSION_STRING " - " + a.protocol.name + " (" + a.protocol.hash() + "), " +
                                   (a.kind == "dixon" ? "Dixon fat fraction" : "T1 relative fat signal")};
  char line[240];
  std::snprintf(line, sizeof line, "slice %d, z %.1f mm%s", s.slice_index, s.z_mm, level_name.empty() ? "" : (", " + level_name).c_str());
  text.emplace_back(line);
  for (const auto& m : s.sides) {
    std::snprintf(line, sizeof line, "%s: muscle %.1f cm2, FF %.1f%%, fat-free %.1f cm2, IMAT %.1f cm2",
                  std::string(to_string(m.side)).c_str(), m.muscle_area_mm2 / 100, 100 * m.muscle_mean_ff,
                  m.fat_free_muscle_area_mm2 / 100, m.imat_area_mm2 / 100);
    text.emplace_back(line);
    std::string groups = "   ";
    for (const auto& st : m.structures) {
      const Structure& structure = LabelCatalog::standard().get(st.structure_key);
      if (!st.is_group && !structure.group_key.empty()) continue;
      std::snprintf(line, sizeof line, "%s %.1f cm2 FF %.0f%% (Mercuri %s*)%s; ", structure.name.c_str(), st.area_mm2 / 100,
                    100 * st.mean_ff, st.mercuri.c_str(), st.confidence.low ? " low confidence" : "");
      if (groups.size() + std::strlen(line) > 120) text.push_back(groups), groups = "   ";
      groups += line;
    }
    if (groups.size() > 3) text.push_back(groups);
  }
  text.emplace_back("* suggested Mercuri grade from mean FF (docs/mri.md), not a visual rating");
  for (const auto& flag : s.qc_flags) text.push_back("qc flag: " + flag);
  return text;
}

/// The measurements a DICOM SR holds for an MR analysis: those at the level (write_dicom_sr leaves
/// the others out). A T1-weighted series' "fat fraction" is a relative fat signal (a contrast
/// index): it goes into the SR under its own concept, and what is derived from it as if it were a
/// fat fraction (fat-free CSA, the suggested Mercuri grade) stays in results.json/csv only.
std::vector<Measurement> sr_measurements(const mri::MrAnalysis& a, const std::vector<Measurement>& all) {
  std::vector<Measurement> out;
  for (const auto& m : all) {
    if (m.level.empty() || m.level == "scanned_range") continue;
    Measurement x = m;
    if (a.kind != "dixon") {
      if (x.quantity == "fat_free_csa" || x.quantity == "suggested_mercuri_grade_ordinal") continue;
      if (x.quantity == "mean_fat_fraction") x.quantity = "mean_relative_fat_signal";
      if (x.quantity == "median_fat_fraction") x.quantity = "median_relative_fat_signal";
    }
    out.push_back(std::move(x));
  }
  return out;
}

}  // namespace

/// SEG and SR reference the DICOM images (the water series of a Dixon set): refused for other input.
void check_dicom_formats(const AnalyzeOptions& o, const LoadedInput& in) {
  if ((wants_format(o, "seg") || wants_format(o, "sr")) && in.kind != "dicom")
    throw Error(ErrorCode::InvalidArgument, o.input,
                "DICOM SEG and SR need DICOM input (they reference its study and images; for Dixon the water series); this "
                "input is " + std::string(in.kind == "research" ? "a NIfTI/NRRD/MetaImage file" : in.kind) +
                    ": leave out --format seg/sr");
}

void write_mr_outputs(const AnalyzeOptions& o, const LoadedInput& in, const mri::MrAnalysis& a, const json& mri_input) {
  const std::string pseudonym = pseudonym_for_input(o, in);
  const std::filesystem::path dir(o.out);
  const std::string level_name = level_name_of(a);
  // What SEG and SR need is checked before anything is written; results.json, which marks a
  // finished case (musclecsa report, batch), is written last.
  check_requested_formats(o, a.segmentation.labels, std::any_of(a.compartments.levels.begin(), a.compartments.levels.end(),
                                                                [](const auto& l) { return l.found; }));
  auto images = write_images_meanwhile(dir, &a.segmentation.labels, &a.ff.ff);
  auto measurements = measurements_of(a);
  const double slice_mm = in.volume.geometry.spacing_mm[2];

  std::vector<std::string> qc = in.qc_flags;
  for (const auto& f : a.qc_flags)
    if (std::find(qc.begin(), qc.end(), f) == qc.end()) qc.push_back(f);
  std::vector<std::string> notes = in.notes;
  notes.insert(notes.end(), a.notes.begin(), a.notes.end());
  if (!a.protocol_decision.empty()) notes.push_back("protocol " + a.protocol.name + " chosen by " + a.protocol_decision);
  for (const auto& swap : a.swaps) notes.push_back(swap.description);

  // Volumes over the scanned range: outline (CSA) and fat-free volumes per muscle and group.
  json volumes = json::array();
  for (Side side : {Side::Right, Side::Left}) {
    std::map<std::string, std::pair<double, double>> per;  // key -> (volume, fat-free volume) mm3
    bool any = false;
    for (const auto& s : a.slices)
      for (const auto& m : s.sides) {
        if (m.side != side) continue;
        any = true;
        per["skeletal_muscle"].first += m.muscle_area_mm2 * slice_mm;
        per["skeletal_muscle"].second += m.fat_free_muscle_area_mm2 * slice_mm;
        per["imat"].first += m.imat_area_mm2 * slice_mm;
        per["subcutaneous_fat"].first += m.subcutaneous_fat_area_mm2 * slice_mm;
        for (const auto& st : m.structures) {
          per[st.structure_key].first += st.area_mm2 * slice_mm;
          per[st.structure_key].second += st.fat_free_area_mm2 * slice_mm;
        }
      }
    if (!any) continue;
    json structures = json::object();
    for (const auto& [key, v] : per) {
      const bool tissue = key == "imat" || key == "subcutaneous_fat";
      structures[key] = tissue ? json{{"volume_cm3", v.first / 1000}}
                               : json{{"volume_cm3", v.first / 1000}, {"fat_free_volume_cm3", v.second / 1000}};
      for (int fat_free = 0; fat_free < (tissue ? 1 : 2); ++fat_free) {
        Measurement x;
        x.quantity = fat_free ? "fat_free_volume" : "volume";
        x.value = (fat_free ? v.second : v.first) / 1000;
        x.unit_ucum = "cm3", x.structure_key = key, x.side = side, x.level = "scanned_range";
        measurements.push_back(x);
      }
    }
    volumes.push_back({{"side", std::string(to_string(side))}, {"structures", structures}});
  }
  json levels = json::array(), mri_levels = json::array();
  for (const auto& l : a.compartments.levels) {
    levels.push_back(level_json(l, level_name, a.protocol.compartments.level.bone_key));
    if (l.found)
      for (const auto& m : a.slices[std::size_t(l.slice_index)].sides)
        if (m.side == l.side) {
          json measures = side_json(m, a.protocol.mercuri, true);
          if (o.height_m) {
            const double per_h2 = m.muscle_area_mm2 / 100 / (*o.height_m * *o.height_m);
            measures["muscle_csa_per_height2_cm2_m2"] = per_h2;
            measurements.push_back(csa_per_height2_record(l, level_name, per_h2));
          }
          mri_levels.push_back({{"side", std::string(to_string(l.side))}, {"name", level_name}, {"slice", l.slice_index},
                                {"z_mm", l.z_mm}, {"measures", measures}});
        }
  }
  // The measurements are complete here: results.csv is built on another thread meanwhile.
  auto csv_text = std::async(std::launch::async, [&] {
    return results_csv_text(o, in, pseudonym, a.protocol.name, a.protocol.hash(), measurements);
  });
  json slices = json::array();
  for (const auto& s : a.slices) {
    json sides = json::array();
    for (const auto& m : s.sides) sides.push_back(side_json(m, a.protocol.mercuri));
    slices.push_back({{"slice", s.slice_index}, {"z_mm", s.z_mm}, {"qc_flags", s.qc_flags}, {"sides", sides}});
  }
  json swaps = json::array();
  for (const auto& f : a.swaps)
    swaps.push_back({{"slice", f.slice_index}, {"side", std::string(to_string(f.side))}, {"check", f.check},
                     {"measured_fat_fraction", f.measured_ff}, {"low_sectors", f.low_sectors}, {"sectors", f.sectors},
                     {"corrected", f.corrected}, {"description", f.description}});
  const auto& mm = a.protocol.mercuri;
  json mri = {
      {"kind", a.kind},
      {"series", mri_input},
      {"fat_fraction_method", a.ff.method},
      {"fat_fraction_definition",
       a.kind == "dixon" ? "signal fat fraction F/(F+W) per voxel from magnitude images, each corrected for the Rician noise "
                           "floor (A = sqrt(max(M^2 - 2 sigma^2, 0))); not a proton-density fat fraction (no T2* or T1 correction)"
                         : "relative T1 fat signal after N4: 0 at the muscle class, 1 at the fat class (k-means); a contrast "
                           "index, not a fat fraction"},
      {"noise_sd", {{"water", a.ff.noise_sd_water}, {"fat", a.ff.noise_sd_fat}}},
      {"noise_floor", {{"noise_sds", a.protocol.noise_floor_sd}, {"definition", "voxels whose W + F is below this many noise SDs have no fat fraction (0)"}}},
      {"snr", a.snr},
      {"fat_threshold", a.protocol.fat_ff_threshold},
      {"n4", a.n4_applied ? json{{"applied", true},
                                 {"shrink_factor", a.n4_applied->shrink_factor},
                                 {"fitting_levels", a.n4_applied->fitting_levels},
                                 {"iterations_per_level", a.n4_applied->iterations_per_level},
                                 {"convergence_threshold", a.n4_applied->convergence_threshold},
                                 {"spline_control_points", a.n4_applied->spline_control_points}}
                          : json{{"applied", false}}},
      {"swap_findings", swaps},
      {"mercuri_mapping",
       {{"note", "a suggestion derived from the mean fat fraction; Mercuri is a visual T1 scale (docs/mri.md)"},
        {"grades", json::array({json{{"grade", "0-1"}, {"ordinal", 0}, {"fat_fraction_below", mm.grade_0_1_below}},
                                json{{"grade", "2a"}, {"ordinal", 1}, {"fat_fraction_below", mm.grade_2a_below}},
                                json{{"grade", "2b"}, {"ordinal", 2}, {"fat_fraction_below", mm.grade_2b_below}},
                                json{{"grade", "3"}, {"ordinal", 3}, {"fat_fraction_below", mm.grade_3_below}},
                                json{{"grade", "4"}, {"ordinal", 4}, {"fat_fraction_below", 1.0}}})}}},
      {"levels", mri_levels},
      {"volumes", volumes},
      {"slices", slices}};

  const json input = input_json(o, in, pseudonym, "MR", nullptr, in.series ? in.series->contrast_agent : std::string());
  json out = {{"format", "musclecsa-results"},
              {"version", 1},
              {"software", {{"name", "MuscleCSA"}, {"version", MUSCLECSA_VERSION_STRING}}},
              {"created_utc", utc_now()},
              {"input", input},
              {"protocol", {{"name", a.protocol.name}, {"hash", a.protocol.hash()}, {"definition", json::parse(a.protocol.to_json())}}},
              {"anatomy_prior", anatomy_prior_json(o, a.segmentation)},
              {"segmentation",
               "muscle level on a pseudo-CT from the MR data (docs/mri.md): skin, subcutaneous fat, deep fascia, bones "
               "(signal void and marrow), each muscle (groups from members), IMAT"},
              {"qc_flags", qc},
              {"notes", notes},
              {"levels", std::move(levels)},
              {"mri", std::move(mri)}};

  io::write_text_atomically(dir / "protocol.json", json::parse(a.protocol.to_json()).dump(2) + "\n");
  io::write_text_atomically(dir / "results.csv", csv_text.get());
  std::vector<int> level_slices;
  for (const auto& l : a.compartments.levels)
    if (l.found && std::find(level_slices.begin(), level_slices.end(), l.slice_index) == level_slices.end())
      level_slices.push_back(l.slice_index);
  std::vector<std::string> outputs = {"results.json", "results.csv", "labels.nii.gz", "labels.json", "fat_fraction.nii.gz", "protocol.json"};
  for (int k : level_slices) {
    const std::string name = "qc_" + level_name + (level_slices.size() > 1 ? "_slice" + std::to_string(k) : "") + ".png";
    mri::write_mr_qc_image(a, std::size_t(k), qc_text(a, a.slices[std::size_t(k)], level_name), dir / name);
    outputs.push_back(name);
  }
  // Swapped slices get their QC picture too: that is where to look.
  for (const auto& f : a.swaps) {
    char name[48];
    std::snprintf(name, sizeof name, "qc_swap_slice%04d.png", f.slice_index);
    if (std::filesystem::exists(dir / name)) continue;
    mri::write_mr_qc_image(a, std::size_t(f.slice_index), qc_text(a, a.slices[std::size_t(f.slice_index)], ""), dir / name);
    outputs.push_back(name);
  }
  if (o.qc_every_slice)
    for (const auto& s : a.slices) {
      char name[32];
      std::snprintf(name, sizeof name, "slice_%04d.png", s.slice_index);
      mri::write_mr_qc_image(a, std::size_t(s.slice_index), qc_text(a, s, ""), dir / "qc" / name);
    }
  const std::vector<Measurement> sr_records = wants_format(o, "sr") ? sr_measurements(a, measurements) : std::vector<Measurement>();
  for (auto& name : write_closing_outputs(o, in, a.segmentation.labels, sr_records, images, std::move(out), measurements))
    outputs.push_back(std::move(name));

  if (o.quiet) return;
  *o.console << "MuscleCSA " << MUSCLECSA_VERSION_STRING << " analyze (MRI, " << (a.kind == "dixon" ? "Dixon" : "weighted")
            << "): protocol " << a.protocol.name << " (" << a.protocol.hash() << ")\n";
  for (const auto& l : a.compartments.levels) {
    if (!l.found) {
      *o.console << "  " << to_string(l.side) << " leg: no standard level: " << l.reason << "\n";
      continue;
    }
    for (const auto& m : a.slices[std::size_t(l.slice_index)].sides) {
      if (m.side != l.side) continue;
      char line[400];
      std::snprintf(line, sizeof line,
                    "  %-5s %s: slice %d (z %.1f mm)\n        muscle CSA %.2f cm2, mean FF %.1f%%, fat-free CSA %.2f cm2, "
                    "IMAT %.2f cm2, subcutaneous fat %.2f cm2\n",
                    std::string(to_string(m.side)).c_str(), level_name.c_str(), l.slice_index, l.z_mm, m.muscle_area_mm2 / 100,
                    100 * m.muscle_mean_ff, m.fat_free_muscle_area_mm2 / 100, m.imat_area_mm2 / 100,
                    m.subcutaneous_fat_area_mm2 / 100);
      *o.console << line;
      for (const auto& st : m.structures) {
        const Structure& structure = LabelCatalog::standard().get(st.structure_key);
        if (!st.is_group && !structure.group_key.empty()) continue;
        if (st.confidence.low)
          std::snprintf(line, sizeof line, "        %-20s withheld: low confidence (%s)\n", structure.name.c_str(),
                        st.confidence.reason.c_str());
        else
          std::snprintf(line, sizeof line,
                        "        %-20s CSA %6.2f cm2, FF %5.1f%% (median %5.1f%%), fat-free %6.2f cm2, Mercuri %s (suggested)\n",
                        structure.name.c_str(), st.area_mm2 / 100, 100 * st.mean_ff, 100 * st.median_ff,
                        st.fat_free_area_mm2 / 100, st.mercuri.c_str());
        *o.console << line;
      }
    }
  }
  print_case_flags(*o.console, qc, a.slices, a.compartments.levels, level_name);
  for (const auto& note : notes) *o.console << "  note: " << note << "\n";
  *o.console << "  Outputs in " << dir.string() << ":";
  for (const auto& name : outputs) *o.console << " " << name;
  if (o.qc_every_slice) *o.console << " qc/slice_*.png";
  *o.console << "\n";
}

}  // namespace musclecsa::pipeline
