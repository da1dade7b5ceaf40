// Discovery: which series of an archive become cases, and why the others are skipped.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <numbers>
#include <set>

#include "musclecsa/batch/batch.h"
#include "musclecsa/core/error.h"
#include "musclecsa/core/text_hash.h"
#include "musclecsa/dicom/series.h"

namespace musclecsa::batch {
namespace {

bool is_plain_uid_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-';
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

/// Body Part Examined values that cannot hold a thigh or calf. An empty or other value is analysed
/// (many archives leave it empty or write the protocol name).
bool is_non_leg_body_part(const std::string& body_part) {
  static const std::set<std::string> non_leg = {"HEAD", "BRAIN", "SKULL", "NECK", "CSPINE", "TSPINE", "CHEST",
                                                "THORAX", "LUNG", "HEART", "BREAST", "SHOULDER", "ARM", "ELBOW",
                                                "FOREARM", "WRIST", "HAND", "IAC", "SINUS", "ORBIT"};
  return non_leg.count(upper(body_part)) > 0;
}

std::string series_label(const dicom::Series& s) {
  return "series #" + std::to_string(s.series_number) + " \"" + s.series_description + "\"";
}

SkippedItem skipped_series(const dicom::Series& s, std::string reason_code, std::string message) {
  return {"series", s.id, s.series_instance_uid, s.series_description, std::move(reason_code),
          series_label(s) + ": " + message};
}

/// The reason a series is not analysed, or nullopt when it is a case.
std::optional<SkippedItem> skip_reason(const dicom::Series& s, const DiscoveryOptions& options) {
  if (!s.usable) {
    if (s.unusable_reason == dicom::kLocalizerOnly) return skipped_series(s, "localizer", "localizer/scout images only");
    return skipped_series(s, "unusable_series", s.unusable_reason);
  }
  if (s.modality != "CT" && !(s.modality == "MR" && options.include_mr))
    return skipped_series(s, "not_ct", "modality " + (s.modality.empty() ? std::string("(none)") : s.modality) +
                                           (s.modality == "MR" ? ": batch analyses CT only unless --include-mr is given"
                                                               : ": batch analyses CT (and MR with --include-mr) only"));
  if (s.color) return skipped_series(s, "not_greyscale", "colour images (" + s.photometric + ") are not greyscale CT or MR");
  if (!s.has_patient_geometry) return skipped_series(s, "no_patient_geometry", "no Image Position/Orientation (Patient)");
  const Vec3 normal = s.geometry.axis(2);
  const double cos_limit = std::cos(kAxialToleranceDeg * std::numbers::pi / 180.0);
  if (std::abs(normal.z) < cos_limit) {
    char detail[160];
    std::snprintf(detail, sizeof detail, "slices are not axial: the slice normal is %.1f deg from the head-foot axis (limit %.0f deg)",
                  std::acos(std::min(1.0, std::abs(normal.z))) * 180.0 / std::numbers::pi, kAxialToleranceDeg);
    return skipped_series(s, "not_axial", detail);
  }
  for (const auto& flag : s.qc_flags)
    if (flag == "no_pixel_spacing") return skipped_series(s, "no_pixel_spacing", "no Pixel Spacing: areas cannot be measured");
  if (s.geometry.size[0] < kMinimumMatrixPixels || s.geometry.size[1] < kMinimumMatrixPixels)
    return skipped_series(s, "image_too_small",
                          std::to_string(s.geometry.size[0]) + "x" + std::to_string(s.geometry.size[1]) +
                              " pixels (at least " + std::to_string(kMinimumMatrixPixels) + "x" +
                              std::to_string(kMinimumMatrixPixels) + " needed)");
  if (is_non_leg_body_part(s.body_part))
    return skipped_series(s, "not_leg_body_part", "Body Part Examined is " + s.body_part + ", not a leg");
  return std::nullopt;
}

std::filesystem::path normal_absolute(const std::filesystem::path& path) {
  return std::filesystem::absolute(path).lexically_normal();
}

}  // namespace

std::string case_id_for(const std::string& series_id) {
  const bool plain = !series_id.empty() && std::all_of(series_id.begin(), series_id.end(), is_plain_uid_char);
  if (plain && series_id.size() <= 100) return series_id;
  const auto hash_mark = series_id.rfind('#');
  if (hash_mark != std::string::npos && hash_mark > 0 && hash_mark + 1 < series_id.size() && hash_mark <= 100) {
    const std::string uid = series_id.substr(0, hash_mark), number = series_id.substr(hash_mark + 1);
    const bool plain_uid = std::all_of(uid.begin(), uid.end(), is_plain_uid_char);
    const bool digits = std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (plain_uid && digits) return uid + "_s" + number;
  }
  std::string sanitised;
  for (char c : series_id.substr(0, 80)) sanitised += is_plain_uid_char(c) ? c : '_';
  return sanitised + "-h" + fnv1a_64_hex(series_id);
}

Discovery discover_cases(const std::vector<std::filesystem::path>& archives, Progress& progress,
                         const DiscoveryOptions& options) {
  std::vector<std::filesystem::path> roots;
  for (const auto& archive : archives) {
    std::error_code ec;
    if (!std::filesystem::exists(archive, ec))
      throw Error(ErrorCode::InputNotFound, archive.string(), "no such file or folder");
    roots.push_back(normal_absolute(archive));
  }
  const dicom::ScanResult scan = dicom::scan_paths(roots, progress);
  const std::vector<dicom::Series> all = dicom::assemble_series(scan.files);

  Discovery discovery;
  discovery.files_seen = scan.files_seen;
  std::set<std::string> case_ids;
  // A case named after `named` (its id, UIDs, description) reading the files of all of `series`.
  auto add_case = [&](const dicom::Series& named, const std::vector<const dicom::Series*>& series) {
    CaseSpec c;
    c.series_id = named.id;
    c.case_id = case_id_for(named.id);
    c.series_instance_uid = named.series_instance_uid;
    c.study_instance_uid = named.study_instance_uid;
    c.series_description = named.series_description;
    c.series_number = named.series_number;
    c.slice_count = named.slices.size();
    c.modality = named.modality;
    std::set<std::filesystem::path> files;
    for (const auto* s : series)
      for (const auto& slice : s->slices) files.insert(scan.files[slice.file_index].path);
    c.files.assign(files.begin(), files.end());
    if (!case_ids.insert(c.case_id).second)
      throw Error(ErrorCode::Internal, named.id, "two series map to the case id " + c.case_id);
    discovery.cases.push_back(std::move(c));
  };
  // Dixon series (MR with a Dixon role) by study, frame of reference and grid: one case per set.
  std::map<std::string, std::vector<const dicom::Series*>> dixon_sets;
  for (const auto& s : all) {
    if (auto skipped = skip_reason(s, options)) {
      discovery.skipped.push_back(std::move(*skipped));
      continue;
    }
    if (s.modality == "MR" && s.dixon_role != dicom::DixonRole::None) {
      const Geometry& g = s.geometry;
      char grid[200];
      std::snprintf(grid, sizeof grid, "%zux%zux%zu %.2f %.2f %.2f %.1f %.1f %.1f", g.size[0], g.size[1], g.size[2],
                    g.spacing_mm[0], g.spacing_mm[1], g.spacing_mm[2], g.origin_lps_mm.x, g.origin_lps_mm.y, g.origin_lps_mm.z);
      dixon_sets[s.study_instance_uid + "|" + s.frame_of_reference_uid + "|" + grid].push_back(&s);
      continue;
    }
    add_case(s, {&s});
  }
  for (const auto& [key, set] : dixon_sets) {
    std::vector<const dicom::Series*> waters, fats;
    for (const auto* s : set) {
      if (s->dixon_role == dicom::DixonRole::Water) waters.push_back(s);
      if (s->dixon_role == dicom::DixonRole::Fat) fats.push_back(s);
    }
    if (waters.size() != 1 || fats.size() != 1) {
      const bool incomplete = waters.empty() || fats.empty();
      const std::string message =
          incomplete ? std::string("a Dixon set without ") + (waters.empty() ? "a water" : "a fat") +
                           " series on the same grid in this study: the fat fraction needs both"
                     : std::to_string(waters.size()) + " water and " + std::to_string(fats.size()) +
                           " fat series on one grid in this study: which belong together is unknown (analyse them with "
                           "musclecsa analyze --water ID --fat ID)";
      for (const auto* s : set)
        discovery.skipped.push_back(skipped_series(*s, incomplete ? "dixon_incomplete" : "dixon_ambiguous", message));
      continue;
    }
    add_case(*waters.front(), set);
  }

  // Every file that is not part of an image: unreadable DICOM (scan problems) and non-DICOM files.
  std::set<std::filesystem::path> accounted;
  for (const auto& f : scan.files) accounted.insert(normal_absolute(f.path));
  for (const auto& problem : scan.problems) {
    accounted.insert(normal_absolute(problem.path));
    std::error_code ec;
    const bool folder = std::filesystem::is_directory(problem.path, ec);
    discovery.skipped.push_back({"file", problem.path.string(), "", "", folder ? "empty_folder" : "unreadable_file",
                                 problem.problem});
  }
  for (const auto& root : roots) {
    std::error_code ec;
    if (!std::filesystem::is_directory(root, ec)) {
      if (!accounted.count(root) && root.filename() != "DICOMDIR")
        discovery.skipped.push_back({"file", root.string(), "", "", "not_dicom", "not a DICOM file"});
      continue;
    }
    auto it = std::filesystem::recursive_directory_iterator(
        root, std::filesystem::directory_options::skip_permission_denied |
                  std::filesystem::directory_options::follow_directory_symlink, ec);
    // Folder links are followed as scan_paths follows them; each real folder is walked once.
    std::set<std::filesystem::path> walked{std::filesystem::weakly_canonical(root, ec)};
    for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code entry_ec;
      if (it->is_directory(entry_ec)) {
        if (!walked.insert(std::filesystem::weakly_canonical(it->path(), entry_ec)).second) it.disable_recursion_pending();
        continue;
      }
      if (it->path().filename() == "DICOMDIR") continue;
      const auto path = normal_absolute(it->path());
      if (accounted.insert(path).second)
        discovery.skipped.push_back({"file", it->path().string(), "", "", "not_dicom", "not a DICOM file"});
    }
  }
  std::sort(discovery.cases.begin(), discovery.cases.end(),
            [](const CaseSpec& a, const CaseSpec& b) { return a.case_id < b.case_id; });
  std::sort(discovery.skipped.begin(), discovery.skipped.end(), [](const SkippedItem& a, const SkippedItem& b) {
    return std::tie(a.kind, a.item, a.reason_code) < std::tie(b.kind, b.item, b.reason_code);
  });
  return discovery;
}

}  // namespace musclecsa::batch
