// ITK-based research-format IO. ITK stays private: conversions to and from our own value types.

#include "musclecsa/io/image_io.h"

#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkObjectFactoryBase.h>
#include <itkPNGImageIO.h>
#include <itkRGBPixel.h>
#include <zlib.h>

#include <cstdarg>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "musclecsa/core/error.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/core/parallel.h"
#include "picture_check.h"

// ITK reads TIFF through its own copy of libtiff, whose symbols carry an itk_ prefix (ITKTIFF).
extern "C" {
using ItkTiffMessageHandler = void (*)(const char* module, const char* format, va_list arguments);
ItkTiffMessageHandler itk_TIFFSetWarningHandler(ItkTiffMessageHandler handler);
}

namespace musclecsa::io {
namespace {

/// ITK's object factories initialise themselves on first use without a lock, and io's functions
/// may run on several threads at once (analyze writes its label map beside its QC pictures): the
/// first use happens here, once, under C++'s thread-safe initialisation of statics.
void itk_ready() {
  static const bool ready = [] {
    itk::ObjectFactoryBase::CreateAllInstance("itkImageIOBase");
    return true;
  }();
  (void)ready;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string extension_of(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  for (const char* ext : {".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd"})
    if (ends_with(name, ext)) return ext;
  return "";
}

/// Writes `header` followed by `data` as the single-member gzip file `gz`. Blocks of the stream
/// are deflated independently (zlib level 1) on all cores and joined with sync flushes and a
/// combined CRC, as pigz does: any gzip reader (ITK, nibabel, gzip) reads the result. ITK's own
/// .nii.gz writer deflates one stream at zlib's default level on one thread, which took about 1 s
/// for a 512x512x400 label map; this takes a fraction of that, for a somewhat larger file.
/// Errors (disk full included) throw Error(OutputFailed) naming `shown`, the final file name.
void gzip_write(const std::vector<unsigned char>& header, const unsigned char* data, std::size_t data_bytes,
                const std::filesystem::path& gz, const std::filesystem::path& shown) {
  const auto fail = [&](const std::string& why) {
    throw Error(ErrorCode::OutputFailed, shown.string(), "cannot write image: " + why);
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(gz.c_str(), "wb"), &std::fclose);
  if (!file) fail("cannot create the file");
  std::FILE* out = file.get();

  const std::size_t size = header.size() + data_bytes;
  constexpr std::size_t kBlock = std::size_t{4} << 20;
  const std::size_t blocks = std::max<std::size_t>(1, (size + kBlock - 1) / kBlock);
  const std::size_t threads = std::clamp<std::size_t>(worker_thread_count(), 1, std::min<std::size_t>(blocks, 8));
  struct Slot {
    std::vector<unsigned char> out;
    uLong crc = 0;
    bool ok = true;
  };
  std::vector<Slot> slots(threads);
  const auto block_length = [&](std::size_t b) { return std::min(kBlock, size - b * kBlock); };
  auto deflate_block = [&](Slot& slot, std::size_t b) {
    const bool last = b + 1 == blocks;
    const std::size_t begin = b * kBlock, end = begin + block_length(b);
    z_stream z{};
    if (deflateInit2(&z, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      slot.ok = false;
      return;
    }
    slot.out.resize(deflateBound(&z, uLong(end - begin)) + 64);
    z.next_out = slot.out.data();
    z.avail_out = uInt(slot.out.size());
    slot.crc = crc32(0L, Z_NULL, 0);
    bool ok = true;
    // The block's part of the header, then its part of the voxels.
    const std::pair<const unsigned char*, std::size_t> pieces[2] = {
        {header.data() + std::min(begin, header.size()), std::min(end, header.size()) - std::min(begin, header.size())},
        {data + (std::max(begin, header.size()) - header.size()), std::max(end, header.size()) - std::max(begin, header.size())}};
    for (const auto& [bytes, length] : pieces) {
      if (length == 0) continue;
      slot.crc = crc32(slot.crc, bytes, uInt(length));
      z.next_in = const_cast<unsigned char*>(bytes);
      z.avail_in = uInt(length);
      ok = ok && deflate(&z, Z_NO_FLUSH) == Z_OK && z.avail_in == 0;
    }
    // Blocks before the last end byte-aligned and not final, so the raw streams concatenate.
    const int rc = deflate(&z, last ? Z_FINISH : Z_SYNC_FLUSH);
    ok = ok && (last ? rc == Z_STREAM_END : rc == Z_OK) && z.avail_out > 0;
    slot.out.resize(slot.out.size() - z.avail_out);
    deflateEnd(&z);
    slot.ok = ok;
  };

  const unsigned char gzip_header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3};  // deflate, no name/time, fastest, Unix
  bool written = std::fwrite(gzip_header, 1, sizeof gzip_header, out) == sizeof gzip_header;
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::size_t first = 0; first < blocks && written; first += threads) {
    const std::size_t count = std::min(threads, blocks - first);
    std::vector<std::thread> workers;
    for (std::size_t t = 1; t < count; ++t) workers.emplace_back(deflate_block, std::ref(slots[t]), first + t);
    deflate_block(slots[0], first);
    for (auto& w : workers) w.join();
    for (std::size_t t = 0; t < count; ++t) {
      if (!slots[t].ok) fail("zlib compression failed");
      crc = crc32_combine(crc, slots[t].crc, z_off_t(block_length(first + t)));
      written = written && std::fwrite(slots[t].out.data(), 1, slots[t].out.size(), out) == slots[t].out.size();
    }
  }
  unsigned char trailer[8];
  for (int n = 0; n < 4; ++n) {
    trailer[n] = static_cast<unsigned char>(crc >> (8 * n));
    trailer[4 + n] = static_cast<unsigned char>(std::uint64_t(size) >> (8 * n));  // ISIZE: length modulo 2^32
  }
  written = written && std::fwrite(trailer, 1, sizeof trailer, out) == sizeof trailer;
  written = written && std::fflush(out) == 0;
  written = std::fclose(file.release()) == 0 && written;
  if (!written) fail("write failed (disk full?)");
}

template <class TPixel>
typename itk::Image<TPixel, 3>::Pointer to_itk(const Geometry& g, const TPixel* data) {
  using ImageType = itk::Image<TPixel, 3>;
  auto image = ImageType::New();
  typename ImageType::RegionType region;
  typename ImageType::SizeType size;
  typename ImageType::SpacingType spacing;
  typename ImageType::PointType origin;
  typename ImageType::DirectionType direction;
  for (unsigned n = 0; n < 3; ++n) {
    size[n] = g.size[n];
    spacing[n] = g.spacing_mm[n];
    for (unsigned m = 0; m < 3; ++m) direction[n][m] = g.direction[3 * n + m];
  }
  origin[0] = g.origin_lps_mm.x;
  origin[1] = g.origin_lps_mm.y;
  origin[2] = g.origin_lps_mm.z;
  region.SetSize(size);
  image->SetRegions(region);
  image->SetSpacing(spacing);
  image->SetOrigin(origin);
  image->SetDirection(direction);
  // Borrow the caller's buffer (no copy): the image only lives for one write.
  image->GetPixelContainer()->SetImportPointer(const_cast<TPixel*>(data), g.voxel_count(), false);
  return image;
}

/// The NIfTI-1 header (with its 4 extension bytes: everything before the voxels) ITK writes for
/// an image of this grid and pixel type: ITK writes a 2x2x2 image with the same spacing, origin
/// and direction to a small temporary .nii and the sizes are patched in (dim[1..3]; no other
/// header field depends on them). Empty when that file is not what is expected (then the caller
/// lets ITK write the whole image), a size is 1 or the sizes do not fit NIfTI-1.
template <class TPixel>
std::optional<std::vector<unsigned char>> nifti1_header(const Geometry& g, const std::filesystem::path& path) {
  itk_ready();
  // Single-slice images keep ITK's own writer (it may drop a dimension of size 1).
  for (std::size_t n = 0; n < 3; ++n)
    if (g.size[n] < 2 || g.size[n] > 32767) return std::nullopt;
  Geometry small = g;
  small.size = {2, 2, 2};
  const std::vector<TPixel> zeros(small.voxel_count(), TPixel{});
  const std::filesystem::path tmp =
      path.parent_path() / (".tmp" + std::to_string(::getpid()) + "-header-" + path.stem().stem().string() + ".nii");
  std::error_code ec;
  std::vector<unsigned char> bytes;
  try {
    auto writer = itk::ImageFileWriter<itk::Image<TPixel, 3>>::New();
    writer->SetInput(to_itk<TPixel>(small, zeros.data()));
    writer->SetFileName(tmp.string());
    writer->SetUseCompression(false);
    writer->Update();
    std::FILE* f = std::fopen(tmp.c_str(), "rb");
    if (f) {
      unsigned char buffer[4096];
      for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, f)) > 0 && bytes.size() < (1u << 20);)
        bytes.insert(bytes.end(), buffer, buffer + n);
      std::fclose(f);
    }
  } catch (const itk::ExceptionObject&) {
    bytes.clear();
  }
  std::filesystem::remove(tmp, ec);
  // NIfTI-1 single file: sizeof_hdr 348, dim[0] 3, dim[1..3] 2, voxels from vox_offset to the end.
  std::int32_t sizeof_hdr = 0;
  std::int16_t dim[4] = {};
  float vox_offset = 0;
  if (bytes.size() < 352) return std::nullopt;
  std::memcpy(&sizeof_hdr, bytes.data(), 4);
  std::memcpy(dim, bytes.data() + 40, sizeof dim);
  std::memcpy(&vox_offset, bytes.data() + 108, 4);
  if (sizeof_hdr != 348 || dim[0] != 3 || dim[1] != 2 || dim[2] != 2 || dim[3] != 2 || !(vox_offset >= 352) ||
      std::size_t(vox_offset) != vox_offset || std::size_t(vox_offset) + zeros.size() * sizeof(TPixel) != bytes.size())
    return std::nullopt;
  bytes.resize(std::size_t(vox_offset));
  for (int n = 0; n < 3; ++n) dim[n + 1] = static_cast<std::int16_t>(g.size[std::size_t(n)]);
  std::memcpy(bytes.data() + 40, dim, sizeof dim);
  return bytes;
}

