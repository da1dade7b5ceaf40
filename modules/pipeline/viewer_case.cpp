// The viewer's case (viewer_case.h): the glue between the viewer's model (module render, which
// knows nothing of analyses) and the analyses: it loads the input and a results folder, measures
// edited label maps again with remeasure_ct and writes corrected results with write_ct_outputs
// (or the ultrasound analysis on the edited outline).

#include "musclecsa/pipeline/viewer_case.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "musclecsa/core/catalog.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/pipeline/analyze.h"
#include "musclecsa/pipeline/input.h"
#include "musclecsa/segment/protocol.h"

namespace musclecsa::pipeline {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using OpenOptions = OpenCaseOptions;

json read_json_file(const fs::path& path) {
  try {
    return json::parse(io::read_text(path));
  } catch (const json::exception& e) {
    throw Error(ErrorCode::InvalidInput, path.string(), std::string("not valid JSON: ") + e.what());
  }
}

/// A CT analysis folder as analyze wrote it: what the viewer needs to measure edited labels again.
struct CtCase {
  segment::CtProtocol protocol;
  json results;               ///< results.json of the analysis
  AnalyzeOptions options;     ///< as the analysis ran, as far as results.json tells (levels, height, formats)
};

/// The tissue segmentation measure_ct expects, rebuilt from a label map: per slice, the legs
/// present (a side with any label), their centroids and bone counts; the analysis's QC flags.
segment::TissueSegmentation segmentation_from_labels(const LabelMap& labels, const json& results, const LoadedInput& in) {
  const auto& catalog = LabelCatalog::standard();
  const Geometry& g = labels.geometry;
  segment::TissueSegmentation seg;
  seg.labels = labels;
  seg.slices.resize(g.size[2]);
  std::vector<std::uint8_t> side_of(65536, 0), bone_of(65536, 0), muscle(65536, 0);  // side: 1 right, 2 left
  for (const Structure& s : catalog.structures()) {
    if (s.kind == StructureKind::MuscleGroup) continue;
    for (Side side : {Side::Right, Side::Left}) {
      const LabelId id = catalog.label_id(s.key, side);
      side_of[id] = side == Side::Right ? 1 : 2;
      if (s.kind == StructureKind::Bone) bone_of[id] = 1;
      if (s.kind == StructureKind::Muscle) muscle[id] = 1, seg.muscles_segmented = true;
    }
  }
  bool any_muscle = false;
  for (std::size_t k = 0; k < g.size[2]; ++k) {
    double sum_i[3] = {0, 0, 0}, sum_j[3] = {0, 0, 0};
    std::size_t count[3] = {0, 0, 0};
    std::vector<LabelId> bones[3];
    const LabelId* l = labels.slice(k);
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) {
        const LabelId label = l[i + g.size[0] * j];
        const int s = side_of[label];
        if (s == 0) continue;
        any_muscle = any_muscle || muscle[label];
        sum_i[s] += double(i), sum_j[s] += double(j), ++count[s];
        if (bone_of[label] && std::find(bones[s].begin(), bones[s].end(), label) == bones[s].end()) bones[s].push_back(label);
      }
    // Sides in the analysis's order for this slice, then any side an edit added.
    std::vector<Side> order;
    if (results.contains("slices") && k < results["slices"].size())
      for (const auto& side : results["slices"][k].value("sides", json::array()))
        order.push_back(side_from_string(side.value("side", "none")));
    for (Side side : {Side::Right, Side::Left})
      if (std::find(order.begin(), order.end(), side) == order.end()) order.push_back(side);
    segment::SliceFindings& findings = seg.slices[k];
    findings.slice_index = int(k);
    for (Side side : order) {
      const int s = side == Side::Right ? 1 : side == Side::Left ? 2 : 0;
      if (s == 0 || count[s] == 0) continue;
      const Vec3 centre = g.index_to_lps({sum_i[s] / double(count[s]), sum_j[s] / double(count[s]), double(k)});
      findings.legs.push_back({side, centre.x, centre.y, int(bones[s].size())});
    }
    if (results.contains("slices") && k < results["slices"].size())
      findings.qc_flags = results["slices"][k].value("qc_flags", std::vector<std::string>());
  }
  seg.muscles_segmented = any_muscle;
  // Volume-level flags of the analysis, without those write_ct_outputs adds from the input again.
  for (const auto& flag : results.value("qc_flags", std::vector<std::string>()))
    if (flag != "contrast_enhanced" && std::find(in.qc_flags.begin(), in.qc_flags.end(), flag) == in.qc_flags.end())
      seg.qc_flags.push_back(flag);
  if (std::find(seg.qc_flags.begin(), seg.qc_flags.end(), "edited_in_viewer") == seg.qc_flags.end())
    seg.qc_flags.push_back("edited_in_viewer");
  seg.notes.push_back("labels corrected by hand in the MuscleCSA viewer; edits.jsonl in this folder records who changed "
                      "which structure on which slices, and the areas before and after");
  return seg;
}

