// musclecsa analyze: its options, their validation, and the pipeline's analysis of the case
// (musclecsa/pipeline/analyze.h: CT, MRI or ultrasound, chosen from the input).

#include <iostream>
#include <memory>

#include "commands.h"
#include "console_progress.h"
#include "musclecsa/core/error.h"
#include "musclecsa/pipeline/analyze.h"

namespace musclecsa::app {
namespace {

using pipeline::AnalyzeOptions;

void add_mr_options(CLI::App& analyze, pipeline::MrAnalyzeOptions& o) {
  analyze.add_option("--water", o.water,
                     "MRI Dixon: the water series (a file or folder, or a series id/number of INPUT); needs --fat");
  analyze.add_option("--fat", o.fat, "MRI Dixon: the fat series (a file or folder, or a series id/number of INPUT); needs --water");
  analyze.add_flag("--no-n4", o.no_n4, "MRI T1/T2-weighted: skip the N4 bias-field correction");
}

void add_us_options(CLI::App& analyze, pipeline::UsAnalyzeOptions& o) {
  const std::string group = "Ultrasound";
  analyze.add_option("--pixel-size-mm", o.pixel_size_mm, "pixel size of a picture without calibration (mm)")->group(group);
  auto* points = analyze.add_option("--points", o.points,
                                    "assisted segmentation: \"x,y;x,y;...\" in pixels; 3 or more points on the muscle's border, "
                                    "or 1-2 points inside it")->group(group);
  auto* points_file = analyze.add_option("--points-file", o.points_file, "assisted segmentation: the points in a JSON file ([[x,y],...])")
                          ->check(CLI::ExistingFile)->group(group)->excludes(points);
  analyze.add_option("--outline", o.outline,
                     "manual segmentation measured as given: polygon (.json, .csv, ImageJ .roi or XY .txt) or mask picture "
                     "(.png/.tif/.bmp, non-zero = muscle)")
      ->group(group)->excludes(points)->excludes(points_file);
  analyze.add_option("--hyperechoic-threshold", o.hyperechoic_threshold, "grey level (0-255) above which a muscle pixel is hyperechoic (default 150)")
      ->check(CLI::Range(0.0, 255.0))->group(group);
  analyze.add_option("--glcm-levels", o.glcm_levels, "grey levels of the GLCM texture (default 32)")->check(CLI::Range(2, 256))->group(group);
  analyze.add_option("--glcm-distance-px", o.glcm_distance_px, "pixel offset of the GLCM texture (default 1)")->check(CLI::Range(1, 64))->group(group);
  analyze.add_option("--frame", o.frame, "frame of a multi-frame ultrasound image to analyse (0-based; default 0)")->group(group);
  analyze.add_option("--side", o.side, "side of the body imaged, recorded in the results (right, left)")
      ->check(CLI::IsMember({"right", "left"}))->group(group);
}

int run_analyze(const AnalyzeOptions& o) {
  if (o.level_z_mm && o.level_slice) throw Error(ErrorCode::InvalidArgument, "--level-z-mm", "give --level-z-mm or --level-slice, not both");
  if (o.height_m && !(*o.height_m > 0.5 && *o.height_m < 2.8))
    throw Error(ErrorCode::InvalidArgument, "--height-m", "must be a height in metres (0.5..2.8)");
  if (o.input.empty() && o.mr.water.empty() && o.mr.fat.empty())
    throw Error(ErrorCode::InvalidArgument, "INPUT",
                "missing: give the file or folder to analyse (only a Dixon pair named by --water and --fat as files or "
                "folders needs none)");
  ConsoleProgress progress(!o.quiet);
  return pipeline::analyze_case(o, progress);
}

}  // namespace

Command add_analyze_command(CLI::App& app) {
  auto options = std::make_shared<AnalyzeOptions>();
  auto& o = *options;
  CLI::App* cmd = app.add_subcommand("analyze", "Measure muscle CSA and fat infiltration per muscle and group in a leg CT or MRI, or one muscle on an ultrasound image");
  // Not required by the parser: a Dixon pair named by --water and --fat as files or folders needs none (run_analyze checks).
  cmd->add_option("input", o.input, "DICOM file or folder (CT, MR, US), a NIfTI/NRRD/MetaImage CT or MR (with --modality ct|mr), "
                                    "or an ultrasound picture; not needed when --water and --fat name files or folders");
  cmd->add_option("--out", o.out, "output folder (created)")->required();
  cmd->add_option("--protocol", o.protocol, "thigh-ct, calf-ct, thigh-mr, calf-mr, rf-us, vl-us, quadriceps-us, gastrocnemius-us, auto (from the anatomy or the series) or a CT or MR protocol JSON file");
  cmd->add_option("--series", o.series, "series to analyse when the input holds several");
  cmd->add_flag("--files-from", o.files_from, "INPUT is a text file naming the DICOM files (or folders) to read, one per line");
  cmd->add_option("--modality", o.modality, "modality of a NIfTI/NRRD/MetaImage input: ct (HU) or mr (T1/T2-weighted); DICOM carries its own")
      ->check(CLI::IsMember({"ct", "mr"}));
  cmd->add_option("--level-z-mm", o.level_z_mm, "standard level position (LPS z, mm) when the bone is not fully in view");
  cmd->add_option("--level-slice", o.level_slice, "standard level slice index (0-based)");
  cmd->add_option("--height-m", o.height_m, "body height (m) for CSA / height^2");
  cmd->add_flag("--qc-every-slice", o.qc_every_slice, "also write a QC image of every slice (qc/slice_NNNN.png)");
  cmd->add_option("--format", o.formats,
                  "extra outputs: seg (DICOM SEG, segmentation.dcm), sr (DICOM SR TID 1500, measurements.dcm), "
                  "html (report.html); comma-separated or repeated; csv and json are accepted and change nothing "
                  "(results.csv and results.json are always written)")
      ->delimiter(',')
      ->check(CLI::IsMember({"seg", "sr", "html", "csv", "json"}));
  auto* include_id = cmd->add_flag("--include-patient-id", o.include_patient_id,
                                   "write the Patient ID and the input path into results.json/csv/html (off by default)");
  cmd->add_option("--pseudonym-map", o.pseudonym_map, "CSV of patient_id,pseudonym: write the pseudonym instead of the ID")
      ->check(CLI::ExistingFile)
      ->excludes(include_id);
  cmd->add_option("--muscle-prior", o.muscle_prior,
                  "what places the muscles: atlas (the real-anatomy atlases, default) or layout (the coarse hand-made "
                  "layout: faster, for phantoms drawn from it); recorded in the protocol")
      ->check(CLI::IsMember({"atlas", "layout"}));
  cmd->add_option("--atlas-exclude-subject", o.atlas_exclude_subjects,
                  "leave-one-subject-out: never use atlases of this subject (repeatable; recorded in results.json)")
      ->delimiter(',');
  cmd->add_flag("--quiet", o.quiet, "print nothing on success");
  add_us_options(*cmd, o.us);
  add_mr_options(*cmd, o.mr);
  return {cmd, [options] { return run_analyze(*options); }};
}

}  // namespace musclecsa::app