void check_nifti_complete(const std::filesystem::path& path);

/// How ITK's NIfTI library (nifti1_io, ITK 5.2) takes a file's first 348 bytes: nullopt when it
/// does not read them as a NIfTI-1 (or ANALYZE 7.5) header, else whether it byte-swaps them. It
/// reads any header whose magic is "n+1" or "ni1" whatever its sizeof_hdr says, and one without
/// that magic whose sizeof_hdr is 348 in either byte order (is_nifti_file); it swaps when dim[0]
/// is 1..7 only once swapped or, dim[0] being 0, when sizeof_hdr is 348 only once swapped, and
/// refuses a header whose dim[0] is 1..7 in neither order (need_nhdr_swap). Our checks must take
/// every header the library takes: one whose sizeof_hdr was damaged (not 348 either way) but
/// whose magic said "n+1" went past them to ITK, which aborted on its NaN orientation.
std::optional<bool> nifti1_byte_swapped(const unsigned char (&header)[348]) {
  std::int32_t sizeof_hdr = 0;
  std::int16_t dim0 = 0;
  std::memcpy(&sizeof_hdr, header, 4);
  std::memcpy(&dim0, header + 40, 2);
  const char* magic = reinterpret_cast<const char*>(header + 344);
  const bool nifti_magic =
      magic[0] == 'n' && (magic[1] == 'i' || magic[1] == '+') && magic[2] >= '1' && magic[2] <= '9' && magic[3] == '\0';
  constexpr std::int32_t kSwapped348 = 0x5C010000;
  if (!nifti_magic && sizeof_hdr != 348 && sizeof_hdr != kSwapped348) return std::nullopt;
  const auto in_range = [](std::int16_t d) { return d >= 1 && d <= 7; };
  if (dim0 != 0) {
    if (in_range(dim0)) return false;
    if (in_range(std::int16_t(std::uint16_t(dim0) << 8 | std::uint16_t(dim0) >> 8))) return true;
    return std::nullopt;
  }
  if (sizeof_hdr == 348) return false;
  if (sizeof_hdr == kSwapped348) return true;
  return std::nullopt;
}

template <class TPixel>
void write_itk(const Geometry& g, const TPixel* data, const std::filesystem::path& path) {
  itk_ready();
  const std::string ext = extension_of(path);
  if (ext.empty())
    throw Error(ErrorCode::InvalidArgument, path.string(),
                "unknown image format (use .nii.gz, .nii, .nrrd, .nhdr, .mha or .mhd)");
  g.validate(path.string());
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  // Single-file formats go through a temporary name with the same extension (ITK picks the format
  // from it) and a rename. Detached headers (.nhdr, .mhd) name their data file, so they are written
  // in place.
  const bool detached = ext == ".nhdr" || ext == ".mhd";
  const std::filesystem::path target =
      detached ? path : path.parent_path() / (".tmp" + std::to_string(::getpid()) + "-" + path.filename().string());
  // .nii.gz: ITK's NIfTI-1 header (taken from a 2x2x2 image on the same grid, sizes patched in)
  // followed by the voxels as they are in memory, gzipped by gzip_write. When the header cannot
  // be made so, ITK writes and compresses the file itself.
  std::optional<std::vector<unsigned char>> nifti_header;
  if (ext == ".nii.gz") nifti_header = nifti1_header<TPixel>(g, path);
  if (nifti_header) {
    try {
      gzip_write(*nifti_header, reinterpret_cast<const unsigned char*>(data), g.voxel_count() * sizeof(TPixel), target, path);
    } catch (const Error&) {
      std::filesystem::remove(target, ec);
      throw;
    }
  } else {
    try {
      auto writer = itk::ImageFileWriter<itk::Image<TPixel, 3>>::New();
      writer->SetInput(to_itk<TPixel>(g, data));
      writer->SetFileName(target.string());
      writer->SetUseCompression(ext == ".nii.gz" || ext == ".nrrd" || ext == ".mha");
      writer->Update();
    } catch (const itk::ExceptionObject& e) {
      std::filesystem::remove(target, ec);
      throw Error(ErrorCode::OutputFailed, path.string(), std::string("cannot write image: ") + e.GetDescription());
    }
  }
  if (detached) return;
  // ITK's NIfTI writer does not report a short write (a full disk): the file is checked against its
  // own header before it takes the final name.
  if (ext == ".nii" || ext == ".nii.gz") {
    try {
      check_nifti_complete(target);
    } catch (const Error&) {
      std::filesystem::remove(target, ec);
      throw Error(ErrorCode::OutputFailed, path.string(), "the image could not be written completely (is the disk full?)");
    }
  }
  io::move_into_place(target, path);
}

