// musclecsa view and render: the VTK viewer and its offscreen rendering (issue: the VTK viewer).

#include "commands.h"

namespace musclecsa::app {

void add_view_commands(CLI::App& app, std::vector<Command>& commands) {}

}  // namespace musclecsa::app
