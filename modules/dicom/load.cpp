// Decoding series voxels: DCMTK for native, RLE, JPEG and JPEG-LS data; GDCM for JPEG 2000.

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmimage/diregist.h>
#include <dcmtk/dcmimgle/dcmimage.h>

#include <gdcmImageApplyLookupTable.h>
#include <gdcmImageReader.h>
#include <gdcmTrace.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <climits>
#include <cstring>
#include <type_traits>
#include <functional>
#include <map>
#include <memory>
#include <atomic>
#include <mutex>
#include <thread>

#include "dcmtk_util.h"
#include "gdcm_guard.h"
#include "gdcm_input.h"
#include "segmented_palette.h"
#include "musclecsa/core/error.h"
#include "musclecsa/core/parallel.h"
#include "musclecsa/dicom/series.h"

namespace musclecsa::dicom {
namespace {

[[noreturn]] void bad(const std::filesystem::path& path, const std::string& problem) {
  throw Error(ErrorCode::InvalidInput, path.string(), problem);
}

/// Luminance of 8-bit RGB (ITU-R BT.601 weights), the grey level used for echo intensity.
float luminance(double r, double g, double b) { return static_cast<float>(0.299 * r + 0.587 * g + 0.114 * b); }

/// Converts a stored integer (already shifted into the low bits) into its value.
struct StoredValue {
  int shift = 0;
  std::uint32_t mask = 0;
  bool is_signed = false;
  std::uint32_t sign_bit = 0;
  explicit StoredValue(const DicomFileInfo& f)
      : shift(static_cast<int>(f.high_bit + 1 - f.bits_stored)),
        mask(f.bits_stored >= 32 ? 0xFFFFFFFFu : ((1u << f.bits_stored) - 1u)),
        is_signed(f.pixel_representation == 1),
        sign_bit(f.bits_stored >= 32 ? 0x80000000u : (1u << (f.bits_stored - 1))) {}
  double operator()(std::uint32_t raw) const {
    const std::uint32_t v = (raw >> shift) & mask;
    if (is_signed && (v & sign_bit)) return static_cast<double>(static_cast<std::int64_t>(v) - (static_cast<std::int64_t>(mask) + 1));
    return static_cast<double>(v);
  }
};

/// All frames of one file decoded to physical values (frame-major, i fastest).
struct DecodedFile {
  std::vector<float> values;
  std::size_t frame_size = 0;
};

void to_values(const DicomFileInfo& f, const void* data, std::size_t sample_count, std::vector<float>& raw_out) {
  raw_out.resize(sample_count);
  const StoredValue stored(f);
  if (f.bits_allocated == 8) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    for (std::size_t n = 0; n < sample_count; ++n) raw_out[n] = static_cast<float>(stored(p[n]));
  } else if (f.bits_allocated == 16) {
    const auto* p = static_cast<const std::uint16_t*>(data);
    for (std::size_t n = 0; n < sample_count; ++n) raw_out[n] = static_cast<float>(stored(p[n]));
  } else {
    const auto* p = static_cast<const std::uint32_t*>(data);
    for (std::size_t n = 0; n < sample_count; ++n) raw_out[n] = static_cast<float>(stored(p[n]));
  }
}

/// Luminance of decoded colour samples (frame-major), interleaved or planar, RGB or YBR_FULL.
DecodedFile colour_to_luminance(const DicomFileInfo& f, const std::vector<float>& samples, bool planar, bool already_rgb) {
  DecodedFile out;
  out.frame_size = static_cast<std::size_t>(f.rows) * f.columns;
  out.values.resize(out.frame_size * f.number_of_frames);
  const bool ybr = !already_rgb && f.photometric.rfind("YBR_FULL", 0) == 0;
  for (std::size_t fr = 0; fr < f.number_of_frames; ++fr) {
    float* dst = out.values.data() + fr * out.frame_size;
    const float* src = samples.data() + fr * out.frame_size * 3;
    for (std::size_t n = 0; n < out.frame_size; ++n) {
      double a, b, c;
      if (planar) {
        a = src[n], b = src[out.frame_size + n], c = src[2 * out.frame_size + n];
      } else {
        a = src[3 * n], b = src[3 * n + 1], c = src[3 * n + 2];
      }
      if (ybr) {  // YBR_FULL to RGB (PS3.3 C.7.6.3.1.2)
        const double y = a, cb = b - 128, cr = c - 128;
        a = y + 1.402 * cr, b = y - 0.344136 * cb - 0.714136 * cr, c = y + 1.772 * cb;
      }
      dst[n] = luminance(std::clamp(a, 0.0, 255.0), std::clamp(b, 0.0, 255.0), std::clamp(c, 0.0, 255.0));
    }
  }
  return out;
}

/// Stored integers of one frame to physical values, in one pass (the common path: native monochrome).
template <class T>
void convert_frame(const DicomFileInfo& f, const FrameInfo& info, const T* raw, std::size_t count, float* dst) {
  const StoredValue stored(f);
  const double divisor = f.philips_scale_slope ? info.rescale_slope * *f.philips_scale_slope : 1.0;
  const float slope = static_cast<float>(info.rescale_slope / divisor);
  const float intercept = static_cast<float>(info.rescale_intercept / divisor);
  const bool invert = f.photometric == "MONOCHROME1" && f.modality == "US";
  const bool whole_word = stored.shift == 0 && f.bits_stored == sizeof(T) * 8;
  if (whole_word && !invert) {
    if (stored.is_signed) {
      using S = std::make_signed_t<T>;
      for (std::size_t n = 0; n < count; ++n) dst[n] = static_cast<float>(static_cast<S>(raw[n])) * slope + intercept;
    } else {
      for (std::size_t n = 0; n < count; ++n) dst[n] = static_cast<float>(raw[n]) * slope + intercept;
    }
    return;
  }
  const double top = static_cast<double>((1ull << f.bits_stored) - 1);
  for (std::size_t n = 0; n < count; ++n) {
    const double v = stored(raw[n]);
    dst[n] = static_cast<float>(((invert ? top - v : v) * info.rescale_slope + info.rescale_intercept) / divisor);
  }
}

/// All frames of monochrome stored integers (8, 16 or 32 bits allocated, host byte order) to
/// physical values through convert_frame, the one place that applies Bits Stored, sign, rescale,
/// Philips scaling and MONOCHROME1 inversion.
DecodedFile decode_monochrome(const DicomFileInfo& f, const void* data) {
  DecodedFile out;
  out.frame_size = static_cast<std::size_t>(f.rows) * f.columns;
  out.values.resize(out.frame_size * f.number_of_frames);
  for (std::size_t fr = 0; fr < f.number_of_frames; ++fr) {
    const FrameInfo& info = f.frames[std::min(fr, f.frames.size() - 1)];
    float* dst = out.values.data() + fr * out.frame_size;
    const std::size_t first = fr * out.frame_size;
    if (f.bits_allocated == 8) convert_frame(f, info, static_cast<const std::uint8_t*>(data) + first, out.frame_size, dst);
    else if (f.bits_allocated == 16) convert_frame(f, info, static_cast<const std::uint16_t*>(data) + first, out.frame_size, dst);
    else convert_frame(f, info, static_cast<const std::uint32_t*>(data) + first, out.frame_size, dst);
  }
  return out;
}

DecodedFile decode_with_gdcm(const DicomFileInfo& f) {
  gdcm::Trace::SetWarning(false);
  gdcm::Trace::SetDebug(false);
  const detail::GdcmInput input(f);  // GDCM asserts on malformed elements DCMTK reads safely
  gdcm::ImageReader reader;
  reader.SetFileName(input.path().c_str());
  if (!reader.Read()) bad(f.path, "JPEG 2000 pixel data cannot be decoded (GDCM)");
  const gdcm::Image& image = reader.GetImage();
  std::vector<char> buffer(image.GetBufferLength());
  if (!image.GetBuffer(buffer.data())) bad(f.path, "JPEG 2000 pixel data cannot be decoded (GDCM)");
  const std::size_t samples = static_cast<std::size_t>(f.rows) * f.columns * f.samples_per_pixel * f.number_of_frames;
  if (f.bits_allocated == 1) bad(f.path, "1-bit JPEG 2000 data is not supported");
  const std::size_t bytes_per_sample = f.bits_allocated / 8;
  if (buffer.size() < samples * bytes_per_sample)
    bad(f.path, "decoded JPEG 2000 data is shorter than the image size declares");
  if (f.samples_per_pixel == 1) return decode_monochrome(f, buffer.data());
  std::vector<float> values;
  to_values(f, buffer.data(), samples, values);
  // OpenJPEG undoes the JPEG 2000 colour transform (YBR_RCT / YBR_ICT), so colour arrives as RGB.
  return colour_to_luminance(f, values, image.GetPlanarConfiguration() == 1, true);
}

/// Palette colour (also segmented palettes, which DCMTK does not support) through GDCM's LUT filter.
DecodedFile decode_palette_with_gdcm(const DicomFileInfo& f) {
  detail::check_segmented_palette(f.path);  // GDCM expands segmented tables without bounds checks
  gdcm::Trace::SetWarning(false);
  const detail::GdcmInput input(f);  // GDCM asserts on malformed elements DCMTK reads safely
  gdcm::ImageReader reader;
  reader.SetFileName(input.path().c_str());
  if (!reader.Read()) bad(f.path, "palette colour pixel data cannot be decoded (GDCM)");
  gdcm::ImageApplyLookupTable lut;
  lut.SetInput(reader.GetImage());
  if (!lut.Apply()) bad(f.path, "palette colour lookup table cannot be applied");
  const gdcm::Image& rgb = lut.GetOutput();
  std::vector<char> buffer(rgb.GetBufferLength());
  if (!rgb.GetBuffer(buffer.data())) bad(f.path, "palette colour pixel data cannot be decoded");
  const gdcm::PixelFormat& format = rgb.GetPixelFormat();
  const std::size_t pixels = static_cast<std::size_t>(f.rows) * f.columns * f.number_of_frames;
  const bool wide = format.GetBitsAllocated() == 16;
  if (format.GetSamplesPerPixel() != 3 || buffer.size() < pixels * 3 * (wide ? 2 : 1))
    bad(f.path, "palette colour output has an unexpected layout");
  DecodedFile out;
  out.frame_size = static_cast<std::size_t>(f.rows) * f.columns;
  out.values.resize(pixels);
  // 16-bit palette entries are scaled to 8-bit grey levels (0-255).
  const double scale = wide ? 255.0 / 65535.0 : 1.0;
  for (std::size_t n = 0; n < pixels; ++n) {
    double c[3];
    for (int k = 0; k < 3; ++k) {
      if (wide) {
        std::uint16_t v;
        std::memcpy(&v, buffer.data() + 2 * (3 * n + k), 2);
        c[k] = v * scale;
      } else {
        c[k] = static_cast<std::uint8_t>(buffer[3 * n + k]);
      }
    }
    out.values[n] = luminance(c[0], c[1], c[2]);
  }
  return out;
}

DecodedFile decode_colour_with_dcmtk(const DicomFileInfo& f, DcmFileFormat& file) {
  DicomImage image(&file, file.getDataset()->getOriginalXfer(), CIF_UsePartialAccessToPixelData, 0,
                   f.number_of_frames);
  if (image.getStatus() != EIS_Normal)
    bad(f.path, std::string("colour pixel data cannot be decoded: ") + DicomImage::getString(image.getStatus()));
  DecodedFile out;
  out.frame_size = static_cast<std::size_t>(f.rows) * f.columns;
  out.values.resize(out.frame_size * f.number_of_frames);
  for (std::size_t fr = 0; fr < f.number_of_frames; ++fr) {
    const auto* rgb = static_cast<const std::uint8_t*>(image.getOutputData(8, static_cast<unsigned long>(fr), 0));
    if (rgb == nullptr) bad(f.path, "colour frame " + std::to_string(fr) + " cannot be decoded");
    float* dst = out.values.data() + fr * out.frame_size;
    for (std::size_t n = 0; n < out.frame_size; ++n) dst[n] = luminance(rgb[3 * n], rgb[3 * n + 1], rgb[3 * n + 2]);
  }
  return out;
}

std::mutex& gdcm_mutex() {
  static std::mutex m;  // GDCM's readers share global state (trace, codec registries): one at a time
  return m;
}

/// Right before GDCM reads a file: what it would abort on is refused (gdcm_guard.h). The scan
/// checked the file already; it is checked again as it is now, in case it changed since.
void check_again_before_gdcm(const DicomFileInfo& f) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(f.path, ec);
  DcmFileFormat file;
  if (ec || load_dicom_file(file, f.path, size).bad()) bad(f.path, "cannot be read again (changed or removed since scanning?)");
  DcmDataset& ds = *file.getDataset();
  Uint16 rows = 0, columns = 0, bits = 0;
  OFString photometric;
  ds.findAndGetUint16(DCM_Rows, rows);
  ds.findAndGetUint16(DCM_Columns, columns);
  ds.findAndGetUint16(DCM_BitsAllocated, bits);
  ds.findAndGetOFString(DCM_PhotometricInterpretation, photometric);
  if (rows != f.rows || columns != f.columns || bits != f.bits_allocated || f.photometric != photometric.c_str())
    bad(f.path, "changed since scanning (image size, Bits Allocated or Photometric Interpretation)");
  detail::check_before_gdcm(file, f);
}