/// ITK's NIfTI reader fills a file that ends early with zeros and reports nothing: a truncated
/// .nii or .nii.gz (an interrupted copy or download) would be read as a complete image. The data
/// must reach vox_offset + voxels x bytes per voxel. For .nii.gz the gzip trailer's length is
/// checked first; only when it disagrees (several gzip members, or truncation) is the stream counted.
void check_nifti_complete(const std::filesystem::path& path) {
  const std::string ext = extension_of(path);
  if (ext != ".nii" && ext != ".nii.gz") return;
  const std::string file = path.string();
  gzFile in = gzopen(file.c_str(), "rb");  // reads plain files too
  if (in == nullptr) throw Error(ErrorCode::InputNotFound, file, "cannot open for reading");
  struct Closer {
    gzFile& in;
    ~Closer() {
      if (in != nullptr) gzclose(in);
    }
  } closer{in};
  unsigned char header[348] = {};
  const int got = gzread(in, header, sizeof header);
  if (got != int(sizeof header)) return;  // not NIfTI-1: leave the checking to ITK
  const std::optional<bool> swapped = nifti1_byte_swapped(header);
  if (!swapped) return;  // the NIfTI library does not take it: ITK says why
  // NIfTI-1: dim[8] at 40, bitpix at 72, vox_offset at 108 (the file's own voxel type and size),
  // in the byte order the NIfTI library reads them in (a header whose dim[0] read 768 was read
  // swapped by ITK, as 6 GB of voxels).
  std::int16_t dim[8] = {}, bitpix = 0;
  float vox_offset = 352;
  std::memcpy(dim, header + 40, sizeof dim);
  std::memcpy(&bitpix, header + 72, sizeof bitpix);
  std::memcpy(&vox_offset, header + 108, sizeof vox_offset);
  if (*swapped) {
    const auto swap16 = [](std::int16_t& v) { v = std::int16_t(std::uint16_t(v) << 8 | std::uint16_t(v) >> 8); };
    for (auto& d : dim) swap16(d);
    swap16(bitpix);
    std::uint32_t bits = 0;
    std::memcpy(&bits, &vox_offset, 4);
    bits = (bits >> 24) | ((bits >> 8) & 0xFF00u) | ((bits << 8) & 0xFF0000u) | (bits << 24);
    std::memcpy(&vox_offset, &bits, 4);
  }
  // Damaged headers declare anything: the sizes are summed without overflow (2^60 bytes is
  // beyond any file) and an offset that is not a byte position is refused.
  if (!(vox_offset >= 0 && vox_offset < 1e15f))
    throw Error(ErrorCode::InvalidInput, file,
                "the NIfTI header's voxel offset (vox_offset " + std::to_string(vox_offset) + ") is not a byte position in a file: damaged header?");
  constexpr std::uint64_t kBeyondAnyFile = std::uint64_t(1) << 60;
  std::uint64_t data_bytes = std::uint64_t(std::max<std::int16_t>(bitpix, 1));
  for (int n = 1; n <= std::clamp<int>(dim[0], 1, 7); ++n)
    data_bytes = std::min(kBeyondAnyFile, data_bytes * std::uint64_t(std::max<std::int16_t>(dim[n], 1)));
  data_bytes /= 8;
  const std::uint64_t expected = std::uint64_t(std::max(352.0f, vox_offset)) + data_bytes;
  std::uint64_t length = 0;
  bool counted = false;
  if (ext == ".nii.gz") {
    std::uint32_t trailer = 0;
    if (std::FILE* f = std::fopen(file.c_str(), "rb")) {
      if (std::fseek(f, -4, SEEK_END) == 0 && std::fread(&trailer, 4, 1, f) == 1 && trailer == std::uint32_t(expected)) counted = true;
      std::fclose(f);
    }
    if (counted) length = expected;
  } else {
    length = std::filesystem::file_size(path);
    counted = true;
  }
  if (!counted) {
    length = std::uint64_t(std::max(got, 0));
    std::vector<unsigned char> buffer(std::size_t(1) << 20);
    for (int n; (n = gzread(in, buffer.data(), unsigned(buffer.size()))) > 0;) length += std::uint64_t(n);
  }
  if (length < expected)
    throw Error(ErrorCode::InvalidInput, file,
                "the file ends early (" + std::to_string(length) + " of " + std::to_string(expected) +
                    " bytes of header and voxels): an interrupted copy or download?");
}

/// Why ITK could not read `path`, in one line a user can act on: ITK's own message names its class
/// and an address and spans several lines.
std::string unreadable_reason(const std::filesystem::path& path, const itk::ExceptionObject& e) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) == 0 && !ec)
    return "the file is empty (0 bytes)";
  std::string text = e.GetDescription();
  if (text.find("Could not create IO object") != std::string::npos) {
    std::string suffix = path.extension().string();
    if (suffix == ".gz") suffix = path.stem().extension().string() + suffix;  // .nii.gz
    return "its content is not a readable " + suffix + " image (damaged, or another format under this extension)";
  }
  if (const auto colon = text.find("): "); text.rfind("ITK ERROR", 0) == 0 && colon != std::string::npos)
    text.erase(0, colon + 3);
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text + " (damaged or truncated?)";
}

/// The NIfTI-1 header's spacing and orientation (pixdim, quatern_b/c/d, qoffset, srow_x/y/z) must be
/// finite numbers: ITK turns them into a direction matrix whose SVD aborts on a NaN or infinity
/// (vnl_matrix::assert_finite, found by fuzzing). They must also be below 1e20 in magnitude (no
/// scan's spacing or position in mm comes near it): an sform offset of 2e38, finite, made that
/// SVD (LINPACK ssvdc in float) overflow and spin for minutes. Checked before ITK reads the header, on every
/// header the NIfTI library reads (nifti1_byte_swapped: also one whose sizeof_hdr is damaged), in
/// the byte order it reads it in; other files are left alone.
void check_nifti_numbers(const std::filesystem::path& path) {
  const std::string ext = extension_of(path);
  if (ext != ".nii" && ext != ".nii.gz") return;
  gzFile in = gzopen(path.c_str(), "rb");
  if (in == nullptr) return;  // ITK says why
  unsigned char header[348] = {};
  const int got = gzread(in, header, sizeof header);
  gzclose(in);
  if (got != int(sizeof header)) return;
  const std::optional<bool> swapped = nifti1_byte_swapped(header);
  if (!swapped) return;  // the NIfTI library does not take it: ITK says why
  const auto number = [&](int at) {
    unsigned char b[4];
    for (int n = 0; n < 4; ++n) b[n] = header[at + (*swapped ? 3 - n : n)];
    float v;
    std::memcpy(&v, b, 4);
    return v;
  };
  std::vector<int> offsets;
  for (int n = 0; n < 8; ++n) offsets.push_back(76 + 4 * n);     // pixdim[8]
  for (int n = 0; n < 18; ++n) offsets.push_back(256 + 4 * n);   // quatern_b .. srow_z[3]
  constexpr float kBeyondAnyScan = 1e20f;
  for (int at : offsets)
    if (!(std::fabs(number(at)) < kBeyondAnyScan))
      throw Error(ErrorCode::InvalidInput, path.string(),
                  "cannot read image: the NIfTI header's spacing or orientation holds a value that is not a number "
                  "or is beyond 1e20 (damaged header?)");
}

