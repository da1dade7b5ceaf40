#pragma once
// The two entry points of the Qt/VTK plugin (lib/libmusclecsa_view.so), opened with dlopen() by
// plugin_loader.cpp. Errors come back as values: exceptions do not cross the boundary.

#include <string>

#include "musclecsa/render/viewer.h"

namespace musclecsa::render::detail {

struct PluginError {
  int code = 0;         ///< an ErrorCode value
  std::string input;    ///< what the error is about (file, option)
  std::string problem;
};

}  // namespace musclecsa::render::detail

extern "C" {
/// Runs the viewer window; returns the exit code, or -1 with `error` filled.
using MusclecsaViewRunFunction = int (*)(musclecsa::render::ViewerModel*, const musclecsa::render::ViewOptions*,
                                         musclecsa::render::detail::PluginError*);
/// Renders a PNG; returns 0, or -1 with `error` filled.
using MusclecsaRenderPngFunction = int (*)(musclecsa::render::ViewerModel*, const musclecsa::render::RenderOptions*,
                                           musclecsa::render::detail::PluginError*);
}
