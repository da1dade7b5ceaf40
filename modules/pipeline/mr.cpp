// The MRI analysis of a case (mr.h): finds and pairs the Dixon series (or takes a T1/T2-weighted
// series) and runs the mri module; the case folder is written by mr_outputs.cpp (docs/mri.md).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "case_outputs.h"
#include "musclecsa/pipeline/analyze.h"
#include "mr_outputs.h"
#include "musclecsa/core/error.h"
#include "musclecsa/dicom/file_info.h"
#include "musclecsa/dicom/series.h"
#include "musclecsa/mri/mr_analysis.h"

namespace musclecsa::pipeline {
namespace {

using nlohmann::json;

json series_json(const std::string& role, const ScalarVolume& v, const std::optional<dicom::Series>& s, const std::string& how) {
  json j = {{"role", role},
            {"series_instance_uid", v.source.series_instance_uid},
            {"series_description", v.source.series_description},
            {"paired_by", how}};
  if (s) {
    j["series_number"] = s->series_number;
    j["image_type"] = s->image_type;
  }
  return j;
}

std::string image_type_text(const dicom::Series& s) {
  std::string t;
  for (const auto& v : s.image_type) t += (t.empty() ? "" : "\\") + v;
  return t;
}

/// How a series' Dixon role was recognised: by Image Type or by the description's suffix.
std::string role_evidence(const dicom::Series& s) {
  for (const auto& v : s.image_type) {
    std::string u = v;
    std::transform(u.begin(), u.end(), u.begin(), [](unsigned char c) { return char(std::toupper(c)); });
    if (u == "WATER" || u == "W" || u == "FAT" || u == "F" || u == "IN_PHASE" || u == "IP" || u == "IN" ||
        u == "OUT_PHASE" || u == "OPP" || u == "OP" || u == "OPPOSED_PHASE" || u == "FF" || u == "FAT_FRACTION" ||
        u == "FATFRACTION")
      return "image type " + image_type_text(s);
  }
  return "series description \"" + s.series_description + "\"";
}

void check_mr(const LoadedInput& in, const std::string& what) {
  if (in.kind == "dicom" && in.volume.modality != Modality::MR)
    throw Error(ErrorCode::InvalidInput, what,
                "not an MR series (modality " + std::string(to_string(in.volume.modality)) + ")");
  if (in.kind == "bitmap") throw Error(ErrorCode::InvalidInput, what, "a picture is not an MR series");
  for (const auto& flag : in.qc_flags)
    if (flag == "no_pixel_spacing") throw Error(ErrorCode::InvalidInput, what, "the series has no Pixel Spacing: areas cannot be measured");
}

/// The first DICOM file under `path` (a file, or the first found in a folder walk), if any.
std::optional<std::filesystem::path> first_dicom_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return dicom::looks_like_dicom(path) ? std::optional(path) : std::nullopt;
  if (!std::filesystem::is_directory(path, ec)) return std::nullopt;
  int seen = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec); !ec && it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    if (++seen > 200) break;
    if (it->path().filename() == "DICOMDIR") continue;
    if (dicom::looks_like_dicom(it->path())) return it->path();
  }
  return std::nullopt;
}



quantify::LevelOptions level_options(const AnalyzeOptions& o) {
  quantify::LevelOptions l;
  l.level_z_mm = o.level_z_mm;
  l.level_slice = o.level_slice;
  return l;
}

/// The protocol of --protocol: nullopt for "auto" (thigh-mr or calf-mr from the bones), a built-in
/// one, or an MR protocol file (docs/protocols.md).
std::optional<mri::MrProtocol> mr_protocol_of(const AnalyzeOptions& o) {
  if (o.protocol == "auto") return std::nullopt;
  if (o.protocol == "thigh-mr" || o.protocol == "calf-mr") return mri::builtin_mr_protocol(o.protocol);
  if (o.protocol == "thigh-ct" || o.protocol == "calf-ct")
    throw Error(ErrorCode::InvalidArgument, "--protocol " + o.protocol,
                "a CT protocol does not apply to MRI: use thigh-mr, calf-mr, auto or an MR protocol file");
  std::error_code ec;
  if (std::filesystem::is_regular_file(o.protocol, ec) || o.protocol.find('/') != std::string::npos ||
      std::filesystem::path(o.protocol).extension() == ".json")
    return mri::load_mr_protocol(o.protocol);
  throw Error(ErrorCode::InvalidArgument, "--protocol " + o.protocol,
              "unknown MRI protocol: use thigh-mr, calf-mr, auto or an MR protocol file (FILE.json)");
}

