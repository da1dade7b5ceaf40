// musclecsa phantom: synthesise a digital thigh/calf phantom with ground truth.

#include <iostream>
#include <optional>

#include "commands.h"
#include "console_progress.h"
#include "musclecsa/core/error.h"
#include "musclecsa/phantom/phantom.h"

namespace musclecsa::app {
namespace {

struct PhantomOptions {
  std::string preset;
  std::string anatomy, modality, out, legs, fat_pattern = "diffuse", us_muscle, anatomy_from, atlas_dir;
  std::optional<std::uint64_t> seed;
  std::optional<std::size_t> slices, columns, rows;
  std::optional<double> pixel_spacing_mm, slice_spacing_mm, leg_gap_mm, sat_thickness_mm, muscle_area_scale,
      septum_width_mm, septum_fat_fraction, noise_sd, bias_field, shape_variation, fat_infiltration, us_pixel_spacing_mm;
  std::vector<std::string> infiltrate;
  bool quiet = false;
};

/// Parses MUSCLE=FRACTION[:PATTERN].
std::pair<std::string, phantom::Infiltration> parse_infiltrate(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error(ErrorCode::InvalidArgument, "--infiltrate " + text, "expected MUSCLE=FRACTION[:PATTERN]");
  phantom::Infiltration inf;
  std::string value = text.substr(eq + 1);
  if (const auto colon = value.find(':'); colon != std::string::npos) {
    inf.pattern = phantom::fat_pattern_from_string(value.substr(colon + 1));
    value = value.substr(0, colon);
  }
  try {
    std::size_t used = 0;
    inf.fraction = std::stod(value, &used);
    if (used != value.size()) throw std::invalid_argument(value);
  } catch (const std::exception&) {
    throw Error(ErrorCode::InvalidArgument, "--infiltrate " + text, "the fraction is not a number");
  }
  return {text.substr(0, eq), inf};
}

int run_phantom(const PhantomOptions& o) {
  phantom::PhantomParams p;
  if (!o.preset.empty()) p = phantom::load_preset(o.preset, p);
  if (!o.anatomy.empty()) p.anatomy = phantom::anatomy_from_string(o.anatomy);
  if (!o.modality.empty()) p.modality = phantom::modality_from_string(o.modality);
  if (!o.anatomy_from.empty()) {
    if (!o.anatomy.empty())
      throw Error(ErrorCode::InvalidArgument, "--anatomy", "not with --anatomy-from (the atlas says thigh or calf)");
    if (o.shape_variation)
      throw Error(ErrorCode::InvalidArgument, "--shape-variation", "not with --anatomy-from (the anatomy is real)");
    p.anatomy_from = o.anatomy_from;
    p.atlas_dir = o.atlas_dir;
    if (o.leg_gap_mm) p.atlas_leg_gap_mm = *o.leg_gap_mm;
    if (o.modality.empty() && o.preset.empty())
      throw Error(ErrorCode::InvalidArgument, "phantom", "give --modality (ct, mr-t1 or mr-dixon) with --anatomy-from");
  } else if (o.preset.empty() && (o.anatomy.empty() || o.modality.empty())) {
    throw Error(ErrorCode::InvalidArgument, "phantom", "give --anatomy and --modality, or a --preset that sets them");
  }
  if (o.seed) p.seed = *o.seed;
  if (o.slices) p.slices = *o.slices;
  if (o.columns) p.columns = *o.columns;
  if (o.rows) p.rows = *o.rows;
  if (o.pixel_spacing_mm) p.pixel_spacing_mm = *o.pixel_spacing_mm;
  if (o.slice_spacing_mm) p.slice_spacing_mm = *o.slice_spacing_mm;
  if (!o.legs.empty()) p.legs = phantom::legs_from_string(o.legs);
  if (o.leg_gap_mm) p.leg_gap_mm = *o.leg_gap_mm;
  if (o.sat_thickness_mm) p.sat_thickness_mm = *o.sat_thickness_mm;
  if (o.muscle_area_scale) p.muscle_area_scale = *o.muscle_area_scale;
  if (o.septum_width_mm) p.septum_width_mm = *o.septum_width_mm;
  // Semi-real: one width for every septum (the anatomy, not a width, tells groups apart).
  if (o.septum_width_mm && !o.anatomy_from.empty()) p.group_septum_width_mm = *o.septum_width_mm;
  if (o.septum_fat_fraction) p.septum_fat_fraction = *o.septum_fat_fraction;
  if (o.noise_sd) p.noise_sd = *o.noise_sd;
  if (o.bias_field) p.bias_field_amplitude = *o.bias_field;
  if (o.shape_variation) p.shape_variation = *o.shape_variation;
  if (o.fat_infiltration)
    p.infiltration["all"] = {*o.fat_infiltration, phantom::fat_pattern_from_string(o.fat_pattern)};
  for (const auto& text : o.infiltrate) {
    auto [key, inf] = parse_infiltrate(text);
    p.infiltration[key] = inf;
  }
  if (!o.us_muscle.empty()) p.us_muscle = o.us_muscle;
  if (o.us_pixel_spacing_mm) p.us_pixel_spacing_mm = *o.us_pixel_spacing_mm;

  ConsoleProgress progress(!o.quiet);
  const phantom::Phantom ph = phantom::make_phantom(p, progress);
  phantom::write_phantom(ph, o.out, progress);
  if (o.quiet) return 0;

  const auto& g = ph.labels.geometry;
  std::cout << "Phantom " << to_string(ph.params.anatomy) << " " << to_string(ph.params.modality) << " (seed "
            << ph.params.seed << "): " << g.size[0] << " x " << g.size[1] << " x " << g.size[2] << " voxels of "
            << g.spacing_mm[0] << " x " << g.spacing_mm[1] << " x " << g.spacing_mm[2] << " mm\n";
  for (const auto& s : ph.series)
    std::cout << "  DICOM series " << (std::filesystem::path(o.out) / "dicom" / s.role).string() << "  ("
              << s.description << ")\n";
  std::cout << "  Ground truth " << (std::filesystem::path(o.out) / "truth").string()
            << "/{labels.nii.gz, fat_fraction.nii.gz, labels.json, truth.json}\n";
  if (!ph.anatomy_source.atlas_ids.empty()) {
    std::cout << "  Real anatomy:";
    for (std::size_t n = 0; n < ph.anatomy_source.atlas_ids.size(); ++n)
      std::cout << (n ? ", " : " ") << ph.anatomy_source.atlas_ids[n] << " (subject " << ph.anatomy_source.subjects[n] << ")";
    std::cout << "\n";
    for (const auto& group : ph.anatomy_source.group_only)
      std::cout << "  " << group << ": the source does not separate its muscles; score the group only\n";
  }
  std::cout << "\n";
  phantom::print_truth_at_level(ph, std::cout);
  return 0;
}

}  // namespace

Command add_phantom_command(CLI::App& app) {
  auto options = std::make_shared<PhantomOptions>();
  CLI::App* cmd = app.add_subcommand("phantom", "Synthesise a digital thigh or calf phantom (DICOM + ground truth)");
  auto& o = *options;
  cmd->add_option("--preset", o.preset, "JSON preset of phantom parameters (data/phantoms/*.json)")->check(CLI::ExistingFile);
  cmd->add_option("--anatomy", o.anatomy, "thigh or calf")->check(CLI::IsMember({"thigh", "calf"}));
  cmd->add_option("--anatomy-from", o.anatomy_from,
                  "semi-real phantom over real anatomy: an atlas id or prefix (musclecsa atlas list; vhf-thigh = both legs) "
                  "or a label map (.nii.gz: catalog labels or the 11-muscle thigh scheme)");
  cmd->add_option("--atlas-dir", o.atlas_dir, "atlas folder for --anatomy-from ids (default: data/atlas)");
  cmd->add_option("--septum-fat-fraction", o.septum_fat_fraction,
                  "semi-real: fat fraction of the septa between muscles (0.9 visible .. 0.3 nearly invisible; default 1)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--modality", o.modality, "ct, mr-t1, mr-dixon or us")
      ->check(CLI::IsMember({"ct", "mr-t1", "mr-dixon", "us"}));
  cmd->add_option("--out", o.out, "output folder (created)")->required();
  cmd->add_option("--seed", o.seed, "random seed (deterministic output per seed)");
  cmd->add_option("--slices", o.slices, "number of axial slices (default 48 CT, 30 MR)");
  cmd->add_option("--columns", o.columns, "image columns (default 512 CT, 320/256 MR)");
  cmd->add_option("--rows", o.rows, "image rows (default: columns)");
  cmd->add_option("--pixel-spacing-mm", o.pixel_spacing_mm, "in-plane pixel size (default: field of view / columns)");
  cmd->add_option("--slice-spacing-mm", o.slice_spacing_mm, "slice spacing = thickness (default: cover the bone)");
  cmd->add_option("--legs", o.legs, "both, right or left")->check(CLI::IsMember({"both", "right", "left"}));
  cmd->add_option("--leg-gap-mm", o.leg_gap_mm, "skin-to-skin gap between the legs (<= 0: touching)");
  cmd->add_option("--sat-thickness-mm", o.sat_thickness_mm, "mean subcutaneous fat thickness");
  cmd->add_option("--muscle-area-scale", o.muscle_area_scale, "atrophy: muscle area factor (0.6 = 60%)");
  cmd->add_option("--septum-width-mm", o.septum_width_mm, "fat septum width between muscles");
  cmd->add_option("--noise-sd", o.noise_sd, "noise SD (HU for CT, signal units for MR)");
  cmd->add_option("--bias-field", o.bias_field, "MR bias field peak amplitude (0.3 = +-30%)");
  cmd->add_option("--shape-variation", o.shape_variation, "0 = exact ellipses, 1 = natural variation");
  cmd->add_option("--fat-infiltration", o.fat_infiltration, "intramuscular fat fraction of every muscle (0..0.9)");
  cmd->add_option("--fat-pattern", o.fat_pattern, "diffuse, marbled or mixed")
      ->check(CLI::IsMember({"diffuse", "marbled", "mixed"}));
  cmd->add_option("--infiltrate", o.infiltrate, "per-muscle fat: MUSCLE=FRACTION[:PATTERN], repeatable");
  cmd->add_option("--us-muscle", o.us_muscle, "ultrasound target muscle")
      ->check(CLI::IsMember({"rectus_femoris", "vastus_lateralis", "gastrocnemius_medial"}));
  cmd->add_option("--us-pixel-spacing-mm", o.us_pixel_spacing_mm, "ultrasound pixel size");
  cmd->add_flag("--quiet", o.quiet, "print nothing on success");
  return {cmd, [options] { return run_phantom(*options); }};
}

}  // namespace musclecsa::app
