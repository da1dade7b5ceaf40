#pragma once
// The viewer and offscreen rendering (musclecsa view / render): a plain C++ model of what is shown
// and edited (scan, label map, measurements, edits with undo/redo, audit log) and the entry points
// that draw it with Qt and VTK. Qt and VTK live in a plugin (lib/libmusclecsa_view.so) opened only
// when something is drawn, so processes that never draw (batch cases) do not load them.
// Pixel indices (i, j) are voxel columns and rows of an axial slice k, as in Geometry.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "musclecsa/core/catalog.h"
#include "musclecsa/core/image.h"

namespace musclecsa::render {

/// One voxel label the viewer can show and edit: a catalog structure on a side.
struct LabelEntry {
  LabelId label = 0;
  std::string key;           ///< catalog key, e.g. "rectus_femoris"
  std::string side;          ///< "right", "left" or "none"
  std::string display_name;  ///< e.g. "Rectus femoris (right)"
  Rgb colour;
  bool is_muscle = false;
  bool is_bone = false;      ///< bones and marrow
};

/// One number of the measurements panel.
struct MeasureRow {
  std::string name;   ///< e.g. "right: muscle CSA", "right: Rectus femoris CSA"
  double value = 0;
  std::string unit;   ///< "cm2", "[hnsf'U]", "1", "mm"
};

/// A standard measurement level (e.g. 50% of femur length) of one side.
struct StandardLevel {
  std::string name;   ///< protocol level name, e.g. "femur_50pct"
  std::string side;   ///< "right" or "left"
  int slice = -1;
  double z_mm = 0;    ///< LPS z of the level slice
};

/// What the measurements panel shows, recomputed after every edit.
struct CaseMeasurements {
  std::vector<std::vector<MeasureRow>> slices;  ///< rows per slice k (size = slice count, or empty)
  std::vector<StandardLevel> levels;            ///< found levels only
};

/// Recomputes the measurements from an (edited) label map.
using MeasureFunction = std::function<CaseMeasurements(const LabelMap& labels)>;
/// Writes the results of an (edited) label map into a folder (labels, results in analyze's formats).
using SaveFunction = std::function<void(const LabelMap& labels, const std::filesystem::path& folder)>;

/// Window/level presets of the slice view.
enum class DisplayPreset {
  CtMuscle,    ///< centre 40 HU, width 400 HU (soft tissue, as the QC images)
  MrAuto,      ///< 0.5th to 99.5th percentile of the volume's non-zero values
  Ultrasound,  ///< grey levels 0-255 as stored
};
std::string to_string(DisplayPreset preset);  ///< "ct", "mr", "us"
/// Parses "ct", "mr" or "us"; throws Error(InvalidArgument, option_name, ...) otherwise.
DisplayPreset display_preset_from_string(const std::string& text, const std::string& option_name);

struct WindowLevel {
  double centre = 40, width = 400;  ///< in the volume's units (HU for CT)
};

/// How a slice is drawn.
struct SliceDisplay {
  WindowLevel window;
  double overlay_opacity = 0.5;        ///< 0 = scan only, 1 = label colours only
  bool outlines = true;                ///< structure borders drawn in full colour
  std::vector<LabelId> hidden_labels;  ///< labels not drawn
};

/// A point of a slice in continuous voxel coordinates (i along columns, j along rows).
struct PixelPoint {
  double i = 0, j = 0;
};

/// One entry of the audit log (docs/viewer.md): an edit, its undo or its redo.
struct AuditEntry {
  std::string user;            ///< $USER, else the password database name of the real user id
  std::string time_utc;        ///< ISO 8601, e.g. 2026-11-21T21:05:00Z
  std::string action;          ///< "brush", "eraser", "contour", "undo", "redo"
  int edit_number = 0;         ///< 1, 2, ... in the order edits were made (undo/redo name the edit they act on)
  LabelId label = 0;
  std::string structure;       ///< catalog key of the edited structure
  std::string side;
  std::vector<int> slices;     ///< slices the edit changed
  double area_before_cm2 = 0;  ///< the structure's area over those slices, before and after
  double area_after_cm2 = 0;
  std::size_t voxels_changed = 0;
  std::vector<std::pair<std::string, double>> other_structures_cm2;  ///< area change of structures painted over
};

/// One line of the audit log (JSON, no newline).
std::string audit_json_line(const AuditEntry& entry);
/// The user running the program: $USER, else the password database entry of the real user id, else the uid.
std::string current_user_name();

/// What the model is built from (cmd_view.cpp fills it).
struct ViewerInput {
  std::shared_ptr<const ScalarVolume> volume;  ///< shared with the caller (e.g. its re-measurement), not copied
  std::optional<LabelMap> labels;        ///< on the volume's grid; none = scan only (editing starts empty)
  DisplayPreset preset = DisplayPreset::CtMuscle;
  std::string title;                     ///< window title / render caption (the input's name)
  std::filesystem::path input_path, results_dir;
  std::filesystem::path save_dir;        ///< where `save` writes (never the original results folder)
  MeasureFunction measure;               ///< empty: areas per label only
  SaveFunction save;                     ///< empty: save writes labels.nii.gz and labels.json only
  std::vector<std::string> notes;        ///< shown in the panel (e.g. what is supported for this input)
  /// Names shown instead of the catalog's "Name (side)" (an ultrasound muscle without a side).
  std::map<LabelId, std::string> display_names;
};

/// The viewer's model: everything the Qt/VTK plugin reads and changes, behind an abstract interface
/// (the plugin links no MuscleCSA library; it calls these virtual functions only).
class ViewerModel {
 public:
  virtual ~ViewerModel() = default;

