// Entry points of the Qt/VTK plugin (plugin_abi.h): the viewer window and offscreen PNGs.

#include <QApplication>
#include <QSurfaceFormat>
#include <QTimer>
#include <QVTKOpenGLNativeWidget.h>

#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkObjectFactory.h>
#include <vtkOpenGLRenderWindow.h>
#include <vtkOutputWindow.h>
#include <vtkPNGWriter.h>
#include <vtkRenderWindow.h>
#include <vtkRenderer.h>
#include <vtkTextActor.h>
#include <vtkTextProperty.h>
#include <vtkWindowToImageFilter.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "plugin_abi.h"
#include "scenes.h"
#include "script.h"
#include "viewer_window.h"

// Last: Xlib defines macros (None, Bool, Status) that clash with C++ names.
#include <X11/Xlib.h>

namespace musclecsa::render::view {
namespace {

int vtk_problems = 0;

/// VTK's messages go to standard error, prefixed "VTK error:" / "VTK warning:", and are counted.
class CountingOutputWindow : public vtkOutputWindow {
 public:
  static CountingOutputWindow* New();
  vtkTypeMacro(CountingOutputWindow, vtkOutputWindow)
  void DisplayText(const char* text) override { std::cerr << "VTK: " << text << std::flush; }
  void DisplayErrorText(const char* text) override {
    ++vtk_problems;
    std::cerr << "VTK error: " << text << std::flush;
  }
  void DisplayWarningText(const char* text) override {
    ++vtk_problems;
    std::cerr << "VTK warning: " << text << std::flush;
  }
  void DisplayGenericWarningText(const char* text) override { DisplayWarningText(text); }
  void DisplayDebugText(const char* text) override {}
};
vtkStandardNewMacro(CountingOutputWindow);

int qt_problems = 0;

void qt_messages(QtMsgType type, const QMessageLogContext&, const QString& message) {
  const char* kind = type == QtDebugMsg ? "debug" : type == QtInfoMsg ? "info" : type == QtWarningMsg ? "warning" : "critical";
  if (type == QtCriticalMsg || type == QtFatalMsg) ++qt_problems;
  std::cerr << "Qt " << kind << ": " << message.toStdString() << "\n" << std::flush;
}

void install_message_handlers() {
  static bool done = false;
  if (done) return;
  done = true;
  vtkNew<CountingOutputWindow> output;
  vtkOutputWindow::SetInstance(output);
}

/// The process' connection to the X server, opened before anything draws and closed only after
/// every window and context is gone (declare it before them). An X server that resets when its
/// last client leaves (Xvfb without -noreset) refuses connections during the reset, so a process
/// that closed a first connection and then opened another (a probe, then VTK or Qt) could fall into
/// the reset it had itself started: VTK then aborted with "bad X server connection". Holding this
/// connection keeps the server from resetting while the process draws.
class XConnection {
 public:
  /// Refuses to draw without a reachable X server (VTK would abort on a failed GLX context).
  XConnection() : display_(XOpenDisplay(nullptr)) {
    if (display_ == nullptr) {
      const char* name = std::getenv("DISPLAY");
      throw ScriptError("DISPLAY=" + std::string(name ? name : ""),
                        "cannot open the X display: drawing needs an X server (run under xvfb-run -a -s \"-screen 0 "
                        "1280x1024x24 -noreset\")",
                        4);
    }
  }
  ~XConnection() { XCloseDisplay(display_); }
  XConnection(const XConnection&) = delete;
  XConnection& operator=(const XConnection&) = delete;
  Display* display() const { return display_; }