/// Reads a CT analysis folder (protocol.json, results.json) and what the analysis was asked for.
std::optional<CtCase> read_ct_case(const fs::path& dir, const OpenOptions& open) {
  if (!fs::exists(dir / "protocol.json") || !fs::exists(dir / "results.json")) return std::nullopt;
  CtCase c;
  c.results = read_json_file(dir / "results.json");
  if (c.results.value("format", "") != "musclecsa-results")
    throw Error(ErrorCode::InvalidInput, (dir / "results.json").string(), "not a MuscleCSA results file (format musclecsa-results)");
  if (c.results.contains("input") && c.results["input"].value("modality", "CT") != "CT") return std::nullopt;
  c.protocol = segment::load_ct_protocol((dir / "protocol.json").string());
  AnalyzeOptions& o = c.options;
  o.input = open.input;
  o.quiet = true;
  o.pseudonym_map = open.pseudonym_map;
  const json& input = c.results.value("input", json::object());
  o.include_patient_id = input.contains("patient_id");
  if (input.contains("pseudonym") && open.pseudonym_map.empty())
    throw Error(ErrorCode::InvalidArgument, "--pseudonym-map",
                "the analysis in " + dir.string() + " wrote a pseudonym: give the same --pseudonym-map so corrected results carry it too");
  for (const auto& level : c.results.value("levels", json::array())) {
    const std::string method = level.value("method", "");
    if (method == "user_slice") o.level_slice = level.value("slice", 0);
    if (method == "user_z") o.level_z_mm = level.value("z_mm", 0.0);
    if (level.contains("muscle_area_per_height2_cm2_m2") && level.contains("measures")) {
      const double ratio = level["muscle_area_per_height2_cm2_m2"], area = level["measures"].value("muscle_area_cm2", 0.0);
      if (ratio > 0) o.height_m = std::round(std::sqrt(area / ratio) * 1000) / 1000;
    }
  }
  if (fs::exists(dir / "segmentation.dcm")) o.formats.push_back("seg");
  if (fs::exists(dir / "measurements.dcm")) o.formats.push_back("sr");
  if (fs::exists(dir / "report.html")) o.formats.push_back("html");
  o.qc_every_slice = fs::exists(dir / "qc");
  return c;
}

