#include "scoring.h"

#include <algorithm>
#include <bitset>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/io/text_file.h"

namespace musclecsa::accuracy {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxLabel = 256;  // catalog ids (with the groups' own ids) are below 200

const LabelCatalog& catalog() { return LabelCatalog::standard(); }

int side_index(Side side) { return side == Side::Left ? 1 : 0; }

json parse_json_file(const fs::path& file) {
  if (!fs::exists(file)) throw Error(ErrorCode::InputNotFound, file.string(), "file not found");
  const std::string text = io::read_text(file);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::InvalidInput, file.string(), std::string("not valid JSON: ") + e.what());
  }
}

void require_file(const fs::path& file) {
  if (!fs::exists(file)) throw Error(ErrorCode::InputNotFound, file.string(), "file not found");
}

LabelMap read_labels(const fs::path& file) {
  require_file(file);
  LabelMap labels = io::read_label_map(file);
  labels.geometry.validate(file.string());
  return labels;
}

Image<float> read_values(const fs::path& file) {
  require_file(file);
  ScalarVolume volume = io::read_scalar_volume(file);
  volume.geometry.validate(file.string());
  Image<float> out;
  out.geometry = volume.geometry;
  out.voxels = std::move(volume.voxels);
  return out;
}

// Reads a JSON value with a message naming the file and the key when it is missing or of the wrong type.
template <class T>
T get(const json& object, const char* key, const fs::path& file) {
  try {
    return object.at(key).get<T>();
  } catch (const json::exception& e) {
    throw Error(ErrorCode::InvalidInput, file.string(), std::string("key '") + key + "': " + e.what());
  }
}

// The result's per-slice entries (CT: top-level "slices"; MR: "mri"."slices"), by slice index.
std::map<int, const json*> slices_by_index(const json& slices) {
  std::map<int, const json*> out;
  if (!slices.is_array()) return out;
  for (const auto& s : slices)
    if (s.contains("slice") && s["slice"].is_number_integer()) out[s["slice"].get<int>()] = &s;
  return out;
}

// Width (mm) of the bins in which labelled voxels' x is counted: 1.5 x the largest step in x between
// neighbouring voxel centres of a slice (at least 1 mm), so that a leg's voxels fill every bin.
double x_bin_mm(const Geometry& g) {
  const double step = std::max(std::abs(g.axis(0).x) * g.spacing_mm[0], std::abs(g.axis(1).x) * g.spacing_mm[1]);
  return std::max(1.0, 1.5 * step);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Truth

namespace {
Truth read_phantom_truth_unchecked(const fs::path& phantom_dir);
Result read_result_unchecked(const fs::path& result_dir);
}  // namespace

// JSON of an unexpected shape (a null where a number belongs, ...) is corrupt input: say which file.
Truth read_phantom_truth(const fs::path& phantom_dir) {
  try {
    return read_phantom_truth_unchecked(phantom_dir);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::InvalidInput, (phantom_dir / "truth" / "truth.json").string(), std::string("unexpected content: ") + e.what());
  }
}

Result read_result(const fs::path& result_dir) {
  try {
    return read_result_unchecked(result_dir);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::InvalidInput, (result_dir / "results.json").string(), std::string("unexpected content: ") + e.what());
  }
}

