#pragma once
// Helpers shared by the tests: temporary folders and running commands.

#include <array>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>
#include <sstream>
#include <set>
#include <sys/wait.h>

#include <gtest/gtest.h>

namespace musclecsa::testing {

/// A fresh folder under the system temp dir, removed with its content at scope exit.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("musclecsa-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  /// Before the folder goes, every MuscleCSA results.json written into it is checked against
  /// docs/schemas/results.schema.json: each test that produces results validates them.
  ~TempDir() {
    validate_results_files();
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  void validate_results_files() const;
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  ///< stdout and stderr together
};

/// Runs a shell command and captures its output and exit code.
inline CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

inline std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

/// Distinct lines of `text` holding `word` (e.g. the errors in dciodvfy's output).
inline std::vector<std::string> lines_with(const std::string& text, const std::string& word) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(word) != std::string::npos && seen.insert(line).second) out.push_back(line);
  return out;
}

inline void TempDir::validate_results_files() const {
  std::string files;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(path_, ec); !ec && it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->path().filename() != "results.json") continue;
    std::FILE* f = std::fopen(it->path().c_str(), "rb");
    if (f == nullptr) continue;
    char head[256] = {};
    const std::size_t n = std::fread(head, 1, sizeof head - 1, f);
    std::fclose(f);
    if (std::string(head, n).find("musclecsa-results") != std::string::npos) files += " " + quoted(it->path());
  }
  if (files.empty()) return;
  const std::filesystem::path source = MUSCLECSA_SOURCE_DIR;
  const auto r = run_command("/usr/bin/python3 " + quoted(source / "testing/validate_json.py") + " " +
                             quoted(source / "docs/schemas/results.schema.json") + files);
  if (r.exit_code != 0) ADD_FAILURE() << "results.json against its schema: " << r.output;
}

}  // namespace musclecsa::testing