DecodedFile decode_file(const DicomFileInfo& f) {
  if (detail::decoded_by_gdcm(f)) {
    check_again_before_gdcm(f);
    std::lock_guard<std::mutex> lock(gdcm_mutex());
    return f.photometric == "PALETTE COLOR" ? decode_palette_with_gdcm(f) : decode_with_gdcm(f);
  }
  detail::register_dcmtk_codecs();
  std::error_code ec;
  const auto size = std::filesystem::file_size(f.path, ec);
  DcmFileFormat file;
  if (ec || load_dicom_file(file, f.path, size).bad()) bad(f.path, "cannot be read again (changed or removed since scanning?)");
  DcmDataset& ds = *file.getDataset();
  if (f.is_color()) return decode_colour_with_dcmtk(f, file);
  if (DcmXfer(ds.getOriginalXfer()).isEncapsulated()) {
    const OFCondition status = ds.chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    if (status.bad() || !ds.canWriteXfer(EXS_LittleEndianExplicit))
      bad(f.path, "compressed pixel data cannot be decoded (transfer syntax " + f.transfer_syntax_uid + "): " + status.text());
  }
  DcmElement* pixel = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, pixel).bad() || pixel == nullptr) bad(f.path, "no Pixel Data");
  const std::size_t samples = static_cast<std::size_t>(f.rows) * f.columns * f.samples_per_pixel * f.number_of_frames;
  const std::size_t bytes = f.bits_allocated == 1 ? (samples + 7) / 8 : samples * (f.bits_allocated / 8);
  if (pixel->getLength() < bytes) bad(f.path, "pixel data shorter than declared");
  if (f.bits_allocated == 1) {  // packed bits, least significant bit first (PS3.5 8.1.1)
    Uint8* data = nullptr;
    if (pixel->getUint8Array(data).bad() || data == nullptr) bad(f.path, "pixel data cannot be read");
    std::vector<std::uint8_t> bits(samples);
    for (std::size_t n = 0; n < samples; ++n) bits[n] = static_cast<std::uint8_t>((data[n / 8] >> (n % 8)) & 1);
    DicomFileInfo unpacked = f;  // one sample per byte from here on
    unpacked.bits_allocated = 8;
    return decode_monochrome(unpacked, bits.data());
  }
  if (f.bits_allocated == 8) {
    Uint8* data = nullptr;
    if (pixel->getUint8Array(data).bad() || data == nullptr) bad(f.path, "pixel data cannot be read");
    return decode_monochrome(f, data);
  }
  // 16 bits, and 32 bits as pairs of host-order words
  Uint16* data = nullptr;
  if (pixel->getUint16Array(data).bad() || data == nullptr) bad(f.path, "pixel data cannot be read");
  return decode_monochrome(f, data);
}

