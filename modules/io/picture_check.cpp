// Decoding PNG and JPEG files once under our own error handlers (picture_check.h).

#include "picture_check.h"

// jpeglib.h needs stdio's FILE and size_t declared first.
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cctype>
#include <cstdarg>
#include <csetjmp>
#include <cstring>
#include <mutex>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <png.h>

#include "musclecsa/core/error.h"

// ITK's own libtiff (ITKTIFF), whose symbols carry an itk_ prefix and whose headers are not
// installed: the few functions used here, with libtiff 4's signatures (TIFF and TIFFField opaque).
extern "C" {
void* itk_TIFFOpen(const char* name, const char* mode);
void itk_TIFFClose(void* tif);
int itk_TIFFGetTagListCount(void* tif);
std::uint32_t itk_TIFFGetTagListEntry(void* tif, int index);
const void* itk_TIFFFieldWithTag(void* tif, std::uint32_t tag);
int itk_TIFFFieldReadCount(const void* field);
int itk_TIFFFieldPassCount(const void* field);
int itk_TIFFFieldDataType(const void* field);
const char* itk_TIFFFieldName(const void* field);
int itk_TIFFGetField(void* tif, std::uint32_t tag, ...);
using ItkTiffHandler = void (*)(const char* module, const char* format, va_list arguments);
ItkTiffHandler itk_TIFFSetErrorHandler(ItkTiffHandler handler);
ItkTiffHandler itk_TIFFSetWarningHandler(ItkTiffHandler handler);
}

namespace musclecsa::io::detail {
namespace {

[[noreturn]] void refuse(const std::filesystem::path& path, const std::string& problem) {
  throw Error(ErrorCode::InvalidInput, path.string(), "cannot read picture: " + problem + " (damaged or truncated?)");
}

std::string too_large(std::uint64_t width, std::uint64_t height) {
  return std::to_string(width) + " x " + std::to_string(height) + " pixels is not a picture size this reader accepts (at most " +
         std::to_string(kMaxPicturePixels) + " pixels, none of them 0)";
}

bool acceptable_size(std::uint64_t width, std::uint64_t height) {
  return width > 0 && height > 0 && width <= kMaxPicturePixels && height <= kMaxPicturePixels &&
         width * height <= kMaxPicturePixels;
}

/// Everything the libpng and libjpeg callbacks touch, outside the frame that calls setjmp.
struct Decoding {
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX + 200] = "";
  unsigned char* row = nullptr;
  std::FILE* file = nullptr;
  std::uint64_t width = 0, height = 0;
  bool size_refused = false;
  ~Decoding() {
    std::free(row);
    if (file) std::fclose(file);
  }
};

void png_error_to_jump(png_structp png, png_const_charp message) {
  auto* d = static_cast<Decoding*>(png_get_error_ptr(png));
  std::snprintf(d->message, sizeof d->message, "PNG: %s", message);
  std::longjmp(d->jump, 1);
}
void png_warning_ignored(png_structp, png_const_charp) {}

/// Leaves d.message empty when the PNG decodes, else sets it to the problem. Only plain data and
/// libpng's own structures live in this frame (it holds the setjmp).
/// Walks a PNG's chunks in the file: each must end inside the file (libpng allocates a chunk's
/// declared length before reading it: a 93-byte file made it ask for 1 GB, found by a fixed-seed
/// fuzz run with a 200 MB allocation limit). Returns the problem, or "" (also for a file without
/// the PNG signature, which libpng refuses itself).
std::string png_chunk_problem(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char signature[8] = {};
  if (!in.read(reinterpret_cast<char*>(signature), 8) || png_sig_cmp(signature, 0, 8) != 0) return "";
  std::error_code ec;
  const std::uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return "";
  std::uint64_t at = 8;
  for (unsigned char head[8]; at + 8 <= size && in.seekg(std::streamoff(at)) && in.read(reinterpret_cast<char*>(head), 8);) {
    const std::uint64_t length = std::uint64_t(head[0]) << 24 | std::uint64_t(head[1]) << 16 | std::uint64_t(head[2]) << 8 | head[3];
    const std::string type(reinterpret_cast<const char*>(head + 4), 4);
    if (length > size - at - 8 || size - at - 8 - length < 4)
      return "PNG: a chunk (" + std::to_string(length) + " bytes) runs past the end of the file";
    if (type == "IEND") break;
    at += 12 + length;
  }
  return "";
}

void check_png(const std::filesystem::path& path, Decoding& d) {
  if (const std::string problem = png_chunk_problem(path); !problem.empty()) refuse(path, problem);
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &d, png_error_to_jump, png_warning_ignored);
  if (png == nullptr) refuse(path, "PNG: libpng cannot start");
  png_infop info = png_create_info_struct(png);
  if (setjmp(d.jump)) {
    png_destroy_read_struct(&png, &info, nullptr);
    return;  // d.message holds the problem
  }
  if (info == nullptr) png_error(png, "libpng cannot start");
  png_init_io(png, d.file);
  png_read_info(png, info);
  d.width = png_get_image_width(png, info);
  d.height = png_get_image_height(png, info);
  if (!acceptable_size(d.width, d.height)) {
    d.size_refused = true;
    png_error(png, "size refused");
  }
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  d.row = static_cast<unsigned char*>(std::malloc(png_get_rowbytes(png, info)));
  if (d.row == nullptr) png_error(png, "out of memory for one row");
  for (int pass = 0; pass < passes; ++pass)
    for (std::uint64_t y = 0; y < d.height; ++y) png_read_row(png, d.row, nullptr);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  d.message[0] = '\0';
}