/// The panel's numbers from CT results: per slice and side the tissue areas, then each muscle and group.
render::CaseMeasurements panel_numbers(const quantify::CtResults& results, const segment::CtProtocol& protocol) {
  const auto& catalog = LabelCatalog::standard();
  render::CaseMeasurements m;
  for (const auto& s : results.slices) {
    std::vector<render::MeasureRow> rows;
    for (const auto& side : s.sides) {
      const std::string p = std::string(to_string(side.side)) + ": ";
      rows.push_back({p + "muscle CSA", side.muscle_area_mm2 / 100, "cm2"});
      rows.push_back({p + "muscle mean", side.muscle_mean_hu, "[hnsf'U]"});
      rows.push_back({p + "IMAT", side.imat_area_mm2 / 100, "cm2"});
      rows.push_back({p + "subcutaneous fat", side.subcutaneous_fat_area_mm2 / 100, "cm2"});
      rows.push_back({p + "bone", side.bone_area_mm2 / 100, "cm2"});
      for (const auto& st : side.structures) {
        const Structure* structure = catalog.find(st.structure_key);
        rows.push_back({p + (structure ? structure->name : st.structure_key) + " CSA", st.muscle_area_mm2 / 100, "cm2"});
      }
    }
    m.slices.push_back(std::move(rows));
  }
  for (const auto& level : results.levels)
    if (level.found) m.levels.push_back({protocol.level.name, std::string(to_string(level.side)), level.slice_index, level.z_mm});
  return m;
}

/// An ultrasound analysis folder (analyze on US writes mask.png and results.json, no label map).
struct UsCase {
  json results;
  LabelId label = 0;       ///< the analysed muscle's label id (its side, right when none was given)
  std::string side;        ///< as the analysis recorded it ("none", "right", "left")
  std::size_t frame = 0;   ///< the analysed frame (slice of the loaded volume)
};

/// The label map of an ultrasound analysis: mask.png's pixels as the analysed muscle on its frame.
std::optional<std::pair<LabelMap, UsCase>> read_us_case(const fs::path& dir, const ScalarVolume& volume) {
  if (!fs::exists(dir / "mask.png") || !fs::exists(dir / "results.json")) return std::nullopt;
  UsCase c;
  c.results = read_json_file(dir / "results.json");
  if (c.results.value("format", "") != "musclecsa-results" || !c.results.contains("ultrasound")) return std::nullopt;
  std::string structure;
  for (const auto& m : c.results.value("measurements", json::array()))
    if (m.contains("structure")) structure = m["structure"], c.side = m.value("side", "none");
  const Structure* s = LabelCatalog::standard().find(structure);
  if (s == nullptr)
    throw Error(ErrorCode::InvalidInput, (dir / "results.json").string(), "names no analysed muscle of the catalog ('" + structure + "')");
  c.label = LabelCatalog::standard().label_id(s->key, c.side == "left" ? Side::Left : Side::Right);
  c.frame = std::size_t(c.results["ultrasound"].value("frame", 0));
  const Geometry& g = volume.geometry;
  if (c.frame >= g.size[2])
    throw Error(ErrorCode::InvalidInput, (dir / "results.json").string(),
                "analysed frame " + std::to_string(c.frame) + ", but the input has " + std::to_string(g.size[2]) + " frame(s)");
  const io::BitmapImage mask = io::read_bitmap(dir / "mask.png", std::nullopt);
  const auto& mg = mask.image.geometry;
  if (mg.size[0] != g.size[0] || mg.size[1] != g.size[1])
    throw Error(ErrorCode::InvalidInput, (dir / "mask.png").string(),
                "the mask is " + std::to_string(mg.size[0]) + "x" + std::to_string(mg.size[1]) + " pixels, the image " +
                    std::to_string(g.size[0]) + "x" + std::to_string(g.size[1]) + ": are these the results of this input?");
  LabelMap labels(g, 0);
  for (std::size_t o = 0; o < g.slice_voxel_count(); ++o)
    if (mask.image.voxels[o] > 127) labels.slice(c.frame)[o] = c.label;
  return std::pair{std::move(labels), std::move(c)};
}

