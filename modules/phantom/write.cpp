// Writes a phantom: DICOM series, ground-truth label map and fat fraction (NIfTI), truth JSON.

#include <nlohmann/json.hpp>

#include "musclecsa/core/error.h"
#include "musclecsa/dicom/series_writer.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/io/label_names.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/phantom/phantom.h"
#include "musclecsa/version.h"

namespace musclecsa::phantom {
namespace {

using nlohmann::json;

json params_json(const PhantomParams& p) {
  json j = {
      {"anatomy", to_string(p.anatomy)},
      {"modality", to_string(p.modality)},
      {"seed", p.seed},
      {"columns", p.columns},
      {"rows", p.rows},
      {"slices", p.slices},
      {"pixel_spacing_mm", p.pixel_spacing_mm},
      {"slice_spacing_mm", p.slice_spacing_mm},
      {"legs", to_string(p.legs)},
      {"leg_gap_mm", p.leg_gap_mm},
      {"sat_thickness_mm", p.sat_thickness_mm},
      {"skin_thickness_mm", p.skin_thickness_mm},
      {"muscle_area_scale", p.muscle_area_scale},
      {"septum_width_mm", p.septum_width_mm},
      {"group_septum_width_mm", p.group_septum_width_mm},
      {"subfascial_fat_mm", p.subfascial_fat_mm},
      {"fascia_thickness_mm", p.fascia_thickness_mm},
      {"shape_variation", p.shape_variation},
      {"noise_sd", p.noise_sd},
      {"bias_field_amplitude", p.bias_field_amplitude},
      {"supersampling", p.supersampling},
  };
  if (p.modality == PhantomModality::US) {
    j["us_muscle"] = p.us_muscle;
    j["us_pixel_spacing_mm"] = p.us_pixel_spacing_mm;
    j["us_depth_mm"] = p.us_depth_mm;
    j["us_width_mm"] = p.us_width_mm;
    j["us_muscle_width_mm"] = p.us_muscle_width_mm;
    j["us_muscle_thickness_mm"] = p.us_muscle_thickness_mm;
    j["us_echogenicity_gain"] = p.us_echogenicity_gain;
  }
  if (!p.anatomy_from.empty()) {
    j["anatomy_from"] = p.anatomy_from;
    j["septum_fat_fraction"] = p.septum_fat_fraction;
    if (p.atlas_leg_gap_mm > -1e8) j["atlas_leg_gap_mm"] = p.atlas_leg_gap_mm;
  }
  json inf = json::object();
  for (const auto& [key, v] : p.infiltration) inf[key] = {{"fraction", v.fraction}, {"pattern", to_string(v.pattern)}};
  j["infiltration"] = inf;
  return j;
}

json truth_json(const Phantom& ph) {
  json slices = json::array();
  for (const auto& s : ph.slices) {
    json structures = json::array();
    for (const auto& t : s.structures)
      structures.push_back({{"structure", t.structure_key},
                            {"side", to_string(t.side)},
                            {"voxels", t.voxel_count},
                            {"area_cm2", t.area_mm2 / 100.0},
                            {"fat_fraction", t.fat_fraction},
                            {"mean_value", t.mean_value}});
    json sides = json::array();
    for (const auto& side : s.sides)
      sides.push_back({{"side", to_string(side.side)},
                       {"limb_area_cm2", side.limb_area_mm2 / 100.0},
                       {"compartment_area_cm2", side.compartment_area_mm2 / 100.0},
                       {"muscle_area_cm2", side.muscle_area_mm2 / 100.0},
                       {"imat_area_cm2", side.imat_area_mm2 / 100.0},
                       {"intramuscular_fat_area_cm2", side.intramuscular_fat_area_mm2 / 100.0}});
    slices.push_back({{"slice", s.slice_index},
                      {"z_mm", s.z_mm},
                      {"bone_fraction", s.bone_fraction},
                      {"structures", structures},
                      {"sides", sides}});
  }
  json j = {{"format", "musclecsa-phantom-truth"},
            {"version", 1},
            {"software", {{"name", "MuscleCSA"}, {"version", MUSCLECSA_VERSION_STRING}}},
            {"parameters", params_json(ph.params)},
            {"value_unit", ph.series.front().image.unit_ucum},
            {"slices", slices}};
  if (ph.params.modality == PhantomModality::US) {
    const UltrasoundTruth& u = ph.ultrasound;
    j["ultrasound"] = {{"muscle", u.muscle_key},
                       {"acsa_cm2", u.acsa_mm2 / 100.0},
                       {"muscle_thickness_cm", u.muscle_thickness_mm / 10.0},
                       {"sat_thickness_cm", u.sat_thickness_mm / 10.0},
                       {"echo_intensity", u.echo_intensity},
                       {"centre_column", u.centre_column},
                       {"region", {u.region_min_x, u.region_min_y, u.region_max_x, u.region_max_y}}};
  } else {
    const LevelTruth& l = ph.level;
    if (l.known)
      j["level"] = {{"name", l.name},
                    {"bone", l.bone_key},
                    {"bone_length_mm", l.bone_length_mm},
                    {"bone_proximal_z_mm", l.bone_proximal_z_mm},
                    {"bone_distal_z_mm", l.bone_distal_z_mm},
                    {"level_z_mm", l.level_z_mm},
                    {"nearest_slice", l.nearest_slice}};
    else
      j["level"] = {{"name", l.name},
                    {"bone", l.bone_key},
                    {"bone_length_mm", nullptr},
                    {"bone_proximal_z_mm", nullptr},
                    {"bone_distal_z_mm", nullptr},
                    {"level_z_mm", nullptr},
                    {"nearest_slice", -1},
                    {"unknown_because", "the anatomy does not reach both ends of the " + l.bone_key}};
  }
  if (!ph.anatomy_source.atlas_ids.empty()) {
    const AnatomySourceTruth& a = ph.anatomy_source;
    j["anatomy_source"] = {{"anatomy_from", a.anatomy_from},
                           {"atlas_ids", a.atlas_ids},
                           {"subjects", a.subjects},
                           {"group_only", a.group_only},
                           {"notes", a.notes}};
  }
  return j;
}

}  // namespace

void write_phantom(const Phantom& ph, const std::filesystem::path& out, Progress& progress) {
  const PhantomParams& p = ph.params;
  const std::string key = std::string(to_string(p.anatomy)) + "/" + std::string(to_string(p.modality)) + "/" +
                          std::to_string(p.seed) + "/" + params_json(p).dump();
  const std::string study_uid = dicom::uid_from_text("study/" + key);
  const std::string frame_uid = dicom::uid_from_text("frame/" + key);
  const std::string anatomy_upper = p.anatomy == Anatomy::Thigh ? "THIGH" : "CALF";

  int series_number = 1;
  for (const auto& series : ph.series) {
    dicom::SeriesWriteOptions o;
    o.patient_name = "PHANTOM^" + anatomy_upper;
    o.patient_id = "MCSA-PHANTOM-" + std::to_string(p.seed);
    o.study_instance_uid = study_uid;
    o.series_instance_uid = dicom::uid_from_text("series/" + series.role + "/" + key);
    o.frame_of_reference_uid = frame_uid;
    o.series_description = series.description;
    o.series_number = series_number++;
    o.image_type = series.image_type;
    o.body_part_examined = p.anatomy == Anatomy::Thigh ? "THIGH" : "LEG";
    o.uid_prefix_text = key;
    o.image_laterality = p.modality == PhantomModality::US || p.legs == Legs::Right ? "R" : (p.legs == Legs::Left ? "L" : "B");
    if (series.role == "ct") {
      o.rescale_intercept = -1024;
      o.window_center = 40;
      o.window_width = 400;
    } else if (series.role == "us") {
      const UltrasoundTruth& u = ph.ultrasound;
      const double cm = ph.labels.geometry.spacing_mm[0] / 10.0;
      o.ultrasound_region = dicom::UltrasoundRegion{u.region_min_x, u.region_min_y, u.region_max_x, u.region_max_y, cm, cm};
      o.image_type = {"ORIGINAL", "PRIMARY"};
    } else {
      o.window_center = 600;
      o.window_width = 1200;
      if (p.modality == PhantomModality::MrDixon) {
        o.mr.scanning_sequence = "GR";
        o.mr.sequence_variant = "SP";
        o.mr.repetition_time_ms = 6.5;
        o.mr.echo_time_ms = series.role == "in_phase" ? 2.46 : (series.role == "opposed_phase" ? 1.23 : 2.46);
      }
    }
    dicom::write_series(series.image, o, out / "dicom" / series.role);
  }
  progress.report(0.8, "writing phantom");
  io::write_image(ph.labels, out / "truth" / "labels.nii.gz");
  io::write_image(ph.fat_fraction, out / "truth" / "fat_fraction.nii.gz");
  io::write_label_names(out / "truth" / "labels.json");
  io::write_text_atomically(out / "truth" / "truth.json", truth_json(ph).dump(1) + "\n");
  io::write_text_atomically(out / "phantom.json", params_json(p).dump(2) + "\n");
  progress.report(1.0, "writing phantom");
}

}  // namespace musclecsa::phantom