struct JpegError {
  jpeg_error_mgr manager;
  Decoding* decoding;
};

void jpeg_error_to_jump(j_common_ptr cinfo) {
  auto* error = reinterpret_cast<JpegError*>(cinfo->err);
  char text[JMSG_LENGTH_MAX] = "";
  (*cinfo->err->format_message)(cinfo, text);
  std::snprintf(error->decoding->message, sizeof error->decoding->message, "JPEG: %s", text);
  std::longjmp(error->decoding->jump, 1);
}
void jpeg_message_ignored(j_common_ptr) {}

void check_jpeg(const std::filesystem::path& path, Decoding& d) {
  jpeg_decompress_struct cinfo;
  JpegError error;
  cinfo.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = jpeg_error_to_jump;
  error.manager.output_message = jpeg_message_ignored;
  error.decoding = &d;
  if (setjmp(d.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, d.file);
  jpeg_read_header(&cinfo, TRUE);
  d.width = cinfo.image_width;
  d.height = cinfo.image_height;
  if (!acceptable_size(d.width, d.height)) {
    d.size_refused = true;
    std::snprintf(d.message, sizeof d.message, "size refused");
    std::longjmp(d.jump, 1);
  }
  jpeg_start_decompress(&cinfo);
  d.row = static_cast<unsigned char*>(std::malloc(std::size_t(cinfo.output_width) * std::size_t(cinfo.output_components)));
  if (d.row == nullptr) {
    std::snprintf(d.message, sizeof d.message, "JPEG: out of memory for one row");
    std::longjmp(d.jump, 1);
  }
  JSAMPROW rows[1] = {d.row};
  while (cinfo.output_scanline < cinfo.output_height) jpeg_read_scanlines(&cinfo, rows, 1);
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  d.message[0] = '\0';
}

}  // namespace

void check_png_or_jpeg(const std::filesystem::path& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return;  // ITK says why it cannot be read
  unsigned char signature[8] = {};
  const std::size_t got = std::fread(signature, 1, sizeof signature, file);
  std::rewind(file);
  if (got == 0) {  // ITK's reader says "the file is empty"
    std::fclose(file);
    return;
  }
  Decoding d;
  d.file = file;
  std::snprintf(d.message, sizeof d.message, "not decoded");
  // By content, and by name: a file named .png or .jpg that is not one still reaches ITK's reader
  // for that name, which fails the same way.
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if ((got == 8 && png_sig_cmp(signature, 0, 8) == 0) || ext == ".png") check_png(path, d);
  else if ((got >= 2 && signature[0] == 0xFF && signature[1] == 0xD8) || ext == ".jpg" || ext == ".jpeg") check_jpeg(path, d);
  else return;
  if (d.size_refused) refuse(path, too_large(d.width, d.height));
  if (d.message[0] != '\0') refuse(path, d.message);
}