  virtual const ScalarVolume& volume() const = 0;
  virtual const LabelMap& labels() const = 0;
  virtual const std::string& title() const = 0;
  virtual const std::vector<std::string>& notes() const = 0;
  virtual DisplayPreset initial_preset() const = 0;
  virtual WindowLevel window_level(DisplayPreset preset) const = 0;
  /// Every label of the catalog (for the brush) with `present` telling which are in the label map now.
  virtual const std::vector<LabelEntry>& entries() const = 0;
  virtual bool present(LabelId label) const = 0;
  /// The entry of a label, or nullptr.
  virtual const LabelEntry* entry(LabelId label) const = 0;
  /// Label id of "KEY SIDE" / "KEY" (right) / a number; 0 when unknown.
  virtual LabelId find_label(const std::string& key, const std::string& side) const = 0;
  /// Slice in display order as RGB bytes: radiological view (patient right on the left of the
  /// screen, anterior up): output row r (bottom-up, as VTK stores rows) shows voxel row j = rows-1-r.
  virtual void compose_slice_rgb(int k, const SliceDisplay& display, std::vector<std::uint8_t>& rgb) const = 0;
  virtual const CaseMeasurements& measurements() const = 0;
  /// Area (cm2) of one label in slice k.
  virtual double label_area_cm2(int k, LabelId label) const = 0;

  // Editing. Each call is one undoable edit; it returns the number of voxels changed (0: nothing
  // changed and no edit recorded). Measurements are recomputed before it returns.
  /// Paints `label` in a disc of radius_mm swept along the path (one point: a dab).
  virtual std::size_t brush(int k, const std::vector<PixelPoint>& path, double radius_mm, LabelId label) = 0;
  /// Erases `label` (sets it to background 0) in the swept disc; other structures are left alone.
  virtual std::size_t erase(int k, const std::vector<PixelPoint>& path, double radius_mm, LabelId label) = 0;
  /// Replaces the structure's region in slice k by the polygon: voxel centres inside become
  /// `label`, voxels of `label` outside become background.
  virtual std::size_t set_contour(int k, const std::vector<PixelPoint>& polygon, LabelId label) = 0;
  /// The outline of the largest connected region of `label` in slice k (voxel corners, closed,
  /// simplified to at most max_points points); empty when absent.
  virtual std::vector<PixelPoint> contour_of(int k, LabelId label, std::size_t max_points) const = 0;
  virtual bool undo() = 0;
  virtual bool redo() = 0;
  virtual bool can_undo() const = 0;
  virtual bool can_redo() const = 0;
  /// Counts every change of the label map (edits, undo, redo), so views know when to redraw.
  virtual std::uint64_t revision() const = 0;
  /// The labels that gained or lost voxels in the changes after `revision` (what a view built at
  /// that revision must redraw).
  virtual std::vector<LabelId> labels_changed_since(std::uint64_t revision) const = 0;
  virtual bool modified_since_save() const = 0;

  /// Writes the edited label map and results into save_dir() and appends the audit entries made
  /// since the last save to save_dir()/edits.jsonl. Throws Error naming the file on failure.
  virtual void save() = 0;
  virtual const std::filesystem::path& save_dir() const = 0;
  virtual const std::vector<AuditEntry>& audit_entries() const = 0;
};

/// Builds the model (labels absent: an empty label map on the volume's grid).
std::unique_ptr<ViewerModel> make_viewer_model(ViewerInput input);

/// Options of the interactive viewer.
struct ViewOptions {
  std::optional<int> slice;               ///< first slice shown (default: the standard level, else the middle)
  std::filesystem::path script;           ///< run these actions, then exit (docs/viewer.md); empty: interactive
  int width_px = 1400, height_px = 900;   ///< window size
};

/// Options of offscreen rendering.
struct RenderOptions {
  std::filesystem::path out;              ///< PNG file
  std::string view = "axial";             ///< "axial" or "3d"
  std::optional<int> slice;               ///< axial slice (default: the standard level, else the middle)
  std::optional<DisplayPreset> preset;    ///< default: the model's
  double overlay_opacity = 0.5;
  int size_px = 768;                      ///< axial: the longer side of the image area; 3d: width and height
};

/// Opens the viewer window and runs it until closed (or until its script ends). Returns the exit
/// code. Throws Error(InvalidInput) without an X server, Error(Internal) when the plugin is missing.
int run_viewer(ViewerModel& model, const ViewOptions& options);

/// Draws a view offscreen (an X server is needed: VTK here renders through GLX) into a PNG,
/// written under a temporary name and renamed. Axial: the slice fills an area of round(columns *
/// spacing_i * s) x round(rows * spacing_j * s) pixels (s scales the longer side to size_px) at the
/// top left of the picture, radiological view; a legend and the slice's numbers are to its right.
void render_png(ViewerModel& model, const RenderOptions& options);

}  // namespace musclecsa::render
