// Loading a case's input (input.h): DICOM (one series chosen), research formats, pictures.

#include "musclecsa/pipeline/input.h"

#include <cmath>
#include <set>
#include <sstream>

#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/io/text_file.h"

namespace musclecsa::pipeline {

std::string orientation_name(const Geometry& g) {
  const Vec3 n = g.axis(2);
  const double ax = std::abs(n.x), ay = std::abs(n.y), az = std::abs(n.z);
  if (az > 0.95) return "axial";
  if (ay > 0.95) return "coronal";
  if (ax > 0.95) return "sagittal";
  return "oblique";
}

std::string describe(const dicom::Series& s) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(3);
  const Geometry& g = s.geometry;
  o << "#" << s.series_number << " \"" << s.series_description << "\" " << s.modality << " " << g.size[0] << "x"
    << g.size[1] << "x" << g.size[2] << " " << g.spacing_mm[0] << "x" << g.spacing_mm[1] << "x" << g.spacing_mm[2]
    << " mm";
  if (s.has_patient_geometry) o << " " << orientation_name(g);
  else if (s.modality != "US") o << " (no patient geometry)";
  return o.str();
}

std::vector<std::filesystem::path> read_file_list(const std::filesystem::path& list) {
  // One path per line (blank lines skipped): the files of one case from a batch manifest.
  std::vector<std::filesystem::path> paths;
  std::istringstream lines(io::read_text(list));
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) paths.emplace_back(line);
  }
  if (paths.empty()) throw Error(ErrorCode::InvalidInput, list.string(), "the file list names no file");
  return paths;
}