namespace {

/// Walks the chain of image file directories (classic TIFF: 2-byte entry counts, 12-byte entries,
/// 4-byte offsets; BigTIFF: 8, 20 and 8) in the file's bytes and returns the problem, or "" when
/// every directory lies inside the file and the chain ends. libtiff's own walk
/// (TIFFNumberOfDirectories, called by ITK's reader) spun for minutes on a damaged 348-byte file.
std::string tiff_directory_problem(const std::vector<unsigned char>& bytes) {
  const bool little = bytes[0] == 'I';
  const auto read = [&](std::uint64_t at, int size) {
    std::uint64_t v = 0;
    for (int n = 0; n < size; ++n) v |= std::uint64_t(bytes[at + (little ? n : size - 1 - n)]) << (8 * n);
    return v;
  };
  const std::uint64_t version = read(2, 2);
  if (version != 42 && version != 43) return "not TIFF version 42 or 43 (BigTIFF)";
  const bool big = version == 43;
  if (big && bytes.size() < 16) return "the BigTIFF header is cut";
  const int count_size = big ? 8 : 2, entry_size = big ? 20 : 12, offset_size = big ? 8 : 4;
  std::uint64_t offset = big ? read(8, 8) : read(4, 4);
  std::vector<std::uint64_t> seen;
  while (offset != 0) {
    if (offset + count_size > bytes.size()) return "a directory starts outside the file";
    if (std::find(seen.begin(), seen.end(), offset) != seen.end()) return "the directories form a loop";
    if (seen.size() >= 65536) return "more than 65536 directories";
    seen.push_back(offset);
    const std::uint64_t entries = read(offset, count_size);
    const std::uint64_t next_at = offset + count_size + entries * entry_size;
    if (entries > 65535 || next_at + offset_size > bytes.size()) return "a directory runs past the end of the file";
    // Each tag's values, when not inline, must be in the file: libtiff allocates count x size
    // before it reads them (a 420-byte file made it ask for 1.4 GB, found by the fixed-seed run).
    for (std::uint64_t e = 0; e < entries; ++e) {
      const std::uint64_t at = offset + count_size + e * entry_size;
      static constexpr unsigned kTypeSize[19] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8, 8, 8};
      const std::uint64_t type = read(at + 2, 2), count = read(at + 4, big ? 8 : 4);
      const std::uint64_t size = type < 19 ? kTypeSize[type] : 0;  // libtiff skips a tag of unknown type
      if (size == 0 || count <= std::uint64_t(offset_size) / size) continue;  // none, or inline
      const std::uint64_t values_at = read(at + 4 + (big ? 8 : 4), offset_size);
      if (count > bytes.size() / size || values_at > bytes.size() || count * size > bytes.size() - values_at)
        return "the values of tag " + std::to_string(read(at, 2)) + " (" + std::to_string(count) + " of " + std::to_string(size) +
               " bytes) run past the end of the file";
    }
    offset = read(next_at, offset_size);
  }
  return seen.empty() ? "no image directory" : "";
}

}  // namespace