/// A MetaImage ElementDataFile naming a numbered series of files ("slice%03d.raw 1 40 1"): its
/// file names, in MetaIO's order, or an Error. MetaIO makes each name with sprintf(pattern, i) for
/// i = first; i <= last; i += step. So the pattern must hold exactly one integer conversion (%d,
/// %i or %u, with at most a 0 flag and a width of two digits; "%s" made MetaIO read a pointer from
/// an int: SIGSEGV), the numbers must be integers, the step positive (0 made it divide by zero,
/// SIGFPE; a negative step below first <= last made it count down for ever) and first <= last (no
/// file, and voxels MetaIO never wrote), at most 65536 files. The names are made here without
/// handing the file's text to printf.
std::vector<std::string> metaimage_series_names(const std::filesystem::path& path, const std::string& value) {
  const auto refuse = [&](const std::string& why) {
    throw Error(ErrorCode::InvalidInput, path.string(), "cannot read image: ElementDataFile names a numbered file series " + why);
  };
  std::istringstream words(value);
  std::vector<std::string> parts;
  for (std::string w; words >> w;) parts.push_back(w);
  const auto integer = [](const std::string& w, long& out) {
    char* end = nullptr;
    errno = 0;
    out = std::strtol(w.c_str(), &end, 10);
    return !w.empty() && end == w.c_str() + w.size() && errno != ERANGE && out >= INT_MIN && out <= INT_MAX;
  };
  long first = 0, last = 0, step = 0;
  if (parts.size() != 4 || !integer(parts[1], first) || !integer(parts[2], last) || !integer(parts[3], step) || step == 0)
    refuse("without first, last and a step other than 0 (damaged header?)");
  if (step < 0 || first > last) refuse("that does not count up from first to last (a positive step; first <= last)");
  if ((last - first) / step >= 65536) refuse("of more than 65536 files");
  // The pattern: text, one %[0][width]d|i|u, text; "%%" is a literal %.
  const std::string& pattern = parts[0];
  std::string before, after, spec;
  bool seen = false;
  for (std::size_t n = 0; n < pattern.size(); ++n) {
    std::string& out = seen ? after : before;
    if (pattern[n] != '%') {
      out += pattern[n];
      continue;
    }
    if (n + 1 < pattern.size() && pattern[n + 1] == '%') {
      out += '%';
      ++n;
      continue;
    }
    std::size_t at = n + 1;
    std::string flags;
    if (at < pattern.size() && pattern[at] == '0') flags = "0", ++at;
    std::string width;
    while (at < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[at])) && width.size() < 3) width += pattern[at++];
    if (seen || width.size() > 2 || at >= pattern.size() || std::string("diu").find(pattern[at]) == std::string::npos)
      refuse("whose pattern " + pattern + " is not a name with one integer conversion (%d, %03d, ...): damaged header?");
    spec = "%" + flags + width + pattern[at];
    seen = true;
    n = at;
  }
  if (!seen) refuse("whose pattern " + pattern + " has no number in it (damaged header?)");
  std::vector<std::string> names;
  for (long i = first; i <= last; i += step) {
    char number[64];
    std::snprintf(number, sizeof number, spec.c_str(), int(i));  // spec is ours: flags, width, d/i/u
    names.push_back(before + number + after);
  }
  return names;
}

void check_metaimage_file_pattern(const std::filesystem::path& path, const std::string& value) {
  if (value.find('%') != std::string::npos) (void)metaimage_series_names(path, value);
}

/// MetaIO inflates compressed voxels (MET_PerformUncompression) in a loop that ends only on zlib's
/// end of stream or on an error code below zero. A stream whose zlib header asks for a preset
/// dictionary (FDICT) gets Z_NEED_DICT (2) back on every call and the loop never ends (15 bytes
/// found by fuzzing kept it busy for more than 100 s); a damaged, cut or misplaced stream ends with
/// "Uncompress failed" on stderr and voxels MetaIO never wrote, which ITK reports as read. So the
/// stream is inflated here first, from where MetaIO will take it and as it will (zlib or gzip
/// header), into a scratch buffer: it must end (Z_STREAM_END) within its bytes and give exactly
/// `expected` bytes, the voxels the header declares. Where MetaIO takes it (ITK 5.2, measured):
/// CompressedDataSize bytes from HeaderSize when that is positive, else from the end of the header
/// (ElementDataFile = LOCAL) or the start of the named data file; without CompressedDataSize, the
/// whole data file from its first byte (for LOCAL the header itself: it never finds the voxels).
/// `data_value` is the ElementDataFile value, `header_end` the byte after its line.
void check_metaimage_stream(const std::filesystem::path& path, const std::string& data_value, bool local,
                            std::uint64_t header_end, double header_size, double compressed_size, std::uint64_t expected) {
  const auto refuse = [&](const std::string& why) {
    throw Error(ErrorCode::InvalidInput, path.string(), "cannot read image: " + why);
  };
  std::string lower = data_value;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // A list or numbered series of data files: MetaIO inflates each with the one CompressedDataSize;
  // not checked here, so not read (ITK's writer never makes such a file).
  if (lower.rfind("list", 0) == 0 || data_value.find('%') != std::string::npos)
    refuse("its compressed voxels are split over several files (ElementDataFile = " + data_value +
           "), which this reader does not take: give one file");
  if (!(header_size >= 0))
    refuse("its HeaderSize is negative with compressed voxels, which MetaIO cannot find (damaged header?)");
  if (!(compressed_size >= 0)) refuse("its CompressedDataSize is not a size (damaged header?)");
  const std::filesystem::path data_file = local ? path : path.parent_path() / data_value;
  std::error_code ec;
  const std::uint64_t file_size = std::filesystem::file_size(data_file, ec);
  if (ec) return;  // ITK says it cannot open it
  std::uint64_t begin = 0, length = file_size;
  if (std::uint64_t(std::max(0.0, std::min(compressed_size, 1e18))) == 0) {
    if (local)
      refuse("its compressed voxels have no CompressedDataSize: MetaIO then looks for them at the file's first "
             "byte, in the header (damaged header?)");
  } else {
    const double start = header_size >= 1 ? header_size : double(local ? header_end : 0);
    if (!(start <= double(file_size) && compressed_size <= double(file_size) - start))
      refuse("its CompressedDataSize (" + std::to_string(std::uint64_t(std::min(compressed_size, 1e18))) +
             " bytes) runs past the end of " + data_file.filename().string() + " (" + std::to_string(file_size) +
             " bytes): damaged header or a truncated file?");
    begin = std::uint64_t(start);
    length = std::uint64_t(compressed_size);
  }
  std::ifstream in(data_file, std::ios::binary);
  if (!in || !in.seekg(std::streamoff(begin))) return;  // ITK says it cannot read it
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) return;  // as MetaIO: a zlib or a gzip header
  std::vector<unsigned char> input(std::size_t(1) << 20), output(std::size_t(1) << 20);
  std::uint64_t left = length, produced = 0;
  int rc = Z_OK;
  while (rc == Z_OK && produced <= expected) {
    if (z.avail_in == 0) {
      if (left == 0) break;
      const std::size_t want = std::size_t(std::min<std::uint64_t>(left, input.size()));
      in.read(reinterpret_cast<char*>(input.data()), std::streamsize(want));
      if (in.gcount() <= 0) break;
      left -= std::uint64_t(in.gcount());
      z.next_in = input.data();
      z.avail_in = uInt(in.gcount());
    }
    z.next_out = output.data();
    z.avail_out = uInt(output.size());
    rc = inflate(&z, Z_NO_FLUSH);
    produced += output.size() - z.avail_out;
  }
  const std::string zlib_message = z.msg != nullptr ? z.msg : "";
  inflateEnd(&z);
  const std::string of_declared = " of the " + std::to_string(expected) + " bytes of voxels its header declares";
  if (rc == Z_NEED_DICT)
    refuse("its compressed voxels are damaged: the zlib stream asks for a preset dictionary, which MetaImage has not");
  if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
    refuse("its compressed voxels are damaged (zlib: " + (zlib_message.empty() ? std::to_string(rc) : zlib_message) + ")");
  if (produced > expected)
    refuse("its compressed voxels inflate to more than the " + std::to_string(expected) +
           " bytes of voxels its header declares (damaged header?)");
  if (rc != Z_STREAM_END)
    refuse("its compressed voxels end before their zlib stream does, after " + std::to_string(produced) + of_declared +
           " (cut or damaged?)");
  if (produced != expected)
    refuse("its compressed voxels inflate to " + std::to_string(produced) + of_declared + " (damaged header?)");
}

