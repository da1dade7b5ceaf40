#include "viewer_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QKeySequence>
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QPixmap>
#include <QPushButton>
#include <QShortcut>
#include <QSlider>
#include <QSplitter>
#include <QStatusBar>
#include <QTableWidget>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>
#include <QVTKOpenGLNativeWidget.h>
#include <QtTest/QTest>

#include <vtkCamera.h>
#include <vtkGenericOpenGLRenderWindow.h>
#include <vtkInteractorStyleImage.h>
#include <vtkInteractorStyleTrackballCamera.h>
#include <vtkObjectFactory.h>
#include <vtkRenderWindowInteractor.h>
#include <vtkRenderer.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace musclecsa::render::view {
namespace {

QIcon colour_icon(Rgb c) {
  QPixmap swatch(14, 14);
  swatch.fill(QColor(c.r, c.g, c.b));
  return QIcon(swatch);
}

/// Axial view mouse: the wheel changes slices (Ctrl+wheel zooms), the left button paints or edits
/// the contour with an editing tool and pans otherwise, the middle button pans, the right zooms.
/// VTK's own key bindings (q/e quit, w wireframe, r reset...) are off: keys belong to the window.
class AxialStyle : public vtkInteractorStyleImage {
 public:
  static AxialStyle* New();
  vtkTypeMacro(AxialStyle, vtkInteractorStyleImage)
  ViewerWindow* window = nullptr;

  void OnMouseWheelForward() override {
    if (Interactor->GetControlKey()) return vtkInteractorStyleImage::OnMouseWheelForward();
    window->step_slice(+1);
  }
  void OnMouseWheelBackward() override {
    if (Interactor->GetControlKey()) return vtkInteractorStyleImage::OnMouseWheelBackward();
    window->step_slice(-1);
  }
  void OnLeftButtonDown() override {
    if (!window->wants_left_button()) {
      FindPokedRenderer(Interactor->GetEventPosition()[0], Interactor->GetEventPosition()[1]);
      StartPan();
      return;
    }
    window->left_press(Interactor->GetEventPosition()[0], Interactor->GetEventPosition()[1]);
  }
  void OnLeftButtonUp() override {
    if (State == VTKIS_PAN) {
      EndPan();
      return;
    }
    if (window->wants_left_button()) window->left_release(Interactor->GetEventPosition()[0], Interactor->GetEventPosition()[1]);
  }
  void OnMouseMove() override {
    if (window->wants_left_button()) window->mouse_move(Interactor->GetEventPosition()[0], Interactor->GetEventPosition()[1]);
    vtkInteractorStyleImage::OnMouseMove();
  }
  void OnChar() override {}
  void OnKeyPress() override {}
};
vtkStandardNewMacro(AxialStyle);

class SurfaceStyle : public vtkInteractorStyleTrackballCamera {
 public:
  static SurfaceStyle* New();
  vtkTypeMacro(SurfaceStyle, vtkInteractorStyleTrackballCamera)
  void OnChar() override {}
  void OnKeyPress() override {}
};
vtkStandardNewMacro(SurfaceStyle);

double aspect_of(QWidget* widget) { return widget->height() > 0 ? double(widget->width()) / widget->height() : 1.0; }

}  // namespace