/// --modality names the modality of a NIfTI/NRRD/MetaImage file; DICOM input carries its own, and
/// an option saying otherwise is refused rather than ignored.
void check_modality_given(const AnalyzeOptions& o, const std::string& what, const std::string& modality) {
  if (o.modality.empty()) return;
  std::string given = o.modality;
  std::transform(given.begin(), given.end(), given.begin(), [](unsigned char c) { return char(std::toupper(c)); });
  if (given != modality)
    throw Error(ErrorCode::InvalidArgument, "--modality " + o.modality,
                what + " is " + modality + ": --modality is for NIfTI/NRRD/MetaImage input, DICOM carries its own modality "
                "(and a picture is ultrasound); leave out --modality");
}

/// Loads one Dixon series named by --water/--fat: a path, or a series of INPUT.
LoadedInput load_named(const AnalyzeOptions& o, const std::string& value, const std::string& option, Progress& progress) {
  InputOptions options;
  std::error_code ec;
  LoadedInput in;
  if (std::filesystem::exists(value, ec)) {
    in = load_input(value, options, progress);
  } else {
    options.series = value;
    try {
      in = load_input(o.input, options, progress);
    } catch (const Error& e) {
      throw Error(e.code(), option + " " + value, "neither a file or folder nor a series of " + o.input + ": " + e.problem());
    }
  }
  check_mr(in, option + " " + value);
  if (in.kind == "research") in.volume.modality = Modality::MR;
  check_modality_given(o, option + " " + value + " (a Dixon " + option.substr(2) + " image)", "MR");
  return in;
}

/// A Dixon partner with images at other slice positions than the water series (a slice missing
/// from one of them): the loader fills the gap by interpolation, and a fat fraction from one
/// measured and one interpolated image is no measurement. Refused, naming the positions.
void check_same_slice_positions(const LoadedInput& water, const LoadedInput& other, const std::string& role) {
  if (!water.series || !other.series) return;
  std::vector<double> only_water, only_other;
  auto missing_from = [](const dicom::Series& a, const dicom::Series& b, std::vector<double>& out) {
    for (const auto& s : a.slices)
      if (std::none_of(b.slices.begin(), b.slices.end(), [&](const dicom::SliceRef& t) { return std::abs(t.normal_mm - s.normal_mm) < 0.01; }))
        out.push_back(s.normal_mm);
  };
  missing_from(*water.series, *other.series, only_water);
  missing_from(*other.series, *water.series, only_other);
  if (only_water.empty() && only_other.empty()) return;
  auto list = [](const std::vector<double>& positions) {
    std::string text;
    for (std::size_t n = 0; n < positions.size() && n < 5; ++n) {
      char value[32];
      std::snprintf(value, sizeof value, "%s%.2f", n ? ", " : "", positions[n]);
      text += value;
    }
    return text + (positions.size() > 5 ? ", ..." : "") + " mm";
  };
  std::string detail;
  if (!only_water.empty()) detail += "the " + role + " series has no image at " + list(only_water) + " where the water series has one";
  if (!only_other.empty()) detail += std::string(detail.empty() ? "" : "; ") + "the water series has no image at " + list(only_other);
  throw Error(ErrorCode::InvalidInput, other.volume.source.path.empty() ? role : other.volume.source.path,
              "the Dixon " + role + " and water series are not imaged at the same slice positions (" + detail +
                  "): a fat fraction needs both images of every slice; re-export the missing images");
}

