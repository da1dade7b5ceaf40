#pragma once
// labels.json: names every label id of the catalog (structure, side, kind, group, colour, code),
// written beside every labels.nii.gz so any tool can score or display it.

#include <filesystem>
#include <string>

namespace musclecsa::io {

/// The labels.json text for the standard catalog (format "musclecsa-labels", version 1).
std::string label_names_json();

/// Writes label_names_json() atomically.
void write_label_names(const std::filesystem::path& path);

}  // namespace musclecsa::io