ViewerWindow::ViewerWindow(ViewerModel& model, const ViewOptions& options, bool scripted)
    : model_(model), scripted_(scripted) {
  setWindowTitle(QString::fromStdString("MuscleCSA viewer - " + model.title() + "[*]"));
  axial_ = std::make_unique<AxialScene>(model);
  surfaces_ = std::make_unique<SurfaceScene>(model);
  if (options.slice) axial_->set_slice(*options.slice);
  // The structure to edit first: the first muscle present, else the first label present.
  for (const auto& e : model.entries())
    if (model.present(e.label) && (structure_ == 0 || (e.is_muscle && !model.entry(structure_)->is_muscle))) structure_ = e.label;
  if (structure_ == 0 && !model.entries().empty()) structure_ = model.entries().front().label;

  axial_widget_ = new QVTKOpenGLNativeWidget(this);
  axial_window_ = vtkSmartPointer<vtkGenericOpenGLRenderWindow>::New();
  axial_widget_->setRenderWindow(axial_window_);
  axial_window_->AddRenderer(axial_->renderer());
  auto axial_style = vtkSmartPointer<AxialStyle>::New();
  axial_style->window = this;
  axial_widget_->interactor()->SetInteractorStyle(axial_style);
  axial_widget_->setMinimumSize(420, 420);

  surface_widget_ = new QVTKOpenGLNativeWidget(this);
  surface_window_ = vtkSmartPointer<vtkGenericOpenGLRenderWindow>::New();
  surface_widget_->setRenderWindow(surface_window_);
  surface_window_->AddRenderer(surfaces_->renderer());
  surface_widget_->interactor()->SetInteractorStyle(vtkSmartPointer<SurfaceStyle>::New());
  surface_widget_->setMinimumSize(260, 260);

  auto* views = new QSplitter(Qt::Horizontal);
  views->addWidget(axial_widget_);
  views->addWidget(surface_widget_);
  views->setStretchFactor(0, 3);
  views->setStretchFactor(1, 2);
  auto* main_split = new QSplitter(Qt::Horizontal);
  main_split->addWidget(views);
  auto* panel = new QWidget;
  main_split->addWidget(panel);
  main_split->setStretchFactor(0, 4);
  main_split->setStretchFactor(1, 1);
  setCentralWidget(main_split);
  panel->setLayout(new QVBoxLayout);
  panel->setMinimumWidth(340);
  panel->setMaximumWidth(440);
  panel->setObjectName("panel");
  build_panel();

  rebuild_3d_timer_ = new QTimer(this);
  rebuild_3d_timer_->setSingleShot(true);
  connect(rebuild_3d_timer_, &QTimer::timeout, this, [this] { rebuild_3d(); render_now(); });

  rebuild_3d();
  int level_slice = -1;
  if (!model.measurements().levels.empty()) level_slice = model.measurements().levels.front().slice;
  surfaces_->set_level_slice(level_slice);
  surfaces_->reset_camera();
  refresh_slice_view();
  refresh_measurements();
  refresh_legend();
  refresh_actions();
  statusBar()->showMessage(model.labels().voxels.empty() ? "no labels" : "ready");
}

ViewerWindow::~ViewerWindow() = default;

