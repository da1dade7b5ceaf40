#pragma once
// Viewer scripts (docs/viewer.md, "Scripts"): one action per line, run through the same window
// functions as the mouse and keyboard, for tests, demos and screenshots.

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace musclecsa::render::view {

class ViewerWindow;

struct ScriptAction {
  int line = 0;
  std::vector<std::string> words;
};

/// An error in a script line: `where` is "FILE:LINE".
struct ScriptError : std::runtime_error {
  ScriptError(std::string where_, const std::string& problem, int code_ = 2)
      : std::runtime_error(problem), where(std::move(where_)), code(code_) {}
  std::string where;
  int code;  ///< an ErrorCode value: 2 for a bad line, 5 when saving failed, 4 for other failures
};

/// Reads and checks a script (unknown actions and wrong argument counts are refused before the window opens).
std::vector<ScriptAction> read_script(const std::filesystem::path& path);

/// Runs the actions in order; throws ScriptError naming the line that failed.
void run_script(ViewerWindow& window, const std::filesystem::path& path, const std::vector<ScriptAction>& actions);

}  // namespace musclecsa::render::view
