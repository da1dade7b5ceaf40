#include "script.h"

#include <QApplication>
#include <QElapsedTimer>

#include <vtkCommand.h>
#include <vtkRenderWindow.h>
#include <vtkRenderWindowInteractor.h>
#include <vtkRenderer.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "viewer_window.h"

namespace musclecsa::render::view {
namespace {

struct Arity {
  std::size_t min, max;  ///< argument counts (words after the action)
  bool pairs = false;    ///< arguments are i j pairs
};

const std::map<std::string, Arity>& actions() {
  static const std::map<std::string, Arity> table = {
      {"slice", {1, 1}},       {"next", {0, 0}},         {"previous", {0, 0}},    {"preset", {1, 1}},      {"window", {2, 2}},
      {"opacity", {1, 1}},     {"structure", {1, 2}},    {"tool", {1, 1}},        {"radius", {1, 1}},
      {"paint", {2, 1000, true}}, {"erase", {2, 1000, true}}, {"contour", {6, 1000, true}}, {"outline", {0, 0}},
      {"move-point", {3, 3}},  {"apply-contour", {0, 0}}, {"drag", {2, 1000, true}}, {"click", {2, 2, true}},
      {"wheel", {1, 1}},       {"key", {1, 1}},          {"undo", {0, 0}},        {"redo", {0, 0}},
      {"hide", {1, 2}},        {"show", {1, 2}},         {"zoom", {1, 1}},        {"reset-view", {0, 0}},
      {"rotate-3d", {1, 1}},   {"print", {0, 0}},        {"screenshot", {1, 1}},  {"save", {0, 0}},
      {"quit", {0, 0}},        {"wait", {1, 1}},
  };
  return table;
}

double number(const ScriptAction& a, std::size_t n, const std::string& where) {
  try {
    std::size_t used = 0;
    const double v = std::stod(a.words[n], &used);
    if (used != a.words[n].size()) throw std::invalid_argument("trailing characters");
    return v;
  } catch (const std::exception&) {
    throw ScriptError(where, "'" + a.words[n] + "' is not a number");
  }
}

std::vector<PixelPoint> points(const ScriptAction& a, const std::string& where) {
  std::vector<PixelPoint> out;
  for (std::size_t n = 1; n + 1 < a.words.size(); n += 2) out.push_back({number(a, n, where), number(a, n + 1, where)});
  return out;
}

LabelId label_of(ViewerWindow& w, const ScriptAction& a, const std::string& where) {
  const LabelId label = w.model().find_label(a.words[1], a.words.size() > 2 ? a.words[2] : "");
  if (label == 0 || w.model().entry(label) == nullptr)
    throw ScriptError(where, "unknown structure '" + a.words[1] + (a.words.size() > 2 ? " " + a.words[2] : "") +
                                 "' (a catalog key and right/left, e.g. rectus_femoris right, or a label id)");
  return label;
}

/// Sends a mouse event to the axial view at a voxel position, as a user's mouse would.
void mouse_event(ViewerWindow& w, PixelPoint p, unsigned long event) {
  double x = 0, y = 0;
  w.axial().pixel_to_display(p, x, y);
  vtkRenderWindowInteractor* interactor = w.axial().renderer()->GetRenderWindow()->GetInteractor();
  interactor->SetEventInformation(int(std::lround(x)), int(std::lround(y)), 0, 0);
  interactor->InvokeEvent(event);
}

void run_one(ViewerWindow& w, const ScriptAction& a, const std::string& where) {
  const std::string& what = a.words[0];
  if (what == "slice") {
    const int k = int(number(a, 1, where));
    if (k < 0 || std::size_t(k) >= w.model().volume().geometry.size[2])
      throw ScriptError(where, "slice " + a.words[1] + " is outside the scan (0.." +
                                   std::to_string(int(w.model().volume().geometry.size[2]) - 1) + ")");
    w.set_slice(k);
  } else if (what == "next") {
    w.step_slice(+1);
  } else if (what == "previous") {
    w.step_slice(-1);
  } else if (what == "preset") {
    const std::string& p = a.words[1];
    if (p != "ct" && p != "mr" && p != "us") throw ScriptError(where, "preset is ct, mr or us");
    w.set_preset(p == "ct" ? DisplayPreset::CtMuscle : p == "mr" ? DisplayPreset::MrAuto : DisplayPreset::Ultrasound);
  } else if (what == "window") {
    const double width = number(a, 2, where);
    if (!(width > 0)) throw ScriptError(where, "the window width must be positive");
    w.set_window(number(a, 1, where), width);
  } else if (what == "opacity") {
    w.set_opacity(number(a, 1, where));
  } else if (what == "structure") {
    w.set_structure(label_of(w, a, where));
  } else if (what == "tool") {
    const std::string& t = a.words[1];
    if (t == "navigate") w.set_tool(Tool::Navigate);
    else if (t == "brush") w.set_tool(Tool::Brush);
    else if (t == "eraser") w.set_tool(Tool::Eraser);
    else if (t == "contour") w.set_tool(Tool::Contour);
    else throw ScriptError(where, "tool is navigate, brush, eraser or contour");
  } else if (what == "radius") {
    const double r = number(a, 1, where);
    if (!(r > 0)) throw ScriptError(where, "the radius must be positive (mm)");
    w.set_radius_mm(r);
  } else if (what == "paint" || what == "erase") {
    w.paint(points(a, where), what == "erase");
  } else if (what == "contour") {
    w.set_tool(Tool::Contour);
    w.set_contour(points(a, where));
    w.apply_contour();
  } else if (what == "outline") {
    w.load_outline();
    if (w.contour().empty()) throw ScriptError(where, "the structure is not in this slice: no outline to edit", 4);
  } else if (what == "move-point") {
    const double n = number(a, 1, where);
    if (n < 0 || std::size_t(n) >= w.contour().size())
      throw ScriptError(where, "the contour has " + std::to_string(w.contour().size()) + " points (0-based)");
    w.move_contour_vertex(std::size_t(n), {number(a, 2, where), number(a, 3, where)});
  } else if (what == "apply-contour") {
    if (w.contour().size() < 3) throw ScriptError(where, "no contour with at least 3 points to apply", 4);
    w.apply_contour();
  } else if (what == "drag" || what == "click") {
    // Mouse events through VTK's interactor: exercises picking and the interactor style.
    const auto path = points(a, where);
    mouse_event(w, path.front(), vtkCommand::LeftButtonPressEvent);
    for (std::size_t n = 1; n < path.size(); ++n) mouse_event(w, path[n], vtkCommand::MouseMoveEvent);
    mouse_event(w, path.back(), vtkCommand::LeftButtonReleaseEvent);
  } else if (what == "wheel") {
    const int steps = int(number(a, 1, where));
    for (int n = 0; n < std::abs(steps); ++n) {
      vtkRenderWindowInteractor* interactor = w.axial().renderer()->GetRenderWindow()->GetInteractor();
      interactor->InvokeEvent(steps > 0 ? vtkCommand::MouseWheelForwardEvent : vtkCommand::MouseWheelBackwardEvent);
    }
  } else if (what == "key") {
    if (!w.press_key(a.words[1])) throw ScriptError(where, "'" + a.words[1] + "' is not a key (e.g. Up, PgDown, Ctrl+Z)");
  } else if (what == "undo") {
    w.undo();
  } else if (what == "redo") {
    w.redo();
  } else if (what == "hide" || what == "show") {
    w.set_label_visible(label_of(w, a, where), what == "show");
  } else if (what == "zoom") {
    const double f = number(a, 1, where);
    if (!(f > 0)) throw ScriptError(where, "the zoom factor must be positive");
    w.zoom(f);
  } else if (what == "reset-view") {
    w.reset_views();
  } else if (what == "rotate-3d") {
    w.rotate_3d(number(a, 1, where));
  } else if (what == "print") {
    for (const auto& line : w.measurement_lines()) std::cout << "measure\t" << line << "\n";
    std::cout.flush();
  } else if (what == "screenshot") {
    w.screenshot(a.words[1]);
  } else if (what == "save") {
    try {
      w.save();
    } catch (const std::exception& e) {
      throw ScriptError(where, e.what(), 5);
    }
    std::cout << "saved\t" << w.model().save_dir().string() << "\n";
    std::cout.flush();
  } else if (what == "wait") {
    const int ms = int(number(a, 1, where));
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < ms) QApplication::processEvents(QEventLoop::AllEvents, 10);
  }
}

}  // namespace

