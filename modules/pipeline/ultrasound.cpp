// The ultrasound analysis of a case (ultrasound.h): protocol, frame and calibration, field of view, segmentation
// (automatic, assisted or manual), measurements and the case's files.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "case_outputs.h"
#include "musclecsa/pipeline/analyze.h"
#include "musclecsa/core/catalog.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/report/html_report.h"
#include "musclecsa/report/records.h"
#include "musclecsa/ultrasound/us_analysis.h"
#include "musclecsa/version.h"

namespace musclecsa::pipeline {

namespace us = musclecsa::ultrasound;
using nlohmann::json;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

/// The protocol by name; "auto" from the series description (phantoms and many scanners name the muscle).
us::UsProtocol choose_protocol(const AnalyzeOptions& o, const LoadedInput& in, std::string& decision) {
  if (o.protocol != "auto") {
    if (o.protocol == "thigh-ct" || o.protocol == "calf-ct")
      throw Error(ErrorCode::InvalidArgument, "--protocol",
                  o.protocol + " is a CT protocol; this input is ultrasound: use rf-us, vl-us, quadriceps-us or gastrocnemius-us");
    return us::builtin_us_protocol(o.protocol);
  }
  const std::string d = lower(in.volume.source.series_description);
  std::string name;
  if (d.find("rectus femoris") != std::string::npos || d.find("rectus_femoris") != std::string::npos) name = "rf-us";
  else if (d.find("vastus lateralis") != std::string::npos || d.find("vastus_lateralis") != std::string::npos) name = "vl-us";
  else if (d.find("gastrocnemius") != std::string::npos) name = "gastrocnemius-us";
  else if (d.find("quadriceps") != std::string::npos) name = "quadriceps-us";
  if (name.empty())
    throw Error(ErrorCode::InvalidArgument, "--protocol",
                "ultrasound input: name the muscle with --protocol rf-us, vl-us, quadriceps-us or gastrocnemius-us "
                "(the series description does not name one)");
  decision = "auto: series description \"" + in.volume.source.series_description + "\"";
  return us::builtin_us_protocol(name);
}

std::string fixed(double v, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

/// What to do when the automatic contour needs review: give the muscle with --points or --outline.
std::string how_to_give_points() {
  return "Look at qc.png, then give the muscle yourself: --points \"x,y\" with 1-2 points inside it, or --points \"x,y;x,y;x,y;...\" "
         "with 3 or more on its border (pixel column,row of the image, 0,0 the top-left pixel's centre), or --outline FILE "
         "(docs/ultrasound.md, assisted and manual segmentation).";
}

/// The command line to run again with points (for standard error: it names the input, which the
/// results files never do).
std::string points_command(const AnalyzeOptions& o, const us::UsProtocol& protocol) {
  std::string line = "musclecsa analyze \"" + o.input + "\" --protocol " + protocol.name;
  if (o.us.pixel_size_mm) line += " --pixel-size-mm " + fixed(*o.us.pixel_size_mm, 6);
  if (o.us.frame) line += " --frame " + std::to_string(*o.us.frame);
  if (!o.us.side.empty()) line += " --side " + o.us.side;
  return line + " --points \"x,y\" --out \"" + o.out + "\"";
}

struct Record {
  std::string quantity;
  double value;
  std::string unit;
};

}  // namespace

namespace {
int analyse(const AnalyzeOptions& o, LoadedInput& in, Progress& progress);
}  // namespace

int run_us_analysis(const AnalyzeOptions& o, LoadedInput& in, Progress& progress) {
  try {
    return analyse(o, in, progress);
  } catch (const Error& e) {
    // The module names the picture "image"; users need the file.
    if (e.input() == "image") throw Error(e.code(), o.input, e.problem());
    throw;
  }
}

namespace {

int analyse(const AnalyzeOptions& o, LoadedInput& in, Progress& progress) {
  // What cannot be written is refused before any work.
  if (wants_format(o, "seg") || wants_format(o, "sr"))
    throw Error(ErrorCode::InvalidArgument, o.input,
                "DICOM SEG and SR are not written for ultrasound in this version; leave out --format seg/sr "
                "(mask.png, results.json and results.csv hold the segmentation and measurements)");
  const std::string pseudonym = pseudonym_for_input(o, in);
  std::string decision;
  us::UsProtocol protocol = choose_protocol(o, in, decision);
  if (o.us.hyperechoic_threshold) protocol.hyperechoic_threshold = *o.us.hyperechoic_threshold;
  if (o.us.glcm_levels) protocol.glcm_levels = *o.us.glcm_levels;
  if (o.us.glcm_distance_px) protocol.glcm_distance_px = *o.us.glcm_distance_px;

  // The frame and its calibration.
  const Geometry& g = in.volume.geometry;
  if (in.volume.voxels.empty()) throw Error(ErrorCode::InvalidInput, o.input, "no image data");
  const std::size_t frames = g.size[2];
  const std::size_t frame = o.us.frame.value_or(0);
  if (frame >= frames)
    throw Error(ErrorCode::InvalidArgument, "--frame " + std::to_string(frame),
                "the image has " + std::to_string(frames) + " frame(s), numbered from 0");
  std::vector<std::string> notes = in.notes, qc = in.qc_flags;
  qc.erase(std::remove(qc.begin(), qc.end(), "single_slice"), qc.end());  // one frame is the normal case here
  if (frames > 1 && !o.us.frame)
    notes.push_back("multi-frame image (" + std::to_string(frames) + " frames): frame 0 analysed; choose another with --frame");
  us::GreyImage image;
  image.width = int(g.size[0]), image.height = int(g.size[1]);
  image.grey.assign(in.volume.slice(frame), in.volume.slice(frame) + g.slice_voxel_count());
  const float max_grey = *std::max_element(image.grey.begin(), image.grey.end());
  if (max_grey > 255.5f) {
    // 16-bit ultrasound: scaled to 0-255 so that echo intensity keeps its usual meaning.
    const float s = 255.0f / max_grey;
    for (float& v : image.grey) v *= s;
    notes.push_back("grey levels above 255 (maximum " + fixed(max_grey, 0) + "): scaled to 0-255 for echo intensity");
  }
  image.calibrated = in.calibrated;
  image.pixel_width_mm = in.calibrated ? g.spacing_mm[0] : 1.0;
  image.pixel_height_mm = in.calibrated ? g.spacing_mm[1] : 1.0;
  std::string calibration_source = "none";
  if (in.calibrated) {
    if (in.kind == "bitmap" || (in.series && in.series->ultrasound && !in.series->ultrasound->calibrated)) calibration_source = "user_pixel_size";
    else if (in.series && in.series->ultrasound && in.series->ultrasound->calibrated) calibration_source = "dicom_ultrasound_region";
    else calibration_source = "dicom_pixel_spacing";
  } else {
    if (std::find(qc.begin(), qc.end(), "ultrasound_uncalibrated") == qc.end()) qc.push_back("ultrasound_uncalibrated");
    notes.push_back("no calibration: lengths and areas are in pixels only; give --pixel-size-mm for physical units");
  }
  progress.report(0.1, "ultrasound: field of view");

  // Field of view: inside the DICOM region when there is one; coloured overlays of pictures left out.
  std::optional<std::array<int, 4>> region;
  if (in.series && in.series->ultrasound && in.series->ultrasound->calibrated) {
    const auto& u = *in.series->ultrasound;
    region = std::array<int, 4>{u.region_min_x, u.region_min_y, u.region_max_x, u.region_max_y};
  }
  us::Mask overlay;
  if (in.kind == "bitmap") overlay = us::coloured_pixels(o.input);
  else if (in.series && in.series->color)
    notes.push_back("colour DICOM: read as luminance; coloured overlays are not detected in DICOM input");
  const us::FieldOfView fov = us::detect_field_of_view(image, overlay.on.empty() ? nullptr : &overlay, region);
  if (fov.overlay_pixels_removed > 0)
    notes.push_back(std::to_string(fov.overlay_pixels_removed) + " coloured overlay pixel(s) inside the imaged region left out");
  progress.report(0.3, "ultrasound: segmentation");

  // Segmentation: manual outline, assisted points, or automatic.
  us::UsSegmentation seg;
  if (!o.us.outline.empty()) {
    const us::Outline outline = us::read_outline(o.us.outline, image.width, image.height);
    const std::string source = std::filesystem::path(o.us.outline).filename().string() + " (" + outline.format + ")";
    seg = outline.mask ? us::segment_manual(image, *outline.mask, source) : us::segment_manual(image, outline.polygon, source);
    if (!o.include_patient_id) seg.source = outline.format + " outline";
    std::size_t outside_fov = 0;
    for (std::size_t n = 0; n < seg.mask.on.size(); ++n)
      if (seg.mask.on[n] && !fov.mask.on[n]) ++outside_fov;
    if (outside_fov * 20 > seg.mask.count()) {
      qc.push_back("outline_outside_field_of_view");
      notes.push_back(fixed(100.0 * outside_fov / seg.mask.count(), 1) + "% of the outline lies outside the imaged region; measured as given");
    }
  } else if (!o.us.points.empty() || !o.us.points_file.empty()) {
    const auto points = o.us.points.empty() ? us::read_points_file(o.us.points_file) : us::parse_points(o.us.points);
    seg = us::segment_assisted(image, fov, protocol, points);
  } else {
    seg = us::segment_automatic(image, fov, protocol);
  }
  qc.insert(qc.end(), seg.qc_flags.begin(), seg.qc_flags.end());
  notes.insert(notes.end(), seg.notes.begin(), seg.notes.end());
  if (!decision.empty()) notes.push_back("protocol " + protocol.name + " chosen by " + decision);
  if (protocol.layer_to_bone && seg.method != us::SegmentationMethod::Manual)
    notes.push_back("quadriceps-us: the region is the anterior muscle layer (rectus femoris + vastus intermedius) from the deep "
                    "fascia to the femur where the femur is in view; its thickness is the quadriceps muscle layer thickness, its "
                    "area is not the quadriceps ACSA");
  progress.report(0.7, "ultrasound: measurements");
  const us::UsMeasures m = us::measure(image, fov, seg, protocol);
  if (!m.sat_found) {
    qc.push_back("subcutaneous_fat_not_found");
    notes.push_back("no skin/fat interface and fascia found above the muscle at its centre column: no fat thickness");
  }
  if (!m.ei_correction_note.empty()) notes.push_back(m.ei_correction_note);
  // The plausibility check: an automatic contour that fails it is not reported (status needs_review,
  // measurements withheld, exit 7); an assisted or manual segmentation is the user's own and is
  // reported with a warning.
  const us::UsPlausibility plausibility = us::check_plausibility(image, fov, seg, m, protocol);
  const bool needs_review = seg.method == us::SegmentationMethod::Automatic && !plausibility.passed;
  const std::string how_to = how_to_give_points();
  if (needs_review) {
    qc.push_back("needs_review");
    for (const auto& reason : plausibility.reasons) notes.push_back("needs review: " + reason);
    notes.push_back("the automatic contour failed its plausibility check: its measurements are withheld. " + how_to);
  } else if (!plausibility.passed) {
    qc.push_back("plausibility_warning");
    for (const auto& reason : plausibility.reasons)
      notes.push_back("plausibility warning (the " + us::to_string(seg.method) + " segmentation is the user's own and is reported): " + reason);
  }
  json plausibility_rules = json::array();
  for (const auto& rule : plausibility.rules)
    plausibility_rules.push_back({{"rule", rule.name}, {"applied", rule.applied}, {"passed", rule.passed}, {"value", rule.value},
                                  {"min", rule.min}, {"max", rule.max > 0 ? json(rule.max) : json(nullptr)}, {"unit", rule.unit},
                                  {"reason", rule.reason}, {"source", rule.source}});
  const bool cal = image.calibrated;
  if (cal && (m.acsa_mm2 < 100 || m.acsa_mm2 > 6000)) {
    qc.push_back("implausible_acsa");
    notes.push_back("ACSA " + fixed(m.acsa_mm2 / 100, 2) + " cm2 is outside 1-60 cm2: check the calibration and the contour");
  }

  // Measurement records (the same tidy columns as CT).
  std::vector<Record> records;
  if (cal) {
    records.push_back({"acsa", m.acsa_mm2 / 100, "cm2"});
    records.push_back({"muscle_thickness", m.muscle_thickness_mm / 10, "cm"});
    if (m.sat_found) records.push_back({"subcutaneous_fat_thickness", m.sat_thickness_mm / 10, "cm"});
  } else {
    records.push_back({"acsa", double(m.pixel_count), "{px2}"});
    records.push_back({"muscle_thickness", m.muscle_thickness_px, "{px}"});
    if (m.sat_found) records.push_back({"subcutaneous_fat_thickness", m.sat_thickness_px, "{px}"});
  }
  records.push_back({"echo_intensity", m.echo_intensity, "1"});
  records.push_back({"echo_intensity_sd", m.echo_intensity_sd, "1"});
  if (m.echo_intensity_corrected) records.push_back({"echo_intensity_corrected", *m.echo_intensity_corrected, "1"});
  records.push_back({"hyperechoic_fraction", m.hyperechoic_fraction, "1"});
  records.push_back({"glcm_contrast", m.glcm.contrast, "1"});
  records.push_back({"glcm_homogeneity", m.glcm.homogeneity, "1"});
  records.push_back({"glcm_energy", m.glcm.energy, "1"});
  records.push_back({"glcm_entropy", m.glcm.entropy, "bit"});
  records.push_back({"glcm_correlation", m.glcm.correlation, "1"});
  const Structure& structure = LabelCatalog::standard().get(protocol.structure_key);
  const std::string code = report::structure_code(protocol.structure_key);
  const std::string side = o.us.side.empty() ? "none" : o.us.side;
  // Needs review: every value comes from the contour, so none is reported; the automatic contour's
  // values are kept aside in ultrasound.plausibility.withheld for the review.
  json measurement_records = json::array(), withheld = json::array();
  for (const auto& r : records) {
    measurement_records.push_back({{"quantity", r.quantity}, {"value", needs_review ? json(nullptr) : json(r.value)}, {"unit", r.unit},
                                   {"structure", protocol.structure_key}, {"structure_code", code}, {"side", side}, {"level", ""},
                                   {"slice", int(frame)}, {"z_mm", nullptr}});
    if (needs_review) withheld.push_back({{"quantity", r.quantity}, {"value", r.value}, {"unit", r.unit}});
  }

  json contour = json::array();
  for (const auto& p : seg.contour) contour.push_back({std::round(p.x * 100) / 100, std::round(p.y * 100) / 100});
  json user_points = json::array();
  for (const auto& p : seg.user_points) user_points.push_back({p.x, p.y});
  json correction = nullptr;
  if (protocol.ei_correction)
    correction = {{"equation", "EI_corrected = EI_raw + SAT_cm * coefficient"},
                  {"coefficient_per_cm", protocol.ei_coefficient_per_cm},
                  {"source", protocol.ei_source}};
  json ultrasound = {
      {"method", us::to_string(seg.method)},
      {"segmentation_source", seg.source},
      {"user_points_px", user_points},
      {"frame", int(frame)},
      {"frames", int(frames)},
      {"units", cal ? "physical" : "pixels"},
      {"calibration", {{"calibrated", cal}, {"source", calibration_source},
                       {"pixel_width_mm", cal ? json(image.pixel_width_mm) : json(nullptr)},
                       {"pixel_height_mm", cal ? json(image.pixel_height_mm) : json(nullptr)}}},
      {"field_of_view", {{"bounding_box_px", {fov.min_x, fov.min_y, fov.max_x, fov.max_y}},
                         {"area_px", fov.mask.count()},
                         {"overlay_pixels_removed", fov.overlay_pixels_removed},
                         {"method", fov.method}}},
      {"contour_px", contour},
      {"area_px", m.pixel_count},
      {"centre_column_px", m.centre_column},
      {"muscle_thickness", {{"top_row_px", m.muscle_top_row}, {"bottom_row_px", m.muscle_bottom_row},
                            {"thickness_px", m.muscle_thickness_px},
                            {"thickness_mm", cal ? json(m.muscle_thickness_mm) : json(nullptr)}}},
      {"subcutaneous_fat", {{"found", m.sat_found},
                            {"skin_fat_row_px", m.sat_found ? json(m.skin_fat_row) : json(nullptr)},
                            {"fascia_row_px", m.sat_found ? json(m.fascia_row) : json(nullptr)},
                            {"thickness_px", m.sat_found ? json(m.sat_thickness_px) : json(nullptr)},
                            {"thickness_mm", m.sat_found && cal ? json(m.sat_thickness_mm) : json(nullptr)}}},
      {"echo_intensity", {{"mean", m.echo_intensity}, {"sd", m.echo_intensity_sd},
                          {"corrected", m.echo_intensity_corrected ? json(*m.echo_intensity_corrected) : json(nullptr)},
                          {"correction", correction},
                          {"note", m.ei_correction_note}}},
      {"histogram", {{"bin_width", 1}, {"first_bin", 0}, {"counts", m.histogram}}},
      {"hyperechoic", {{"threshold", protocol.hyperechoic_threshold}, {"fraction", m.hyperechoic_fraction}}},
      {"glcm", {{"levels", m.glcm.levels}, {"distance_px", m.glcm.distance_px}, {"angles_deg", m.glcm.angles_deg},
                {"symmetric", true}, {"normalised", true}, {"averaged_over_angles", true}, {"pairs", m.glcm.pairs},
                {"contrast", m.glcm.contrast}, {"homogeneity", m.glcm.homogeneity}, {"energy", m.glcm.energy},
                {"entropy_bits", m.glcm.entropy}, {"correlation", m.glcm.correlation}}},
      {"plausibility", {{"passed", plausibility.passed},
                        {"effect", needs_review ? "needs_review" : plausibility.passed ? "none" : "warning"},
                        {"reasons", plausibility.reasons},
                        {"how_to_review", needs_review ? json(how_to) : json(nullptr)},
                        {"withheld", withheld},
                        {"rules", plausibility_rules}}},
      {"outputs", {{"mask", "mask.png"}, {"qc_image", "qc.png"}}}};

  const json input = input_json(o, in, pseudonym, "US", nullptr, "");
  const json out = {{"format", "musclecsa-results"},
                    {"version", 1},
                    {"software", {{"name", "MuscleCSA"}, {"version", MUSCLECSA_VERSION_STRING}}},
                    {"created_utc", utc_now()},
                    {"status", needs_review ? "needs_review" : "ok"},
                    {"input", input},
                    {"protocol", {{"name", protocol.name}, {"hash", protocol.hash()}, {"definition", json::parse(protocol.to_json())}}},
                    {"segmentation", us::to_string(seg.method) + ": " + seg.source + " (docs/ultrasound.md)"},
                    {"qc_flags", qc},
                    {"notes", notes},
                    {"measurements", measurement_records},
                    {"ultrasound", ultrasound}};

  std::ostringstream csv;
  csv << "subject,study_instance_uid,series_instance_uid,protocol,protocol_hash,level,slice,z_mm,side,structure,structure_code,"
         "quantity,value,unit,status,review_reason\n";
  std::string review_reason;
  for (const auto& reason : plausibility.reasons) review_reason += (review_reason.empty() ? "" : "; ") + reason;
  const std::string subject = csv_escape(o.include_patient_id ? in.series->patient_id : pseudonym);
  for (const auto& r : records) {
    std::ostringstream value;
    value.precision(10);
    value << r.value;
    csv << subject << "," << csv_escape(in.volume.source.study_instance_uid) << "," << csv_escape(in.volume.source.series_instance_uid) << ","
        << csv_escape(protocol.name) << "," << protocol.hash() << ",," << frame << ",," << side << "," << csv_escape(protocol.structure_key)
        << "," << csv_escape(code) << "," << csv_escape(r.quantity) << "," << (needs_review ? std::string() : value.str()) << ","
        << csv_escape(r.unit) << "," << (needs_review ? "needs_review," + csv_escape(review_reason) : std::string("ok,")) << "\n";
  }

  // QC picture text: the numbers, flagged as not reported when the contour needs review.
  std::vector<std::string> text = {"MuscleCSA " MUSCLECSA_VERSION_STRING " - " + protocol.name + " (" + protocol.hash().substr(0, 8) + "), " +
                                   us::to_string(seg.method)};
  const std::string size_text = cal ? "ACSA " + fixed(m.acsa_mm2 / 100, 2) + " cm2, thickness " + fixed(m.muscle_thickness_mm / 10, 2) + " cm"
                                    : "ACSA " + std::to_string(m.pixel_count) + " px2, thickness " + fixed(m.muscle_thickness_px, 0) +
                                          " px (no calibration)";
  text.push_back(needs_review ? structure.name + ", automatic contour NOT REPORTED (needs review): " + size_text
                              : structure.name + ": " + size_text);
  text.push_back(m.sat_found ? "subcutaneous fat " + (cal ? fixed(m.sat_thickness_mm / 10, 2) + " cm" : fixed(m.sat_thickness_px, 1) + " px")
                             : "subcutaneous fat: not found");
  text.push_back("echo intensity " + fixed(m.echo_intensity, 1) +
                 (m.echo_intensity_corrected ? ", corrected " + fixed(*m.echo_intensity_corrected, 1) : std::string()) +
                 ", hyperechoic " + fixed(100 * m.hyperechoic_fraction, 1) + "% (>" + fixed(protocol.hyperechoic_threshold, 0) + ")");
  text.push_back("GLCM contrast " + fixed(m.glcm.contrast, 2) + ", homogeneity " + fixed(m.glcm.homogeneity, 3) + ", entropy " +
                 fixed(m.glcm.entropy, 2));
  const std::size_t measurement_lines = text.size();
  for (const auto& flag : qc) text.push_back("qc flag: " + flag);
  // The red banner of a contour that needs review: the reasons and what to do.
  std::vector<std::string> alert;
  if (needs_review) {
    for (const auto& reason : plausibility.reasons) alert.push_back("NEEDS REVIEW: " + reason);
    alert.push_back("measurements withheld: give the muscle with --points (1-2 inside it or 3+ on its border, pixels x,y) or --outline");
  }

  const std::filesystem::path dir(o.out);
  us::write_mask_png(seg.mask, dir / "mask.png");
  us::write_qc_image(image, fov, seg, m, text, dir / "qc.png", alert);
  io::write_text_atomically(dir / "protocol.json", json::parse(protocol.to_json()).dump(2) + "\n");
  io::write_text_atomically(dir / "results.csv", csv.str());
  io::write_text_atomically(dir / "results.json", out.dump(1, ' ', false, json::error_handler_t::replace) + "\n");
  if (wants_format(o, "html")) report::write_case_report(dir);
  progress.report(1.0, "ultrasound: done");

  const int status = needs_review ? kExitNeedsReview : 0;
  if (needs_review) {
    // On standard error even with --quiet: the exit status is not 0 and scripts log standard error.
    std::string reasons;
    for (const auto& reason : plausibility.reasons) reasons += (reasons.empty() ? "" : "; ") + reason;
    std::cerr << "musclecsa: needs review: " << o.input << ": the automatic contour failed its plausibility check (" << reasons
              << "); the outputs are written to " << o.out << " with the measurements withheld; to give the muscle with points: "
              << points_command(o, protocol) << "\n";
  }
  if (o.quiet) return status;
  *o.console << "MuscleCSA " << MUSCLECSA_VERSION_STRING << " analyze: protocol " << protocol.name << " (" << protocol.hash() << "), "
            << us::to_string(seg.method) << " segmentation\n";
  if (needs_review) {
    *o.console << "  NEEDS REVIEW: the automatic contour failed its plausibility check; its measurements are withheld:\n";
    for (const auto& reason : plausibility.reasons) *o.console << "    - " << reason << "\n";
    *o.console << "  " << structure.name << ": ACSA and thickness withheld (see qc.png)\n";
  } else {
    for (std::size_t k = 1; k < measurement_lines; ++k) *o.console << "  " << text[k] << "\n";
  }
  for (const auto& flag : qc) *o.console << "  qc flag: " << flag << "\n";
  for (const auto& note : notes)
    if (!needs_review || note.rfind("needs review: ", 0) != 0) *o.console << "  note: " << note << "\n";  // the reasons are above
  *o.console << "  Outputs: " << (dir / "results.json").string() << ", results.csv, mask.png, qc.png, protocol.json"
            << (wants_format(o, "html") ? ", report.html\n" : "\n");
  return status;
}

}  // namespace

}  // namespace musclecsa::pipeline