int run_dixon(const AnalyzeOptions& o, LoadedInput water, LoadedInput fat, std::optional<LoadedInput> in_phase,
              std::optional<LoadedInput> opposed, std::optional<LoadedInput> vendor_ff, json series, Progress& progress) {
  check_dicom_formats(o, water);
  if (o.mr.no_n4)
    throw Error(ErrorCode::InvalidArgument, "--no-n4",
                "N4 bias correction is for T1/T2-weighted images; a Dixon fat fraction needs none (water and fat share "
                "the coil's bias): leave out --no-n4");
  check_same_slice_positions(water, fat, "fat");
  if (vendor_ff) check_same_slice_positions(water, *vendor_ff, "fat-fraction");
  const std::optional<mri::MrProtocol> protocol = mr_protocol_of(o);
  pseudonym_for_input(o, water);  // privacy options checked before the analysis
  inject_fault_for_tests(water.volume.source.series_description);
  mri::DixonSeries d;
  // The water voxels move into the analysis; `water` keeps the volume's geometry and source for the
  // outputs (a 512x512x60 series is a 63 MB copy otherwise).
  std::vector<float> water_voxels = std::move(water.volume.voxels);
  d.water = water.volume;
  d.water.voxels = std::move(water_voxels);
  d.fat = std::move(fat.volume);
  if (in_phase) d.in_phase = std::move(in_phase->volume);
  if (opposed) d.opposed_phase = std::move(opposed->volume);
  if (vendor_ff) d.vendor_fat_fraction = std::move(vendor_ff->volume);
  const mri::MrAnalysis a = protocol ? mri::analyze_dixon(std::move(d), *protocol, level_options(o), progress, atlas_options(o))
                                     : mri::analyze_dixon(std::move(d), "auto", level_options(o), progress, atlas_options(o));
  water.qc_flags.insert(water.qc_flags.end(), fat.qc_flags.begin(), fat.qc_flags.end());
  progress.report(1, "writing");
  write_mr_outputs(o, water, a, series);
  return 0;
}

}  // namespace

