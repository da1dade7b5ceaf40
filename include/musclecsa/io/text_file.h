#pragma once
// Small file helpers: complete-or-nothing text writes.

#include <filesystem>
#include <string>
#include <string_view>

namespace musclecsa::io {

/// Writes `content` to `path` through a temporary file in the same folder and a rename, so the
/// path holds either the old content or the complete new content. Creates parent folders.
/// Throws Error(OutputFailed, path, ...).
void write_text_atomically(const std::filesystem::path& path, std::string_view content);

/// Gives a finished temporary file its final name (a rename in the same folder). On failure the
/// temporary file is removed and Error(OutputFailed, final_path, ...) names the system's reason.
void move_into_place(const std::filesystem::path& temp, const std::filesystem::path& final_path);

/// Reads a whole text file. Throws Error(InputNotFound, path, ...).
std::string read_text(const std::filesystem::path& path);

}  // namespace musclecsa::io
