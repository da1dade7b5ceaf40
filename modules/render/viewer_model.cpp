// The viewer's model: scan, label map, measurements, edits with undo/redo and the audit log.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "label_editing.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/io/label_names.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/render/viewer.h"

namespace musclecsa::render {
namespace {

std::string utc_time_now() {
  const std::time_t t = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return text;
}

struct VoxelChange {
  std::size_t offset = 0;  ///< in the volume
  LabelId before = 0, after = 0;
};

struct Edit {
  std::vector<VoxelChange> changes;
  AuditEntry audit;  ///< as recorded when the edit was made
};

class Model final : public ViewerModel {
 public:
  explicit Model(ViewerInput in) : in_(std::move(in)) {
    const Geometry& g = in_.volume->geometry;
    if (in_.labels) {
      labels_ = std::move(*in_.labels);
      in_.labels.reset();
      if (!labels_.geometry.same_grid_as(g, 1e-3))
        throw Error(ErrorCode::InvalidInput, in_.results_dir.string(), "the label map is not on the scan's voxel grid");
    } else {
      labels_ = LabelMap(g, 0);
    }
    colours_.assign(65536, Rgb{128, 128, 128});
    const auto& catalog = LabelCatalog::standard();
    for (const Structure& s : catalog.structures()) {
      if (s.kind == StructureKind::MuscleGroup) continue;
      for (Side side : {Side::Right, Side::Left}) {
        LabelEntry e;
        e.label = catalog.label_id(s.key, side);
        e.key = s.key;
        e.side = std::string(musclecsa::to_string(side));
        e.display_name = s.name + " (" + e.side + ")";
        e.colour = s.colour;
        e.is_muscle = s.kind == StructureKind::Muscle;
        e.is_bone = s.kind == StructureKind::Bone || s.key == "bone_marrow";
        colours_[e.label] = s.colour;
        entries_.push_back(e);
      }
    }
    for (auto& e : entries_)
      if (const auto it = in_.display_names.find(e.label); it != in_.display_names.end()) e.display_name = it->second;
    counts_.assign(65536, 0);
    for (LabelId l : labels_.voxels) ++counts_[l];
    for (std::size_t l = 1; l < counts_.size(); ++l)  // labels outside the catalog are still shown
      if (counts_[l] > 0 && entry(LabelId(l)) == nullptr) {
        LabelEntry e;
        e.label = LabelId(l);
        e.key = "label_" + std::to_string(l);
        e.side = "none";
        e.display_name = "label " + std::to_string(l) + " (not in the catalog)";
        e.colour = colours_[l];
        entries_.push_back(e);
      }
    remeasure();
  }

  const ScalarVolume& volume() const override { return *in_.volume; }
  const LabelMap& labels() const override { return labels_; }
  const std::string& title() const override { return in_.title; }
  const std::vector<std::string>& notes() const override { return in_.notes; }
  DisplayPreset initial_preset() const override { return in_.preset; }

  WindowLevel window_level(DisplayPreset preset) const override {
    if (preset == DisplayPreset::CtMuscle) return {40, 400};
    if (preset == DisplayPreset::Ultrasound) return {127.5, 255};
    // MR: 0.5th to 99.5th percentile of the non-zero values (a sample of at most ~1M voxels).
    std::vector<float> sample;
    const auto& v = in_.volume->voxels;
    const std::size_t step = std::max<std::size_t>(1, v.size() / 1000000);
    for (std::size_t o = 0; o < v.size(); o += step)
      if (v[o] != 0 && std::isfinite(v[o])) sample.push_back(v[o]);
    if (sample.size() < 2) return {0.5, 1};
    auto at = [&](double q) {
      const auto n = std::size_t(q * double(sample.size() - 1));
      std::nth_element(sample.begin(), sample.begin() + long(n), sample.end());
      return double(sample[n]);
    };
    const double lo = at(0.005), hi = at(0.995);
    return {(lo + hi) / 2, std::max(hi - lo, 1e-6)};
  }

  const std::vector<LabelEntry>& entries() const override { return entries_; }
  bool present(LabelId label) const override { return counts_[label] > 0; }
  const LabelEntry* entry(LabelId label) const override {
    for (const auto& e : entries_)
      if (e.label == label) return &e;
    return nullptr;
  }
  LabelId find_label(const std::string& key, const std::string& side) const override {
    if (!key.empty() && std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      const long n = std::stol(key);
      return n > 0 && n < 65536 ? LabelId(n) : 0;
    }
    const std::string wanted_side = side.empty() ? "right" : side;
    for (const auto& e : entries_)
      if (e.key == key && (e.side == wanted_side || e.side == "none")) return e.label;
    return 0;
  }