void ViewerWindow::build_panel() {
  auto* panel = findChild<QWidget*>("panel");
  auto* layout = static_cast<QVBoxLayout*>(panel->layout());
  auto* form = new QFormLayout;
  layout->addLayout(form);

  preset_box_ = new QComboBox;
  preset_box_->addItem("CT muscle (40/400 HU)", int(DisplayPreset::CtMuscle));
  preset_box_->addItem("MR auto (percentiles)", int(DisplayPreset::MrAuto));
  preset_box_->addItem("Ultrasound (0-255)", int(DisplayPreset::Ultrasound));
  preset_box_->setCurrentIndex(preset_box_->findData(int(model_.initial_preset())));
  connect(preset_box_, QOverload<int>::of(&QComboBox::activated), this,
          [this](int index) { set_preset(DisplayPreset(preset_box_->itemData(index).toInt())); });
  form->addRow("Window", preset_box_);
  auto* window_row = new QHBoxLayout;
  centre_box_ = new QDoubleSpinBox;
  width_box_ = new QDoubleSpinBox;
  for (QDoubleSpinBox* box : {centre_box_, width_box_}) {
    box->setRange(-100000, 100000);
    box->setDecimals(1);
    box->setSingleStep(10);
    box->setKeyboardTracking(false);
    window_row->addWidget(box);
  }
  width_box_->setMinimum(0.1);
  centre_box_->setPrefix("centre ");
  width_box_->setPrefix("width ");
  centre_box_->setValue(axial_->display().window.centre);
  width_box_->setValue(axial_->display().window.width);
  auto window_changed = [this] { set_window(centre_box_->value(), width_box_->value()); };
  connect(centre_box_, QOverload<double>::of(&QDoubleSpinBox::valueChanged), this, window_changed);
  connect(width_box_, QOverload<double>::of(&QDoubleSpinBox::valueChanged), this, window_changed);
  form->addRow("", window_row);

  opacity_slider_ = new QSlider(Qt::Horizontal);
  opacity_slider_->setRange(0, 100);
  opacity_slider_->setValue(int(std::lround(axial_->display().overlay_opacity * 100)));
  connect(opacity_slider_, &QSlider::valueChanged, this, [this](int v) { set_opacity(v / 100.0); });
  form->addRow("Overlay", opacity_slider_);

  slice_slider_ = new QSlider(Qt::Horizontal);
  slice_slider_->setRange(0, int(model_.volume().geometry.size[2]) - 1);
  slice_slider_->setValue(axial_->slice());
  connect(slice_slider_, &QSlider::valueChanged, this, [this](int v) { set_slice(v); });
  slice_label_ = new QLabel;
  form->addRow(slice_label_, slice_slider_);

  tool_box_ = new QComboBox;
  tool_box_->addItem("Navigate (N)", int(Tool::Navigate));
  tool_box_->addItem("Brush (B)", int(Tool::Brush));
  tool_box_->addItem("Eraser (E)", int(Tool::Eraser));
  tool_box_->addItem("Contour (C)", int(Tool::Contour));
  connect(tool_box_, QOverload<int>::of(&QComboBox::activated), this,
          [this](int index) { set_tool(Tool(tool_box_->itemData(index).toInt())); });
  form->addRow("Tool", tool_box_);

  structure_box_ = new QComboBox;
  for (const auto& e : model_.entries())
    structure_box_->addItem(colour_icon(e.colour), QString::fromStdString(e.display_name), int(e.label));
  structure_box_->setCurrentIndex(structure_box_->findData(int(structure_)));
  connect(structure_box_, QOverload<int>::of(&QComboBox::activated), this,
          [this](int index) { set_structure(LabelId(structure_box_->itemData(index).toInt())); });
  form->addRow("Structure", structure_box_);

  radius_box_ = new QDoubleSpinBox;
  radius_box_->setRange(0.5, 100);
  radius_box_->setSingleStep(0.5);
  radius_box_->setSuffix(" mm");
  radius_box_->setValue(radius_mm_);
  connect(radius_box_, QOverload<double>::of(&QDoubleSpinBox::valueChanged), this, [this](double v) { radius_mm_ = v; });
  form->addRow("Brush radius", radius_box_);

  auto* contour_row = new QHBoxLayout;
  auto* outline_button = new QPushButton("Outline (O)");
  outline_button->setToolTip("load the structure's outline on this slice as an editable contour (drag its points)");
  connect(outline_button, &QPushButton::clicked, this, [this] { load_outline(); });
  auto* apply_button = new QPushButton("Apply (Enter)");
  apply_button->setToolTip("the structure becomes the inside of the contour on this slice");
  connect(apply_button, &QPushButton::clicked, this, [this] { apply_contour(); });
  auto* clear_button = new QPushButton("Clear (Esc)");
  connect(clear_button, &QPushButton::clicked, this, [this] { set_contour({}); });
  contour_row->addWidget(outline_button);
  contour_row->addWidget(apply_button);
  contour_row->addWidget(clear_button);
  layout->addLayout(contour_row);

  auto* toolbar = addToolBar("Edit");
  undo_action_ = toolbar->addAction("Undo", this, [this] { undo(); });
  undo_action_->setShortcut(QKeySequence::Undo);
  redo_action_ = toolbar->addAction("Redo", this, [this] { redo(); });
  redo_action_->setShortcuts({QKeySequence::Redo, QKeySequence("Ctrl+Y")});
  auto* save_action = toolbar->addAction("Save", this, [this] {
    try {
      save();
    } catch (const std::exception& e) {
      report_error(e.what());
    }
  });
  save_action->setShortcut(QKeySequence::Save);
  toolbar->addAction("Reset views (R)", this, [this] { reset_views(); });
  toolbar->addAction("Screenshot", this, [this] {
    const QString file = QFileDialog::getSaveFileName(this, "Screenshot", "viewer.png", "PNG (*.png)");
    if (!file.isEmpty()) screenshot(file.toStdString());
  });
  toolbar->addAction("Quit", this, [this] { close(); })->setShortcut(QKeySequence::Quit);

  auto shortcut = [this](QKeySequence keys, auto function) {
    auto* s = new QShortcut(keys, this);
    s->setContext(Qt::WindowShortcut);
    connect(s, &QShortcut::activated, this, function);
  };
  shortcut(QKeySequence(Qt::Key_Up), [this] { step_slice(+1); });
  shortcut(QKeySequence(Qt::Key_Down), [this] { step_slice(-1); });
  shortcut(QKeySequence(Qt::Key_PageUp), [this] { step_slice(+5); });
  shortcut(QKeySequence(Qt::Key_PageDown), [this] { step_slice(-5); });
  shortcut(QKeySequence(Qt::Key_Home), [this] { set_slice(0); });
  shortcut(QKeySequence(Qt::Key_End), [this] { set_slice(int(model_.volume().geometry.size[2]) - 1); });
  shortcut(QKeySequence(Qt::Key_L), [this] {
    if (!model_.measurements().levels.empty()) set_slice(model_.measurements().levels.front().slice);
  });
  shortcut(QKeySequence(Qt::Key_N), [this] { set_tool(Tool::Navigate); });
  shortcut(QKeySequence(Qt::Key_B), [this] { set_tool(Tool::Brush); });
  shortcut(QKeySequence(Qt::Key_E), [this] { set_tool(Tool::Eraser); });
  shortcut(QKeySequence(Qt::Key_C), [this] { set_tool(Tool::Contour); });
  shortcut(QKeySequence(Qt::Key_O), [this] { load_outline(); });
  shortcut(QKeySequence(Qt::Key_Return), [this] { apply_contour(); });
  shortcut(QKeySequence(Qt::Key_Enter), [this] { apply_contour(); });
  shortcut(QKeySequence(Qt::Key_Escape), [this] { set_contour({}); });
  shortcut(QKeySequence(Qt::Key_Backspace), [this] {
    if (!contour_.empty()) contour_.pop_back(), show_path_preview(), render_axial();
  });
  shortcut(QKeySequence(Qt::Key_BracketRight), [this] { radius_box_->setValue(radius_mm_ + 1); });
  shortcut(QKeySequence(Qt::Key_BracketLeft), [this] { radius_box_->setValue(std::max(0.5, radius_mm_ - 1)); });
  shortcut(QKeySequence(Qt::Key_Plus), [this] { zoom(1.25); });
  shortcut(QKeySequence(Qt::Key_Minus), [this] { zoom(0.8); });
  shortcut(QKeySequence(Qt::Key_R), [this] { reset_views(); });

  layout->addWidget(new QLabel("Structures (tick to show; colour legend)"));
  legend_ = new QListWidget;
  legend_->setMinimumHeight(140);
  connect(legend_, &QListWidget::itemChanged, this, [this](QListWidgetItem* item) {
    set_label_visible(LabelId(item->data(Qt::UserRole).toInt()), item->checkState() == Qt::Checked);
  });
  layout->addWidget(legend_, 2);

  layout->addWidget(new QLabel("Measurements"));
  table_ = new QTableWidget(0, 2);
  table_->setHorizontalHeaderLabels({"measure", "value"});
  table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
  table_->horizontalHeader()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
  table_->verticalHeader()->hide();
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  layout->addWidget(table_, 3);
  for (const auto& note : model_.notes()) {
    auto* label = new QLabel(QString::fromStdString(note));
    label->setWordWrap(true);
    layout->addWidget(label);
  }
}