namespace {

/// The problem with a BMP's 8-bit run-length encoded pixels (BI_RLE8, `stream`: the image-size
/// bytes ITK decodes), or "". ITK 5.2's decoder trusts the runs: one running past the end of its
/// row or above the last row wrote outside the picture (heap corruption, SIGSEGV: found by the
/// fixed-seed fuzz run), and pixels a stream skips (a delta, an early end of line or of bitmap)
/// stay unwritten memory. So every pixel must be written once, row by row from the bottom: runs and
/// absolute runs within their row, an end of line only after a whole row, no delta.
std::string rle8_problem(const std::vector<unsigned char>& stream, std::uint64_t width, std::uint64_t height) {
  std::uint64_t x = 0, y = 0;  // the next pixel: column, and row from the bottom
  std::size_t at = 0;
  const auto done = [&] { return (y == height && x == 0) || (y + 1 == height && x == width); };
  while (at + 1 < stream.size()) {
    const unsigned count = stream[at], code = stream[at + 1];
    at += 2;
    if (count > 0 || code >= 3) {  // a run of one value, or an absolute run of `code` values
      const unsigned n = count > 0 ? count : code;
      if (y >= height || x + n > width) return "a run goes past the end of its row or above the last row";
      if (count == 0) {
        at += n + (n & 1);  // the values, padded to 2 bytes
        if (at > stream.size()) return "an absolute run is cut";
      }
      x += n;
    } else if (code == 0) {  // end of line
      if (x != width) return "a row ends before its last pixel (pixels left unwritten)";
      x = 0, ++y;
    } else if (code == 1) {  // end of bitmap
      return done() ? "" : "the picture ends before its last row (pixels left unwritten)";
    } else {
      return "a delta skips pixels (left unwritten by ITK's reader)";
    }
  }
  return done() ? "" : "the runs end before the picture does (pixels left unwritten)";
}

}  // namespace

void check_bmp_size(const std::filesystem::path& path) {
  unsigned char header[54] = {};
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(header), sizeof header);
  const std::streamsize got = in.gcount();
  if (got < 2 || header[0] != 'B' || header[1] != 'M') return;
  if (got < 18) refuse(path, "BMP: the file ends inside its header (" + std::to_string(got) + " bytes)");
  const auto read = [&](int at, int size) {
    std::uint32_t v = 0;
    for (int n = 0; n < size; ++n) v |= std::uint32_t(header[at + n]) << (8 * n);
    return v;
  };
  const std::uint64_t data_at = read(10, 4), info_size = read(14, 4);
  std::uint64_t width = 0, height = 0, bits = 0, compression = 0, image_size = 0;
  bool top_down = false;
  // ITK reads a cut header as it finds it (a 26-byte file was read as 5 x 12582912 pixels, from
  // the fixed-seed fuzz run's crash input reduced).
  if (got < 14 + std::streamsize(std::min<std::uint64_t>(info_size, 40)))
    refuse(path, "BMP: the file ends inside its header (" + std::to_string(got) + " bytes)");
  if (info_size == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes, no compression
    width = read(18, 2), height = read(20, 2), bits = read(24, 2);
  } else if (info_size >= 40) {  // BITMAPINFOHEADER and its later versions: signed 32-bit sizes
    const auto magnitude = [](std::uint32_t v) { return std::uint64_t(v >> 31 ? -std::int64_t(std::int32_t(v)) : std::int64_t(v)); };
    width = magnitude(read(18, 4)), height = magnitude(read(22, 4)), bits = read(28, 2);
    top_down = read(22, 4) >> 31;
    compression = read(30, 4), image_size = read(34, 4);
  } else {
    refuse(path, "BMP: its header size (" + std::to_string(info_size) + " bytes) is not one of a BMP header (12, or 40 and more)");
  }
  if (!acceptable_size(width, height) || bits == 0 || bits > 32) return;  // ITK's reader and the size limit say why
  std::error_code ec;
  const std::uint64_t file_size = std::filesystem::file_size(path, ec);
  if (ec) return;
  const std::uint64_t in_file = file_size > data_at ? file_size - data_at : 0;
  const std::string size_text = std::to_string(width) + " x " + std::to_string(height) + " pixels";
  if (compression == 1) {
    // BI_RLE8, the one encoding ITK's reader decodes: it reads the header's image size in bytes.
    if (bits != 8 || top_down)
      refuse(path, "BMP: run-length encoding (RLE8) needs 8 bits per pixel, rows from the bottom (" + std::to_string(bits) +
                       " bits" + (top_down ? ", top-down" : "") + " given)");
    if (image_size == 0 || image_size > in_file)
      refuse(path, "BMP: its encoded pixels (" + std::to_string(image_size) + " bytes by the header) are not within the file (" +
                       std::to_string(in_file) + " bytes after the header)");
    std::vector<unsigned char> stream(image_size);
    in.clear();
    in.seekg(std::streamoff(data_at));
    if (!in.read(reinterpret_cast<char*>(stream.data()), std::streamsize(stream.size()))) return;
    const std::string problem = rle8_problem(stream, width, height);
    if (!problem.empty()) refuse(path, "BMP: its run-length encoded " + size_text + ": " + problem);
    return;
  }
  // ITK reads every other compression value as rows as stored (BI_RGB, BI_BITFIELDS, and a
  // damaged value: 2022277120 made it read 8192 x 8192 pixels from 242 bytes, found by the
  // fixed-seed run).
  const std::uint64_t row = (bits * width + 31) / 32 * 4, needed = row * height;
  if (needed > in_file)
    refuse(path, "BMP: the file ends before its pixels do (" + std::to_string(in_file) + " of the " + std::to_string(needed) +
                     " bytes its header declares for " + size_text + ")");
}