/// Writes a two-level mask (255 where `label`) of slice k as a 24-bit BMP, the mask picture format
/// analyze --outline reads.
void write_mask_bmp(const LabelMap& labels, std::size_t k, LabelId label, const fs::path& path) {
  const Geometry& g = labels.geometry;
  const std::size_t w = g.size[0], h = g.size[1], row = (3 * w + 3) / 4 * 4;
  std::string bytes(54 + row * h, '\0');
  auto put32 = [&](std::size_t at, std::uint32_t v) {
    for (int n = 0; n < 4; ++n) bytes[at + std::size_t(n)] = char((v >> (8 * n)) & 0xff);
  };
  bytes[0] = 'B', bytes[1] = 'M';
  put32(2, std::uint32_t(bytes.size()));
  put32(10, 54);
  put32(14, 40);
  put32(18, std::uint32_t(w));
  put32(22, std::uint32_t(h));
  bytes[26] = 1, bytes[28] = 24;
  put32(34, std::uint32_t(row * h));
  for (std::size_t j = 0; j < h; ++j)  // bottom-up rows
    for (std::size_t i = 0; i < w; ++i)
      if (labels.at(i, j, k) == label)
        for (int c = 0; c < 3; ++c) bytes[54 + (h - 1 - j) * row + 3 * i + std::size_t(c)] = char(0xff);
  io::write_text_atomically(path, bytes);
}

render::DisplayPreset preset_for(const OpenOptions& open, const LoadedInput& in, bool ct_results) {
  if (!open.preset.empty()) return render::display_preset_from_string(open.preset, "--preset");
  if (in.volume.modality == Modality::CT || ct_results) return render::DisplayPreset::CtMuscle;
  if (in.volume.modality == Modality::US || in.kind == "bitmap") return render::DisplayPreset::Ultrasound;
  return render::DisplayPreset::MrAuto;
}

}  // namespace