void ViewerWindow::set_slice(int k) {
  const int before = axial_->slice();
  axial_->set_slice(k);
  if (axial_->slice() != before) contour_.clear(), stroke_.clear(), stroking_ = false, dragged_vertex_ = -1;
  if (slice_slider_->value() != axial_->slice()) {
    const QSignalBlocker block(slice_slider_);
    slice_slider_->setValue(axial_->slice());
  }
  refresh_slice_view();
  refresh_measurements();
  render_axial();
}

void ViewerWindow::set_preset(DisplayPreset preset) {
  preset_box_->setCurrentIndex(preset_box_->findData(int(preset)));
  const WindowLevel w = model_.window_level(preset);
  set_window(w.centre, w.width);
}

void ViewerWindow::set_window(double centre, double width) {
  if (!(width > 0)) throw std::runtime_error("the window width must be positive");
  axial_->display().window = {centre, width};
  {
    const QSignalBlocker block_centre(centre_box_), block_width(width_box_);
    centre_box_->setValue(centre);
    width_box_->setValue(width);
  }
  refresh_slice_view();
  render_axial();
}

void ViewerWindow::set_opacity(double opacity) {
  axial_->display().overlay_opacity = std::clamp(opacity, 0.0, 1.0);
  if (opacity_slider_->value() != int(std::lround(opacity * 100))) {
    const QSignalBlocker block(opacity_slider_);
    opacity_slider_->setValue(int(std::lround(opacity * 100)));
  }
  refresh_slice_view();
  render_axial();
}