 private:
  Display* display_;
};

void write_png_atomically(vtkRenderWindow* window, const std::filesystem::path& out) {
  vtkNew<vtkWindowToImageFilter> grab;
  grab->SetInput(window);
  grab->SetInputBufferTypeToRGB();
  grab->ReadFrontBufferOff();
  grab->Update();
  std::error_code ec;
  if (!out.parent_path().empty()) std::filesystem::create_directories(out.parent_path(), ec);
  const auto temporary = out.parent_path() / (".tmp-" + out.filename().string());
  vtkNew<vtkPNGWriter> writer;
  writer->SetFileName(temporary.c_str());
  writer->SetInputConnection(grab->GetOutputPort());
  writer->Write();
  if (writer->GetErrorCode() != 0 || !std::filesystem::exists(temporary)) {
    std::filesystem::remove(temporary, ec);
    throw ScriptError(out.string(), "cannot write the PNG", 5);
  }
  std::filesystem::rename(temporary, out, ec);
  if (ec) throw ScriptError(out.string(), "cannot write the PNG: " + ec.message(), 5);
}

void add_text(vtkRenderer* renderer, const std::string& text, double x, double y, Rgb colour, int size, bool bold = false) {
  vtkNew<vtkTextActor> actor;
  actor->SetInput(text.c_str());
  actor->GetTextProperty()->SetFontSize(size);
  actor->GetTextProperty()->SetBold(bold);
  actor->GetTextProperty()->SetColor(colour.r / 255.0, colour.g / 255.0, colour.b / 255.0);
  actor->GetPositionCoordinate()->SetCoordinateSystemToViewport();
  actor->GetPositionCoordinate()->SetValue(x, y);
  renderer->AddViewProp(actor);
}

void render_axial(ViewerModel& model, const RenderOptions& o, vtkRenderWindow* window) {
  const Geometry& g = model.volume().geometry;
  AxialScene scene(model);
  if (o.slice) scene.set_slice(*o.slice);
  if (o.preset) scene.display().window = model.window_level(*o.preset);
  scene.display().overlay_opacity = o.overlay_opacity;
  scene.update();
  // The slice area: physical aspect, the longer side size_px.
  const double w_mm = double(g.size[0]) * g.spacing_mm[0], h_mm = double(g.size[1]) * g.spacing_mm[1];
  const double scale = double(o.size_px) / std::max(w_mm, h_mm);
  const int image_w = std::max(1, int(std::lround(w_mm * scale))), image_h = std::max(1, int(std::lround(h_mm * scale)));
  // The legend: structures in this slice in their colours, then the slice's numbers.
  std::vector<std::pair<std::string, Rgb>> lines;
  const Rgb white{235, 235, 235}, grey{170, 170, 170};
  lines.push_back({model.title().size() > 48 ? "..." + model.title().substr(model.title().size() - 45) : model.title(), white});
  char text[200];
  std::snprintf(text, sizeof text, "slice %d / %d, z %.1f mm", scene.slice(), int(g.size[2]) - 1, slice_z_mm(g, scene.slice()));
  lines.push_back({text, white});
  for (const auto& level : model.measurements().levels) {
    std::snprintf(text, sizeof text, "standard level %s (%s): slice %d", level.name.c_str(), level.side.c_str(), level.slice);
    lines.push_back({text, grey});
  }
  lines.push_back({"", white});
  const LabelId* l = model.labels().slice(std::size_t(scene.slice()));
  std::vector<char> in_slice(65536, 0);
  for (std::size_t n = 0; n < g.slice_voxel_count(); ++n) in_slice[l[n]] = 1;
  const auto& hidden = scene.display().hidden_labels;
  for (const auto& e : model.entries())
    if (in_slice[e.label] && std::find(hidden.begin(), hidden.end(), e.label) == hidden.end()) lines.push_back({e.display_name, e.colour});
  lines.push_back({"", white});
  const auto& m = model.measurements();
  if (std::size_t(scene.slice()) < m.slices.size())
    for (const auto& row : m.slices[std::size_t(scene.slice())]) lines.push_back({row.name + "  " + format_value(row.value, row.unit), white});
  const int line_h = 16, legend_w = 430;
  const int total_w = image_w + legend_w, total_h = std::max(image_h, int(lines.size()) * line_h + 24);
  window->SetSize(total_w, total_h);
  scene.renderer()->SetViewport(0, 1 - double(image_h) / total_h, double(image_w) / total_w, 1);
  scene.fit_camera(double(image_w) / image_h);
  window->AddRenderer(scene.renderer());
  vtkNew<vtkRenderer> legend;
  legend->SetViewport(double(image_w) / total_w, 0, 1, 1);
  legend->SetBackground(0.1, 0.1, 0.12);
  for (std::size_t n = 0; n < lines.size(); ++n)
    if (!lines[n].first.empty()) add_text(legend, lines[n].first, 10, total_h - 20 - double(n) * line_h, lines[n].second, 13, n == 0);
  window->AddRenderer(legend);
  window->Render();
  write_png_atomically(window, o.out);
}

void render_3d(ViewerModel& model, const RenderOptions& o, vtkRenderWindow* window) {
  SurfaceScene scene(model);
  scene.update();
  int level = o.slice.value_or(-1);
  if (!o.slice && !model.measurements().levels.empty()) level = model.measurements().levels.front().slice;
  scene.set_level_slice(level);
  scene.reset_camera();
  window->SetSize(o.size_px, o.size_px);
  window->AddRenderer(scene.renderer());
  window->Render();
  write_png_atomically(window, o.out);
}

void fill(detail::PluginError* error, int code, std::string input, std::string problem) {
  error->code = code;
  error->input = std::move(input);
  error->problem = std::move(problem);
}

}  // namespace
}  // namespace musclecsa::render::view