  void compose_slice_rgb(int k, const SliceDisplay& d, std::vector<std::uint8_t>& rgb) const override {
    const Geometry& g = in_.volume->geometry;
    const std::size_t nx = g.size[0], ny = g.size[1];
    rgb.assign(nx * ny * 3, 0);
    if (k < 0 || std::size_t(k) >= g.size[2]) return;
    std::vector<char> hidden(65536, 0);
    for (LabelId l : d.hidden_labels) hidden[l] = 1;
    const double lo = d.window.centre - d.window.width / 2, scale = 255.0 / std::max(d.window.width, 1e-9);
    const double opacity = std::clamp(d.overlay_opacity, 0.0, 1.0);
    const float* v = in_.volume->slice(std::size_t(k));
    const LabelId* l = labels_.slice(std::size_t(k));
    for (std::size_t j = 0; j < ny; ++j)
      for (std::size_t i = 0; i < nx; ++i) {
        const std::size_t o = i + nx * j;
        const double grey = std::isfinite(v[o]) ? std::clamp((double(v[o]) - lo) * scale, 0.0, 255.0) : 0.0;
        double r = grey, gr = grey, b = grey;
        const LabelId label = l[o];
        if (label != 0 && !hidden[label]) {
          double a = opacity;
          if (d.outlines && (i == 0 || j == 0 || i + 1 == nx || j + 1 == ny || l[o - 1] != label || l[o + 1] != label ||
                             l[o - nx] != label || l[o + nx] != label))
            a = 1;
          const Rgb c = colours_[label];
          r = grey * (1 - a) + c.r * a, gr = grey * (1 - a) + c.g * a, b = grey * (1 - a) + c.b * a;
        }
        std::uint8_t* out = rgb.data() + 3 * ((ny - 1 - j) * nx + i);
        out[0] = std::uint8_t(std::lround(r)), out[1] = std::uint8_t(std::lround(gr)), out[2] = std::uint8_t(std::lround(b));
      }
  }

  const CaseMeasurements& measurements() const override { return measurements_; }

  double label_area_cm2(int k, LabelId label) const override {
    return double(count_in_slice(k, label)) * in_.volume->geometry.pixel_area_mm2() / 100;
  }

  std::size_t brush(int k, const std::vector<PixelPoint>& path, double radius_mm, LabelId label) override {
    check_slice(k);
    if (label == 0) throw Error(ErrorCode::InvalidArgument, "brush", "choose a structure to paint");
    const auto pixels = path_pixels(path, radius_mm);
    return apply("brush", k, label, pixels, [&](LabelId) { return label; });
  }

  std::size_t erase(int k, const std::vector<PixelPoint>& path, double radius_mm, LabelId label) override {
    check_slice(k);
    if (label == 0) throw Error(ErrorCode::InvalidArgument, "eraser", "choose a structure to erase");
    const auto pixels = path_pixels(path, radius_mm);
    return apply("eraser", k, label, pixels, [&](LabelId old) { return old == label ? LabelId(0) : old; });
  }

  std::size_t set_contour(int k, const std::vector<PixelPoint>& polygon, LabelId label) override {
    check_slice(k);
    if (label == 0) throw Error(ErrorCode::InvalidArgument, "contour", "choose a structure");
    if (polygon.size() < 3) throw Error(ErrorCode::InvalidArgument, "contour", "a contour needs at least 3 points");
    const Geometry& g = in_.volume->geometry;
    auto inside_pixels = detail::polygon_pixels(g, polygon);
    std::vector<char> inside(g.slice_voxel_count(), 0);
    for (std::size_t o : inside_pixels) inside[o] = 1;
    std::vector<std::size_t> pixels = inside_pixels;
    const LabelId* l = labels_.slice(std::size_t(k));
    for (std::size_t o = 0; o < g.slice_voxel_count(); ++o)
      if (l[o] == label && !inside[o]) pixels.push_back(o);
    return apply("contour", k, label, pixels, [&](LabelId) { return label; }, &inside);
  }

  std::vector<PixelPoint> contour_of(int k, LabelId label, std::size_t max_points) const override {
    const Geometry& g = in_.volume->geometry;
    if (k < 0 || std::size_t(k) >= g.size[2] || label == 0) return {};
    std::vector<char> mask(g.slice_voxel_count());
    const LabelId* l = labels_.slice(std::size_t(k));
    for (std::size_t o = 0; o < mask.size(); ++o) mask[o] = l[o] == label;
    return detail::largest_region_outline(mask, g.size[0], g.size[1], max_points);
  }