void ViewerWindow::set_tool(Tool tool) {
  tool_ = tool;
  tool_box_->setCurrentIndex(tool_box_->findData(int(tool)));
  if (tool != Tool::Brush && tool != Tool::Eraser) axial_->set_brush_cursor({}, 0, {});
  if (tool != Tool::Contour) contour_.clear();
  show_path_preview();
  static const char* names[] = {"navigate: left drag pans, right drag zooms, wheel changes slice",
                                "brush: left drag paints the structure", "eraser: left drag erases the structure",
                                "contour: click points (drag a point to move it), Enter applies, O loads the outline"};
  statusBar()->showMessage(names[int(tool)]);
  render_axial();
}

void ViewerWindow::set_structure(LabelId label) {
  if (model_.entry(label) == nullptr) throw std::runtime_error("unknown structure label " + std::to_string(label));
  structure_ = label;
  structure_box_->setCurrentIndex(structure_box_->findData(int(label)));
  show_path_preview();
  render_axial();
}

void ViewerWindow::set_radius_mm(double radius_mm) {
  if (!(radius_mm > 0)) throw std::runtime_error("the brush radius must be positive (mm)");
  radius_mm_ = radius_mm;
  const QSignalBlocker block(radius_box_);
  radius_box_->setValue(radius_mm);
}

void ViewerWindow::set_label_visible(LabelId label, bool visible) {
  auto& hidden = axial_->display().hidden_labels;
  hidden.erase(std::remove(hidden.begin(), hidden.end(), label), hidden.end());
  if (!visible) hidden.push_back(label);
  hidden_ = hidden;
  refresh_legend();
  refresh_slice_view();
  surfaces_->set_hidden(hidden_);
  render_now();
}

std::size_t ViewerWindow::paint(const std::vector<PixelPoint>& path, bool erase) {
  const std::size_t changed = erase ? model_.erase(slice(), path, radius_mm_, structure_)
                                    : model_.brush(slice(), path, radius_mm_, structure_);
  after_labels_changed();
  return changed;
}

void ViewerWindow::set_contour(std::vector<PixelPoint> points) {
  contour_ = std::move(points);
  dragged_vertex_ = -1;
  show_path_preview();
  render_axial();
}

void ViewerWindow::load_outline() {
  set_tool(Tool::Contour);
  set_contour(model_.contour_of(slice(), structure_, 80));
  if (contour_.empty()) statusBar()->showMessage("the structure is not in this slice: click points to draw it");
}

void ViewerWindow::move_contour_vertex(std::size_t n, PixelPoint to) {
  if (n >= contour_.size()) throw std::runtime_error("the contour has no point " + std::to_string(n));
  contour_[n] = to;
  show_path_preview();
  render_axial();
}

std::size_t ViewerWindow::apply_contour() {
  if (contour_.size() < 3) {
    statusBar()->showMessage("a contour needs at least 3 points");
    return 0;
  }
  const std::size_t changed = model_.set_contour(slice(), contour_, structure_);
  contour_.clear();
  after_labels_changed();
  return changed;
}

void ViewerWindow::undo() {
  if (model_.undo()) after_labels_changed();
}

void ViewerWindow::redo() {
  if (model_.redo()) after_labels_changed();
}

void ViewerWindow::save() {
  QApplication::setOverrideCursor(Qt::WaitCursor);
  try {
    model_.save();
  } catch (...) {
    QApplication::restoreOverrideCursor();
    throw;
  }
  QApplication::restoreOverrideCursor();
  statusBar()->showMessage(QString::fromStdString("saved to " + model_.save_dir().string()));
  refresh_actions();
}

void ViewerWindow::zoom(double factor) {
  axial_->renderer()->GetActiveCamera()->Zoom(factor);
  render_axial();
}

void ViewerWindow::reset_views() {
  axial_->fit_camera(aspect_of(axial_widget_));
  surfaces_->reset_camera();
  render_now();
}

void ViewerWindow::rotate_3d(double degrees) {
  surfaces_->renderer()->GetActiveCamera()->Azimuth(degrees);
  surfaces_->renderer()->ResetCameraClippingRange();
  render_now();
}