using namespace musclecsa::render;
using namespace musclecsa::render::view;

extern "C" __attribute__((visibility("default"))) int musclecsa_view_render_png(ViewerModel* model, const RenderOptions* o,
                                                                                 detail::PluginError* error) {
  try {
    const XConnection x;  // before the window: closed after it
    install_message_handlers();
    if (o->view != "axial" && o->view != "3d") throw ScriptError("--view", "is axial or 3d", 2);
    vtkNew<vtkRenderWindow> window;
    window->SetDisplayId(x.display());  // VTK draws through this connection and leaves it open
    window->SetOffScreenRendering(1);
    window->SetMultiSamples(0);
    if (o->view == "axial") render_axial(*model, *o, window);
    else render_3d(*model, *o, window);
    if (vtk_problems > 0) throw ScriptError("VTK", std::to_string(vtk_problems) + " VTK error(s) or warning(s) while rendering", 70);
    return 0;
  } catch (const ScriptError& e) {
    fill(error, e.code, e.where, e.what());
  } catch (const std::exception& e) {
    fill(error, 70, o->out.string(), e.what());
  }
  return -1;
}

extern "C" __attribute__((visibility("default"))) int musclecsa_view_run(ViewerModel* model, const ViewOptions* o,
                                                                          detail::PluginError* error) {
  const bool scripted = !o->script.empty();
  try {
    const XConnection x;  // before QApplication (Qt opens its own connection): closed after it
    install_message_handlers();
    qInstallMessageHandler(qt_messages);
    std::vector<ScriptAction> script;
    if (scripted) script = read_script(o->script);
    // No multisampling: VTK asks for 8x by default, which software OpenGL (Xvfb, remote X) draws
    // several times slower; label edges are meant to be seen as voxels anyway.
    vtkOpenGLRenderWindow::SetGlobalMaximumNumberOfMultiSamples(0);
    QSurfaceFormat::setDefaultFormat(QVTKOpenGLNativeWidget::defaultFormat());
    static int argc = 1;
    static char name[] = "musclecsa-view";
    static char* argv[] = {name, nullptr};
    QApplication app(argc, argv);
    ViewerWindow window(*model, *o, scripted);
    window.resize(o->width_px, o->height_px);
    window.show();
    // Keyboard shortcuts act in the active window; without a window manager (Xvfb) nothing
    // activates it, so it is activated here.
    window.activateWindow();
    QApplication::setActiveWindow(&window);
    QApplication::processEvents();
    window.reset_views();
    std::optional<ScriptError> failure;
    if (scripted)
      QTimer::singleShot(0, &window, [&] {
        try {
          run_script(window, o->script, script);
        } catch (const ScriptError& e) {
          failure = e;
        } catch (const std::exception& e) {
          failure = ScriptError(o->script.string(), e.what(), 4);
        }
        QApplication::quit();
      });
    const int code = QApplication::exec();
    if (failure) throw *failure;
    if (scripted && (vtk_problems > 0 || qt_problems > 0))
      throw ScriptError("viewer", std::to_string(vtk_problems) + " VTK and " + std::to_string(qt_problems) +
                                      " Qt error(s) while the script ran (see above)", 70);
    return code;
  } catch (const ScriptError& e) {
    fill(error, e.code, e.where, e.what());
  } catch (const std::exception& e) {
    fill(error, 70, "viewer", e.what());
  }
  return -1;
}
