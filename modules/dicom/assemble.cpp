// Series assembly: a pure function of the file headers (no DICOM library here).

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "musclecsa/dicom/series.h"

namespace musclecsa::dicom {
namespace {

struct FrameRef {
  std::size_t file = 0, frame = 0;
};

Vec3 row_of(const std::array<double, 6>& o) { return {o[0], o[1], o[2]}; }
Vec3 col_of(const std::array<double, 6>& o) { return {o[3], o[4], o[5]}; }

std::string fixed(double v, int digits = 3) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << (std::abs(v) < 0.5 * std::pow(10.0, -digits) ? 0.0 : v);
  return s.str();
}

std::string join(const std::vector<std::string>& v, const char* sep = "\\") {
  std::string out;
  for (std::size_t n = 0; n < v.size(); ++n) out += (n ? sep : "") + v[n];
  return out;
}

/// The key that separates volumes inside one Series Instance UID.
std::string volume_key(const DicomFileInfo& f, const FrameInfo& fr) {
  std::string key;
  if (fr.orientation) {
    for (double v : *fr.orientation) key += fixed(v, 2) + ",";
  } else {
    key += "no-orientation,";
  }
  key += "|" + join(f.image_type) + "|echo" + std::to_string(f.echo_number) + "|" + std::to_string(f.columns) + "x" +
         std::to_string(f.rows) + "|" + f.photometric;
  if (fr.pixel_spacing_mm) key += "|" + fixed((*fr.pixel_spacing_mm)[0], 3) + "x" + fixed((*fr.pixel_spacing_mm)[1], 3);
  if (f.enhanced) key += "|stack" + fr.stack_id + "|t" + std::to_string(fr.temporal_position);
  return key;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void flag(Series& s, const std::string& name, const std::string& note) {
  if (std::find(s.qc_flags.begin(), s.qc_flags.end(), name) == s.qc_flags.end()) s.qc_flags.push_back(name);
  if (!note.empty()) s.notes.push_back(note);
}

UltrasoundCalibration calibrate(const DicomFileInfo& f) {
  UltrasoundCalibration c;
  const UltrasoundRegionInfo* best = nullptr;
  double best_area = -1;
  for (const auto& r : f.ultrasound_regions) {
    const bool physical = r.units_x == 3 && r.units_y == 3 && r.physical_delta_x > 0 && r.physical_delta_y > 0;
    const bool tissue = r.spatial_format == 1 && (r.data_type == 1 || r.data_type == 0);
    if (!physical || !tissue) continue;
    const double area = double(r.max_x1 - r.min_x0 + 1) * double(r.max_y1 - r.min_y0 + 1);
    if (area > best_area) {
      best_area = area;
      best = &r;
    }
  }
  if (best == nullptr) {
    c.note = f.ultrasound_regions.empty()
                 ? "no Sequence of Ultrasound Regions: measurements in pixels only"
                 : "no 2-D tissue region with Physical Units in cm: measurements in pixels only";
    return c;
  }
  c.calibrated = true;
  c.pixel_width_mm = best->physical_delta_x * 10.0;   // units code 3 = cm
  c.pixel_height_mm = best->physical_delta_y * 10.0;
  c.region_min_x = best->min_x0;
  c.region_min_y = best->min_y0;
  c.region_max_x = best->max_x1;
  c.region_max_y = best->max_y1;
  c.note = "tissue region " + std::to_string(best->min_x0) + "," + std::to_string(best->min_y0) + " - " +
           std::to_string(best->max_x1) + "," + std::to_string(best->max_y1) + " of " +
           std::to_string(f.ultrasound_regions.size()) + " region(s), " + fixed(c.pixel_width_mm, 4) + " x " +
           fixed(c.pixel_height_mm, 4) + " mm per pixel";
  return c;
}

/// Builds one Series from frames that share a volume key; returns false to ask for an
/// acquisition split when duplicate positions come from different acquisitions.
Series build_series(const std::vector<DicomFileInfo>& files, std::vector<FrameRef> frames, const AssemblyOptions& options) {
  Series s;
  const DicomFileInfo& first = files[frames.front().file];
  s.series_instance_uid = first.series_instance_uid;
  s.id = first.series_instance_uid;
  s.study_instance_uid = first.study_instance_uid;
  s.frame_of_reference_uid = first.frame_of_reference_uid;
  s.sop_class_uid = first.sop_class_uid;
  s.patient_name = first.patient_name;
  s.patient_id = first.patient_id;
  s.study_date = first.study_date;
  s.study_description = first.study_description;
  s.series_description = first.series_description;
  s.modality = first.modality;
  s.manufacturer = first.manufacturer;
  s.body_part = first.body_part;
  s.series_number = first.series_number;
  s.image_type = first.image_type;
  s.dixon_role = first.dixon_role();
  s.photometric = first.photometric;
  s.color = first.is_color();
  s.kvp = first.kvp;
  s.contrast_agent = first.contrast_agent;
  for (const auto& fr : frames)
    if (files[fr.file].philips_scale_slope) {
      flag(s, "philips_private_scaling", "Philips private scale slope (2005,100E) applied: value = (SV*RS + RI) / (RS*SS)");
      break;
    }

  const FrameInfo& f0 = files[frames.front().file].frames[frames.front().frame];
  const bool has_geometry = f0.orientation && f0.position_lps_mm;
  Geometry& g = s.geometry;
  g.size = {first.columns, first.rows, frames.size()};
  if (f0.pixel_spacing_mm) {
    g.spacing_mm[0] = (*f0.pixel_spacing_mm)[1];  // column spacing: between columns, along i
    g.spacing_mm[1] = (*f0.pixel_spacing_mm)[0];  // row spacing: between rows, along j
  } else if (s.modality == "CT" || s.modality == "MR") {
    flag(s, "no_pixel_spacing", "no Pixel Spacing: the physical pixel size is unknown; 1 mm nominal, not for measurement");
  }

  if (s.modality == "US" || !has_geometry) {
    s.has_patient_geometry = false;
    // Projection images (ultrasound, secondary captures): frames in file/instance order.
    std::stable_sort(frames.begin(), frames.end(), [&](const FrameRef& a, const FrameRef& b) {
      const int ia = files[a.file].instance_number, ib = files[b.file].instance_number;
      return ia != ib ? ia < ib : (a.file != b.file ? a.file < b.file : a.frame < b.frame);
    });
    for (std::size_t k = 0; k < frames.size(); ++k) s.slices.push_back({frames[k].file, frames[k].frame, double(k)});
    if (s.modality == "US") {
      s.ultrasound = calibrate(first);
      if (s.ultrasound->calibrated) {
        g.spacing_mm = {s.ultrasound->pixel_width_mm, s.ultrasound->pixel_height_mm, 1.0};
      } else {
        g.spacing_mm = {1.0, 1.0, 1.0};
        flag(s, "ultrasound_uncalibrated", s.ultrasound->note);
      }
    }
    s.spacing_regularity = frames.size() == 1 ? "single" : "uniform";
    if (frames.size() == 1) flag(s, "single_slice", "");
    return s;
  }

  // Every frame of a stack needs its own position and orientation; one without is not guessed.
  for (const auto& fr : frames) {
    const FrameInfo& info = files[fr.file].frames[fr.frame];
    if (!info.position_lps_mm || !info.orientation) {
      s.usable = false;
      s.unusable_reason = files[fr.file].path.string() + ": no Image Position/Orientation while the rest of its series has them";
      for (std::size_t k = 0; k < frames.size(); ++k) s.slices.push_back({frames[k].file, frames[k].frame, double(k)});
      return s;
    }
  }
  // Orthonormalise the direction cosines (they are stored with limited precision).
  const Vec3 row = (1.0 / norm(row_of(*f0.orientation))) * row_of(*f0.orientation);
  Vec3 col = col_of(*f0.orientation) - dot(col_of(*f0.orientation), row) * row;
  col = (1.0 / norm(col)) * col;
  const Vec3 normal = cross(row, col);
  struct Placed {
    FrameRef ref;
    Vec3 position;
    double d;
    int instance;
  };
  std::vector<Placed> placed;
  for (const auto& fr : frames) {
    const FrameInfo& info = files[fr.file].frames[fr.frame];
    const Vec3 p = info.position_lps_mm ? *info.position_lps_mm : Vec3{};
    placed.push_back({fr, p, dot(p, normal), files[fr.file].instance_number});
  }
  std::stable_sort(placed.begin(), placed.end(), [](const Placed& a, const Placed& b) {
    return a.d != b.d ? a.d < b.d : a.instance < b.instance;
  });

  // Duplicate positions: keep the first (lowest instance number).
  const double same_position_mm = 0.01;
  std::vector<Placed> unique;
  std::size_t duplicates = 0;
  for (const auto& p : placed) {
    if (!unique.empty() && std::abs(p.d - unique.back().d) < same_position_mm) {
      ++duplicates;
      continue;
    }
    unique.push_back(p);
  }
  if (duplicates > 0)
    flag(s, "duplicate_positions_removed",
         std::to_string(duplicates) + " duplicate slice position(s): the first image at each position was kept");
  placed = std::move(unique);
  for (const auto& p : placed) s.slices.push_back({p.ref.file, p.ref.frame, p.d});

  g.origin_lps_mm = placed.front().position;
  g.direction = {row.x, col.x, normal.x, row.y, col.y, normal.y, row.z, col.z, normal.z};
  g.size[2] = placed.size();

  if (placed.size() == 1) {
    s.spacing_regularity = "single";
    g.spacing_mm[2] = f0.slice_thickness_mm > 0 ? f0.slice_thickness_mm : 1.0;
    flag(s, "single_slice", "");
    return s;
  }

  std::vector<double> gaps;
  for (std::size_t n = 1; n < placed.size(); ++n) gaps.push_back(placed[n].d - placed[n - 1].d);
  const double nominal = median(gaps);
  s.nominal_spacing_mm = nominal;
  s.min_gap_mm = *std::min_element(gaps.begin(), gaps.end());
  s.max_gap_mm = *std::max_element(gaps.begin(), gaps.end());
  const double tolerance = std::max(options.spacing_tolerance * nominal, 0.01);
  bool uniform = true, multiples = true;
  for (double gap : gaps) {
    if (std::abs(gap - nominal) <= tolerance) continue;
    uniform = false;
    const double m = std::round(gap / nominal);
    if (m < 2 || std::abs(gap - m * nominal) > tolerance * m) multiples = false;
  }
  g.spacing_mm[2] = nominal;
  const double extent = placed.back().d - placed.front().d;
  if (!uniform) {
    s.spacing_regularity = multiples ? "missing_slices" : "non_uniform";
    const std::string detail = "slice gaps from " + fixed(s.min_gap_mm, 2) + " to " + fixed(s.max_gap_mm, 2) +
                               " mm (median " + fixed(nominal, 2) + " mm)";
    if (options.non_uniform == NonUniformPolicy::Refuse) {
      s.usable = false;
      s.unusable_reason = std::string(multiples ? "missing slices" : "non-uniform slice spacing") + ": " + detail +
                          "; refused (resampling is off)";
    } else if (extent / nominal + 1 > 2.0 * double(placed.size()) + 10) {
      // Far more grid slices than images: an outlier position, not a few missing slices.
      s.usable = false;
      s.unusable_reason = "slice positions span " + fixed(extent, 1) + " mm for " + std::to_string(placed.size()) +
                          " slices (" + detail + "): an image with an outlying position?";
    } else {
      g.size[2] = static_cast<std::size_t>(std::lround(extent / nominal)) + 1;
      s.needs_resampling = true;
      if (multiples)
        flag(s, "missing_slices", "missing slices: " + detail + "; resampled to " + fixed(nominal, 2) + " mm by interpolation");
      else
        flag(s, "non_uniform_spacing_resampled",
             "non-uniform slice spacing: " + detail + "; resampled to the median gap " + fixed(nominal, 2) + " mm");
    }
  } else {
    s.spacing_regularity = "uniform";
  }

  // Gantry tilt: slice origins drift within the slice plane.
  double max_shift = 0;
  for (const auto& p : placed) {
    const Vec3 offset = (p.position - placed.front().position) - (p.d - placed.front().d) * normal;
    max_shift = std::max(max_shift, norm(offset));
  }
  const double tilt_deg = std::atan2(max_shift, extent) * 180.0 / 3.14159265358979323846;
  // Rounding of Image Position leaves sub-voxel drift: a tilt is at least 0.1 degree and a tenth of a pixel.
  if (tilt_deg > 0.1 && max_shift > 0.1 * std::min(g.spacing_mm[0], g.spacing_mm[1])) {
    s.needs_resampling = true;
    flag(s, "gantry_tilt_resampled",
         "slices sheared by " + fixed(tilt_deg, 1) + " degrees (gantry tilt" +
             (first.gantry_tilt_deg != 0 ? ", tag says " + fixed(first.gantry_tilt_deg, 1) : std::string()) +
             "): resampled onto an orthogonal grid; geometry from the slice positions");
  }
  return s;
}

}  // namespace

std::vector<Series> assemble_series(const std::vector<DicomFileInfo>& files, const AssemblyOptions& options) {
  // Group by Series Instance UID, in first-seen order.
  std::vector<std::string> uids;
  std::map<std::string, std::vector<std::size_t>> by_uid;
  auto group_key = [](const DicomFileInfo& f) {
    if (!f.series_instance_uid.empty()) return f.series_instance_uid;
    return "no-series-uid:" + f.path.parent_path().string() + "#" + std::to_string(f.series_number) + ":" + f.modality;
  };
  for (std::size_t n = 0; n < files.size(); ++n) {
    const std::string uid = group_key(files[n]);
    if (!by_uid.count(uid)) uids.push_back(uid);
    by_uid[uid].push_back(n);
  }

  std::vector<Series> out;
  for (const auto& uid : uids) {
    std::vector<FrameRef> localizers;
    std::vector<std::string> keys;
    std::map<std::string, std::vector<FrameRef>> volumes;
    for (std::size_t file : by_uid[uid]) {
      const DicomFileInfo& f = files[file];
      for (std::size_t frame = 0; frame < f.frames.size(); ++frame) {
        if (f.is_localizer()) {
          localizers.push_back({file, frame});
          continue;
        }
        const std::string key = volume_key(f, f.frames[frame]);
        if (!volumes.count(key)) keys.push_back(key);
        volumes[key].push_back({file, frame});
      }
    }
    // A small group in another orientation beside a large stack is a localizer without the label.
    std::size_t largest = 0;
    for (const auto& [key, v] : volumes) largest = std::max(largest, v.size());
    if (volumes.size() > 1 && largest >= 5) {
      for (auto it = keys.begin(); it != keys.end();) {
        auto& v = volumes[*it];
        const auto& fr = files[v.front().file].frames[v.front().frame];
        const auto& big_key = *std::max_element(keys.begin(), keys.end(), [&](const auto& a, const auto& b) {
          return volumes[a].size() < volumes[b].size();
        });
        const auto& big = volumes[big_key];
        const auto& big_fr = files[big.front().file].frames[big.front().frame];
        const bool other_orientation = fr.orientation && big_fr.orientation &&
                                       std::abs(dot(cross(row_of(*fr.orientation), col_of(*fr.orientation)),
                                                    cross(row_of(*big_fr.orientation), col_of(*big_fr.orientation)))) < 0.9;
        if (*it != big_key && v.size() <= 3 && other_orientation) {
          localizers.insert(localizers.end(), v.begin(), v.end());
          volumes.erase(*it);
          it = keys.erase(it);
        } else {
          ++it;
        }
      }
    }
    // Duplicate positions from different acquisitions are separate volumes.
    std::vector<std::vector<FrameRef>> groups;
    for (const auto& key : keys) {
      const auto& v = volumes[key];
      std::map<int, std::vector<FrameRef>> by_acquisition;
      for (const auto& fr : v) by_acquisition[files[fr.file].acquisition_number].push_back(fr);
      bool split = false;
      if (by_acquisition.size() > 1) {
        // Split only when every acquisition is itself a stack and they overlap in position.
        std::map<long long, int> positions;
        bool overlap = false;
        for (const auto& fr : v) {
          const auto& info = files[fr.file].frames[fr.frame];
          if (!info.position_lps_mm || !info.orientation) continue;
          const Vec3 n = cross(row_of(*info.orientation), col_of(*info.orientation));
          if (++positions[std::llround(dot(*info.position_lps_mm, n) * 100)] > 1) overlap = true;
        }
        split = overlap && std::all_of(by_acquisition.begin(), by_acquisition.end(),
                                       [](const auto& entry) { return entry.second.size() > 1; });
      }
      if (split) {
        for (auto& [acq, frames] : by_acquisition) groups.push_back(frames);
      } else {
        groups.push_back(v);
      }
    }

    if (groups.empty() && !localizers.empty()) {
      Series s = build_series(files, localizers, options);
      s.usable = false;
      s.unusable_reason = kLocalizerOnly;
      flag(s, "dropped_localizer", std::to_string(localizers.size()) + " localizer image(s)");
      out.push_back(std::move(s));
      continue;
    }
    for (std::size_t n = 0; n < groups.size(); ++n) {
      Series s = build_series(files, groups[n], options);
      if (s.series_instance_uid.empty()) {
        s.id = uid;
        flag(s, "missing_uids", "no Series Instance UID (anonymised?): grouped by folder, series number and modality");
      }
      if (groups.size() > 1) {
        s.id = uid + "#" + std::to_string(n + 1);
        const DicomFileInfo& f = files[groups[n].front().file];
        std::string what = std::to_string(f.columns) + "x" + std::to_string(f.rows) + " " + join(f.image_type);
        if (f.echo_number) what += " echo " + std::to_string(f.echo_number);
        flag(s, "split_series",
             "split series: the Series Instance UID holds " + std::to_string(groups.size()) + " volumes; this is " + what);
      }
      if (!localizers.empty())
        flag(s, "dropped_localizer",
             "localizer: " + std::to_string(localizers.size()) + " localizer/scout image(s) of this series left out");
      out.push_back(std::move(s));
    }
  }
  return out;
}

}  // namespace musclecsa::dicom