namespace {
Truth read_phantom_truth_unchecked(const fs::path& phantom_dir) {
  if (!fs::is_directory(phantom_dir))
    throw Error(ErrorCode::InputNotFound, phantom_dir.string(), "phantom folder not found");
  const fs::path truth_dir = phantom_dir / "truth";
  const fs::path truth_file = truth_dir / "truth.json";
  Truth truth;
  truth.source = phantom_dir.string();
  truth.form = "phantom";
  const json doc = parse_json_file(truth_file);
  if (!doc.is_object() || doc.value("format", "") != "musclecsa-phantom-truth")
    throw Error(ErrorCode::InvalidInput, truth_file.string(), "not a phantom truth file (format musclecsa-phantom-truth)");
  truth.labels = read_labels(truth_dir / "labels.nii.gz");
  truth.fat_fraction = read_values(truth_dir / "fat_fraction.nii.gz");
  if (!truth.fat_fraction->geometry.same_grid_as(truth.labels.geometry))
    throw Error(ErrorCode::InvalidInput, (truth_dir / "fat_fraction.nii.gz").string(), "not on the grid of labels.nii.gz");

  if (doc.contains("parameters") && doc["parameters"].is_object()) {
    const std::string anatomy = doc["parameters"].value("anatomy", "");
    if (anatomy == "thigh") truth.region = BodyRegion::Thigh;
    if (anatomy == "calf") truth.region = BodyRegion::Calf;
  }
  if (doc.contains("anatomy_source") && doc["anatomy_source"].is_object() && doc["anatomy_source"].contains("group_only"))
    for (const auto& g : doc["anatomy_source"]["group_only"]) truth.group_only.insert(g.get<std::string>());
  const json& slices = doc.contains("slices") ? doc["slices"] : json();
  if (!slices.is_array() || slices.size() != truth.labels.geometry.size[2])
    throw Error(ErrorCode::InvalidInput, truth_file.string(),
                "'slices' must list every slice of labels.nii.gz (" + std::to_string(truth.labels.geometry.size[2]) + ")");
  // A phantom whose anatomy does not reach both ends of the reference bone may have no level.
  const json level = doc.contains("level") && doc["level"].is_object() ? doc["level"] : json::object();
  const bool has_level = level.contains("nearest_slice") && !level["nearest_slice"].is_null();
  const int nearest = has_level ? get<int>(level, "nearest_slice", truth_file) : -1;
  const std::string level_name = level.value("name", std::string("standard level"));
  for (Side side : kSides) {
    SideLevel& out = truth.level[side_index(side)];
    out.field = "area_cm2 (truth label area)";
    if (!has_level) {
      out.reason = "truth.json gives no standard level";
      continue;
    }
    if (nearest < 0 || nearest >= static_cast<int>(slices.size())) {
      out.found = false;
      if (level.contains("unknown_because") && level["unknown_because"].is_string())
        out.reason = "the phantom has no " + level_name + ": " + level["unknown_because"].get<std::string>();
      else if (level.contains("level_z_mm") && level["level_z_mm"].is_number())
        out.reason = "the phantom's " + level_name + " (z " + std::to_string(level["level_z_mm"].get<double>()) +
                     " mm) lies outside its scan";
      else
        out.reason = "the phantom has no " + level_name;
      continue;
    }
    const json& slice = slices[static_cast<std::size_t>(nearest)];
    out.found = true;
    out.slice = nearest;
    out.z_mm = get<double>(slice, "z_mm", truth_file);
    const std::string side_name(to_string(side));
    for (const auto& s : slice.at("structures"))
      if (s.value("side", "") == side_name) out.area_cm2[get<std::string>(s, "structure", truth_file)] = get<double>(s, "area_cm2", truth_file);
    for (const auto& s : slice.at("sides"))
      if (s.value("side", "") == side_name) out.area_cm2["muscle"] = get<double>(s, "muscle_area_cm2", truth_file);
  }
  return truth;
}
}  // namespace