std::vector<std::string> ViewerWindow::measurement_lines() const {
  std::vector<std::string> lines;
  const auto& m = model_.measurements();
  const int k = axial_->slice();
  lines.push_back("slice " + std::to_string(k));
  if (std::size_t(k) < m.slices.size())
    for (const auto& row : m.slices[std::size_t(k)]) lines.push_back(row.name + "\t" + std::to_string(row.value) + "\t" + row.unit);
  for (const auto& level : m.levels) {
    lines.push_back("standard level " + level.name + " (" + level.side + "), slice " + std::to_string(level.slice));
    if (level.slice < 0 || std::size_t(level.slice) >= m.slices.size()) continue;
    for (const auto& row : m.slices[std::size_t(level.slice)])
      if (row.name.rfind(level.side + ":", 0) == 0) lines.push_back(row.name + "\t" + std::to_string(row.value) + "\t" + row.unit);
  }
  return lines;
}

void ViewerWindow::screenshot(const std::filesystem::path& path) {
  render_now();
  const QPixmap picture = grab();
  const auto temporary = path.parent_path() / (".tmp-" + path.filename().string());
  if (!picture.save(QString::fromStdString(temporary.string()), "PNG"))
    throw std::runtime_error(path.string() + ": cannot write the screenshot");
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) throw std::runtime_error(path.string() + ": cannot write the screenshot: " + ec.message());
}

bool ViewerWindow::press_key(const std::string& key) {
  const QKeySequence sequence = QKeySequence::fromString(QString::fromStdString(key));
  if (sequence.count() != 1 || sequence[0] == 0 ||
      sequence.toString(QKeySequence::PortableText).compare(QString::fromStdString(key), Qt::CaseInsensitive) != 0)
    return false;
  const int combined = sequence[0];
  // Shortcuts act in the active window. Under a shared X server (tests run side by side on one
  // Xvfb) another program may hold the X focus, so the window is made active for this key.
  activateWindow();
  QApplication::setActiveWindow(this);
  axial_widget_->setFocus();
  QTest::keyClick(axial_widget_, Qt::Key(combined & ~int(Qt::KeyboardModifierMask)),
                  Qt::KeyboardModifiers(combined & int(Qt::KeyboardModifierMask)));
  return true;
}

void ViewerWindow::render_now() {
  axial_window_->Render();
  surface_window_->Render();
}

void ViewerWindow::render_axial() { axial_window_->Render(); }

void ViewerWindow::left_press(double x, double y) {
  const PixelPoint p = axial_->display_to_pixel(x, y);
  if (tool_ == Tool::Brush || tool_ == Tool::Eraser) {
    stroking_ = true;
    stroke_.assign(1, p);
    show_path_preview();
    render_axial();
    return;
  }
  if (tool_ == Tool::Contour) {
    // Near an existing point: drag it; otherwise add a point.
    dragged_vertex_ = -1;
    for (std::size_t n = 0; n < contour_.size(); ++n) {
      double px = 0, py = 0;
      axial_->pixel_to_display(contour_[n], px, py);
      if (std::hypot(px - x, py - y) <= 8) dragged_vertex_ = long(n);
    }
    if (dragged_vertex_ < 0) contour_.push_back(p);
    show_path_preview();
    render_axial();
  }
}

void ViewerWindow::mouse_move(double x, double y) {
  if (tool_ == Tool::Brush || tool_ == Tool::Eraser) {
    const LabelEntry* e = model_.entry(structure_);
    axial_->set_brush_cursor(axial_->display_to_pixel(x, y), radius_mm_,
                             tool_ == Tool::Eraser || e == nullptr ? Rgb{255, 255, 255} : e->colour);
    if (!stroking_) render_axial();
  }
  if (stroking_) {
    stroke_.push_back(axial_->display_to_pixel(x, y));
    show_path_preview();
    render_axial();
  } else if (dragged_vertex_ >= 0) {
    contour_[std::size_t(dragged_vertex_)] = axial_->display_to_pixel(x, y);
    show_path_preview();
    render_axial();
  }
}

void ViewerWindow::left_release(double x, double y) {
  if (stroking_) {
    stroke_.push_back(axial_->display_to_pixel(x, y));
    stroking_ = false;
    const auto path = std::move(stroke_);
    stroke_.clear();
    try {
      paint(path, tool_ == Tool::Eraser);
    } catch (const std::exception& e) {
      report_error(e.what());
    }
    show_path_preview();
    render_now();
  }
  dragged_vertex_ = -1;
}