  bool undo() override {
    if (done_.empty()) return false;
    Edit edit = std::move(done_.back());
    done_.pop_back();
    for (auto it = edit.changes.rbegin(); it != edit.changes.rend(); ++it) set_voxel(it->offset, it->before);
    log_undo_redo("undo", edit);
    changed(edit);
    undone_.push_back(std::move(edit));
    return true;
  }

  bool redo() override {
    if (undone_.empty()) return false;
    Edit edit = std::move(undone_.back());
    undone_.pop_back();
    for (const auto& c : edit.changes) set_voxel(c.offset, c.after);
    log_undo_redo("redo", edit);
    changed(edit);
    done_.push_back(std::move(edit));
    return true;
  }

  bool can_undo() const override { return !done_.empty(); }
  bool can_redo() const override { return !undone_.empty(); }
  std::uint64_t revision() const override { return revision_; }
  std::vector<LabelId> labels_changed_since(std::uint64_t revision) const override {
    std::vector<LabelId> out;
    for (const auto& [at, labels] : changed_labels_)
      if (at > revision) out.insert(out.end(), labels.begin(), labels.end());
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
  bool modified_since_save() const override { return revision_ != saved_revision_; }

  void save() override {
    const std::filesystem::path& dir = in_.save_dir;
    if (dir.empty()) throw Error(ErrorCode::InvalidArgument, "save", "no save folder");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw Error(ErrorCode::OutputFailed, dir.string(), "cannot create the save folder: " + ec.message());
    if (in_.save) {
      in_.save(labels_, dir);
    } else {
      io::write_image(labels_, dir / "labels.nii.gz");
      io::write_label_names(dir / "labels.json");
    }
    // The audit log grows by the entries made since the last save (rewritten whole, atomically).
    const auto log_path = dir / "edits.jsonl";
    std::string log = std::filesystem::exists(log_path) ? io::read_text(log_path) : std::string();
    for (std::size_t n = audit_saved_; n < audit_.size(); ++n) log += audit_json_line(audit_[n]) + "\n";
    io::write_text_atomically(log_path, log);
    audit_saved_ = audit_.size();
    saved_revision_ = revision_;
  }

  const std::filesystem::path& save_dir() const override { return in_.save_dir; }
  const std::vector<AuditEntry>& audit_entries() const override { return audit_; }

 private:
  /// In-slice offsets covered by a disc swept along the path, each once.
  std::vector<std::size_t> path_pixels(const std::vector<PixelPoint>& path, double radius_mm) const {
    if (!(radius_mm > 0)) throw Error(ErrorCode::InvalidArgument, "brush radius", "must be positive (mm)");
    std::vector<std::size_t> pixels;
    for (std::size_t n = 0; n < path.size(); ++n) {
      const auto part = detail::stroke_pixels(in_.volume->geometry, path[n], path[n + 1 < path.size() ? n + 1 : n], radius_mm);
      pixels.insert(pixels.end(), part.begin(), part.end());
    }
    std::sort(pixels.begin(), pixels.end());
    pixels.erase(std::unique(pixels.begin(), pixels.end()), pixels.end());
    return pixels;
  }

  void check_slice(int k) const {
    if (k < 0 || std::size_t(k) >= in_.volume->geometry.size[2])
      throw Error(ErrorCode::InvalidArgument, "slice " + std::to_string(k),
                  "outside the scan (slices 0.." + std::to_string(int(in_.volume->geometry.size[2]) - 1) + ")");
  }

  std::size_t count_in_slice(int k, LabelId label) const {
    const Geometry& g = in_.volume->geometry;
    if (k < 0 || std::size_t(k) >= g.size[2]) return 0;
    const LabelId* l = labels_.slice(std::size_t(k));
    return std::size_t(std::count(l, l + g.slice_voxel_count(), label));
  }

  void set_voxel(std::size_t offset, LabelId value) {
    --counts_[labels_.voxels[offset]];
    labels_.voxels[offset] = value;
    ++counts_[value];
  }

  /// Applies new_label(old) to the pixels (or, for a contour, `label` inside and 0 outside).
  template <class NewLabel>
  std::size_t apply(const std::string& action, int k, LabelId label, const std::vector<std::size_t>& pixels, NewLabel new_label,
                    const std::vector<char>* inside = nullptr) {
    const Geometry& g = in_.volume->geometry;
    const std::size_t base = std::size_t(k) * g.slice_voxel_count();
    const double px_cm2 = g.pixel_area_mm2() / 100;
    Edit edit;
    const std::size_t before_count = count_in_slice(k, label);
    std::map<LabelId, long> others;  // voxels other structures lost
    for (std::size_t o : pixels) {
      const LabelId old = labels_.voxels[base + o];
      const LabelId now = inside ? ((*inside)[o] ? label : LabelId(0)) : new_label(old);
      if (now == old) continue;
      edit.changes.push_back({base + o, old, now});
      set_voxel(base + o, now);
      if (old != 0 && old != label) --others[old];
    }
    if (edit.changes.empty()) return 0;
    const LabelEntry* e = entry(label);
    AuditEntry& a = edit.audit;
    a.user = current_user_name();
    a.time_utc = utc_time_now();
    a.action = action;
    a.edit_number = ++edit_count_;
    a.label = label;
    a.structure = e ? e->key : "label_" + std::to_string(label);
    a.side = e ? e->side : "none";
    a.slices = {k};
    a.area_before_cm2 = double(before_count) * px_cm2;
    a.area_after_cm2 = double(count_in_slice(k, label)) * px_cm2;
    a.voxels_changed = edit.changes.size();
    for (const auto& [other, lost] : others) {
      const LabelEntry* oe = entry(other);
      a.other_structures_cm2.emplace_back(oe ? oe->key + " " + oe->side : "label_" + std::to_string(other), double(lost) * px_cm2);
    }
    audit_.push_back(a);
    const std::size_t n = edit.changes.size();
    changed(edit);
    done_.push_back(std::move(edit));
    undone_.clear();
    return n;
  }

  void log_undo_redo(const std::string& action, const Edit& edit) {
    AuditEntry a = edit.audit;
    a.user = current_user_name();
    a.time_utc = utc_time_now();
    a.action = action;
    if (action == "undo") std::swap(a.area_before_cm2, a.area_after_cm2);
    if (action == "undo")
      for (auto& [name, change] : a.other_structures_cm2) change = -change;
    audit_.push_back(a);
  }

  void changed(const Edit& edit) {
    ++revision_;
    std::vector<LabelId> labels;
    for (const auto& c : edit.changes) labels.push_back(c.before), labels.push_back(c.after);
    std::sort(labels.begin(), labels.end());
    labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
    changed_labels_.emplace_back(revision_, std::move(labels));
    remeasure();
  }

  void remeasure() {
    if (in_.measure) {
      measurements_ = in_.measure(labels_);
      return;
    }
    // Without an analysis: the area of every structure in every slice.
    const Geometry& g = in_.volume->geometry;
    measurements_ = {};
    measurements_.slices.resize(g.size[2]);
    std::vector<std::size_t> count(65536);
    for (std::size_t k = 0; k < g.size[2]; ++k) {
      std::fill(count.begin(), count.end(), 0);
      const LabelId* l = labels_.slice(k);
      for (std::size_t o = 0; o < g.slice_voxel_count(); ++o) ++count[l[o]];
      for (std::size_t label = 1; label < count.size(); ++label)
        if (count[label] > 0) {
          const LabelEntry* e = entry(LabelId(label));
          measurements_.slices[k].push_back({(e ? e->display_name : "label " + std::to_string(label)) + " area",
                                             double(count[label]) * g.pixel_area_mm2() / 100, "cm2"});
        }
    }
  }

  ViewerInput in_;
  LabelMap labels_;
  std::vector<Rgb> colours_;
  std::vector<LabelEntry> entries_;
  std::vector<std::size_t> counts_;
  CaseMeasurements measurements_;
  std::vector<Edit> done_, undone_;
  std::vector<AuditEntry> audit_;
  std::size_t audit_saved_ = 0;
  int edit_count_ = 0;
  std::uint64_t revision_ = 0, saved_revision_ = 0;
  std::vector<std::pair<std::uint64_t, std::vector<LabelId>>> changed_labels_;  ///< per revision
};

}  // namespace

std::unique_ptr<ViewerModel> make_viewer_model(ViewerInput input) {
  if (!input.volume) throw Error(ErrorCode::InvalidInput, input.input_path.string(), "no scan");
  input.volume->geometry.validate(input.input_path.string());
  if (input.volume->voxels.size() != input.volume->geometry.voxel_count())
    throw Error(ErrorCode::InvalidInput, input.input_path.string(), "the scan holds no voxels");
  return std::make_unique<Model>(std::move(input));
}

}  // namespace musclecsa::render