/// Voxels in files other than the header (ElementDataFile naming one file, a numbered series, or
/// LIST and names on the lines that follow): ITK allocates all the voxels the header declares
/// before MetaIO opens those files, so a damaged header naming a file that is not there made it
/// allocate whatever its DimSize said (120 GB, found by fuzzing). The files must exist and, for
/// raw voxels, hold at least the declared bytes (beyond HeaderSize, for one file); compressed
/// voxels are inflated by check_metaimage_stream. `header_end` is the byte after the
/// ElementDataFile line, `dimsize` the header's sizes.
void check_metaimage_data_files(const std::filesystem::path& path, const std::string& data_value, std::uint64_t header_end,
                                double header_size, bool compressed, std::uint64_t expected, const std::vector<long>& dimsize) {
  const auto refuse = [&](const std::string& why) {
    throw Error(ErrorCode::InvalidInput, path.string(), "cannot read image: " + why);
  };
  std::string lower = data_value;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::vector<std::string> names;
  if (lower.rfind("list", 0) == 0) {
    // One file per (NDims-1)-D slice, or per N-D block with "LIST ND": the product of the
    // remaining sizes, named one a line after the ElementDataFile line.
    std::size_t file_dims = dimsize.size() - 1;
    std::istringstream words(lower.substr(4));
    if (std::string word; words >> word && word.size() == 2 && word[1] == 'd' && word[0] >= '1' && word[0] <= '9')
      file_dims = std::min<std::size_t>(dimsize.size(), std::size_t(word[0] - '0'));
    std::uint64_t count = 1;
    for (std::size_t d = file_dims; d < dimsize.size(); ++d) count = std::min<std::uint64_t>(count * std::uint64_t(dimsize[d]), 1u << 20);
    if (count > 65536) refuse("its ElementDataFile LIST would name more than 65536 files (damaged header?)");
    std::ifstream in(path, std::ios::binary);
    in.seekg(std::streamoff(header_end));
    for (std::string line; names.size() < count && std::getline(in, line);) {
      line.erase(0, line.find_first_not_of(" \t"));
      while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
      if (!line.empty()) names.push_back(line);
    }
    if (names.size() < count)
      refuse("its ElementDataFile LIST names " + std::to_string(names.size()) + " of the " + std::to_string(count) +
             " files it needs (damaged header?)");
  } else if (data_value.find('%') != std::string::npos) {
    names = metaimage_series_names(path, data_value);
  } else {
    names.push_back(data_value);
  }
  std::uint64_t total = 0;
  for (const std::string& name : names) {
    const std::filesystem::path file = path.parent_path() / name;
    std::error_code ec;
    const bool regular = std::filesystem::is_regular_file(file, ec);
    const std::uint64_t size = regular ? std::filesystem::file_size(file, ec) : 0;
    if (!regular || ec)
      throw Error(ErrorCode::InputNotFound, path.string(),
                  "cannot read image: its voxel file " + name + " (ElementDataFile) is not there or not a file");
    total += size;
  }
  if (compressed) return;  // the stream is checked by inflating it
  if (names.size() == 1 && header_size >= 1) total -= std::min<std::uint64_t>(total, std::uint64_t(std::min(header_size, 1e18)));
  if (total < expected)
    refuse("its voxel file" + std::string(names.size() > 1 ? "s hold " : " holds ") + std::to_string(total) + " bytes, fewer than the " +
           std::to_string(expected) + " bytes of voxels its header declares (damaged header or a truncated file?)");
}

