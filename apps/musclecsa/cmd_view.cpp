// musclecsa view and render: the VTK viewer and its offscreen rendering (issue #8, docs/viewer.md):
// options, the save folder, and the case the pipeline opens for the viewer (pipeline/viewer_case.h).

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "musclecsa/core/error.h"
#include "musclecsa/pipeline/viewer_case.h"
#include "musclecsa/render/viewer.h"

namespace musclecsa::app {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

/// Options both commands share: what to open.
using OpenOptions = pipeline::OpenCaseOptions;

struct ViewCommandOptions {
  OpenOptions open;
  std::string save, script;
  std::optional<int> slice;
  int width_px = 1400, height_px = 900;
};

struct RenderCommandOptions {
  OpenOptions open;
  std::string out, view = "axial";
  std::optional<int> slice;
  double opacity = 0.5;
  int size_px = 768;
};

/// The save folder: --save, else RESULTS/edited. An analysis folder is never written into; a
/// folder the viewer saved before (it holds edits.jsonl) is continued, its audit log growing.
fs::path save_folder(const ViewCommandOptions& o) {
  const bool results_saved_by_viewer = !o.open.results.empty() && fs::exists(fs::path(o.open.results) / "edits.jsonl");
  if (!o.save.empty()) {
    std::error_code ec;
    if (!o.open.results.empty() && !results_saved_by_viewer && fs::exists(o.save) && fs::equivalent(o.save, o.open.results, ec))
      throw Error(ErrorCode::InvalidArgument, "--save " + o.save,
                  "is the analysis folder itself: corrected results go to another folder, so the original stays as it was");
    return o.save;
  }
  if (results_saved_by_viewer) return o.open.results;
  if (!o.open.results.empty()) return fs::path(o.open.results) / "edited";
  return fs::path(o.open.input).parent_path() / (fs::path(o.open.input).stem().string() + "-labels");
}

int run_view(const ViewCommandOptions& o) {
  if (!o.script.empty() && !fs::exists(o.script)) throw Error(ErrorCode::InputNotFound, o.script, "no such script file");
  auto model = pipeline::open_case_for_viewing(o.open, save_folder(o));
  render::ViewOptions options;
  options.slice = o.slice;
  options.script = o.script;
  options.width_px = o.width_px;
  options.height_px = o.height_px;
  if (o.slice && (*o.slice < 0 || std::size_t(*o.slice) >= model->volume().geometry.size[2]))
    throw Error(ErrorCode::InvalidArgument, "--slice " + std::to_string(*o.slice),
                "outside the scan (slices 0.." + std::to_string(int(model->volume().geometry.size[2]) - 1) + ")");
  return render::run_viewer(*model, options);
}

int run_render(const RenderCommandOptions& o) {
  if (!(o.opacity >= 0 && o.opacity <= 1)) throw Error(ErrorCode::InvalidArgument, "--opacity", "must be between 0 and 1");
  if (o.size_px < 64 || o.size_px > 8192) throw Error(ErrorCode::InvalidArgument, "--size", "must be 64..8192 pixels");
  if (fs::path(o.out).extension() != ".png") throw Error(ErrorCode::InvalidArgument, "--out " + o.out, "must name a .png file");
  auto model = pipeline::open_case_for_viewing(o.open, {});
  if (o.slice && (*o.slice < 0 || std::size_t(*o.slice) >= model->volume().geometry.size[2]))
    throw Error(ErrorCode::InvalidArgument, "--slice " + std::to_string(*o.slice),
                "outside the scan (slices 0.." + std::to_string(int(model->volume().geometry.size[2]) - 1) + ")");
  render::RenderOptions options;
  options.out = o.out;
  options.view = o.view;
  options.slice = o.slice;
  if (!o.open.preset.empty()) options.preset = render::display_preset_from_string(o.open.preset, "--preset");
  options.overlay_opacity = o.opacity;
  options.size_px = o.size_px;
  render::render_png(*model, options);
  return 0;
}

void add_open_options(CLI::App& cmd, OpenOptions& o) {
  cmd.add_option("input", o.input, "the scan: DICOM file or folder, NIfTI/NRRD/MetaImage, or an ultrasound picture")
      ->required()
      ->check(CLI::ExistingPath);
  cmd.add_option("--series", o.series, "series to open when the input holds several");
  cmd.add_option("--pixel-size-mm", o.pixel_size_mm, "pixel size of an uncalibrated picture (mm)");
  cmd.add_option("--preset", o.preset, "window preset: ct (40/400 HU), mr (auto), us (0-255); default from the modality")
      ->check(CLI::IsMember({"ct", "mr", "us"}));
  cmd.add_option("--pseudonym-map", o.pseudonym_map, "the CSV the analysis used with --pseudonym-map (needed to save its results)")
      ->check(CLI::ExistingFile);
}

}  // namespace

void add_view_commands(CLI::App& app, std::vector<Command>& commands) {
  {
    auto options = std::make_shared<ViewCommandOptions>();
    auto& o = *options;
    CLI::App* cmd = app.add_subcommand("view", "Look at a scan and its segmentation, correct it, and save corrected results");
    add_open_options(*cmd, o.open);
    cmd->add_option("--results", o.open.results, "analysis folder (labels.nii.gz; with a CT analysis, numbers are re-measured)");
    cmd->add_option("--save", o.save,
                    "folder Save writes to (default RESULTS/edited, or RESULTS itself when the viewer saved it; never an analysis folder)");
    cmd->add_option("--script", o.script, "run the actions of this file, then exit (docs/viewer.md)");
    cmd->add_option("--slice", o.slice, "first slice shown (0-based; default the standard level)");
    commands.push_back({cmd, [options] { return run_view(*options); }});
  }
  {
    auto options = std::make_shared<RenderCommandOptions>();
    auto& o = *options;
    CLI::App* cmd = app.add_subcommand("render", "Draw the viewer's axial or 3-D view into a PNG (needs an X server, e.g. xvfb-run)");
    add_open_options(*cmd, o.open);
    cmd->add_option("--results", o.open.results, "analysis folder (labels.nii.gz)")->required();
    cmd->add_option("--out", o.out, "PNG file to write")->required();
    cmd->add_option("--view", o.view, "axial (slice with overlay and legend) or 3d (muscle and bone surfaces, standard level plane)")
        ->check(CLI::IsMember({"axial", "3d"}));
    cmd->add_option("--slice", o.slice, "axial slice (0-based; default the standard level, else the middle)");
    cmd->add_option("--opacity", o.opacity, "label overlay opacity 0..1 (default 0.5)");
    cmd->add_option("--size", o.size_px, "pixels: the slice's longer side (axial) or the picture's side (3d); default 768");
    commands.push_back({cmd, [options] { return run_render(*options); }});
  }
}

}  // namespace musclecsa::app