double midline_x_mm(const LabelMap& labels, const std::string& source) {
  const Geometry& g = labels.geometry;
  // x of every labelled voxel centre, in 1 mm bins.
  std::vector<double> xs;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        if (labels.at(i, j, k) == 0) continue;
        const double x = g.index_to_lps({double(i), double(j), double(k)}).x;
        xs.push_back(x);
        lo = std::min(lo, x);
        hi = std::max(hi, x);
      }
  if (xs.empty()) throw Error(ErrorCode::InvalidInput, source, "the label map holds no labelled voxel");
  const double bin_mm = x_bin_mm(g);
  const std::size_t bins = static_cast<std::size_t>(std::floor((hi - lo) / bin_mm)) + 1;
  std::vector<std::size_t> count(bins, 0);
  for (double x : xs) ++count[std::min(bins - 1, static_cast<std::size_t>((x - lo) / bin_mm))];
  // Two clusters (1-D k-means from the extremes), then the widest empty run of bins between their centres.
  double c1 = lo, c2 = hi;
  for (int it = 0; it < 50; ++it) {
    const double split = 0.5 * (c1 + c2);
    double s1 = 0, s2 = 0, n1 = 0, n2 = 0;
    for (std::size_t b = 0; b < bins; ++b) {
      const double x = lo + (b + 0.5) * bin_mm;
      (x < split ? s1 : s2) += x * double(count[b]);
      (x < split ? n1 : n2) += double(count[b]);
    }
    if (n1 == 0 || n2 == 0) break;
    c1 = s1 / n1;
    c2 = s2 / n2;
  }
  const std::size_t b1 = static_cast<std::size_t>((c1 - lo) / bin_mm), b2 = static_cast<std::size_t>((c2 - lo) / bin_mm);
  std::size_t best_start = 0, best_len = 0;
  for (std::size_t b = b1; b <= b2 && b < bins;) {
    if (count[b] != 0) { ++b; continue; }
    std::size_t e = b;
    while (e < bins && count[e] == 0) ++e;
    if (e - b > best_len) { best_len = e - b; best_start = b; }
    b = e;
  }
  if (best_len == 0)
    throw Error(ErrorCode::InvalidInput, source,
                "no label-free gap between two legs along patient x: the map must hold both legs, apart");
  return lo + (double(best_start) + 0.5 * double(best_len)) * bin_mm;
}

LabelMap reference_to_catalog(const LabelMap& reference, const std::string& source) {
  static const std::array<const char*, 12> kKeys{"",
                                                 "sartorius",
                                                 "rectus_femoris",
                                                 "vastus_lateralis",
                                                 "vastus_intermedius",
                                                 "vastus_medialis",
                                                 "adductors",
                                                 "gracilis",
                                                 "biceps_femoris_long_head",
                                                 "semitendinosus",
                                                 "semimembranosus",
                                                 "biceps_femoris_short_head"};
  for (LabelId v : reference.voxels)
    if (v >= kKeys.size())
      throw Error(ErrorCode::InvalidInput, source,
                  "label " + std::to_string(v) + " is not in the 11-label thigh scheme (1-11)");
  const double global_mid = midline_x_mm(reference, source);
  const Geometry& g = reference.geometry;
  LabelMap out(g, 0);
  const double bin_mm = x_bin_mm(g);
  for (std::size_t k = 0; k < g.size[2]; ++k) {
    // Per slice: the centre of the label-free gap around the global midline, when both legs bound it.
    std::vector<double> xs(g.slice_voxel_count(), 0);
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const double x = g.index_to_lps({double(i), double(j), double(k)}).x;
        xs[i + g.size[0] * j] = x;
        if (reference.at(i, j, k) == 0) continue;
        lo = std::min(lo, x);
        hi = std::max(hi, x);
      }
    double mid = global_mid;
    if (lo < global_mid && hi > global_mid) {
      const std::size_t bins = static_cast<std::size_t>(std::floor((hi - lo) / bin_mm)) + 1;
      std::vector<char> used(bins, 0);
      for (std::size_t j = 0; j < g.size[1]; ++j)
        for (std::size_t i = 0; i < g.size[0]; ++i)
          if (reference.at(i, j, k) != 0)
            used[std::min(bins - 1, static_cast<std::size_t>((xs[i + g.size[0] * j] - lo) / bin_mm))] = 1;
      const std::size_t m = std::min(bins - 1, static_cast<std::size_t>((global_mid - lo) / bin_mm));
      if (!used[m]) {
        std::size_t a = m, b = m;
        while (a > 0 && !used[a - 1]) --a;
        while (b + 1 < bins && !used[b + 1]) ++b;
        mid = lo + (0.5 * double(a + b) + 0.5) * bin_mm;
      }
    }
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const LabelId v = reference.at(i, j, k);
        if (v == 0) continue;
        const Side side = xs[i + g.size[0] * j] > mid ? Side::Left : Side::Right;  // LPS +x: patient's left
        out.at(i, j, k) = catalog().label_id(kKeys[v], side);
      }
  }
  return out;
}