/// Bilinear sample of a slice at continuous (i, j); `outside` beyond its edges.
float bilinear(const float* slice, std::size_t nx, std::size_t ny, double i, double j, float outside) {
  if (i < -0.5 || j < -0.5 || i > nx - 0.5 || j > ny - 0.5) return outside;
  i = std::clamp(i, 0.0, double(nx - 1));
  j = std::clamp(j, 0.0, double(ny - 1));
  const std::size_t i0 = static_cast<std::size_t>(i), j0 = static_cast<std::size_t>(j);
  const std::size_t i1 = std::min(i0 + 1, nx - 1), j1 = std::min(j0 + 1, ny - 1);
  const double a = i - i0, b = j - j0;
  return static_cast<float>((1 - a) * (1 - b) * slice[i0 + nx * j0] + a * (1 - b) * slice[i1 + nx * j0] +
                            (1 - a) * b * slice[i0 + nx * j1] + a * b * slice[i1 + nx * j1]);
}

/// The files of a series in first-use order, and which slices each one holds.
struct FilePlan {
  std::vector<std::size_t> files;
  std::map<std::size_t, std::vector<std::size_t>> slices_of;
};

FilePlan plan_files(const Series& series) {
  FilePlan plan;
  for (std::size_t k = 0; k < series.slices.size(); ++k) {
    auto& list = plan.slices_of[series.slices[k].file_index];
    if (list.empty()) plan.files.push_back(series.slices[k].file_index);
    list.push_back(k);
  }
  return plan;
}

}  // namespace