std::optional<int> run_mr_analysis_before_loading(const AnalyzeOptions& o, Progress& progress) {
  if (!o.mr.water.empty() || !o.mr.fat.empty()) {
    if (o.mr.water.empty())
      throw Error(ErrorCode::InvalidArgument, "--fat " + o.mr.fat, "a fat image without its water partner: give --water too");
    if (o.mr.fat.empty())
      throw Error(ErrorCode::InvalidArgument, "--water " + o.mr.water, "a water image without its fat partner: give --fat too");
    if (o.input.empty()) {
      // Without INPUT both name files or folders; the water series then stands for the input (messages, input.path).
      std::error_code ec;
      for (const auto& [option, value] : {std::pair{"--water ", o.mr.water}, std::pair{"--fat ", o.mr.fat}})
        if (!std::filesystem::exists(value, ec))
          throw Error(ErrorCode::InputNotFound, option + value,
                      "no such file or folder (a series id or number needs INPUT, the file or folder holding the series)");
      AnalyzeOptions named = o;
      named.input = o.mr.water;
      return run_mr_analysis_before_loading(named, progress);
    }
    LoadedInput water = load_named(o, o.mr.water, "--water", progress);
    LoadedInput fat = load_named(o, o.mr.fat, "--fat", progress);
    json series = json::array({series_json("water", water.volume, water.series, "explicit (--water)"),
                               series_json("fat", fat.volume, fat.series, "explicit (--fat)")});
    return run_dixon(o, std::move(water), std::move(fat), std::nullopt, std::nullopt, std::nullopt, series, progress);
  }
  // A file list (batch cases: a Dixon set's files) is searched like a folder.
  const std::vector<std::filesystem::path> roots =
      o.files_from ? read_file_list(o.input) : std::vector<std::filesystem::path>{o.input};
  // Only MR DICOM input is looked at here: a quick look at one file keeps CT input from being scanned twice.
  const auto first = first_dicom_file(roots.front());
  if (!first) return std::nullopt;
  try {
    if (dicom::read_file_info(*first).modality != "MR") return std::nullopt;
  } catch (const Error&) {
    return std::nullopt;
  }
  const dicom::ScanResult scan = dicom::scan_paths(roots, progress);
  const std::vector<dicom::Series> all = dicom::assemble_series(scan.files, {});
  std::vector<const dicom::Series*> mr;
  for (const auto& s : all)
    if (s.usable && s.modality == "MR") mr.push_back(&s);
  // With --series, only a chosen Dixon image brings in its partners.
  const dicom::Series* chosen = nullptr;
  if (!o.series.empty()) {
    for (std::size_t n = 0; n < all.size(); ++n)
      if (all[n].id == o.series || all[n].series_instance_uid == o.series || std::to_string(n + 1) == o.series) chosen = &all[n];
    if (chosen == nullptr || chosen->dixon_role == dicom::DixonRole::None) return std::nullopt;
  }
  // Candidates: Dixon images of the chosen series' study and frame of reference (or of any).
  std::map<dicom::DixonRole, std::vector<const dicom::Series*>> by_role;
  for (const auto* s : mr) {
    if (s->dixon_role == dicom::DixonRole::None) continue;
    if (chosen && (s->study_instance_uid != chosen->study_instance_uid || s->frame_of_reference_uid != chosen->frame_of_reference_uid))
      continue;
    by_role[s->dixon_role].push_back(s);
  }
  if (by_role.empty()) return std::nullopt;
  const auto& waters = by_role[dicom::DixonRole::Water];
  const auto& fats = by_role[dicom::DixonRole::Fat];
  std::string listing;
  for (const auto& [role, list] : by_role)
    for (const auto* s : list) listing += "\n  " + std::string(dicom::to_string(role)) + ": " + s->id + "  " + describe(*s);
  if (waters.empty() && fats.empty()) {
    const bool phases = !by_role[dicom::DixonRole::InPhase].empty() || !by_role[dicom::DixonRole::OpposedPhase].empty();
    throw Error(ErrorCode::InvalidInput, o.input,
                std::string(phases ? "in-phase/opposed-phase images without water and fat images: separating water from fat in "
                                     "magnitude images is ambiguous (which is larger in each voxel is unknown); export the "
                                     "scanner's water and fat series"
                                   : "a fat-fraction map without water and fat images: the anatomy needs them") +
                    "; found:" + listing);
  }
  if (fats.empty())
    throw Error(ErrorCode::InvalidInput, o.input,
                "a Dixon water image without its fat partner (no fat series in the same study): add the fat series or give "
                "--water and --fat; found:" + listing);
  if (waters.empty())
    throw Error(ErrorCode::InvalidInput, o.input,
                "a Dixon fat image without its water partner (no water series in the same study): add the water series or give "
                "--water and --fat; found:" + listing);
  // Pair water and fat on one grid in one study (and frame of reference).
  auto same_acquisition = [](const dicom::Series& a, const dicom::Series& b) {
    return a.study_instance_uid == b.study_instance_uid && a.frame_of_reference_uid == b.frame_of_reference_uid &&
           a.geometry.same_grid_as(b.geometry, 0.01);
  };
  std::vector<std::pair<const dicom::Series*, const dicom::Series*>> pairs;
  for (const auto* w : waters)
    for (const auto* f : fats)
      if (same_acquisition(*w, *f) && (!chosen || chosen == w || chosen == f || same_acquisition(*chosen, *w)))
        pairs.emplace_back(w, f);
  if (pairs.empty())
    throw Error(ErrorCode::InvalidInput, o.input,
                "the water and fat series are not on one grid in one study (size, spacing, position or orientation differ): "
                "not one Dixon acquisition; found:" + listing);
  if (pairs.size() > 1)
    throw Error(ErrorCode::InvalidArgument, o.input,
                "holds " + std::to_string(pairs.size()) + " water/fat pairs: name one with --water and --fat (or --series):" + listing);
  const dicom::Series& water_series = *pairs.front().first;
  const dicom::Series& fat_series = *pairs.front().second;
  auto load = [&](const dicom::Series& s) {
    LoadedInput in;
    in.kind = "dicom";
    in.volume = dicom::load_series(s, scan.files, progress);
    in.qc_flags = s.qc_flags;
    in.notes = s.notes;
    if (!s.slices.empty()) in.any_dicom_file = scan.files[s.slices.front().file_index].path;
    std::set<std::size_t> files;
    for (const auto& ref : s.slices) files.insert(ref.file_index);
    in.one_instance_per_slice = !s.needs_resampling && files.size() == s.slices.size() && s.slices.size() == s.geometry.size[2];
    in.series = s;
    check_mr(in, s.id);
    return in;
  };
  auto optional_partner = [&](dicom::DixonRole role) -> const dicom::Series* {
    for (const auto* s : by_role[role])
      if (same_acquisition(*s, water_series)) return s;
    return nullptr;
  };
  json series = json::array({series_json("water", ScalarVolume(), water_series, role_evidence(water_series)),
                             series_json("fat", ScalarVolume(), fat_series, role_evidence(fat_series))});
  series[0]["series_instance_uid"] = water_series.series_instance_uid;
  series[0]["series_description"] = water_series.series_description;
  series[1]["series_instance_uid"] = fat_series.series_instance_uid;
  series[1]["series_description"] = fat_series.series_description;
  std::optional<LoadedInput> in_phase, opposed, vendor_ff;
  for (auto [role, target] : {std::pair{dicom::DixonRole::InPhase, &in_phase}, std::pair{dicom::DixonRole::OpposedPhase, &opposed},
                              std::pair{dicom::DixonRole::FatFraction, &vendor_ff}}) {
    const dicom::Series* s = optional_partner(role);
    if (s == nullptr) continue;
    json j = {{"role", std::string(dicom::to_string(role))}, {"series_instance_uid", s->series_instance_uid},
              {"series_description", s->series_description}, {"series_number", s->series_number}, {"image_type", s->image_type},
              {"paired_by", role_evidence(*s)}};
    // In- and opposed-phase are recorded (and checked for the grid); the FF map is used when present.
    if (role == dicom::DixonRole::FatFraction || role == dicom::DixonRole::InPhase || role == dicom::DixonRole::OpposedPhase)
      *target = load(*s);
    j["used_for"] = role == dicom::DixonRole::FatFraction ? "fat fraction (vendor map)" : "grid check and provenance";
    series.push_back(j);
  }
  check_modality_given(o, o.input + " (a Dixon set)", "MR");
  return run_dixon(o, load(water_series), load(fat_series), std::move(in_phase), std::move(opposed), std::move(vendor_ff), series,
                   progress);
}