std::unique_ptr<render::ViewerModel> open_case_for_viewing(const OpenCaseOptions& open, const fs::path& save_dir) {
  NullProgress quiet;
  InputOptions in_options;
  in_options.series = open.series;
  in_options.pixel_size_mm = open.pixel_size_mm;
  auto in = std::make_shared<LoadedInput>(load_input(open.input, in_options, quiet));
  if (in->volume.voxels.empty())
    throw Error(ErrorCode::InvalidInput, open.input, "no voxels were loaded");

  render::ViewerInput v;
  v.input_path = open.input;
  v.title = fs::path(open.input).filename().string();
  if (v.title.empty()) v.title = open.input;
  v.save_dir = save_dir;
  std::optional<CtCase> ct;
  std::optional<std::pair<LabelMap, UsCase>> us;
  if (!open.results.empty()) {
    const fs::path dir = open.results;
    v.results_dir = dir;
    if (!fs::is_directory(dir)) throw Error(ErrorCode::InputNotFound, dir.string(), "no such results folder");
    const fs::path labels_path = dir / "labels.nii.gz";
    if (!fs::exists(labels_path)) {
      us = read_us_case(dir, in->volume);
      if (!us)
        throw Error(ErrorCode::InvalidInput, dir.string(),
                    "no labels.nii.gz (a CT analysis's label map) and no mask.png with results.json (an ultrasound analysis) in the "
                    "results folder");
    }
    LabelMap labels = us ? us->first : io::read_label_map(labels_path);
    const Geometry& a = labels.geometry;
    const Geometry& b = in->volume.geometry;
    if (!a.same_grid_as(b, 1e-3))
      throw Error(ErrorCode::InvalidInput, labels_path.string(),
                  "the label map is not on the input's voxel grid (" + std::to_string(a.size[0]) + "x" + std::to_string(a.size[1]) + "x" +
                      std::to_string(a.size[2]) + " against " + std::to_string(b.size[0]) + "x" + std::to_string(b.size[1]) + "x" +
                      std::to_string(b.size[2]) + ", or another position/spacing): are these the results of this input?");
    v.labels = std::move(labels);
    if (!us) ct = read_ct_case(dir, open);
    if (ct && in->volume.modality != Modality::CT) {
      if (in->kind != "research")
        throw Error(ErrorCode::InvalidInput, open.input, "the results are a CT analysis but the input is " +
                                                             std::string(to_string(in->volume.modality)));
      in->volume.modality = Modality::CT;  // a NIfTI/NRRD/MetaImage CT in HU, as analyze --modality ct read it
    }
  }
  v.preset = preset_for(open, *in, ct.has_value());
  if (ct) {
    auto c = std::make_shared<CtCase>(std::move(*ct));
    v.measure = [in, c](const LabelMap& labels) {
      const CtAnalysis analysis = remeasure_ct(c->options, *in, c->protocol, segmentation_from_labels(labels, c->results, *in));
      return panel_numbers(analysis.results, analysis.protocol);
    };
    v.save = [in, c](const LabelMap& labels, const fs::path& folder) {
      AnalyzeOptions o = c->options;
      o.out = folder.string();
      CtAnalysis analysis = remeasure_ct(o, *in, c->protocol, segmentation_from_labels(labels, c->results, *in));
      analysis.protocol_decision = "";
      write_ct_outputs(o, *in, analysis);
    };
    v.notes.push_back("CT analysis: numbers are measured again after every edit; Save writes corrected results into " +
                      save_dir.string());
  } else if (us) {
    auto c = std::make_shared<UsCase>(std::move(us->second));
    const std::string pseudonym_map = open.pseudonym_map, input_path = open.input;
    const std::optional<double> pixel_size = open.pixel_size_mm;
    v.save = [in, c, pseudonym_map, input_path, pixel_size](const LabelMap& labels, const fs::path& folder) {
      // The edited muscle becomes a mask picture and the ultrasound analysis runs on it as a manual outline.
      const fs::path mask = folder / ".edited-mask.bmp";
      write_mask_bmp(labels, c->frame, c->label, mask);
      AnalyzeOptions o;
      o.input = input_path;
      o.out = folder.string();
      o.quiet = true;
      o.pseudonym_map = pseudonym_map;
      o.include_patient_id = c->results.value("input", json::object()).contains("patient_id");
      const std::string protocol = c->results.value("protocol", json::object()).value("name", "auto");
      o.protocol = protocol == "rf-us" || protocol == "vl-us" || protocol == "quadriceps-us" || protocol == "gastrocnemius-us" ? protocol : "auto";
      o.us.pixel_size_mm = pixel_size;
      o.us.outline = mask.string();
      if (in->volume.geometry.size[2] > 1) o.us.frame = c->frame;
      if (c->side == "right" || c->side == "left") o.us.side = c->side;
      LoadedInput copy = *in;
      NullProgress silent;
      try {
        run_us_analysis(o, copy, silent);
      } catch (...) {
        std::error_code ec;
        fs::remove(mask, ec);
        throw;
      }
      std::error_code ec;
      fs::remove(mask, ec);
    };
    // Labels have a side; an ultrasound result without one (side "none") is shown without one.
    if (c->side != "right" && c->side != "left")
      if (const auto decoded = LabelCatalog::standard().decode(c->label))
        v.display_names[c->label] = decoded->structure->name + " (side not given)";
    v.notes.push_back("ultrasound analysis: the analysed muscle (mask.png) is shown and edited; Save runs the ultrasound "
                      "measurements again on the edited outline and writes them into " + save_dir.string());
  } else if (v.labels) {
    v.notes.push_back("no CT analysis in the results folder: the panel shows each structure's area; Save writes the edited "
                      "labels.nii.gz and labels.json (no re-computed results for this modality yet)");
  } else {
    v.notes.push_back("no results folder: the scan only (labels drawn here are saved as labels.nii.gz)");
  }
  v.volume = std::shared_ptr<const ScalarVolume>(in, &in->volume);  // one copy, shared with the re-measurement
  return render::make_viewer_model(std::move(v));
}

}  // namespace musclecsa::pipeline