std::vector<ScriptAction> read_script(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw ScriptError(path.string(), "cannot read the script", 3);
  std::vector<ScriptAction> out;
  std::string text;
  int line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (const auto hash = text.find('#'); hash != std::string::npos) text.erase(hash);
    std::istringstream words(text);
    ScriptAction a;
    a.line = line;
    for (std::string w; words >> w;) a.words.push_back(w);
    if (a.words.empty()) continue;
    const std::string where = path.string() + ":" + std::to_string(line);
    const auto it = actions().find(a.words[0]);
    if (it == actions().end()) throw ScriptError(where, "unknown action '" + a.words[0] + "' (docs/viewer.md lists them)");
    const std::size_t n = a.words.size() - 1;
    if (n < it->second.min || n > it->second.max || (it->second.pairs && n % 2 != 0))
      throw ScriptError(where, "wrong number of values for '" + a.words[0] + "'");
    out.push_back(std::move(a));
  }
  return out;
}

void run_script(ViewerWindow& window, const std::filesystem::path& path, const std::vector<ScriptAction>& script) {
  for (const auto& a : script) {
    const std::string where = path.string() + ":" + std::to_string(a.line);
    if (a.words[0] == "quit") return;
    try {
      run_one(window, a, where);
    } catch (const ScriptError&) {
      throw;
    } catch (const std::exception& e) {
      throw ScriptError(where, e.what(), 4);
    }
    QApplication::processEvents();  // every action has redrawn what it changed
  }
}

}  // namespace musclecsa::render::view