void check_modality_option(const AnalyzeOptions& o, const LoadedInput& in) {
  if (in.kind == "research") return;
  check_modality_given(o, o.input, in.kind == "bitmap" ? std::string("US") : std::string(to_string(in.volume.modality)));
}

void refuse_mr_protocol_for_ct(const AnalyzeOptions& o) {
  if (o.protocol == "thigh-mr" || o.protocol == "calf-mr")
    throw Error(ErrorCode::InvalidArgument, "--protocol " + o.protocol,
                "an MRI protocol does not apply to CT: use thigh-ct, calf-ct, auto or a CT protocol file");
  if (mri::is_mr_protocol_file(o.protocol))
    throw Error(ErrorCode::InvalidInput, o.protocol,
                "an MR protocol file (format musclecsa-mr-protocol) does not apply to CT: give a CT protocol file (format "
                "musclecsa-ct-protocol, e.g. the protocol.json of a CT analysis; docs/protocols.md)");
}

int run_mr_analysis(const AnalyzeOptions& o, LoadedInput& in, Progress& progress) {
  if (in.series && in.series->dixon_role != dicom::DixonRole::None) {
    const std::string role(dicom::to_string(in.series->dixon_role));
    throw Error(ErrorCode::InvalidInput, o.input,
                "a lone Dixon " + role + " image: the analysis needs the water and fat series of one acquisition (put them in "
                "one folder, or give --water and --fat)");
  }
  check_dicom_formats(o, in);
  check_mr(in, o.input);
  std::optional<mri::MrProtocol> protocol = mr_protocol_of(o);
  pseudonym_for_input(o, in);
  mri::MrAnalysis a;
  if (protocol) {
    if (o.mr.no_n4) protocol->n4.enabled = false;
    a = mri::analyze_weighted(in.volume, *protocol, level_options(o), progress, atlas_options(o));
  } else {
    mri::N4Settings n4 = mri::builtin_mr_protocol("thigh-mr").n4;
    n4.enabled = !o.mr.no_n4;
    a = mri::analyze_weighted(in.volume, "auto", level_options(o), n4, progress, atlas_options(o));
  }
  json series = json::array({series_json("weighted", in.volume, in.series, "single series")});
  progress.report(1, "writing");
  write_mr_outputs(o, in, a, series);
  return 0;
}

}  // namespace musclecsa::pipeline