void check_tiff_tags(const std::filesystem::path& path) {
  {
    std::ifstream in(path, std::ios::binary);
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() < 8 || !((bytes[0] == 'I' && bytes[1] == 'I') || (bytes[0] == 'M' && bytes[1] == 'M'))) return;
    const std::string problem = tiff_directory_problem(bytes);
    if (!problem.empty()) refuse(path, "TIFF: " + problem);
  }
  // libtiff's messages go to stderr by default; ITK says what is wrong when it reads the file.
  static std::once_flag quiet;
  std::call_once(quiet, [] { itk_TIFFSetErrorHandler(nullptr); });
  void* tif = itk_TIFFOpen(path.c_str(), "r");
  if (tif == nullptr) return;  // ITK reports it
  constexpr int kTiffAscii = 2;  // TIFFDataType TIFF_ASCII
  std::string short_tag;
  const int count = itk_TIFFGetTagListCount(tif);
  for (int n = 0; n < count && short_tag.empty(); ++n) {
    const std::uint32_t tag = itk_TIFFGetTagListEntry(tif, n);
    const void* field = itk_TIFFFieldWithTag(tif, tag);
    if (field == nullptr || itk_TIFFFieldDataType(field) != kTiffAscii) continue;
    const int fixed = itk_TIFFFieldReadCount(field);  // > 1: a fixed size; negative: variable
    if (itk_TIFFFieldPassCount(field)) {
      // Text of a tag libtiff does not know comes with its count and no terminating NUL added;
      // ITK reads a one-byte one with strlen, past the buffer.
      const char* text = nullptr;
      std::uint32_t length = 0;
      int ok = 0;
      if (fixed == -3) {  // TIFF_VARIABLE2: 32-bit count
        ok = itk_TIFFGetField(tif, tag, &length, &text);
      } else if (fixed == -1) {  // TIFF_VARIABLE: 16-bit count
        std::uint16_t length16 = 0;
        ok = itk_TIFFGetField(tif, tag, &length16, &text);
        length = length16;
      }
      if (ok == 1 && text != nullptr && std::memchr(text, 0, length) == nullptr)
        short_tag = std::string(itk_TIFFFieldName(field)) + " (text without its terminating NUL)";
      continue;
    }
    if (fixed <= 1) continue;
    const char* value = nullptr;
    if (itk_TIFFGetField(tif, tag, &value) == 1 && value != nullptr && std::strlen(value) + 1 < std::size_t(fixed))
      short_tag = std::string(itk_TIFFFieldName(field)) + " (" + std::to_string(std::strlen(value) + 1) + " bytes of its fixed " +
                  std::to_string(fixed) + ")";
  }
  itk_TIFFClose(tif);
  if (!short_tag.empty())
    refuse(path, "TIFF: the tag " + short_tag + " would be read past its end by ITK's TIFF reader");
}

}  // namespace musclecsa::io::detail
