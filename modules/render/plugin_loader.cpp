// Opens the Qt/VTK plugin only when something is drawn (docs/viewer.md, "Start-up").

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "musclecsa/core/error.h"
#include "musclecsa/render/viewer.h"
#include "plugin_abi.h"

namespace musclecsa::render {
namespace {

std::filesystem::path executable_folder() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::current_path() : exe.parent_path();
}

/// The plugin: $MUSCLECSA_VIEW_PLUGIN when set, else lib/ beside the executable's bin/, else beside it.
void* open_plugin() {
  std::vector<std::filesystem::path> candidates;
  if (const char* env = std::getenv("MUSCLECSA_VIEW_PLUGIN"); env != nullptr && *env != '\0') {
    candidates.emplace_back(env);  // named by the user: that one only
  } else {
    const auto bin = executable_folder();
    candidates.push_back(bin.parent_path() / "lib" / MUSCLECSA_VIEW_PLUGIN_NAME);
    candidates.push_back(bin / MUSCLECSA_VIEW_PLUGIN_NAME);
  }
  std::string tried;
  for (const auto& path : candidates) {
    if (!std::filesystem::exists(path)) {
      tried += " " + path.string();
      continue;
    }
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      throw Error(ErrorCode::Internal, path.string(), std::string("cannot load the viewer plugin: ") + (why ? why : "unknown"));
    }
    return handle;
  }
  throw Error(ErrorCode::Internal, MUSCLECSA_VIEW_PLUGIN_NAME,
              "the viewer plugin (Qt and VTK) was not found; looked for:" + tried + " (build the target musclecsa_view)");
}

template <class Function>
Function entry_point(void* handle, const char* name) {
  void* symbol = ::dlsym(handle, name);
  if (symbol == nullptr) throw Error(ErrorCode::Internal, MUSCLECSA_VIEW_PLUGIN_NAME, std::string("no entry point ") + name);
  return reinterpret_cast<Function>(symbol);
}

void require_display() {
  const char* display = std::getenv("DISPLAY");
  if (display == nullptr || *display == '\0')
    throw Error(ErrorCode::InvalidInput, "DISPLAY",
                "no X server: drawing needs one (VTK here renders through GLX); on a machine without a screen run "
                "under xvfb-run -a -s \"-screen 0 1280x1024x24 -noreset\"");
}

[[noreturn]] void rethrow(const detail::PluginError& error) {
  ErrorCode code = ErrorCode::Internal;
  for (ErrorCode c : {ErrorCode::InvalidArgument, ErrorCode::InputNotFound, ErrorCode::InvalidInput, ErrorCode::OutputFailed,
                      ErrorCode::Cancelled})
    if (int(c) == error.code) code = c;
  throw Error(code, error.input, error.problem);
}

}  // namespace

int run_viewer(ViewerModel& model, const ViewOptions& options) {
  require_display();
  // The plugin stays loaded until the process ends: Qt and VTK do not support being unloaded.
  static void* handle = open_plugin();
  auto run = entry_point<MusclecsaViewRunFunction>(handle, "musclecsa_view_run");
  detail::PluginError error;
  const int code = run(&model, &options, &error);
  if (code < 0) rethrow(error);
  return code;
}

void render_png(ViewerModel& model, const RenderOptions& options) {
  require_display();
  static void* handle = open_plugin();
  auto render = entry_point<MusclecsaRenderPngFunction>(handle, "musclecsa_view_render_png");
  detail::PluginError error;
  if (render(&model, &options, &error) < 0) rethrow(error);
}

}  // namespace musclecsa::render