void ViewerWindow::closeEvent(QCloseEvent* event) {
  if (!scripted_ && model_.modified_since_save()) {
    const auto answer = QMessageBox::question(
        this, "Unsaved edits", QString::fromStdString("Save the edited labels and results to " + model_.save_dir().string() + "?"),
        QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel);
    if (answer == QMessageBox::Cancel) return event->ignore();
    if (answer == QMessageBox::Save) {
      try {
        save();
      } catch (const std::exception& e) {
        report_error(e.what());
        return event->ignore();
      }
    }
  }
  event->accept();
}

void ViewerWindow::after_labels_changed() {
  refresh_slice_view();
  refresh_measurements();
  refresh_legend();
  refresh_actions();
  if (scripted_) rebuild_3d();  // scripts see the result at once; people get it after a pause
  else rebuild_3d_timer_->start(400);
  render_now();
}

void ViewerWindow::refresh_slice_view() {
  axial_->update();
  slice_label_->setText(QString("Slice %1/%2").arg(axial_->slice()).arg(int(model_.volume().geometry.size[2]) - 1));
}

void ViewerWindow::refresh_measurements() {
  const auto lines = measurement_lines();
  table_->setRowCount(int(lines.size()));
  for (std::size_t n = 0; n < lines.size(); ++n) {
    const std::string& line = lines[n];
    const auto tab = line.find('\t');
    auto* name = new QTableWidgetItem(QString::fromStdString(line.substr(0, tab)));
    QTableWidgetItem* value = nullptr;
    if (tab == std::string::npos) {
      QFont bold = name->font();
      bold.setBold(true);
      name->setFont(bold);
      value = new QTableWidgetItem;
    } else {
      const auto tab2 = line.find('\t', tab + 1);
      value = new QTableWidgetItem(
          QString::fromStdString(format_value(std::stod(line.substr(tab + 1, tab2 - tab - 1)), line.substr(tab2 + 1))));
    }
    table_->setItem(int(n), 0, name);
    table_->setItem(int(n), 1, value);
  }
}

void ViewerWindow::refresh_legend() {
  const QSignalBlocker block(legend_);
  legend_->clear();
  for (const auto& e : model_.entries()) {
    if (!model_.present(e.label)) continue;
    auto* item = new QListWidgetItem(colour_icon(e.colour), QString::fromStdString(e.display_name));
    item->setData(Qt::UserRole, int(e.label));
    item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
    const bool hidden = std::find(hidden_.begin(), hidden_.end(), e.label) != hidden_.end();
    item->setCheckState(hidden ? Qt::Unchecked : Qt::Checked);
    legend_->addItem(item);
  }
}

void ViewerWindow::refresh_actions() {
  undo_action_->setEnabled(model_.can_undo());
  redo_action_->setEnabled(model_.can_redo());
  setWindowModified(model_.modified_since_save());
}

void ViewerWindow::rebuild_3d() {
  surfaces_->update();
  surfaces_revision_ = model_.revision();
}

void ViewerWindow::show_path_preview() {
  const LabelEntry* e = model_.entry(structure_);
  const Rgb colour = e ? e->colour : Rgb{255, 255, 255};
  if (stroking_) {
    // The brush path at its width on screen.
    double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    axial_->pixel_to_display({0, 0}, x0, y0);
    axial_->pixel_to_display({radius_mm_ / model_.volume().geometry.spacing_mm[0], 0}, x1, y1);
    axial_->set_overlay_path(stroke_, false, tool_ == Tool::Eraser ? Rgb{255, 255, 255} : colour, std::max(2.0, 2 * std::abs(x1 - x0)));
  } else if (tool_ == Tool::Contour) {
    axial_->set_overlay_path(contour_, contour_.size() >= 3, Rgb{255, 255, 255}, 2);
  } else {
    axial_->set_overlay_path({}, false, colour, 1);
  }
}

void ViewerWindow::report_error(const std::string& what) {
  if (scripted_) throw std::runtime_error(what);
  QMessageBox::critical(this, "MuscleCSA viewer", QString::fromStdString(what));
}

}  // namespace musclecsa::render::view