/// The voxels a single-file NRRD or MetaImage declares must fit in the file: as raw bytes, or
/// compressed at most 1032:1 (deflate's largest ratio; NRRD's bzip2 is not in ITK's reader). A
/// MetaImage whose voxels are in other files needs those files, holding the declared raw bytes
/// (check_metaimage_data_files); a compressed MetaImage stream, in this file or another, is
/// inflated first (check_metaimage_stream). An NRRD naming another data file (.nhdr, "data file")
/// is not size-checked. NIfTI has its own check (check_nifti_complete). Called twice: before ITK
/// reads the header (file_io null: the header's own checks) and before it allocates the voxels.
/// Throws Error(InvalidInput) (InputNotFound for a missing voxel file).
void check_declared_size(const std::filesystem::path& path, const itk::ImageIOBase* file_io) {
  const std::string ext = extension_of(path);
  if (ext != ".nrrd" && ext != ".mha" && ext != ".mhd") return;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  double compressed_size = 0;  // MetaImage CompressedDataSize, 0 when absent
  double header_size = 0;      // MetaImage HeaderSize, 0 when absent
  bool compressed = false;     // MetaImage CompressedData: MetaIO takes a value starting T, t or 1
  bool data_line = false, local = false;  // the MetaImage ElementDataFile line; its value is LOCAL
  std::string data_value;                 // that value as written
  std::uint64_t header_end = 0;           // the byte after that line
  // Header lines up to the first empty line (NRRD) or the ElementDataFile line (MetaImage).
  // MetaImage: NDims once, and DimSize once with NDims positive sizes. MetaIO trusts both: a
  // header that set NDims twice corrupted its heap (a free of memory it did not allocate), one with
  // more sizes than NDims wrote past its arrays, and "DimSize = 4 4 -1" asked for 256 GB.
  int ndims_lines = 0, dimsize_lines = 0;
  long ndims = 0;
  bool binary_data = false;  // "BinaryData = True": MetaIO reads ASCII voxels otherwise
  std::vector<long> dimsize;
  const auto check_metaimage_dims = [&] {
    const bool sizes_ok = std::all_of(dimsize.begin(), dimsize.end(), [](long d) { return d >= 1; });
    if (ndims_lines != 1 || dimsize_lines != 1 || ndims < 1 || ndims > 8 || long(dimsize.size()) != ndims || !sizes_ok)
      throw Error(ErrorCode::InvalidInput, path.string(),
                  "cannot read image: the MetaImage header needs NDims once (1 to 8) and DimSize once with as many "
                  "positive sizes (damaged header?)");
  };
  // A MetaImage header line as MetaIO's MET_Read reads it: blanks before the key skipped, the key
  // up to the first '=' or ':', blanks after it dropped, and then compared as a C string, that is
  // up to its first NUL byte ("CompressedData\0\0\0\2 = True" is CompressedData to MetaIO: our
  // checks missed it and MetaIO spun on the stream, found by a reproducible fuzz run).
  const auto separator_of = [](const std::string& text) { return text.find_first_of("=:"); };
  const auto value_of = [&](const std::string& text) {
    const auto at = separator_of(text);
    return at == std::string::npos ? std::string() : text.substr(at + 1);
  };
  const auto key_of = [&](const std::string& text) {
    const auto begin = text.find_first_not_of(" \t\r");
    if (begin == std::string::npos) return std::string();
    const auto at = separator_of(text);
    std::string key = text.substr(begin, at == std::string::npos || at < begin ? std::string::npos : at - begin);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    return key.substr(0, key.find('\0'));
  };
  // A MetaImage header as MetaIO's MET_Read reads it: blanks and line ends before a key skipped,
  // the key read up to '=' or ':' across line ends (a line without either joins the next one's
  // key: "Elemen\nElementDataFile=LOCAL" is no data line to MetaIO, which read on to a later one,
  // found by the 1-hour fuzz run), then the value to the end of its line. NRRD: lines.
  const auto next_record = [&](std::string& record) {
    if (ext == ".nrrd") return bool(std::getline(in, record));
    record.clear();
    const int end = std::ifstream::traits_type::eof();
    int c = in.get();
    while (c == ' ' || c == '\t' || c == '\r' || c == '\n') c = in.get();
    if (c == end) return false;
    while (c != end && c != '=' && c != ':' && record.size() < 100000) {
      record += char(c);
      c = in.get();
    }
    if (c == end) return !record.empty();  // a key without a value ends the header
    record += char(c);
    while ((c = in.get()) != end && c != '\n') record += char(c);
    return true;
  };
  // At most 10000 lines: ITK writes a MetaImage's metadata (DICOM tags of an image read from DICOM)
  // as header lines, and a header is scanned whole up to its ElementDataFile line.
  for (int n = 0; n < 10000 && next_record(line); ++n) {
    const std::string written = line;
    for (char& c : line) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (ext == ".nrrd" && (line.empty() || line == "\r")) break;
    // MetaIO copies each keyword into a 255-byte buffer (strcpy: a longer one overflowed it).
    if (ext != ".nrrd" && line.substr(0, separator_of(line)).size() >= 255)
      throw Error(ErrorCode::InvalidInput, path.string(), "cannot read image: a MetaImage header line is damaged (a key of 255 bytes or more)");
    // MetaIO matches keys with their case ("ElementdataFile" is not its data line: it read on into
    // the voxels as header lines, one a key of 293 bytes, found by the 300 s run). Keys that let a
    // file through (BinaryData, ElementDataFile) or say where its voxels are (HeaderSize,
    // CompressedDataSize) are matched as MetaIO does; others in any case, which only refuses more.
    const std::string written_key = separator_of(written) == std::string::npos ? std::string() : key_of(written);
    if (ext != ".nrrd" && separator_of(line) != std::string::npos) {
      const std::string key = key_of(line);
      if (written_key == "BinaryData") {
        std::istringstream value(value_of(line));
        std::string word;
        binary_data = (value >> word) && word == "true";
      }
      if (key == "compresseddata") {
        std::string value = value_of(line);
        value.erase(0, value.find_first_not_of(" \t"));
        compressed = !value.empty() && (value[0] == 't' || value[0] == '1');
      }
      if (written_key == "HeaderSize") header_size = std::atof(value_of(line).c_str());
      if (key == "ndims") {
        ++ndims_lines;
        char* end = nullptr;
        const std::string v = value_of(line);
        ndims = std::strtol(v.c_str(), &end, 10);
        if (end == v.c_str()) ndims = 0;
      } else if (key == "dimsize") {
        ++dimsize_lines;
        dimsize.clear();
        std::istringstream words(value_of(line));
        for (std::string w; words >> w;) {
          // MetaIO keeps sizes as int: "DimSize = 1111...112 5 3" (52 digits) became 2^31 there.
          char* end = nullptr;
          errno = 0;
          const long d = std::strtol(w.c_str(), &end, 10);
          dimsize.push_back(end == w.c_str() + w.size() && errno != ERANGE && d <= INT_MAX ? d : -1);
        }
      }
    }
    if (ext == ".nrrd" && (line.rfind("data file:", 0) == 0 || line.rfind("datafile:", 0) == 0)) return;
    if (ext != ".nrrd" && written_key == "CompressedDataSize") {
      // MetaIO allocates this many bytes for the compressed voxels before reading them.
      const auto equals = separator_of(line);
      compressed_size = equals == std::string::npos ? -1 : std::atof(line.c_str() + equals + 1);
    }
    // The key exactly: MetaIO ignores "ElementDataFilee = ..." and "ElementdataFile = ..." and
    // reads a later line. A line that is the bare key (no value) is taken as damaged below.
    if (ext != ".nrrd" && (written_key == "ElementDataFile" ||
                           (separator_of(written) == std::string::npos && key_of(written).rfind("ElementDataFile", 0) == 0))) {
      check_metaimage_dims();
      // ASCII voxels: MetaIO's ASCII reader loops without end on data that is not ASCII numbers
      // (a damaged "BinaryData" key left a compressed file to it: minutes, found by fuzzing).
      if (!binary_data)
        throw Error(ErrorCode::InvalidInput, path.string(),
                    "cannot read image: the MetaImage header does not say BinaryData = True (ASCII MetaImage voxels "
                    "are not read; write the volume as binary MetaImage, NIfTI or NRRD)");
      const auto equals = line.find_first_of("=:");
      std::string value = equals == std::string::npos ? "" : line.substr(equals + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      // MetaIO reads a line it cannot parse as a data file name and then takes the voxels from a
      // wrong offset (a damaged one made it allocate 2^63 bytes).
      if (value.empty() || value.find('\0') != std::string::npos)
        throw Error(ErrorCode::InvalidInput, path.string(), "cannot read image: the ElementDataFile line is damaged");
      // MetaIO's value: the rest of the line without trailing blanks; LOCAL as "LOCAL", "Local" or "local".
      const auto value_at = written.find_first_not_of(" \t", equals == std::string::npos ? written.size() : equals + 1);
      data_value = value_at == std::string::npos ? "" : written.substr(value_at);
      while (!data_value.empty() && std::isspace(static_cast<unsigned char>(data_value.back()))) data_value.pop_back();
      check_metaimage_file_pattern(path, data_value);
      local = data_value == "LOCAL" || data_value == "Local" || data_value == "local";
      data_line = true;
      const std::streamoff after = in.tellg();
      header_end = after >= 0 ? std::uint64_t(after) : std::filesystem::file_size(path);
      break;
    }
  }
  if (ext != ".nrrd") check_metaimage_dims();  // also without an ElementDataFile line
  // The checks above of BinaryData and of the data's place, and the stream check below, need the
  // ElementDataFile line (MetaIO does too).
  if (ext != ".nrrd" && !data_line)
    throw Error(ErrorCode::InvalidInput, path.string(),
                "cannot read image: the MetaImage header has no ElementDataFile line (damaged header?)");
  if (file_io == nullptr) return;
  // The sizes only of voxels in this file (another file's size is not known here).
  constexpr std::uint64_t kBeyondAnyFile = std::uint64_t(1) << 60;
  std::uint64_t declared = std::max<std::uint64_t>(1, file_io->GetComponentSize()) *
                           std::max<std::uint64_t>(1, file_io->GetNumberOfComponents());
  for (unsigned d = 0; d < file_io->GetNumberOfDimensions(); ++d)
    declared = std::min(kBeyondAnyFile, declared * std::max<std::uint64_t>(1, file_io->GetDimensions(d)));
  if (ext == ".nrrd" || local) {
    std::error_code ec;
    const std::uint64_t file_size = std::filesystem::file_size(path, ec);
    if (ec) return;
    if (!(compressed_size >= 0 && compressed_size <= double(file_size)))
      throw Error(ErrorCode::InvalidInput, path.string(),
                  "cannot read image: its CompressedDataSize is not a size within the file (" + std::to_string(file_size) +
                      " bytes): damaged header?");
    if (declared > 1032 * file_size + 65536)
      throw Error(ErrorCode::InvalidInput, path.string(),
                  "its header declares " + std::to_string(declared) + " bytes of voxels, more than a file of " +
                      std::to_string(file_size) + " bytes can hold even compressed: damaged header or a truncated file?");
  }
  if (ext != ".nrrd" && !local) check_metaimage_data_files(path, data_value, header_end, header_size, compressed, declared, dimsize);
  if (ext != ".nrrd" && compressed)
    check_metaimage_stream(path, data_value, local, header_end, header_size, compressed_size, declared);
}

template <class TPixel>
typename itk::Image<TPixel, 3>::Pointer read_itk(const std::filesystem::path& path, Geometry& g) {
  itk_ready();
  if (!std::filesystem::exists(path)) throw Error(ErrorCode::InputNotFound, path.string(), "no such file");
  // MetaImage and NRRD headers are checked before MetaIO reads them: "NDims = 2000000000000004"
  // kept it reading values for minutes.
  check_declared_size(path, nullptr);
  check_nifti_numbers(path);
  auto reader = itk::ImageFileReader<itk::Image<TPixel, 3>>::New();
  reader->SetFileName(path.string());
  try {
    reader->UpdateOutputInformation();
  } catch (const itk::ExceptionObject& e) {
    throw Error(ErrorCode::InvalidInput, path.string(), "cannot read image: " + unreadable_reason(path, e));
  } catch (const std::exception& e) {
    // MetaIO lets a standard exception out on some damaged headers (std::length_error from a
    // string it builds: the 1-hour fuzz run); it is the file's problem like any other.
    throw Error(ErrorCode::InvalidInput, path.string(), std::string("cannot read image: its header is damaged (") + e.what() + ")");
  }
  // ITK would read the first volume of a 4-D file, the real part of complex voxels, or the
  // luminance of colour voxels without a word: each is refused instead.
  const itk::ImageIOBase* file_io = reader->GetImageIO();
  // A damaged header can leave no dimensions (MetaImage "NDims = 0") or no voxel type (MetaIO then
  // divides by a zero element size while reading): refused here, before ITK reads the voxels.
  if (file_io->GetNumberOfDimensions() == 0)
    throw Error(ErrorCode::InvalidInput, path.string(), "cannot read image: its header declares no dimensions (damaged header?)");
  if (file_io->GetComponentType() == itk::IOComponentEnum::UNKNOWNCOMPONENTTYPE || file_io->GetComponentSize() == 0)
    throw Error(ErrorCode::InvalidInput, path.string(), "cannot read image: its header names no known voxel type (damaged header?)");
  std::string dims = std::to_string(file_io->GetDimensions(0));
  bool extra_dimension = false;
  for (unsigned d = 1; d < file_io->GetNumberOfDimensions(); ++d) {
    dims += "x" + std::to_string(file_io->GetDimensions(d));
    if (d >= 3 && file_io->GetDimensions(d) > 1) extra_dimension = true;
  }
  if (extra_dimension)
    throw Error(ErrorCode::InvalidInput, path.string(),
                "a " + std::to_string(file_io->GetNumberOfDimensions()) + "-D image (" + dims +
                    "): give one 3-D volume (split time points, echoes or channels into separate files first)");
  if (file_io->GetPixelType() == itk::IOPixelEnum::COMPLEX)
    throw Error(ErrorCode::InvalidInput, path.string(), "complex-valued voxels: give the magnitude (or real) image as a volume");
  if (file_io->GetNumberOfComponents() > 1)
    throw Error(ErrorCode::InvalidInput, path.string(),
                std::to_string(file_io->GetNumberOfComponents()) +
                    " values per voxel (a colour, vector or tensor image): give a scalar volume");
  // Before ITK allocates the voxels: a short file whose header declares gigabytes is refused here.
  check_nifti_complete(path);
  check_declared_size(path, file_io);
  try {
    reader->Update();
  } catch (const itk::ExceptionObject& e) {
    throw Error(ErrorCode::InvalidInput, path.string(), "cannot read image: " + unreadable_reason(path, e));
  } catch (const std::exception& e) {
    throw Error(ErrorCode::InvalidInput, path.string(), std::string("cannot read image: it is damaged (") + e.what() + ")");
  }
  auto image = reader->GetOutput();
  const auto region = image->GetLargestPossibleRegion();
  for (unsigned n = 0; n < 3; ++n) {
    g.size[n] = region.GetSize()[n];
    g.spacing_mm[n] = image->GetSpacing()[n];
    for (unsigned m = 0; m < 3; ++m) g.direction[3 * n + m] = image->GetDirection()[n][m];
  }
  g.origin_lps_mm = {image->GetOrigin()[0], image->GetOrigin()[1], image->GetOrigin()[2]};
  g.validate(path.string());
  return image;
}

}  // namespace