Truth read_reference_truth(const fs::path& labels_file) {
  Truth truth;
  truth.source = labels_file.string();
  truth.form = "reference_labels";
  const LabelMap reference = read_labels(labels_file);
  truth.labels = reference_to_catalog(reference, labels_file.string());
  truth.region = BodyRegion::Thigh;
  truth.group_only = {"adductors"};
  for (auto& level : truth.level) level.reason = "the reference label map carries no standard level";
  return truth;
}

// ---------------------------------------------------------------------------------------------
// Result

namespace {
Result read_result_unchecked(const fs::path& result_dir) {
  if (!fs::is_directory(result_dir))
    throw Error(ErrorCode::InputNotFound, result_dir.string(), "analyze output folder not found");
  const fs::path results_file = result_dir / "results.json";
  const json doc = parse_json_file(results_file);
  if (!doc.is_object() || doc.value("format", "") != "musclecsa-results")
    throw Error(ErrorCode::InvalidInput, results_file.string(), "not a musclecsa results file (format musclecsa-results)");
  Result result;
  result.source = result_dir.string();
  const std::string modality = doc.contains("input") ? doc["input"].value("modality", "") : "";
  const bool mr = doc.contains("mri");
  if (modality == "CT") {
    result.modality = "ct";
    result.ff_note = "CT: no fat-fraction map";
  } else if (modality == "MR" && mr) {
    const std::string kind = doc["mri"].value("kind", "");
    result.modality = kind == "dixon" ? "mr-dixon" : "mr-t1";
    if (kind != "dixon")
      result.ff_note = "T1-weighted: the map is a relative T1 fat signal, not a fat fraction";
  } else {
    throw Error(ErrorCode::InvalidInput, results_file.string(),
                "input.modality '" + modality + "' is not a CT or MRI analysis of the legs");
  }
  if (doc.contains("protocol") && doc["protocol"].is_object()) result.protocol = doc["protocol"].value("name", "");
  result.labels = read_labels(result_dir / "labels.nii.gz");
  if (result.modality == "mr-dixon") {
    result.fat_fraction = read_values(result_dir / "fat_fraction.nii.gz");
    if (!result.fat_fraction->geometry.same_grid_as(result.labels.geometry))
      throw Error(ErrorCode::InvalidInput, (result_dir / "fat_fraction.nii.gz").string(), "not on the grid of labels.nii.gz");
  }

  static const json kNone;
  const auto member = [](const json& object, const char* key) -> const json& {
    return object.is_object() && object.contains(key) ? object[key] : kNone;
  };
  const json& levels = member(doc, "levels");
  const json& mri = member(doc, "mri");
  const auto slices = slices_by_index(mr ? member(mri, "slices") : member(doc, "slices"));
  for (const auto& [k, slice] : slices)
    for (const auto& side : member(*slice, "sides")) {
      const int si = side.value("side", "") == "left" ? 1 : 0;
      for (const auto& s : member(side, "structures"))
        if (s.contains("confidence") && s["confidence"].is_object() && s["confidence"].value("low", false))
          result.low_confidence.insert({k, si, s.value("structure", "")});
    }
  for (Side side : kSides) {
    SideLevel& out = result.level[side_index(side)];
    const std::string side_name(to_string(side));
    out.reason = "results.json has no level for the " + side_name + " side";
    const json* entry = nullptr;
    if (levels.is_array())
      for (const auto& l : levels)
        if (l.value("side", "") == side_name) entry = &l;
    if (entry == nullptr) continue;
    if (!entry->value("found", false)) {
      out.reason = "analyze found no standard level: " + entry->value("reason", std::string("(no reason given)"));
      continue;
    }
    const json* measures = nullptr;
    if (mr) {
      const json& mri_levels = member(mri, "levels");
      if (mri_levels.is_array())
        for (const auto& l : mri_levels)
        if (l.value("side", "") == side_name) {
          out.slice = get<int>(l, "slice", results_file);
          if (l.contains("measures")) measures = &l["measures"];
        }
      out.field = "csa_cm2 (muscle: muscle_csa_cm2)";
    } else {
      out.slice = get<int>(*entry, "slice", results_file);
      if (entry->contains("measures")) measures = &(*entry)["measures"];
      out.field = "outline_area_cm2 (muscle: muscle_area_cm2, the CT CSA of HU in the muscle range)";
    }
    if (measures == nullptr) {
      out.reason = "results.json marks the level found but gives no measures for the " + side_name + " side";
      continue;
    }
    out.found = true;
    const char* area_key = mr ? "csa_cm2" : "outline_area_cm2";
    if (measures->contains("structures") && (*measures)["structures"].is_array())
      for (const auto& s : (*measures)["structures"]) {
        const std::string key = get<std::string>(s, "structure", results_file);
        if (s.contains("withheld_reason") || (s.contains("confidence") && s["confidence"].is_object() && s["confidence"].value("low", false)))
          out.withheld.insert(key);
        if (s.contains(area_key) && s[area_key].is_null()) continue;  // withheld: no value at the level
        out.area_cm2[key] = get<double>(s, area_key, results_file);
      }
    out.area_cm2["muscle"] = get<double>(*measures, mr ? "muscle_csa_cm2" : "muscle_area_cm2", results_file);
    if (auto it = slices.find(out.slice); it != slices.end()) {
      out.z_mm = it->second->value("z_mm", 0.0);
      for (const auto& f : member(*it->second, "qc_flags")) out.flags.push_back(f.get<std::string>());
    } else {
      out.z_mm = result.labels.geometry.index_to_lps({0, 0, double(out.slice)}).z;
    }
  }
  return result;
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// Resampling

namespace {
template <class T>
Image<T> resample(const Image<T>& source, const Geometry& target) {
  if (source.geometry.same_grid_as(target)) {
    Image<T> copy;
    copy.geometry = target;
    copy.voxels = source.voxels;
    return copy;
  }
  Image<T> out(target, T{});
  const Geometry& s = source.geometry;
  for (std::size_t k = 0; k < target.size[2]; ++k)
    for (std::size_t j = 0; j < target.size[1]; ++j)
      for (std::size_t i = 0; i < target.size[0]; ++i) {
        const Vec3 c = s.lps_to_index(target.index_to_lps({double(i), double(j), double(k)}));
        const double ci = std::round(c.x), cj = std::round(c.y), ck = std::round(c.z);
        if (ci < 0 || cj < 0 || ck < 0 || ci >= double(s.size[0]) || cj >= double(s.size[1]) || ck >= double(s.size[2]))
          continue;
        out.at(i, j, k) = source.at(std::size_t(ci), std::size_t(cj), std::size_t(ck));
      }
  return out;
}
}  // namespace

LabelMap resample_labels(const LabelMap& source, const Geometry& target) {
  Image<LabelId> r = resample<LabelId>(source, target);
  LabelMap out;
  out.geometry = r.geometry;
  out.voxels = std::move(r.voxels);
  return out;
}

Image<float> resample_values(const Image<float>& source, const Geometry& target) { return resample<float>(source, target); }

// ---------------------------------------------------------------------------------------------
// Scoring

namespace {

struct Scored {
  Side side;
  std::string key, kind;
  std::bitset<kMaxLabel> ids;
};

}  // namespace

std::vector<Record> score(const Truth& truth, const Result& result) {
  const Geometry& g = truth.labels.geometry;
  const LabelMap rlabels = resample_labels(result.labels, g);
  std::optional<Image<float>> rff;
  if (result.fat_fraction) rff = resample_values(*result.fat_fraction, g);

  // Histograms: per slice and label (truth, result), joint (truth, result) over the volume, and
  // fat-fraction sums per label.
  const std::size_t nk = g.size[2], per_slice = g.slice_voxel_count();
  std::vector<std::array<std::size_t, kMaxLabel>> tcount(nk), rcount(nk);
  for (auto& a : tcount) a.fill(0);
  for (auto& a : rcount) a.fill(0);
  std::map<std::pair<LabelId, LabelId>, std::size_t> joint;
  std::array<double, kMaxLabel> ff_truth_sum{}, ff_result_sum{};
  std::set<LabelId> unknown;
  for (std::size_t k = 0; k < nk; ++k)
    for (std::size_t v = 0; v < per_slice; ++v) {
      const std::size_t n = k * per_slice + v;
      LabelId t = truth.labels.voxels[n], r = rlabels.voxels[n];
      if (t >= kMaxLabel) { unknown.insert(t); t = 0; }
      if (r >= kMaxLabel) { unknown.insert(r); r = 0; }
      ++tcount[k][t];
      ++rcount[k][r];
      if (t != 0 && r != 0) ++joint[{t, r}];
      if (t != 0) ff_truth_sum[t] += truth.fat_fraction ? truth.fat_fraction->voxels[n] : (rff ? rff->voxels[n] : 0.0);
      if (r != 0 && rff) ff_result_sum[r] += rff->voxels[n];
    }
  if (!unknown.empty())
    throw Error(ErrorCode::InvalidInput, truth.source + " / " + result.source,
                "label id " + std::to_string(*unknown.begin()) + " is not a catalog id");

  std::array<std::size_t, kMaxLabel> ttotal{}, rtotal{};
  for (std::size_t k = 0; k < nk; ++k)
    for (std::size_t l = 0; l < kMaxLabel; ++l) {
      ttotal[l] += tcount[k][l];
      rtotal[l] += rcount[k][l];
    }

  // The structures to score: per side, every muscle of the truth's region present in the truth
  // (not the members of a group the source does not separate), every group of the region with a
  // member (or the group's own id) present, and all muscle (every muscle label, any region).
  const LabelCatalog& cat = catalog();
  std::vector<Scored> list;
  for (Side side : kSides) {
    std::vector<Scored> muscles, groups;
    for (const Structure& s : cat.structures()) {
      if (s.kind != StructureKind::Muscle) continue;
      if (truth.region != BodyRegion::Any && s.region != truth.region) continue;
      if (truth.group_only.count(s.group_key)) continue;
      const LabelId id = cat.label_id(s.key, side);
      if (ttotal[id] == 0) continue;
      Scored sc{side, s.key, "muscle", {}};
      sc.ids.set(id);
      muscles.push_back(sc);
    }
    for (const Structure& s : cat.structures()) {
      if (s.kind != StructureKind::MuscleGroup) continue;
      if (truth.region != BodyRegion::Any && s.region != truth.region) continue;
      Scored sc{side, s.key, "group", {}};
      sc.ids.set(cat.label_id(s.key, side));
      for (const auto* m : cat.members_of(s.key)) sc.ids.set(cat.label_id(m->key, side));
      std::size_t present = 0;
      for (std::size_t l = 0; l < kMaxLabel; ++l)
        if (sc.ids.test(l)) present += ttotal[l];
      if (present > 0) groups.push_back(sc);
    }
    if (muscles.empty() && groups.empty()) continue;
    Scored all{side, "muscle", "tissue", {}};
    for (const Structure& s : cat.structures())
      if (s.kind == StructureKind::Muscle || s.kind == StructureKind::MuscleGroup || s.key == "skeletal_muscle")
        all.ids.set(cat.label_id(s.key, side));
    list.insert(list.end(), muscles.begin(), muscles.end());
    list.insert(list.end(), groups.begin(), groups.end());
    list.push_back(all);
  }

  const double pixel_cm2 = g.pixel_area_mm2() / 100.0;
  const bool same_grid = result.labels.geometry.same_grid_as(truth.labels.geometry);  // slice k is the result's slice k
  std::vector<Record> records;
  for (const Scored& sc : list) {
    Record rec;
    rec.side = sc.side;
    rec.structure = sc.key;
    rec.kind = sc.kind;
    std::size_t inter = 0;
    double ff_t = 0, ff_r = 0;
    for (std::size_t l = 0; l < kMaxLabel; ++l) {
      if (!sc.ids.test(l)) continue;
      rec.truth_voxels += ttotal[l];
      rec.result_voxels += rtotal[l];
      ff_t += ff_truth_sum[l];
      ff_r += ff_result_sum[l];
    }
    for (const auto& [pair, n] : joint)
      if (sc.ids.test(pair.first) && sc.ids.test(pair.second)) inter += n;
    if (rec.truth_voxels + rec.result_voxels > 0)
      rec.dice = 2.0 * double(inter) / double(rec.truth_voxels + rec.result_voxels);

    // CSA at the standard level: the truth's level slice against the value analyze reports at its level.
    const SideLevel& tl = truth.level[side_index(sc.side)];
    const SideLevel& rl = result.level[side_index(sc.side)];
    std::vector<std::string> notes;
    if (tl.found) {
      rec.csa_level_truth_slice = tl.slice;
      rec.csa_level_truth_z_mm = tl.z_mm;
      auto it = tl.area_cm2.find(sc.key);
      rec.csa_level_truth_cm2 = it == tl.area_cm2.end() ? 0.0 : it->second;
    } else {
      notes.push_back("truth: " + tl.reason);
    }
    if (rl.found) {
      rec.csa_level_result_slice = rl.slice;
      rec.csa_level_result_z_mm = rl.z_mm;
      rec.csa_level_result_field = rl.field;
      rec.flags = rl.flags;
      rec.csa_level_withheld = rl.withheld.count(sc.key) > 0;
      if (*rec.csa_level_withheld) {
        notes.push_back("result: withheld at the level (low confidence)");
      } else {
        auto it = rl.area_cm2.find(sc.key);
        rec.csa_level_result_cm2 = it == rl.area_cm2.end() ? 0.0 : it->second;
      }
    } else {
      notes.push_back("result: " + rl.reason);
    }
    if (rec.csa_level_truth_cm2 && rec.csa_level_result_cm2) {
      if (*rec.csa_level_truth_cm2 > 0)
        rec.csa_level_error_pct = 100.0 * (*rec.csa_level_result_cm2 - *rec.csa_level_truth_cm2) / *rec.csa_level_truth_cm2;
      else
        notes.push_back("the truth has no area of this structure at its level");
    }
    for (std::size_t i = 0; i < notes.size(); ++i) rec.csa_level_note += (i ? "; " : "") + notes[i];

    // The same at the truth's level slice from the two label maps (no level placement in it).
    if (tl.found && tl.slice >= 0 && std::size_t(tl.slice) < nk) {
      std::size_t tn = 0, rn = 0;
      for (std::size_t l = 0; l < kMaxLabel; ++l)
        if (sc.ids.test(l)) {
          tn += tcount[std::size_t(tl.slice)][l];
          rn += rcount[std::size_t(tl.slice)][l];
        }
      if (tn > 0) rec.csa_at_truth_level_error_pct = 100.0 * (double(rn) - double(tn)) / double(tn);
    }

    // CSA over slices, from the two label maps on the truth grid.
    double sum = 0, worst = -1;
    for (std::size_t k = 0; k < nk; ++k) {
      std::size_t tn = 0, rn = 0;
      for (std::size_t l = 0; l < kMaxLabel; ++l)
        if (sc.ids.test(l)) {
          tn += tcount[k][l];
          rn += rcount[k][l];
        }
      const double ta = double(tn) * pixel_cm2;
      if (ta < 1.0) continue;
      const double e = 100.0 * std::abs(double(rn) * pixel_cm2 - ta) / ta;
      sum += e;
      ++rec.csa_slices_count;
      if (e > 15) {
        ++rec.csa_slices_over_15pct;
        if (same_grid && !result.low_confidence.count({int(k), side_index(sc.side), sc.key})) ++rec.csa_slices_over_15pct_unflagged;
      }
      if (e > worst) {
        worst = e;
        rec.csa_slices_worst_z_mm = g.index_to_lps({0, 0, double(k)}).z;
      }
    }
    if (rec.csa_slices_count > 0) {
      rec.csa_slices_mean_abs_error_pct = sum / rec.csa_slices_count;
      rec.csa_slices_worst_abs_error_pct = worst;
    }

    // Fat fraction: voxel means over the structure in the whole volume.
    const bool truth_ff = truth.fat_fraction.has_value() || rff.has_value();
    if (truth_ff && rec.truth_voxels > 0) rec.ff_truth_pct = 100.0 * ff_t / double(rec.truth_voxels);
    if (rff && rec.result_voxels > 0) rec.ff_result_pct = 100.0 * ff_r / double(rec.result_voxels);
    if (rec.ff_truth_pct && rec.ff_result_pct) rec.ff_error_points = *rec.ff_result_pct - *rec.ff_truth_pct;
    if (!rff)
      rec.ff_note = result.ff_note;
    else if (!truth.fat_fraction)
      rec.ff_note = "reference FF = the result's FF map averaged over the reference labels (the error is the segmentation's effect only)";
    else if (rec.result_voxels == 0)
      rec.ff_note = "the result has no voxel of this structure";
    records.push_back(std::move(rec));
  }
  return records;
}

// ---------------------------------------------------------------------------------------------
// Output

namespace {
template <class T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}
}  // namespace

json to_json(const std::vector<Record>& records, const CaseInfo& info, const Truth& truth, const Result& result) {
  json out = json::array();
  const bool same_grid = result.labels.geometry.same_grid_as(truth.labels.geometry);
  for (const Record& r : records) {
    json j;
    j["case_id"] = info.case_id;
    j["subject"] = info.subject;
    j["modality"] = info.modality.empty() ? result.modality : info.modality;
    j["tags"] = info.tags;
    j["truth_form"] = truth.form;
    j["result_protocol"] = result.protocol;
    j["result_grid"] = same_grid ? "same_as_truth" : "resampled_nearest_through_lps";
    j["side"] = std::string(to_string(r.side));
    j["structure"] = r.structure;
    j["kind"] = r.kind;
    j["truth_voxels"] = r.truth_voxels;
    j["result_voxels"] = r.result_voxels;
    j["dice"] = opt(r.dice);
    j["csa_level_truth_cm2"] = opt(r.csa_level_truth_cm2);
    j["csa_level_result_cm2"] = opt(r.csa_level_result_cm2);
    j["csa_level_error_pct"] = opt(r.csa_level_error_pct);
    j["csa_level_truth_slice"] = opt(r.csa_level_truth_slice);
    j["csa_level_result_slice"] = opt(r.csa_level_result_slice);
    j["csa_level_truth_z_mm"] = opt(r.csa_level_truth_z_mm);
    j["csa_level_result_z_mm"] = opt(r.csa_level_result_z_mm);
    j["csa_level_result_field"] = r.csa_level_result_field;
    j["csa_level_note"] = r.csa_level_note;
    j["csa_at_truth_level_error_pct"] = opt(r.csa_at_truth_level_error_pct);
    j["csa_slices_count"] = r.csa_slices_count;
    j["csa_slices_mean_abs_error_pct"] = opt(r.csa_slices_mean_abs_error_pct);
    j["csa_slices_worst_abs_error_pct"] = opt(r.csa_slices_worst_abs_error_pct);
    j["csa_slices_worst_z_mm"] = opt(r.csa_slices_worst_z_mm);
    j["csa_slices_over_15pct"] = r.csa_slices_over_15pct;
    j["csa_slices_over_15pct_unflagged"] = r.csa_slices_over_15pct_unflagged;
    j["csa_level_withheld"] = opt(r.csa_level_withheld);
    j["ff_truth_pct"] = opt(r.ff_truth_pct);
    j["ff_result_pct"] = opt(r.ff_result_pct);
    j["ff_error_points"] = opt(r.ff_error_points);
    j["ff_note"] = r.ff_note;
    j["flags"] = r.flags;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace musclecsa::accuracy
