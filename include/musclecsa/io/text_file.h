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

/// Reads a whole text file. Throws Error(InputNotFound, path, ...).
std::string read_text(const std::filesystem::path& path);

}  // namespace musclecsa::io
