#pragma once
// What the modalities' outputs share (private to the pipeline module): results.json and
// results.csv text, the standard level's JSON, the closing outputs (SEG, SR, results.json, HTML),
// privacy, and the record of the atlas prior and of each structure's confidence.

#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "musclecsa/anatomy/multi_atlas.h"
#include "musclecsa/core/measurement.h"
#include "musclecsa/pipeline/analyze.h"
#include "musclecsa/quantify/ct_measures.h"
#include "musclecsa/report/dicom_seg.h"
#include "musclecsa/segment/ct_tissue.h"

namespace musclecsa::pipeline {

/// results.json "anatomy_prior": what the muscle split used as its prior and which atlas subjects were excluded.
nlohmann::json anatomy_prior_json(const AnalyzeOptions& o, const segment::TissueSegmentation& segmentation);
/// A structure's results.json entry at the standard level with its numbers null and a
/// "withheld_reason" when its confidence is low (unchanged otherwise, and on other slices).
nlohmann::json withhold_if_low(nlohmann::json structure, const StructureConfidence& confidence, bool at_level);
/// results.json "confidence" of a muscle or group in one slice (null without an atlas prior).
nlohmann::json confidence_json(const StructureConfidence& confidence);
/// The atlas options of the muscle prior (leave-one-subject-out exclusions).
anatomy::MultiAtlasOptions atlas_options(const AnalyzeOptions& o);

// Helpers every modality's outputs use.
bool wants_format(const AnalyzeOptions& o, const std::string& format);
/// Checks, before anything is written, that the requested DICOM formats have something to hold: a
/// segmentation for --format seg, a found level for --format sr. Throws InvalidInput naming the input.
void check_requested_formats(const AnalyzeOptions& o, const LabelMap& labels, bool any_level_found);
/// Writes labels.nii.gz, labels.json and, when given, fat_fraction.nii.gz into `dir` on another
/// thread, so the case's text outputs are built meanwhile (compressing a 512x512x400 label map and
/// building its per-slice JSON each take a few tenths of a second). get() the result before writing
/// results.json, the file that marks a finished case; it rethrows a write error. The images must
/// outlive the returned future.
std::future<void> write_images_meanwhile(const std::filesystem::path& dir, const LabelMap* labels,
                                         const Image<float>* fat_fraction);
/// The case's last outputs, in this order: DICOM SEG (of `labels`) and SR (holding `sr_records`)
/// when --format asks for them, next to the results and referencing the source series; results.json
/// (`document` with `records` as its measurements) once `images` are written; then the HTML page
/// on --format html. Returns the names of the SEG, SR and HTML files written.
std::vector<std::string> write_closing_outputs(const AnalyzeOptions& o, const LoadedInput& in, const LabelMap& labels,
                                               const std::vector<Measurement>& sr_records, std::future<void>& images,
                                               nlohmann::json document, const std::vector<Measurement>& records);
/// A standard level as results.json "levels" holds it, for CT and MRI: side, name, found, where it
/// lies (method, slice, z) or why it was not found, and the reference bone's span and the level's
/// percent of it. The caller adds the measures.
nlohmann::json level_json(const quantify::LevelResult& l, const std::string& name, const std::string& bone_key);
/// The muscle CSA / height^2 record of a level (skeletal muscle, cm2/m2).
Measurement csa_per_height2_record(const quantify::LevelResult& l, const std::string& level_name, double cm2_per_m2);
/// The source series a DICOM SEG or SR references: the loaded input's.
report::DicomSource dicom_source_of(const LoadedInput& in);
std::string utc_now();
std::string csv_escape(const std::string& s);
/// The pseudonym of the input's patient ("" without --pseudonym-map); checks that a Patient ID
/// exists when --include-patient-id or --pseudonym-map is given.
std::string pseudonym_for_input(const AnalyzeOptions& o, const LoadedInput& in);
/// What every modality reports of one leg in one slice: its side and the areas (cm2) of the limb,
/// skin, subcutaneous fat, compartment, bone and IMAT; the modality's side JSON adds its own.
template <class SideMeasures>
nlohmann::json limb_side_json(const SideMeasures& m) {
  return {{"side", std::string(to_string(m.side))},
          {"limb_area_cm2", m.limb_area_mm2 / 100},
          {"skin_area_cm2", m.skin_area_mm2 / 100},
          {"subcutaneous_fat_area_cm2", m.subcutaneous_fat_area_mm2 / 100},
          {"compartment_area_cm2", m.compartment_area_mm2 / 100},
          {"bone_area_cm2", m.bone_area_mm2 / 100},
          {"imat_area_cm2", m.imat_area_mm2 / 100}};
}
/// results.csv's text (docs/cli.md): a header, then one measurement per row after the case's
/// subject (Patient ID with --include-patient-id, else the pseudonym), study and series UIDs and protocol.
std::string results_csv_text(const AnalyzeOptions& o, const LoadedInput& in, const std::string& pseudonym,
                             const std::string& protocol_name, const std::string& protocol_hash,
                             const std::vector<Measurement>& records);
/// results.json's text (docs/schemas/results.schema.json): `document` with the measurement records
/// as its "measurements" array, in the layout of nlohmann's dump(1), ending with a newline.
std::string results_json_text(nlohmann::json document, const std::vector<Measurement>& records);
/// The "input" object of results.json: UIDs, description, modality and grid; the input path and
/// the Patient ID only with --include-patient-id, the pseudonym when there is one (docs/cli.md, "Privacy").
nlohmann::json input_json(const AnalyzeOptions& o, const LoadedInput& in, const std::string& pseudonym,
                          const std::string& modality, const nlohmann::json& kvp, const std::string& contrast_agent);
/// Test hook for batch isolation tests (docs/batch.md, MUSCLECSA_INJECT_FAULT).
void inject_fault_for_tests(const std::string& series_description);

}  // namespace musclecsa::pipeline
