#pragma once
// Research image formats (NIfTI .nii/.nii.gz, NRRD .nrrd/.nhdr, MetaImage .mha/.mhd) in and out,
// orientation preserved (ITK handles the LPS <-> file convention, e.g. RAS in NIfTI).

#include <filesystem>

#include "musclecsa/core/image.h"

namespace musclecsa::io {

/// True when the file name ends in a supported research-format extension.
bool is_research_format(const std::filesystem::path& path);

/// Writes float voxels (values as they are). Written under a temporary name, then renamed.
/// Throws Error(OutputFailed, path, ...) or Error(InvalidArgument, path, ...) for an unknown extension.
void write_image(const Image<float>& image, const std::filesystem::path& path);
/// Writes a label map with 16-bit unsigned voxels.
void write_image(const LabelMap& labels, const std::filesystem::path& path);

/// Reads a scalar image as float; modality is left Other. Throws Error(InputNotFound / InvalidInput, path, ...).
ScalarVolume read_scalar_volume(const std::filesystem::path& path);
/// Reads a label map; values must be integers 0..65535.
LabelMap read_label_map(const std::filesystem::path& path);

}  // namespace musclecsa::io