ScalarVolume load_series(const Series& series, const std::vector<DicomFileInfo>& files, Progress& progress,
                         bool allow_localizer) {
  const bool localizer_only = !series.usable && series.unusable_reason == kLocalizerOnly;
  if (!series.usable && !(localizer_only && allow_localizer))
    throw Error(ErrorCode::InvalidInput, series.id, "series is not usable: " + series.unusable_reason);
  const Geometry& g = series.geometry;
  g.validate(series.id);
  const std::size_t nx = g.size[0], ny = g.size[1], slice_size = nx * ny;
  for (const SliceRef& ref : series.slices) {
    const DicomFileInfo& f = files.at(ref.file_index);
    if (f.rows != ny || f.columns != nx) bad(f.path, "image size differs from the rest of its series");
  }

  ScalarVolume volume(series.needs_resampling ? Geometry{} : g);
  // Source slices: straight into the volume when it is on the source grid, else a separate stack.
  std::vector<std::vector<float>> source(series.needs_resampling ? series.slices.size() : 0);
  auto destination = [&](std::size_t k) -> float* {
    if (!series.needs_resampling) return volume.slice(k);
    source[k].resize(slice_size);
    return source[k].data();
  };

  // Each file is decoded once (on one of two threads) and its frames copied to their slices.
  // Each file is decoded once (on one of two threads) and its frames copied to their slices.
  const FilePlan plan = plan_files(series);
  detail::prepare_dcmtk();
  parallel_for(plan.files.size(), progress, "decoding pixel data", 0.9, [&](std::size_t n) {
    const std::size_t file = plan.files[n];
    const DecodedFile decoded = decode_file(files[file]);
    for (std::size_t k : plan.slices_of.at(file)) {
      const float* begin = decoded.values.data() + series.slices[k].frame * decoded.frame_size;
      std::copy(begin, begin + slice_size, destination(k));
    }
    return true;
  });

  if (series.needs_resampling) volume = ScalarVolume(g);
  volume.modality = modality_from_string(series.modality);
  volume.unit_ucum = series.modality == "CT" ? "[hnsf'U]" : "1";
  volume.source.study_instance_uid = series.study_instance_uid;
  volume.source.series_instance_uid = series.series_instance_uid;
  volume.source.frame_of_reference_uid = series.frame_of_reference_uid;
  volume.source.series_description = series.series_description;
  volume.source.sop_class_uid = series.sop_class_uid;
  for (const auto& ref : series.slices) volume.source.sop_instance_uids.push_back(files[ref.file_index].sop_instance_uid);
  if (!series.slices.empty()) volume.source.path = files[series.slices.front().file_index].path.parent_path().string();

  if (!series.needs_resampling) {
    progress.report(1.0, "decoding pixel data");
    return volume;
  }

  // Resample onto the uniform orthogonal grid: linear between the two nearest source slices
  // along the normal, each sampled at its own in-plane offset (gantry tilt).
  float outside = std::numeric_limits<float>::max();
  for (const auto& s : source)
    for (float v : s) outside = std::min(outside, v);
  const Vec3 row = g.axis(0), col = g.axis(1);
  std::vector<double> shift_i(source.size()), shift_j(source.size());
  const Vec3 origin = g.origin_lps_mm;
  for (std::size_t k = 0; k < source.size(); ++k) {
    const SliceRef& ref = series.slices[k];
    const FrameInfo& info = files[ref.file_index].frames[ref.frame];
    const Vec3 p = info.position_lps_mm ? *info.position_lps_mm : origin;
    const Vec3 offset = p - origin;
    shift_i[k] = dot(offset, row) / g.spacing_mm[0];
    shift_j[k] = dot(offset, col) / g.spacing_mm[1];
  }
  const double d0 = series.slices.front().normal_mm;
  std::size_t s = 0;
  for (std::size_t k = 0; k < g.size[2]; ++k) {
    const double d = d0 + k * g.spacing_mm[2];
    while (s + 2 < source.size() && series.slices[s + 1].normal_mm < d) ++s;
    const std::size_t s1 = std::min(s + 1, source.size() - 1);
    const double span = series.slices[s1].normal_mm - series.slices[s].normal_mm;
    const double t = span > 0 ? std::clamp((d - series.slices[s].normal_mm) / span, 0.0, 1.0) : 0.0;
    float* dst = volume.slice(k);
    for (std::size_t j = 0; j < ny; ++j)
      for (std::size_t i = 0; i < nx; ++i) {
        const float a = bilinear(source[s].data(), nx, ny, i - shift_i[s], j - shift_j[s], outside);
        const float b = bilinear(source[s1].data(), nx, ny, i - shift_i[s1], j - shift_j[s1], outside);
        dst[i + nx * j] = static_cast<float>((1 - t) * a + t * b);
      }
  }
  progress.report(1.0, "resampling");
  return volume;
}

