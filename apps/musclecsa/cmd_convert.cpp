// musclecsa convert: a DICOM series (or a research-format volume or picture) to NIfTI, NRRD or MetaImage.

#include <iostream>

#include "commands.h"
#include "console_progress.h"
#include "musclecsa/pipeline/input.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"

namespace musclecsa::app {
namespace {

using pipeline::InputOptions;
using pipeline::LoadedInput;
using pipeline::load_input;
using pipeline::describe;
using pipeline::orientation_name;

struct ConvertOptions {
  std::string input, output, series, datatype = "auto";
  std::optional<double> pixel_size_mm;
  std::optional<std::size_t> frame;
  bool refuse_non_uniform = false, quiet = false;
};

int run_convert(const ConvertOptions& o) {
  if (!io::is_research_format(o.output))
    throw Error(ErrorCode::InvalidArgument, o.output, "output must end in .nii.gz, .nii, .nrrd, .nhdr, .mha or .mhd");
  ConsoleProgress progress(!o.quiet);
  InputOptions in_options;
  in_options.series = o.series;
  in_options.pixel_size_mm = o.pixel_size_mm;
  in_options.allow_localizer = true;
  in_options.frame = o.frame;
  in_options.prefer_exact_int16 = o.datatype == "auto" || o.datatype == "int16";
  if (o.refuse_non_uniform) in_options.non_uniform = dicom::NonUniformPolicy::Refuse;
  const LoadedInput in = load_input(o.input, in_options, progress);
  io::PixelStorage storage = io::PixelStorage::Auto;
  if (o.datatype == "float") storage = io::PixelStorage::Float32;
  else if (o.datatype == "int16") storage = io::PixelStorage::Int16;
  else if (o.datatype == "uint16") storage = io::PixelStorage::UInt16;
  io::PixelStorage written = io::PixelStorage::Int16;
  if (in.volume_int16) io::write_image(*in.volume_int16, o.output);
  else written = io::write_image(in.volume, o.output, storage);
  for (const auto& note : in.notes) std::cerr << "musclecsa: warning: " << note << "\n";
  if (!in.calibrated) std::cerr << "musclecsa: warning: no physical calibration: the output has 1 mm nominal pixels\n";
  if (!o.quiet) {
    const Geometry& g = in.volume_int16 ? in.volume_int16->geometry : in.volume.geometry;
    std::cout << "Wrote " << o.output << ": " << g.size[0] << "x" << g.size[1] << "x" << g.size[2] << " voxels, "
              << g.spacing_mm[0] << "x" << g.spacing_mm[1] << "x" << g.spacing_mm[2] << " mm, "
              << (written == io::PixelStorage::Int16 ? "int16" : written == io::PixelStorage::UInt16 ? "uint16" : "float32");
    if (in.series) std::cout << " (series " << in.series->id << ")";
    std::cout << "\n";
    for (const auto& flag : in.qc_flags) std::cout << "  qc flag: " << flag << "\n";
  }
  return 0;
}

}  // namespace

Command add_convert_command(CLI::App& app) {
  auto options = std::make_shared<ConvertOptions>();
  auto& o = *options;
  CLI::App* cmd = app.add_subcommand("convert", "Write a DICOM series (or volume, or picture) as NIfTI, NRRD or MetaImage");
  cmd->add_option("input", o.input, "DICOM file or folder, research-format volume, or PNG/TIFF/JPEG/BMP picture")->required();
  cmd->add_option("output", o.output, "output file (.nii.gz, .nii, .nrrd, .nhdr, .mha, .mhd)")->required();
  cmd->add_option("--series", o.series, "series to convert when the input holds several: UID, UID#n, or the [n] list number info prints");
  cmd->add_option("--datatype", o.datatype, "voxel type: auto (int16/uint16 when exact, else float), float, int16, uint16")
      ->check(CLI::IsMember({"auto", "float", "int16", "uint16"}));
  cmd->add_option("--pixel-size-mm", o.pixel_size_mm, "pixel size of an uncalibrated picture or ultrasound image");
  cmd->add_option("--frame", o.frame, "convert only this frame (0-based) of a multi-frame or cine series");
  cmd->add_flag("--refuse-non-uniform", o.refuse_non_uniform, "refuse series with uneven slice gaps instead of resampling");
  cmd->add_flag("--quiet", o.quiet, "print nothing on success");
  return {cmd, [options] { return run_convert(*options); }};
}

}  // namespace musclecsa::app