namespace {

LoadedInput load_dicom(const std::filesystem::path& path, const InputOptions& options, Progress& progress) {
  const std::vector<std::filesystem::path> paths =
      options.path_is_file_list ? read_file_list(path) : std::vector<std::filesystem::path>{path};
  const dicom::ScanResult scan = dicom::scan_paths(paths, progress);
  if (scan.files.empty()) {
    std::string why = "no usable DICOM image found";
    if (!scan.problems.empty()) why += " (first problem: " + scan.problems.front().path.string() + ": " + scan.problems.front().problem + ")";
    throw Error(ErrorCode::InvalidInput, path.string(), why);
  }
  dicom::AssemblyOptions assembly;
  assembly.non_uniform = options.non_uniform;
  const std::vector<dicom::Series> all = dicom::assemble_series(scan.files, assembly);
  std::vector<const dicom::Series*> usable;
  for (const auto& s : all)
    if (s.usable) usable.push_back(&s);

  const dicom::Series* chosen = nullptr;
  if (!options.series.empty()) {
    for (std::size_t n = 0; n < all.size(); ++n) {
      const auto& s = all[n];
      if (s.id == options.series || s.series_instance_uid == options.series || std::to_string(n + 1) == options.series) {
        if (chosen != nullptr && s.series_instance_uid == options.series)
          throw Error(ErrorCode::InvalidArgument, "--series " + options.series,
                      "this UID holds several volumes; give one of their ids (UID#n)");
        chosen = &s;
      }
    }
    if (chosen == nullptr) throw Error(ErrorCode::InvalidArgument, "--series " + options.series, "no such series in " + path.string());
  } else if (usable.size() == 1) {
    chosen = usable.front();
  } else if (usable.empty() && options.allow_localizer && all.size() == 1 &&
             all.front().unusable_reason == dicom::kLocalizerOnly) {
    chosen = &all.front();
  } else if (usable.empty()) {
    std::string why = "no usable series";
    if (!all.empty()) why += " (" + all.front().id + ": " + all.front().unusable_reason + ")";
    throw Error(ErrorCode::InvalidInput, path.string(), why);
  } else {
    std::string list;
    for (std::size_t n = 0; n < all.size(); ++n)
      if (all[n].usable) list += "\n  " + std::to_string(n + 1) + ": " + all[n].id + "  " + describe(all[n]);
    throw Error(ErrorCode::InvalidArgument, path.string(),
                "holds " + std::to_string(usable.size()) + " usable series; choose one with --series:" + list);
  }
  LoadedInput in;
  in.kind = "dicom";
  if (!chosen->usable && !(options.allow_localizer && chosen->unusable_reason == dicom::kLocalizerOnly))
    throw Error(ErrorCode::InvalidInput, chosen->id, "series is not usable: " + chosen->unusable_reason);
  dicom::Series selected = *chosen;
  if (options.frame) {
    // One frame of a cine (or one slice of a stack): select it before decoding.
    if (*options.frame >= chosen->slices.size())
      throw Error(ErrorCode::InvalidArgument, "--frame " + std::to_string(*options.frame),
                  "the series has " + std::to_string(chosen->slices.size()) + " frame(s), numbered from 0");
    selected.slices = {chosen->slices[*options.frame]};
    selected.geometry.size[2] = 1;
    selected.needs_resampling = false;
    if (selected.has_patient_geometry) {
      const auto& frame = scan.files[selected.slices.front().file_index].frames[selected.slices.front().frame];
      if (frame.position_lps_mm) selected.geometry.origin_lps_mm = *frame.position_lps_mm;
    }
    selected.notes.push_back("frame " + std::to_string(*options.frame) + " of " + std::to_string(chosen->slices.size()));
  }
  if (options.prefer_exact_int16 && selected.usable) in.volume_int16 = dicom::load_series_int16(selected, scan.files, progress);
  if (!in.volume_int16) in.volume = dicom::load_series(selected, scan.files, progress, options.allow_localizer);
  in.qc_flags = selected.qc_flags;
  in.notes = selected.notes;
  if (!selected.slices.empty()) in.any_dicom_file = scan.files[selected.slices.front().file_index].path;
  {
    // Derived objects reference slice k's instance only when the grid is the source's, one file a slice.
    std::set<std::size_t> files;
    for (const auto& ref : selected.slices) files.insert(ref.file_index);
    in.one_instance_per_slice = !selected.needs_resampling && files.size() == selected.slices.size() &&
                                selected.slices.size() == selected.geometry.size[2];
  }
  if (!selected.usable) in.notes.push_back(selected.unusable_reason + ": converted as it is, not for analysis");
  for (const auto& flag : selected.qc_flags)
    if (flag == "no_pixel_spacing") in.calibrated = false;
  if (selected.ultrasound && !selected.ultrasound->calibrated) {
    if (options.pixel_size_mm) {
      auto& g = in.volume_int16 ? in.volume_int16->geometry : in.volume.geometry;
      g.spacing_mm[0] = g.spacing_mm[1] = *options.pixel_size_mm;
      in.notes.push_back("pixel size " + std::to_string(*options.pixel_size_mm) + " mm given by the user");
    } else {
      in.calibrated = false;
    }
  }
  in.series = std::move(selected);
  return in;
}

}  // namespace

LoadedInput load_input(const std::filesystem::path& path, const InputOptions& options, Progress& progress) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(ErrorCode::InputNotFound, path.string(), "no such file or folder");
  if (options.path_is_file_list) return load_dicom(path, options, progress);
  if (std::filesystem::is_regular_file(path, ec) && io::is_research_format(path)) {
    LoadedInput in;
    in.kind = "research";
    in.volume = io::read_scalar_volume(path);
    return in;
  }
  if (std::filesystem::is_regular_file(path, ec) && io::is_bitmap_format(path)) {
    io::BitmapImage bitmap = io::read_bitmap(path, options.pixel_size_mm);
    LoadedInput in;
    in.kind = "bitmap";
    in.volume = std::move(bitmap.image);
    in.calibrated = bitmap.calibrated;
    if (!bitmap.calibrated) {
      in.qc_flags.push_back("ultrasound_uncalibrated");
      in.notes.push_back("picture without calibration: give --pixel-size-mm for physical units; measurements in pixels only");
    }
    return in;
  }
  return load_dicom(path, options, progress);
}

}  // namespace musclecsa::pipeline
