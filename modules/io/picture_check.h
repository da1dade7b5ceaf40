#pragma once
// Checks a PNG or JPEG file by decoding it with libpng / libjpeg before ITK reads it. ITK 5.2's
// PNG and JPEG readers do not survive a corrupt file: libpng's default error handler aborts the
// process (no setjmp in PNGImageIO::ReadImageInformation) and JPEGImageIO can longjmp into a
// function that has returned (a jump to address 0). Here every libpng/libjpeg error returns to a
// setjmp in this function and becomes an Error naming the file.

#include <cstdint>
#include <filesystem>

namespace musclecsa::io::detail {

/// Largest picture read, in pixels (width x height): 8192 x 8192. Ultrasound exports are a few
/// megapixels; a header declaring more is damaged or not a picture for this program.
inline constexpr std::uint64_t kMaxPicturePixels = std::uint64_t(1) << 26;

/// When the file starts with the PNG or JPEG signature or is named .png, .jpg or .jpeg, decodes it
/// completely (one row at a time)
/// and throws Error(InvalidInput, path, ...) if libpng or libjpeg reports an error, or if the
/// picture is larger than kMaxPicturePixels. Other files are left to ITK.
void check_png_or_jpeg(const std::filesystem::path& path);

/// For a TIFF file: its chain of image directories must lie inside the file and end (libtiff's own
/// walk spun for minutes on a damaged one), and no ASCII tag of fixed size may be shorter than that
/// size (ITK 5.2's TIFF reader copies DateTime's 20 bytes whatever its real length, reading past
/// libtiff's buffer). Throws Error(InvalidInput, path, ...) naming the problem; other files are
/// left to ITK.
void check_tiff_tags(const std::filesystem::path& path);

/// For a BMP file: ITK 5.2's BMP reader allocates the declared picture and trusts the rest. Rows as
/// stored must be in the file (a cut one was read as a whole picture, the rest unwritten memory:
/// a 1 KB file declaring 8192 x 8192 pixels took 1 GB and 2 s, 14 s under ASan); 8-bit
/// run-length encoded pixels (BI_RLE8) must be within the file and write every pixel once, inside
/// the picture (runs past their row corrupted the heap). Throws Error(InvalidInput, path, ...);
/// other files are left to ITK.
void check_bmp_size(const std::filesystem::path& path);

}  // namespace musclecsa::io::detail