std::optional<Image<std::int16_t>> load_series_int16(const Series& series, const std::vector<DicomFileInfo>& files,
                                                     Progress& progress) {
  if (!series.usable || series.needs_resampling || series.color) return std::nullopt;
  for (const SliceRef& ref : series.slices) {
    const DicomFileInfo& f = files.at(ref.file_index);
    const FrameInfo& info = f.frames[ref.frame];
    if (f.bits_allocated != 16 || f.samples_per_pixel != 1 || f.philips_scale_slope || f.encapsulated ||
        f.photometric == "PALETTE COLOR" || (f.photometric == "MONOCHROME1" && f.modality == "US") ||
        info.rescale_slope != std::round(info.rescale_slope) || info.rescale_intercept != std::round(info.rescale_intercept) ||
        std::abs(info.rescale_slope) > 16384 || std::abs(info.rescale_intercept) > 65536 ||  // int32 stays exact
        f.rows != series.geometry.size[1] || f.columns != series.geometry.size[0])
      return std::nullopt;
  }
  const Geometry& g = series.geometry;
  g.validate(series.id);
  const std::size_t slice_size = g.slice_voxel_count();
  Image<std::int16_t> out(g);
  const FilePlan plan = plan_files(series);
  detail::prepare_dcmtk();
  const bool exact = parallel_for(plan.files.size(), progress, "decoding pixel data", 1.0, [&](std::size_t n) {
    const DicomFileInfo& f = files[plan.files[n]];
    const std::size_t words = slice_size * f.number_of_frames;
    const Uint16* data = nullptr;
    std::vector<Uint16> direct;
    DcmFileFormat file;
    if (f.pixel_data_offset > 0) {
      // The scan found the native pixel data at the end of the file: read it directly.
      direct.resize(words);
      const int fd = ::open(f.path.c_str(), O_RDONLY);
      const ssize_t want = static_cast<ssize_t>(words * 2);
      const ssize_t got = fd < 0 ? -1 : ::pread(fd, direct.data(), static_cast<std::size_t>(want), static_cast<off_t>(f.pixel_data_offset));
      if (fd >= 0) ::close(fd);
      if (got != want) bad(f.path, "pixel data cannot be read (changed or removed since scanning?)");
      if (f.big_endian)
        for (auto& w : direct) w = static_cast<Uint16>((w >> 8) | (w << 8));
      data = direct.data();
    } else {
      std::error_code ec;
      const auto size = std::filesystem::file_size(f.path, ec);
      if (ec || load_dicom_file(file, f.path, size).bad()) bad(f.path, "cannot be read again (changed or removed?)");
      DcmElement* pixel = nullptr;
      Uint16* array = nullptr;
      if (file.getDataset()->findAndGetElement(DCM_PixelData, pixel).bad() || pixel == nullptr ||
          pixel->getUint16Array(array).bad() || array == nullptr || pixel->getLength() < words * 2)
        bad(f.path, "pixel data shorter than declared");
      data = array;
    }
    const StoredValue stored(f);
    for (std::size_t k : plan.slices_of.at(plan.files[n])) {
      const SliceRef& ref = series.slices[k];
      const FrameInfo& info = f.frames[ref.frame];
      const std::int32_t slope = static_cast<std::int32_t>(std::lround(info.rescale_slope));
      const std::int32_t intercept = static_cast<std::int32_t>(std::lround(info.rescale_intercept));
      const Uint16* raw = data + ref.frame * slice_size;
      std::int16_t* dst = out.slice(k);
      // Branch-free loops (vectorised); the range is checked once per slice afterwards.
      std::int32_t lo = INT32_MAX, hi = INT32_MIN;
      if (stored.shift == 0 && f.bits_stored == 16 && !stored.is_signed) {
        for (std::size_t i = 0; i < slice_size; ++i) {
          const std::int32_t v = static_cast<std::int32_t>(raw[i]) * slope + intercept;
          lo = std::min(lo, v);
          hi = std::max(hi, v);
          dst[i] = static_cast<std::int16_t>(v);
        }
      } else if (stored.shift == 0 && f.bits_stored == 16) {
        for (std::size_t i = 0; i < slice_size; ++i) {
          const std::int32_t v = static_cast<std::int32_t>(static_cast<std::int16_t>(raw[i])) * slope + intercept;
          lo = std::min(lo, v);
          hi = std::max(hi, v);
          dst[i] = static_cast<std::int16_t>(v);
        }
      } else {
        const std::int32_t shift = stored.shift, mask = static_cast<std::int32_t>(stored.mask);
        const std::int32_t sign = stored.is_signed ? static_cast<std::int32_t>(stored.sign_bit) : 0;
        for (std::size_t i = 0; i < slice_size; ++i) {
          std::int32_t v = (static_cast<std::int32_t>(raw[i]) >> shift) & mask;
          v = (v - ((v & sign) << 1)) * slope + intercept;  // sign extension, then rescale
          lo = std::min(lo, v);
          hi = std::max(hi, v);
          dst[i] = static_cast<std::int16_t>(v);
        }
      }
      if (lo < -32768 || hi > 32767) {
        return false;
      }
    }
    return true;
  });
  if (!exact) return std::nullopt;
  return out;
}

}  // namespace musclecsa::dicom
