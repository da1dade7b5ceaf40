#pragma once
// Research image formats (NIfTI .nii/.nii.gz, NRRD .nrrd/.nhdr, MetaImage .mha/.mhd) in and out,
// orientation preserved (ITK handles the LPS <-> file convention, e.g. RAS in NIfTI).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "musclecsa/core/image.h"

namespace musclecsa::io {

/// True when the file name ends in a supported research-format extension.
bool is_research_format(const std::filesystem::path& path);

/// How voxel values are stored on disk.
enum class PixelStorage {
  Float32,  ///< values as they are
  Int16,    ///< rounded; refused unless every value is an integer in -32768..32767
  UInt16,   ///< rounded; refused unless every value is an integer in 0..65535
  Auto,     ///< Int16 or UInt16 when every value is such an integer (exact), else Float32
};

/// Writes voxels with the given storage and returns the storage written (Auto resolved).
/// Written under a temporary name, then renamed. Throws Error(OutputFailed, path, ...), or
/// Error(InvalidArgument, path, ...) for an unknown extension or values that do not fit the storage.
PixelStorage write_image(const Image<float>& image, const std::filesystem::path& path,
                         PixelStorage storage = PixelStorage::Float32);
/// Writes 16-bit signed voxels as they are.
void write_image(const Image<std::int16_t>& image, const std::filesystem::path& path);
/// Writes a label map with 16-bit unsigned voxels.
void write_image(const LabelMap& labels, const std::filesystem::path& path);

/// Reads a scalar image as float; modality is left Other. Throws Error(InputNotFound / InvalidInput, path, ...).
ScalarVolume read_scalar_volume(const std::filesystem::path& path);
/// Reads a label map; values must be integers 0..65535.
LabelMap read_label_map(const std::filesystem::path& path);

/// True for the 2-D picture formats ultrasound is exported as (.png, .tif/.tiff, .jpg/.jpeg, .bmp).
bool is_bitmap_format(const std::filesystem::path& path);

/// A 2-D picture read as grey levels, with the user's calibration (or none).
struct BitmapImage {
  ScalarVolume image;          ///< one slice; values = luminance 0-255 (Y = 0.299 R + 0.587 G + 0.114 B)
  bool calibrated = false;     ///< true when the user gave the pixel size
  bool was_color = false;
};

/// Reads a PNG/TIFF/JPEG/BMP picture (grey or RGB, 8 or 16 bit) as luminance. With a pixel size
/// (mm) the geometry is calibrated; without, spacing is 1 and `calibrated` false (pixels only).
/// Throws Error(InputNotFound / InvalidInput, path, ...).
BitmapImage read_bitmap(const std::filesystem::path& path, std::optional<double> pixel_size_mm);

/// An 8-bit picture as stored in memory: `channels` values per pixel (1 grey, 3 RGB), interleaved,
/// row by row from the top.
struct Picture {
  int width = 0, height = 0, channels = 0;
  std::vector<std::uint8_t> values;
};

/// Reads a PNG/TIFF/JPEG/BMP picture as 8-bit RGB (grey pictures repeat their level; 16-bit ones
/// are scaled to 0-255). Throws as read_bitmap.
Picture read_rgb_picture(const std::filesystem::path& path);

/// Writes an 8-bit grey or RGB picture as PNG (zlib compressed), complete or not at all: through
/// a temporary file and a rename. Throws Error(InvalidArgument) for a malformed picture and
/// Error(OutputFailed, path, ...) when it cannot be written.
void write_png(const std::filesystem::path& path, const Picture& picture);

}  // namespace musclecsa::io