bool is_research_format(const std::filesystem::path& path) { return !extension_of(path).empty(); }


namespace {

/// Converts to integer storage in one pass; false (and nothing converted) when a value is not an
/// integer in range.
template <class T>
bool to_integers(const std::vector<float>& values, std::vector<T>& out) {
  constexpr float lo = static_cast<float>(std::numeric_limits<T>::min());
  constexpr float hi = static_cast<float>(std::numeric_limits<T>::max());
  out.resize(values.size());
  for (std::size_t n = 0; n < values.size(); ++n) {
    const float v = values[n];
    if (!(v >= lo && v <= hi)) return false;
    const T t = static_cast<T>(v);
    if (static_cast<float>(t) != v) return false;
    out[n] = t;
  }
  return true;
}

}  // namespace

PixelStorage write_image(const Image<float>& image, const std::filesystem::path& path, PixelStorage storage) {
  if (storage == PixelStorage::Float32) {
    write_itk<float>(image.geometry, image.voxels.data(), path);
    return storage;
  }
  if (storage == PixelStorage::Int16 || storage == PixelStorage::Auto) {
    std::vector<std::int16_t> out;
    if (to_integers(image.voxels, out)) {
      write_itk<std::int16_t>(image.geometry, out.data(), path);
      return PixelStorage::Int16;
    }
  }
  if (storage == PixelStorage::UInt16 || storage == PixelStorage::Auto) {
    std::vector<std::uint16_t> out;
    if (to_integers(image.voxels, out)) {
      write_itk<std::uint16_t>(image.geometry, out.data(), path);
      return PixelStorage::UInt16;
    }
  }
  if (storage == PixelStorage::Auto) {
    write_itk<float>(image.geometry, image.voxels.data(), path);
    return PixelStorage::Float32;
  }
  throw Error(ErrorCode::InvalidArgument, path.string(),
              std::string("values are not all integers within the range of ") +
                  (storage == PixelStorage::Int16 ? "int16" : "uint16"));
}


void write_image(const Image<std::int16_t>& image, const std::filesystem::path& path) {
  write_itk<std::int16_t>(image.geometry, image.voxels.data(), path);
}

void write_image(const LabelMap& labels, const std::filesystem::path& path) {
  write_itk<LabelId>(labels.geometry, labels.voxels.data(), path);
}

ScalarVolume read_scalar_volume(const std::filesystem::path& path) {
  ScalarVolume volume;
  auto image = read_itk<float>(path, volume.geometry);
  const float* data = image->GetBufferPointer();
  volume.voxels.assign(data, data + volume.geometry.voxel_count());
  const auto non_finite = std::count_if(volume.voxels.begin(), volume.voxels.end(), [](float v) { return !std::isfinite(v); });
  if (non_finite > 0)
    throw Error(ErrorCode::InvalidInput, path.string(),
                std::to_string(non_finite) + " of " + std::to_string(volume.voxels.size()) +
                    " voxels are not numbers (NaN or infinite): masked or failed reconstruction? Give a volume of finite values");
  volume.source.path = path.string();
  return volume;
}

