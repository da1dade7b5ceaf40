#pragma once
// The viewer window (Qt5 + VTK): axial slice view with the label overlay, 3-D view, a panel with
// window presets, overlay opacity, the structure legend with visibility, editing tools and the
// measurements of the current slice and the standard level. Every user action is a public
// function, so the script runner (script.cpp) drives the same code as the mouse and keyboard.

#include <QMainWindow>

#include <vtkSmartPointer.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "musclecsa/render/viewer.h"
#include "scenes.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QListWidget;
class QSlider;
class QTableWidget;
class QTimer;
class QVTKOpenGLNativeWidget;
class vtkGenericOpenGLRenderWindow;

namespace musclecsa::render::view {

enum class Tool { Navigate, Brush, Eraser, Contour };

class ViewerWindow : public QMainWindow {
 public:
  ViewerWindow(ViewerModel& model, const ViewOptions& options, bool scripted);
  ~ViewerWindow() override;

  ViewerModel& model() { return model_; }
  AxialScene& axial() { return *axial_; }
  SurfaceScene& surfaces() { return *surfaces_; }

  void set_slice(int k);
  int slice() const { return axial_->slice(); }
  void step_slice(int delta) { set_slice(slice() + delta); }
  void set_preset(DisplayPreset preset);
  /// Window centre and width in the scan's units (HU for CT), as fine adjustment of a preset.
  void set_window(double centre, double width);
  void set_opacity(double opacity);
  void set_tool(Tool tool);
  Tool tool() const { return tool_; }
  void set_structure(LabelId label);
  LabelId structure() const { return structure_; }
  void set_radius_mm(double radius_mm);
  double radius_mm() const { return radius_mm_; }
  void set_label_visible(LabelId label, bool visible);

  /// Brush (or, with the eraser tool, erase) along a path on the current slice; returns voxels changed.
  std::size_t paint(const std::vector<PixelPoint>& path, bool erase);
  /// The contour being edited on the current slice.
  const std::vector<PixelPoint>& contour() const { return contour_; }
  void set_contour(std::vector<PixelPoint> points);
  void load_outline();                       ///< the structure's outline becomes the editable contour
  void move_contour_vertex(std::size_t n, PixelPoint to);
  std::size_t apply_contour();
  void undo();
  void redo();
  void save();
  void zoom(double factor);
  void reset_views();
  void rotate_3d(double degrees);
  /// The measurements panel as text lines ("name<TAB>value<TAB>unit", section headers alone).
  std::vector<std::string> measurement_lines() const;
  /// The whole window as a PNG (what the user sees).
  void screenshot(const std::filesystem::path& path);
  /// Presses a key (e.g. "Up", "Ctrl+Z") in the axial view as the keyboard would, through Qt's
  /// event delivery and shortcuts; false when the text is not a key.
  bool press_key(const std::string& key);
  /// Renders both views now (the script runner calls it after every action).
  void render_now();
  /// Renders the axial view only (slice, display and tool changes leave the 3-D view as it is).
  void render_axial();

  // Mouse in the axial view (VTK display coordinates), from the interactor style.
  bool wants_left_button() const { return tool_ != Tool::Navigate; }
  void left_press(double x, double y);
  void mouse_move(double x, double y);
  void left_release(double x, double y);

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  void build_panel();
  void after_labels_changed();     ///< redraw, refresh legend and numbers, schedule the 3-D rebuild
  void refresh_slice_view();
  void refresh_measurements();
  void refresh_legend();
  void refresh_actions();
  void rebuild_3d();
  void show_path_preview();
  void report_error(const std::string& what);

  ViewerModel& model_;
  bool scripted_ = false;
  std::unique_ptr<AxialScene> axial_;
  std::unique_ptr<SurfaceScene> surfaces_;
  QVTKOpenGLNativeWidget* axial_widget_ = nullptr;
  QVTKOpenGLNativeWidget* surface_widget_ = nullptr;
  vtkSmartPointer<vtkGenericOpenGLRenderWindow> axial_window_, surface_window_;
  QComboBox* preset_box_ = nullptr;
  QDoubleSpinBox* centre_box_ = nullptr;
  QDoubleSpinBox* width_box_ = nullptr;
  QComboBox* tool_box_ = nullptr;
  QComboBox* structure_box_ = nullptr;
  QDoubleSpinBox* radius_box_ = nullptr;
  QSlider* opacity_slider_ = nullptr;
  QSlider* slice_slider_ = nullptr;
  QLabel* slice_label_ = nullptr;
  QListWidget* legend_ = nullptr;
  QTableWidget* table_ = nullptr;
  QAction* undo_action_ = nullptr;
  QAction* redo_action_ = nullptr;
  QTimer* rebuild_3d_timer_ = nullptr;

  Tool tool_ = Tool::Navigate;
  LabelId structure_ = 0;
  double radius_mm_ = 5;
  std::vector<LabelId> hidden_;
  std::vector<PixelPoint> stroke_;      ///< brush path while the button is down
  bool stroking_ = false;
  std::vector<PixelPoint> contour_;
  long dragged_vertex_ = -1;
  std::uint64_t surfaces_revision_ = ~std::uint64_t(0);
};

}  // namespace musclecsa::render::view
