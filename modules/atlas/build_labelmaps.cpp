// Thigh atlases from real label maps: the 33 thigh-11-muscles maps and the reference labels of the
// two Dixon dystrophy thighs (11 labels, adductors as one group, no bones). Each map is split into
// its two legs by patient-LPS x (never array order), resampled nearest-neighbour onto an axial grid,
// and given a femur: the cavity the thigh muscles enclose next to the vastus intermedius.

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <map>
#include <regex>

#include "builder.h"
#include "mesh.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "slice_ops.h"

namespace musclecsa::atlas::detail {
namespace {

namespace fs = std::filesystem;

/// The 11 labels of the source maps, as catalog keys (6 is the whole adductor group).
const std::array<const char*, 12> kSourceLabels = {
    "",      "sartorius", "rectus_femoris", "vastus_lateralis", "vastus_intermedius", "vastus_medialis",
    "adductor_magnus", "gracilis", "biceps_femoris_long_head", "semitendinosus", "semimembranosus",
    "biceps_femoris_short_head"};

/// True when the NIfTI-1 header has a qform or sform (an affine placing voxels in the patient).
bool nifti_has_affine(const fs::path& path) {
  gzFile file = gzopen(path.string().c_str(), "rb");
  if (!file) throw Error(ErrorCode::InputNotFound, path.string(), "cannot open the label map");
  unsigned char header[348];
  const int got = gzread(file, header, sizeof header);
  gzclose(file);
  if (got != static_cast<int>(sizeof header))
    throw Error(ErrorCode::InvalidInput, path.string(), "too short for a NIfTI-1 header (348 bytes)");
  std::int32_t sizeof_hdr = 0;
  std::memcpy(&sizeof_hdr, header, 4);
  if (sizeof_hdr != 348) throw Error(ErrorCode::InvalidInput, path.string(), "not a little-endian NIfTI-1 file");
  std::int16_t qform = 0, sform = 0;
  std::memcpy(&qform, header + 252, 2);
  std::memcpy(&sform, header + 254, 2);
  return qform > 0 || sform > 0;
}

struct SourceName {
  std::string id_stem, subject;
};

/// "Training__Water__THIGH_026_0001.nii.gz" -> id "thigh11-training-water-thigh_026", subject "THIGH_026";
/// "MyoSegmenTUM__Fat__HV005_1_0000.nii.gz" -> subject "HV005".
SourceName parse_thigh11_name(const fs::path& file) {
  static const std::regex pattern(R"(^([A-Za-z]+)__([A-Za-z0-9]+)__(.+)_[0-9]{4}\.nii\.gz$)");
  std::smatch m;
  const std::string name = file.filename().string();
  if (!std::regex_match(name, m, pattern))
    throw Error(ErrorCode::InvalidInput, file.string(), "the file name is not <site>__<sequence>__<case>_<channel>.nii.gz");
  SourceName s;
  std::string scan = m[3];
  s.subject = scan;
  if (std::regex_match(scan, std::regex(R"(^HV[0-9]+_[0-9]+$)"))) s.subject = scan.substr(0, scan.find('_'));
  s.id_stem = "thigh11-" + std::string(m[1]) + "-" + std::string(m[2]) + "-" + scan;
  for (auto& c : s.id_stem) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// x (LPS mm) between the two thighs: the middle of the widest empty gap in the labelled voxels'
/// x histogram between its 20th and 80th percentiles; the least-filled bin when the thighs touch.
double midline_x(const std::vector<double>& xs) {
  std::vector<double> sorted = xs;
  std::sort(sorted.begin(), sorted.end());
  const double lo = sorted[sorted.size() / 5], hi = sorted[sorted.size() * 4 / 5];
  const double x0 = sorted.front();
  const std::size_t bins = static_cast<std::size_t>(sorted.back() - x0) + 1;
  std::vector<std::size_t> hist(bins, 0);
  for (double x : xs) ++hist[static_cast<std::size_t>(x - x0)];
  std::size_t best_start = 0, best_len = 0, run_start = 0, run_len = 0;
  std::size_t least = SIZE_MAX, least_bin = 0;
  for (std::size_t b = 0; b < bins; ++b) {
    const double x = x0 + b + 0.5;
    if (x < lo || x > hi) {
      run_len = 0;
      continue;
    }
    if (hist[b] < least) least = hist[b], least_bin = b;
    if (hist[b] == 0) {
      if (run_len == 0) run_start = b;
      if (++run_len > best_len) best_len = run_len, best_start = run_start;
    } else run_len = 0;
  }
  if (best_len > 0) return x0 + best_start + 0.5 * best_len;
  return x0 + least_bin + 0.5;
}

/// Builds both legs' atlases from one 11-label map.
std::vector<LegAtlas> legs_from_map(const fs::path& file, const std::string& id_stem, const std::string& subject,
                                    const std::string& source, const std::string& relative_file,
                                    const BuildOptions& options, std::vector<std::string>& skipped,
                                    std::vector<std::string>& log) {
  if (!nifti_has_affine(file))
    throw Error(ErrorCode::InvalidInput, file.string(),
                "the label map has no affine (qform and sform codes are 0): its legs cannot be told apart");
  const LabelMap map = io::read_label_map(file);
  const Geometry& g = map.geometry;
  if (std::abs(g.axis(2).z) < std::cos(10 * M_PI / 180))
    throw Error(ErrorCode::InvalidInput, file.string(), "the slices are not axial (within 10 degrees): not a thigh atlas source");
  std::vector<double> xs;
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const LabelId v = map.at(i, j, k);
        if (v == 0) continue;
        if (v >= kSourceLabels.size())
          throw Error(ErrorCode::InvalidInput, file.string(),
                      "unknown label " + std::to_string(v) + " (the 11-muscle scheme has labels 1-11)");
        xs.push_back(g.index_to_lps({double(i), double(j), double(k)}).x);
      }
  if (xs.size() < 1000) throw Error(ErrorCode::InvalidInput, file.string(), "holds almost no labelled voxels");
  const double mid = midline_x(xs);
  const auto& catalog = LabelCatalog::standard();
  std::vector<LegAtlas> out;
  for (Side side : {Side::Right, Side::Left}) {
    // LPS +x is the patient's left.
    auto on_side = [&](double x) { return side == Side::Left ? x > mid : x < mid; };
    Bounds b;
    for (std::size_t k = 0; k < g.size[2]; ++k)
      for (std::size_t j = 0; j < g.size[1]; ++j)
        for (std::size_t i = 0; i < g.size[0]; ++i)
          if (map.at(i, j, k)) {
            const Vec3 p = g.index_to_lps({double(i), double(j), double(k)});
            if (on_side(p.x)) b.add(p);
          }
    const std::string id = id_stem + "-" + std::string(to_string(side));
    if (b.empty() || (b.max.x - b.min.x) < 60) {
      skipped.push_back(file.string() + " (" + std::string(to_string(side)) + " leg): no thigh on this side");
      continue;
    }
    const double s_in = std::min(options.in_plane_spacing_mm, std::min(g.spacing_mm[0], g.spacing_mm[1]));
    const double sz = g.spacing_mm[2] * std::abs(g.axis(2).z);
    const double margin = 12;
    // Source slice centres stay slice centres: the z origin is the lowest source slice's z.
    double z_low = 1e300;
    for (std::size_t k : {std::size_t{0}, g.size[2] - 1}) z_low = std::min(z_low, g.index_to_lps({0, 0, double(k)}).z);
    const Vec3 origin{std::floor((b.min.x - margin) / s_in) * s_in, std::floor((b.min.y - margin) / s_in) * s_in, z_low};
    const Geometry a = make_axial_geometry(
        {static_cast<std::size_t>((b.max.x + margin - origin.x) / s_in) + 1,
         static_cast<std::size_t>((b.max.y + margin - origin.y) / s_in) + 1, g.size[2]},
        {s_in, s_in, sz}, origin);
    LegAtlas atlas;
    atlas.labels = LabelMap(a);
    for (std::size_t k = 0; k < a.size[2]; ++k)
      for (std::size_t j = 0; j < a.size[1]; ++j)
        for (std::size_t i = 0; i < a.size[0]; ++i) {
          const Vec3 p = a.index_to_lps({double(i), double(j), double(k)});
          if (!on_side(p.x)) continue;
          const Vec3 c = g.lps_to_index(p);
          const long si = std::lround(c.x), sj = std::lround(c.y), sk = std::lround(c.z);
          if (si < 0 || sj < 0 || sk < 0 || si >= long(g.size[0]) || sj >= long(g.size[1]) || sk >= long(g.size[2])) continue;
          const LabelId v = map.at(static_cast<std::size_t>(si), static_cast<std::size_t>(sj), static_cast<std::size_t>(sk));
          if (v) atlas.labels.at(i, j, k) = catalog.label_id(kSourceLabels[v], side);
        }
    // Femur: per slice, the largest disc free of muscle whose centre lies within 25 mm of the vastus
    // intermedius' centroid (the shaft it wraps), radius capped at 14 mm (an adult femoral shaft is
    // 25-30 mm across); none where that disc would be under 6 mm. The cavity the muscles enclose is no
    // good on its own: label maps leave fat planes between muscles that open into it.
    const SliceShape shape{static_cast<int>(a.size[0]), static_cast<int>(a.size[1]), s_in, s_in};
    const LabelId femur = catalog.label_id("femur", side), vi = catalog.label_id("vastus_intermedius", side);
    const std::size_t n = a.slice_voxel_count();
    int femur_slices = 0;
    for (std::size_t k = 0; k < a.size[2]; ++k) {
      LabelId* s = atlas.labels.slice(k);
      std::vector<std::uint8_t> muscle(n);
      double vx = 0, vy = 0, vn = 0;
      for (std::size_t p = 0; p < n; ++p) {
        muscle[p] = s[p] != 0;
        if (s[p] == vi) vx += double(p % a.size[0]), vy += double(p / a.size[0]), vn += 1;
      }
      if (vn * s_in * s_in < 100) continue;  // under 1 cm2 of vastus intermedius: no shaft to place
      vx /= vn, vy /= vn;
      const auto clearance = distance_to(muscle, shape);
      std::size_t best = 0;
      float best_clearance = 0;
      for (std::size_t p = 0; p < n; ++p) {
        const double dx = (double(p % a.size[0]) - vx) * s_in, dy = (double(p / a.size[0]) - vy) * s_in;
        if (dx * dx + dy * dy <= 25.0 * 25.0 && clearance[p] > best_clearance) best = p, best_clearance = clearance[p];
      }
      if (best_clearance < 6) continue;
      const double radius = std::min<double>(best_clearance, 14.0);
      const double cx = double(best % a.size[0]), cy = double(best / a.size[0]);
      for (std::size_t p = 0; p < n; ++p) {
        const double dx = (double(p % a.size[0]) - cx) * s_in, dy = (double(p / a.size[0]) - cy) * s_in;
        if (!s[p] && dx * dx + dy * dy <= radius * radius) s[p] = femur;
      }
      ++femur_slices;
    }
    add_marrow(atlas.labels, side, [](const std::string&, double) { return 4.5; });
    fill_compartment(atlas.labels, side, 6.0);
    AtlasEntry& e = atlas.entry;
    e.id = id;
    e.subject = subject;
    e.source = source;
    e.region = BodyRegion::Thigh;
    e.side = side;
    e.source_files = {relative_file};
    e.size = a.size;
    e.spacing_mm = a.spacing_mm;
    e.structures = structures_present(atlas.labels, side);
    e.group_only = {"adductors"};
    e.notes = {"adductors: the source labels the whole group as one (stored as adductor_magnus; score the group only)",
               "femur: the source has no bones; a disc (radius up to 14 mm) in the largest muscle-free space beside the "
               "vastus intermedius, on " + std::to_string(femur_slices) + " of " + std::to_string(a.size[2]) +
                   " slices; cortex 4.5 mm, marrow inside",
               "the source does not reach both femur ends: no standard level",
               "labels are model predictions, not manual"};
    log.push_back(id + ": " + std::to_string(a.size[0]) + "x" + std::to_string(a.size[1]) + "x" + std::to_string(a.size[2]) +
                  ", femur disc on " + std::to_string(femur_slices) + " slices");
    out.push_back(std::move(atlas));
  }
  return out;
}

bool wanted(const BuildOptions& options, const std::string& id_stem) {
  if (options.only.empty()) return true;
  for (const auto& prefix : options.only)
    if (id_stem.rfind(prefix, 0) == 0 || prefix.rfind(id_stem, 0) == 0) return true;
  return false;
}

}  // namespace

SourceResult build_from_label_maps(const BuildOptions& options) {
  SourceResult result;
  const fs::path thigh11 = options.shared_data_dir / "labelmaps" / "thigh-11-muscles";
  if (fs::is_directory(thigh11)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(thigh11))
      if (e.path().filename().string().size() > 7 &&
          e.path().filename().string().substr(e.path().filename().string().size() - 7) == ".nii.gz")
        files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      const SourceName name = parse_thigh11_name(file);
      if (!wanted(options, name.id_stem)) continue;
      for (auto& leg : legs_from_map(file, name.id_stem, name.subject, "thigh-11-muscles",
                                     "labelmaps/thigh-11-muscles/" + file.filename().string(), options, result.skipped,
                                     result.log))
        result.atlases.push_back(std::move(leg));
    }
  } else {
    result.skipped.push_back(thigh11.string() + ": not found; label-map atlases not built");
  }
  const fs::path dixon = options.shared_data_dir / "mri" / "thigh-dixon-dystrophy";
  for (const char* scan : {"thigh001", "thigh003"}) {
    const fs::path file = dixon / (std::string(scan) + "_labels_nnunet.nii.gz");
    const std::string stem = std::string("dixon-dystrophy-") + scan;
    if (!wanted(options, stem)) continue;
    if (!fs::exists(file)) {
      result.skipped.push_back(file.string() + ": not found");
      continue;
    }
    for (auto& leg : legs_from_map(file, stem, std::string("DYSTROPHY_") + scan, "thigh-dixon-dystrophy",
                                   "mri/thigh-dixon-dystrophy/" + file.filename().string(), options, result.skipped,
                                   result.log))
      result.atlases.push_back(std::move(leg));
  }
  return result;
}

}  // namespace musclecsa::atlas::detail

namespace musclecsa::atlas {

std::vector<LoadedAtlas> atlases_from_label_map(const std::filesystem::path& file, const BuildOptions& options) {
  std::string stem = file.filename().string();
  for (const char* ext : {".nii.gz", ".nii"})
    if (stem.size() > std::strlen(ext) && stem.substr(stem.size() - std::strlen(ext)) == ext) stem.resize(stem.size() - std::strlen(ext));
  std::vector<std::string> skipped, log;
  std::vector<LoadedAtlas> out;
  for (auto& leg : detail::legs_from_map(file, "file-" + stem, stem, "label-map", file.string(), options, skipped, log))
    out.push_back({std::move(leg.entry), std::move(leg.labels)});
  if (out.empty()) throw Error(ErrorCode::InvalidInput, file.string(), "no thigh could be taken from the label map");
  return out;
}

}  // namespace musclecsa::atlas