LabelMap read_label_map(const std::filesystem::path& path) {
  LabelMap labels;
  auto image = read_itk<float>(path, labels.geometry);
  const float* data = image->GetBufferPointer();
  labels.voxels.resize(labels.geometry.voxel_count());
  for (std::size_t n = 0; n < labels.voxels.size(); ++n) {
    const float v = data[n];
    if (!(v >= 0 && v <= 65535 && v == std::floor(v)))
      throw Error(ErrorCode::InvalidInput, path.string(), "label map holds a value that is not an integer 0..65535");
    labels.voxels[n] = static_cast<LabelId>(v);
  }
  return labels;
}

bool is_bitmap_format(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".png" || ext == ".tif" || ext == ".tiff" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

namespace {

using RgbFloatImage = itk::Image<itk::RGBPixel<float>, 2>;

/// A picture file as RGB floats, and whether it was colour and 16-bit. Throws as read_bitmap.
RgbFloatImage::Pointer read_rgb_float(const std::filesystem::path& path, bool& was_color, bool& sixteen_bit) {
  itk_ready();
  if (!std::filesystem::exists(path)) throw Error(ErrorCode::InputNotFound, path.string(), "no such file");
  if (!is_bitmap_format(path))
    throw Error(ErrorCode::InvalidArgument, path.string(), "not a PNG, TIFF, JPEG or BMP file name");
  // libtiff prints a warning for every private tag it does not know (scanner and ImageJ metadata
  // in ultrasound exports) straight to stderr: harmless, and noise in logs. Errors still arrive
  // as ITK exceptions.
  static const bool tiff_warnings_off = [] {
    itk_TIFFSetWarningHandler(nullptr);
    return true;
  }();
  (void)tiff_warnings_off;
  detail::check_png_or_jpeg(path);  // ITK's PNG and JPEG readers crash on corrupt files
  detail::check_tiff_tags(path);    // and its TIFF reader reads past short fixed-size tags
  detail::check_bmp_size(path);     // and its BMP reader reads a cut file as a whole picture
  auto reader = itk::ImageFileReader<RgbFloatImage>::New();
  reader->SetFileName(path.string());
  try {
    reader->UpdateOutputInformation();
    // A damaged header can declare any size (a BMP's made ITK ask for 2^64 - 1 bytes): refused
    // before ITK allocates it.
    const itk::ImageIOBase* header = reader->GetImageIO();
    std::uint64_t pixels = 1;
    for (unsigned d = 0; d < header->GetNumberOfDimensions(); ++d) {
      const std::uint64_t n = header->GetDimensions(d);
      if (n == 0 || n > detail::kMaxPicturePixels) pixels = 0;
      else pixels *= n;
      if (pixels > detail::kMaxPicturePixels) pixels = 0;
    }
    if (pixels == 0 || header->GetNumberOfComponents() > 4)
      throw Error(ErrorCode::InvalidInput, path.string(),
                  "cannot read picture: its header declares a size or pixel type this reader does not accept "
                  "(more than " + std::to_string(detail::kMaxPicturePixels) + " pixels, 0 pixels or over 4 channels): damaged?");
    reader->Update();
  } catch (const itk::ExceptionObject& e) {
    throw Error(ErrorCode::InvalidInput, path.string(), "cannot read picture: " + unreadable_reason(path, e));
  } catch (const std::exception& e) {
    throw Error(ErrorCode::InvalidInput, path.string(), std::string("cannot read picture: it is damaged (") + e.what() + ")");
  }
  itk::ImageIOBase* file_io = reader->GetImageIO();
  sixteen_bit = file_io->GetComponentType() == itk::IOComponentEnum::USHORT ||
                file_io->GetComponentType() == itk::IOComponentEnum::SHORT;
  was_color = file_io->GetNumberOfComponents() >= 3;
  return reader->GetOutput();
}

}  // namespace

BitmapImage read_bitmap(const std::filesystem::path& path, std::optional<double> pixel_size_mm) {
  if (pixel_size_mm && !(*pixel_size_mm > 0 && *pixel_size_mm < 10))
    throw Error(ErrorCode::InvalidArgument, "--pixel-size-mm", "must be a positive size below 10 mm");
  BitmapImage out;
  bool sixteen_bit = false;
  const auto rgb = read_rgb_float(path, out.was_color, sixteen_bit);
  const auto size = rgb->GetLargestPossibleRegion().GetSize();
  const double scale = sixteen_bit ? 255.0 / 65535.0 : 1.0;
  const double spacing = pixel_size_mm.value_or(1.0);
  out.image = ScalarVolume(make_axial_geometry({size[0], size[1], 1}, {spacing, spacing, 1.0}, {}));
  out.image.modality = Modality::US;
  out.image.unit_ucum = "1";
  out.image.source.path = path.string();
  out.calibrated = pixel_size_mm.has_value();
  const auto* data = rgb->GetBufferPointer();
  for (std::size_t n = 0; n < out.image.voxels.size(); ++n) {
    const auto& p = data[n];
    out.image.voxels[n] = static_cast<float>(scale * (0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]));
  }
  return out;
}

Picture read_rgb_picture(const std::filesystem::path& path) {
  bool was_color = false, sixteen_bit = false;
  const auto rgb = read_rgb_float(path, was_color, sixteen_bit);
  const auto size = rgb->GetLargestPossibleRegion().GetSize();
  const double scale = sixteen_bit ? 255.0 / 65535.0 : 1.0;
  Picture out;
  out.width = int(size[0]), out.height = int(size[1]), out.channels = 3;
  out.values.resize(std::size_t(out.width) * std::size_t(out.height) * 3);
  const auto* data = rgb->GetBufferPointer();
  for (std::size_t n = 0; n < out.values.size(); ++n)
    out.values[n] = static_cast<std::uint8_t>(std::clamp(std::lround(scale * data[n / 3][n % 3]), 0L, 255L));
  return out;
}

void write_png(const std::filesystem::path& path, const Picture& picture) {
  itk_ready();
  if (picture.width <= 0 || picture.height <= 0 || (picture.channels != 1 && picture.channels != 3) ||
      picture.values.size() != std::size_t(picture.width) * std::size_t(picture.height) * std::size_t(picture.channels))
    throw Error(ErrorCode::InvalidArgument, path.string(), "not an 8-bit grey or RGB picture (size and values disagree)");
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) throw Error(ErrorCode::OutputFailed, path.string(), "cannot create folder: " + ec.message());
  }
  const auto temp = path.parent_path() / ("." + path.filename().string() + ".tmp" + std::to_string(::getpid()));
  const auto write = [&](auto image) {
    using ImageType = typename decltype(image)::ObjectType;
    typename ImageType::RegionType region;
    region.SetSize({std::size_t(picture.width), std::size_t(picture.height)});
    image->SetRegions(region);
    image->Allocate();
    std::memcpy(static_cast<void*>(image->GetBufferPointer()), picture.values.data(), picture.values.size());
    auto writer = itk::ImageFileWriter<ImageType>::New();
    writer->SetImageIO(itk::PNGImageIO::New());  // the temporary name has no .png extension
    writer->SetFileName(temp.string());
    writer->SetInput(image);
    writer->SetUseCompression(true);
    writer->Update();
  };
  try {
    if (picture.channels == 1) write(itk::Image<unsigned char, 2>::New());
    else write(itk::Image<itk::RGBPixel<unsigned char>, 2>::New());
  } catch (const itk::ExceptionObject& e) {
    std::filesystem::remove(temp, ec);
    throw Error(ErrorCode::OutputFailed, path.string(), std::string("cannot write the PNG: ") + e.GetDescription());
  }
  move_into_place(temp, path);
}

}  // namespace musclecsa::io
