// make_dicom_corpus OUT_DIR: writes a corpus of malformed and awkward inputs for the DICOM reader's
// robustness tests (testing/test_dicom_robustness.cpp).
//
//   OUT_DIR/good/           one good CT thigh phantom (80 x 80 x 4, seed 1); the series is good/dicom/ct/
//   OUT_DIR/bad/            one file or folder per defect, each with its own fresh Series Instance
//                           UID so that nothing merges with the good series or with another case
//   OUT_DIR/palette/        two palette colour ultrasound images GDCM decodes (good): an 8-bit image
//                           with a 256-entry palette, a 16-bit one with a segmented 65536-entry palette
//                           (discrete, linear and indirect segments); the bad palette cases (issue 21:
//                           GDCM aborted the process on them) are variants of these in bad/
//   OUT_DIR/manifest.json   [{"path", "kind", "expect", "level"}]: for each bad input, where it is
//                           (relative to OUT_DIR), a short id, a lowercase keyword the reader's
//                           message must contain, and whether the reader must refuse the file
//                           ("file": a ScanProblem, or a non-DICOM count for "not dicom") or flag its
//                           series ("series": Series::unusable_reason, qc_flags or notes)
//
// Defective files are made by loading a good phantom slice with DCMTK, changing it and saving it,
// or by patching the raw bytes of such a saved file (explicit VR little endian, explicit lengths,
// no group lengths in the data set, so element offsets can be found by walking the bytes).
// Existing OUT_DIR/good, OUT_DIR/bad and OUT_DIR/manifest.json are replaced. Prints nothing on
// success; on failure prints the problem to stderr and exits with 1.

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcddirif.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/oflog/oflog.h>

#include <nlohmann/json.hpp>
#include <zlib.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "musclecsa/core/progress.h"
#include "musclecsa/dicom/series_writer.h"
#include "musclecsa/phantom/phantom.h"

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

void check(const OFCondition& status, const std::string& what) {
  if (status.bad()) fail(what + ": " + status.text());
}

/// The next UID of the corpus. Made from a count, not from the clock: the corpus is the same
/// bytes every time it is written, so a fuzzer seeded with it explores the same inputs run after
/// run (scripts/fuzz's reproducible mode, docs/fuzzing.md).
std::string new_uid() {
  static unsigned long count = 0;
  return musclecsa::dicom::uid_from_text("make_dicom_corpus/" + std::to_string(count++));
}

std::string decimal(double v) {
  std::ostringstream s;
  s.precision(10);
  s << v;
  return s.str();
}

// ---------------------------------------------------------------------------------------------
// Files and bytes

Bytes read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path.string());
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) fail("cannot write " + path.string());
}

void write_text(const fs::path& path, const std::string& text) {
  write_bytes(path, Bytes(text.begin(), text.end()));
}

void save(DcmFileFormat& file, const fs::path& path) {
  // Explicit VR little endian, explicit sequence lengths, no group lengths in the data set; the
  // meta header is rebuilt from the data set (new SOP Instance UID).
  check(file.saveFile(path.c_str(), EXS_LittleEndianExplicit, EET_ExplicitLength, EGL_withoutGL, EPD_withoutPadding,
                      0, 0, EWM_updateMeta),
        "cannot write " + path.string());
}

/// The bytes `file` would have on disk.
Bytes saved_bytes(DcmFileFormat& file, const fs::path& scratch) {
  save(file, scratch);
  Bytes bytes = read_bytes(scratch);
  fs::remove(scratch);
  return bytes;
}

/// Where one element sits in the raw bytes of an explicit VR little endian file.
struct RawElement {
  std::size_t start = 0;         ///< offset of the tag
  std::size_t length_at = 0;     ///< offset of the length field
  std::size_t length_size = 0;   ///< 2 or 4 bytes
  std::size_t value_at = 0;      ///< offset of the value
  std::uint32_t length = 0;      ///< value length
  std::string vr;
};

std::uint16_t u16(const Bytes& b, std::size_t at) { return static_cast<std::uint16_t>(b[at] | (b[at + 1] << 8)); }
std::uint32_t u32(const Bytes& b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at]) | (static_cast<std::uint32_t>(b[at + 1]) << 8) |
         (static_cast<std::uint32_t>(b[at + 2]) << 16) | (static_cast<std::uint32_t>(b[at + 3]) << 24);
}
void put_u16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v & 0xFF);
  b[at + 1] = static_cast<std::uint8_t>(v >> 8);
}
void put_u32(Bytes& b, std::size_t at, std::uint32_t v) {
  for (int n = 0; n < 4; ++n) b[at + n] = static_cast<std::uint8_t>((v >> (8 * n)) & 0xFF);
}

/// Finds a top-level element (meta header or data set) by walking the explicit VR LE elements
/// after the 128-byte preamble and "DICM".
RawElement find_element(const Bytes& b, std::uint16_t group, std::uint16_t element) {
  static const std::array<const char*, 13> long_vrs{"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                                    "SV", "UC", "UN", "UR", "UT", "UV"};
  if (b.size() < 132 || std::memcmp(b.data() + 128, "DICM", 4) != 0) fail("saved file has no DICOM preamble");
  std::size_t at = 132;
  while (at + 8 <= b.size()) {
    RawElement e;
    e.start = at;
    const std::uint16_t g = u16(b, at), el = u16(b, at + 2);
    e.vr.assign(reinterpret_cast<const char*>(b.data() + at + 4), 2);
    bool long_form = false;
    for (const char* vr : long_vrs) long_form = long_form || e.vr == vr;
    if (long_form) {
      e.length_at = at + 8;
      e.length_size = 4;
      e.length = u32(b, at + 8);
      e.value_at = at + 12;
    } else {
      e.length_at = at + 6;
      e.length_size = 2;
      e.length = u16(b, at + 6);
      e.value_at = at + 8;
    }
    if (g == group && el == element) return e;
    if (e.length == 0xFFFFFFFFu) fail("undefined length element while walking the saved file");
    at = e.value_at + e.length;
  }
  char name[32];
  std::snprintf(name, sizeof name, "(%04x,%04x)", group, element);
  fail(std::string("element ") + name + " not found in the saved file");
}

// ---------------------------------------------------------------------------------------------
// The corpus

struct Slice {
  std::vector<Uint16> pixels;  // rows x columns, as stored
  std::array<double, 3> position{};
};

class CorpusWriter {
 public:
  explicit CorpusWriter(fs::path out) : out_(std::move(out)), bad_(out_ / "bad") {}

  void run() {
    for (const char* name : {"good", "bad", "palette"}) {
      std::error_code ec;
      fs::remove_all(out_ / name, ec);
      if (ec) fail("cannot remove old " + (out_ / name).string() + ": " + ec.message());
    }
    fs::create_directories(bad_);
    write_good();
    load_base();
    write_header_cases();
    write_raw_cases();
    write_non_dicom_cases();
    write_filesystem_cases();
    write_series_cases();
    write_dicomdir_case();
    write_palette_cases();
    write_jpeg2000_cases();
    write_deflated_cases();
    const fs::path manifest_path = out_ / "manifest.json";
    write_text(manifest_path, manifest_.dump(2) + "\n");
  }

 private:
  fs::path out_, bad_;
  nlohmann::json manifest_ = nlohmann::json::array();
  DcmFileFormat base_;            // first slice of the good series
  std::vector<Slice> slices_;     // all good slices (pixels and positions)
  Uint16 rows_ = 0, columns_ = 0;
  double pixel_spacing_ = 0, slice_spacing_ = 0;
  int series_number_ = 100;

  void add(const fs::path& path, const std::string& kind, const std::string& expect, const std::string& level) {
    manifest_.push_back({{"path", path.lexically_relative(out_).generic_string()},
                         {"kind", kind},
                         {"expect", expect},
                         {"level", level}});
  }

  void write_good() {
    musclecsa::phantom::PhantomParams p;
    p.anatomy = musclecsa::phantom::Anatomy::Thigh;
    p.modality = musclecsa::phantom::PhantomModality::CT;
    p.columns = 80;           // 80 x 5 mm = the default 400 mm thigh field of view (5 mm is the
    p.pixel_spacing_mm = 5;   // largest pixel spacing the phantom accepts)
    p.slices = 4;
    p.slice_spacing_mm = 10;
    p.seed = 1;
    musclecsa::NullProgress progress;
    const auto phantom = musclecsa::phantom::make_phantom(p, progress);
    musclecsa::phantom::write_phantom(phantom, out_ / "good", progress);
  }

  void load_base() {
    const fs::path dir = out_ / "good" / "dicom" / "ct";
    for (int k = 1; k <= 4; ++k) {
      char name[32];
      std::snprintf(name, sizeof name, "IM_%05d.dcm", k);
      DcmFileFormat file;
      check(file.loadFile((dir / name).c_str()), "cannot load good slice " + (dir / name).string());
      DcmDataset& ds = *file.getDataset();
      Slice s;
      for (unsigned long n = 0; n < 3; ++n)
        check(ds.findAndGetFloat64(DCM_ImagePositionPatient, s.position[n], n), "ImagePositionPatient");
      const Uint16* data = nullptr;
      unsigned long count = 0;
      check(ds.findAndGetUint16Array(DCM_PixelData, data, &count), "PixelData");
      s.pixels.assign(data, data + count);
      slices_.push_back(std::move(s));
      if (k == 1) {
        check(ds.findAndGetUint16(DCM_Rows, rows_), "Rows");
        check(ds.findAndGetUint16(DCM_Columns, columns_), "Columns");
        check(ds.findAndGetFloat64(DCM_PixelSpacing, pixel_spacing_, 0), "PixelSpacing");
        base_ = file;
      }
    }
    slice_spacing_ = slices_[1].position[2] - slices_[0].position[2];
    if (rows_ * columns_ != slices_[0].pixels.size() || slice_spacing_ <= 0)
      fail("unexpected good phantom series layout");
  }

  /// A copy of the first good slice in a series of its own (fresh Series and SOP Instance UIDs).
  DcmFileFormat fresh(const std::string& kind) {
    DcmFileFormat file(base_);
    set_series(file, new_uid(), kind);
    return file;
  }

  void set_series(DcmFileFormat& file, const std::string& series_uid, const std::string& description) {
    DcmDataset& ds = *file.getDataset();
    check(ds.putAndInsertString(DCM_SeriesInstanceUID, series_uid.c_str()), "SeriesInstanceUID");
    check(ds.putAndInsertString(DCM_SOPInstanceUID, new_uid().c_str()), "SOPInstanceUID");
    check(ds.putAndInsertString(DCM_SeriesDescription, ("corpus " + description).c_str()), "SeriesDescription");
    check(ds.putAndInsertString(DCM_SeriesNumber, std::to_string(series_number_++).c_str()), "SeriesNumber");
  }

  static void put(DcmFileFormat& file, const DcmTagKey& tag, const std::string& value) {
    check(file.getDataset()->putAndInsertString(tag, value.c_str()), DcmTag(tag).getTagName());
  }
  static void put16(DcmFileFormat& file, const DcmTagKey& tag, Uint16 value) {
    check(file.getDataset()->putAndInsertUint16(tag, value), DcmTag(tag).getTagName());
  }
  static void remove(DcmFileFormat& file, const DcmTagKey& tag) {
    check(file.getDataset()->findAndDeleteElement(tag), std::string("delete ") + DcmTag(tag).getTagName());
  }
  static void put_pixels(DcmFileFormat& file, const std::vector<Uint16>& pixels) {
    check(file.getDataset()->putAndInsertUint16Array(DCM_PixelData, pixels.data(), pixels.size()), "PixelData");
  }

  /// A single defective file saved through DCMTK.
  template <class Change>
  void header_case(const std::string& kind, const std::string& expect, Change change) {
    DcmFileFormat file = fresh(kind);
    change(file);
    const fs::path path = bad_ / (kind + ".dcm");
    save(file, path);
    add(path, kind, expect, "file");
  }

  void write_header_cases() {
    header_case("missing_pixel_data", "pixel data", [](DcmFileFormat& f) { remove(f, DCM_PixelData); });
    header_case("short_pixel_data", "short", [&](DcmFileFormat& f) {
      // Half of Rows x Columns x 16 bits.
      std::vector<Uint16> half(slices_[0].pixels.begin(), slices_[0].pixels.begin() + rows_ * columns_ / 2);
      put_pixels(f, half);
    });
    header_case("rows_zero", "rows", [](DcmFileFormat& f) { put16(f, DCM_Rows, 0); });
    header_case("columns_missing", "columns", [](DcmFileFormat& f) { remove(f, DCM_Columns); });
    header_case("bits_allocated_zero", "bits", [](DcmFileFormat& f) { put16(f, DCM_BitsAllocated, 0); });
    header_case("bits_allocated_12", "bits", [](DcmFileFormat& f) {
      // 12 bits allocated (packed, retired) but the data holds 16 bits per pixel.
      put16(f, DCM_BitsAllocated, 12);
      put16(f, DCM_BitsStored, 12);
      put16(f, DCM_HighBit, 11);
    });
    header_case("bits_stored_gt_allocated", "bits", [](DcmFileFormat& f) {
      put16(f, DCM_BitsStored, 20);
      put16(f, DCM_HighBit, 19);
    });
    header_case("pixel_spacing_zero", "spacing", [](DcmFileFormat& f) { put(f, DCM_PixelSpacing, "0\\0"); });
    header_case("pixel_spacing_negative", "spacing", [&](DcmFileFormat& f) {
      put(f, DCM_PixelSpacing, "-" + decimal(pixel_spacing_) + "\\-" + decimal(pixel_spacing_));
    });
    header_case("pixel_spacing_one_value", "spacing",
                [&](DcmFileFormat& f) { put(f, DCM_PixelSpacing, decimal(pixel_spacing_)); });
    header_case("pixel_spacing_non_numeric", "spacing", [](DcmFileFormat& f) { put(f, DCM_PixelSpacing, "abc\\def"); });
    header_case("orientation_five_values", "orientation",
                [](DcmFileFormat& f) { put(f, DCM_ImageOrientationPatient, "1\\0\\0\\0\\1"); });
    header_case("orientation_non_orthogonal", "orientation", [](DcmFileFormat& f) {
      put(f, DCM_ImageOrientationPatient, "1\\0\\0\\0.7071068\\0.7071068\\0");  // row . column = 0.71
    });
    header_case("orientation_zero_vector", "orientation",
                [](DcmFileFormat& f) { put(f, DCM_ImageOrientationPatient, "0\\0\\0\\0\\1\\0"); });
    header_case("position_two_values", "position", [&](DcmFileFormat& f) {
      put(f, DCM_ImagePositionPatient, decimal(slices_[0].position[0]) + "\\" + decimal(slices_[0].position[1]));
    });
    header_case("position_non_numeric", "position", [](DcmFileFormat& f) { put(f, DCM_ImagePositionPatient, "x\\y\\z"); });
    header_case("samples_per_pixel_3_monochrome2", "samples", [&](DcmFileFormat& f) {
      // Three samples per pixel with enough data for them, but a monochrome photometric interpretation.
      put16(f, DCM_SamplesPerPixel, 3);
      put16(f, DCM_PlanarConfiguration, 0);
      std::vector<Uint16> rgb;
      for (Uint16 v : slices_[0].pixels) rgb.insert(rgb.end(), {v, v, v});
      put_pixels(f, rgb);
    });
    header_case("photometric_missing", "photometric", [](DcmFileFormat& f) { remove(f, DCM_PhotometricInterpretation); });
    header_case("rescale_slope_zero", "slope", [](DcmFileFormat& f) { put(f, DCM_RescaleSlope, "0"); });
  }

  /// A single defective file made by patching the bytes of a good file.
  template <class Change>
  void raw_case(const std::string& kind, const std::string& expect, Change change,
                const std::function<void(DcmFileFormat&)>& prepare = {}) {
    DcmFileFormat file = fresh(kind);
    if (prepare) prepare(file);
    Bytes bytes = saved_bytes(file, bad_ / ("." + kind + ".tmp"));
    change(bytes);
    const fs::path path = bad_ / (kind + ".dcm");
    write_bytes(path, bytes);
    add(path, kind, expect, "file");
  }

  void write_raw_cases() {
    raw_case("truncated_in_pixel_data", "truncated", [](Bytes& b) {
      const RawElement e = find_element(b, 0x7FE0, 0x0010);
      b.resize(e.value_at + e.length / 2);
    });
    raw_case("truncated_in_header", "truncated", [](Bytes& b) {
      // Cut in the middle of the Image Position (Patient) value, long before the pixel data.
      const RawElement e = find_element(b, 0x0020, 0x0032);
      b.resize(e.value_at + e.length / 2);
    });
    raw_case("truncated_after_dicm", "truncated", [](Bytes& b) { b.resize(132); });
    raw_case("bogus_transfer_syntax", "transfer syntax", [](Bytes& b) {
      // Same value length, so the meta header group length stays right.
      const RawElement e = find_element(b, 0x0002, 0x0010);
      std::string bogus = "1.2.3.4.999";
      while (bogus.size() + 2 <= e.length) bogus += ".9";
      bogus.resize(e.length, '\0');
      std::memcpy(b.data() + e.value_at, bogus.data(), e.length);
    });
    raw_case("huge_length_pixel_data", "length", [](Bytes& b) {
      const RawElement e = find_element(b, 0x7FE0, 0x0010);
      put_u32(b, e.length_at, 0xFFFFFFF0u);
    });
    raw_case(
        "huge_length_text", "length",
        [](Bytes& b) {
          const RawElement e = find_element(b, 0x0040, 0xA160);  // Text Value, UT: 4-byte length
          if (e.length_size != 4) fail("Text Value was not written with a 4-byte length");
          put_u32(b, e.length_at, 0xFFFFFFF0u);
        },
        [](DcmFileFormat& f) { put(f, DCM_TextValue, "corpus: this UT element gets a huge declared length"); });
    raw_case("huge_length_long_string", "length", [](Bytes& b) {
      const RawElement e = find_element(b, 0x0008, 0x1030);  // Study Description, LO: 2-byte length
      if (e.length_size != 2) fail("Study Description was not written with a 2-byte length");
      if (b.size() - e.value_at >= 0xFFF0) fail("file too long for the huge_length_long_string case");
      put_u16(b, e.length_at, 0xFFF0);  // beyond the end of the file
    });
    raw_case("wrong_vr_rows", "rows", [](Bytes& b) {
      // Rows (0028,0010) US 2 bytes -> CS "abc " (4 bytes).
      const RawElement e = find_element(b, 0x0028, 0x0010);
      if (e.vr != "US" || e.length != 2) fail("unexpected Rows encoding");
      const Bytes replacement{0x28, 0x00, 0x10, 0x00, 'C', 'S', 0x04, 0x00, 'a', 'b', 'c', ' '};
      b.erase(b.begin() + static_cast<std::ptrdiff_t>(e.start), b.begin() + static_cast<std::ptrdiff_t>(e.value_at + 2));
      b.insert(b.begin() + static_cast<std::ptrdiff_t>(e.start), replacement.begin(), replacement.end());
    });
  }

  void write_non_dicom_cases() {
    const fs::path text = bad_ / "x.dcm";
    write_text(text, "This is not a DICOM file.\nIt is plain text with a .dcm extension.\n");
    add(text, "text_file_named_dcm", "not dicom", "file");

    const fs::path empty = bad_ / "zero_bytes.dcm";
    write_bytes(empty, {});
    add(empty, "zero_byte_file", "not dicom", "file");

    std::mt19937 random(12345);
    Bytes blob(4096);
    for (auto& v : blob) v = static_cast<std::uint8_t>(random() & 0xFF);
    const fs::path blob_path = bad_ / "random_blob.bin";
    write_bytes(blob_path, blob);
    add(blob_path, "random_binary_blob", "not dicom", "file");

    Bytes png{0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 'I', 'H', 'D', 'R',
              0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x08, 0x00, 0x00, 0x00, 0x00};
    for (int n = 0; n < 400; ++n) png.push_back(static_cast<std::uint8_t>(random() & 0xFF));
    const fs::path png_path = bad_ / "png_like.dcm";
    write_bytes(png_path, png);
    add(png_path, "png_header_blob", "not dicom", "file");
  }

  void write_filesystem_cases() {
    const fs::path empty_dir = bad_ / "empty_folder";
    fs::create_directories(empty_dir);
    add(empty_dir, "empty_folder", "empty", "file");

    const fs::path link = bad_ / "broken_link.dcm";
    fs::create_symlink("does_not_exist.dcm", link);
    add(link, "dangling_symlink", "not found", "file");

    // A good slice without read permission. Root can still read it: then it is an ordinary
    // single-slice series and not listed in the manifest.
    DcmFileFormat file = fresh("unreadable");
    const fs::path unreadable = bad_ / "unreadable.dcm";
    save(file, unreadable);
    fs::permissions(unreadable, fs::perms::none);
    std::ifstream probe(unreadable, std::ios::binary);
    if (!probe) add(unreadable, "no_read_permission", "permission", "file");
  }

  /// Writes one slice of a multi-file series case.
  void series_slice(const fs::path& dir, const std::string& series_uid, const std::string& kind, int instance,
                    const Slice& slice, const std::array<double, 3>& position,
                    const std::function<void(DcmFileFormat&)>& change = {}) {
    DcmFileFormat file(base_);
    set_series(file, series_uid, kind);
    --series_number_;  // one series number per case, not per slice
    put(file, DCM_InstanceNumber, std::to_string(instance));
    put(file, DCM_ImagePositionPatient,
        decimal(position[0]) + "\\" + decimal(position[1]) + "\\" + decimal(position[2]));
    put(file, DCM_SliceLocation, decimal(position[2]));
    put_pixels(file, slice.pixels);
    if (change) change(file);
    char name[32];
    std::snprintf(name, sizeof name, "IM_%05d.dcm", instance);
    save(file, dir / name);
  }

  /// A series of good slices at the given z positions (slice pixels reused in turn).
  fs::path series_at(const std::string& kind, const std::vector<double>& z, const std::string& uid) {
    const fs::path dir = bad_ / kind;
    fs::create_directories(dir);
    for (std::size_t n = 0; n < z.size(); ++n) {
      const Slice& s = slices_[n % slices_.size()];
      series_slice(dir, uid, kind, static_cast<int>(n + 1), s, {s.position[0], s.position[1], z[n]});
    }
    ++series_number_;
    return dir;
  }

  void write_series_cases() {
    const double z0 = slices_[0].position[2], dz = slice_spacing_;

    {  // One slice of half the size (40 x 40 over the same field of view) in the middle.
      const std::string kind = "series_mixed_size";
      const std::string uid = new_uid();
      const fs::path dir = series_at(kind, {z0, z0 + 2 * dz}, uid);
      --series_number_;
      Slice small;
      for (Uint16 j = 0; j < rows_; j += 2)
        for (Uint16 i = 0; i < columns_; i += 2) small.pixels.push_back(slices_[1].pixels[j * columns_ + i]);
      const std::array<double, 3> pos{slices_[1].position[0] + pixel_spacing_ / 2,
                                      slices_[1].position[1] + pixel_spacing_ / 2, z0 + dz};
      series_slice(dir, uid, kind, 3, small, pos, [&](DcmFileFormat& f) {
        put16(f, DCM_Rows, static_cast<Uint16>(rows_ / 2));
        put16(f, DCM_Columns, static_cast<Uint16>(columns_ / 2));
        put(f, DCM_PixelSpacing, decimal(2 * pixel_spacing_) + "\\" + decimal(2 * pixel_spacing_));
      });
      ++series_number_;
      add(dir, kind, "split", "series");
    }
    {  // Two of three slices at one position, different SOP Instance UIDs and pixels.
      const std::string kind = "series_duplicate_position";
      add(series_at(kind, {z0, z0, z0 + dz}, new_uid()), kind, "duplicate", "series");
    }
    {  // Positions 0, 1, 3, 4 x spacing: the slice at 2 x spacing is missing.
      const std::string kind = "series_missing_slice";
      add(series_at(kind, {z0, z0 + dz, z0 + 3 * dz, z0 + 4 * dz}, new_uid()), kind, "missing", "series");
    }
    {  // Gaps 1.0, 0.7 and 1.3 x spacing: uneven, and no gap is a multiple of the median.
      const std::string kind = "series_non_uniform";
      add(series_at(kind, {z0, z0 + dz, z0 + 1.7 * dz, z0 + 3.0 * dz}, new_uid()), kind, "non_uniform", "series");
    }
    {  // A good 4-slice series plus a coronal localizer with the same Series Instance UID.
      const std::string kind = "series_localizer";
      const std::string uid = new_uid();
      const fs::path dir = series_at(kind, {z0, z0 + dz, z0 + 2 * dz, z0 + 3 * dz}, uid);
      --series_number_;
      const double y_centre = slices_[0].position[1] + pixel_spacing_ * (rows_ - 1) / 2;
      const double z_top = z0 + 3 * dz + pixel_spacing_ * (rows_ - 1) / 2;
      series_slice(dir, uid, kind, 5, slices_[0], {slices_[0].position[0], y_centre, z_top}, [](DcmFileFormat& f) {
        put(f, DCM_ImageType, "ORIGINAL\\PRIMARY\\LOCALIZER");
        put(f, DCM_ImageOrientationPatient, "1\\0\\0\\0\\0\\-1");
        put(f, DCM_SliceLocation, "0");
      });
      ++series_number_;
      add(dir, kind, "localizer", "series");
    }
  }

  // -------------------------------------------------------------------------------------------
  // Palette colour images, decoded by GDCM (GDCM 3.0 aborts the process on palettes it does not
  // expect, issue 21): two good ones, and variants GDCM would abort on.

  static constexpr Uint16 kPaletteRows = 48, kPaletteColumns = 64;

  /// An 8-bit palette colour ultrasound image: 256 entries of 16 bits per colour, pixel values 0-255.
  DcmFileFormat palette8() {
    DcmFileFormat file;
    DcmDataset& ds = *file.getDataset();
    const std::string study = new_uid();
    for (auto [tag, value] : std::vector<std::pair<DcmTagKey, std::string>>{
             {DCM_SOPClassUID, UID_UltrasoundImageStorage}, {DCM_SOPInstanceUID, new_uid()}, {DCM_StudyInstanceUID, study},
             {DCM_SeriesInstanceUID, new_uid()}, {DCM_Modality, "US"}, {DCM_PatientID, "CORPUS"},
             {DCM_SeriesDescription, "corpus palette"}, {DCM_SeriesNumber, std::to_string(series_number_++)},
             {DCM_InstanceNumber, "1"}, {DCM_PhotometricInterpretation, "PALETTE COLOR"}})
      check(ds.putAndInsertString(tag, value.c_str()), DcmTag(tag).getTagName());
    for (auto [tag, value] : std::vector<std::pair<DcmTagKey, Uint16>>{
             {DCM_Rows, kPaletteRows}, {DCM_Columns, kPaletteColumns}, {DCM_SamplesPerPixel, 1}, {DCM_BitsAllocated, 8},
             {DCM_BitsStored, 8}, {DCM_HighBit, 7}, {DCM_PixelRepresentation, 0}})
      check(ds.putAndInsertUint16(tag, value), DcmTag(tag).getTagName());
    for (int c = 0; c < 3; ++c) {
      const Uint16 descriptor[3] = {256, 0, 16};
      set_descriptor(file, c, descriptor);
      std::vector<Uint16> lut(256);
      for (int n = 0; n < 256; ++n) lut[n] = static_cast<Uint16>(c == 0 ? n * 257 : c == 1 ? (255 - n) * 257 : (n / 2) * 257);
      check(ds.putAndInsertUint16Array(DcmTagKey(0x0028, static_cast<Uint16>(0x1201 + c)), lut.data(), lut.size()),
            "palette data");
    }
    std::vector<Uint8> pixels(kPaletteRows * kPaletteColumns);
    for (std::size_t n = 0; n < pixels.size(); ++n) pixels[n] = static_cast<Uint8>((n * 7) % 256);
    check(ds.putAndInsertUint8Array(DCM_PixelData, pixels.data(), pixels.size()), "PixelData");
    return file;
  }

  /// A 16-bit palette colour image with a segmented palette of 65536 entries per colour (a
  /// discrete value, linear ramps, and in red an indirect segment copying the first one).
  DcmFileFormat palette16_segmented() {
    DcmFileFormat file = palette8();
    DcmDataset& ds = *file.getDataset();
    put16(file, DCM_BitsAllocated, 16);
    put16(file, DCM_BitsStored, 16);
    put16(file, DCM_HighBit, 15);
    for (int c = 0; c < 3; ++c) {
      check(ds.findAndDeleteElement(DcmTagKey(0x0028, static_cast<Uint16>(0x1201 + c))), "delete palette data");
      const Uint16 descriptor[3] = {0, 0, 16};
      set_descriptor(file, c, descriptor);
      // red: 0, ramp to 32767 (32767 entries), indirect copy of segment 1 (1 entry), ramp to 65535 (32767 entries)
      const std::vector<Uint16> red{0, 1, 0, 1, 32767, 32767, 2, 1, 0, 0, 1, 32767, 65535};
      const std::vector<Uint16> green{0, 1, 65535, 1, 65535, 0};
      const std::vector<Uint16> blue{0, 2, 100, 200, 1, 65534, 40000};
      const std::vector<Uint16>& words = c == 0 ? red : c == 1 ? green : blue;
      check(ds.putAndInsertUint16Array(segmented_tag(c), words.data(), words.size()), "segmented palette data");
    }
    std::vector<Uint16> pixels(kPaletteRows * kPaletteColumns);
    for (std::size_t n = 0; n < pixels.size(); ++n) pixels[n] = static_cast<Uint16>((n * 2099) % 65536);
    put_pixels(file, pixels);
    return file;
  }

  static DcmTagKey segmented_tag(int colour) { return DcmTagKey(0x0028, static_cast<Uint16>(0x1221 + colour)); }

  static void set_descriptor(DcmFileFormat& file, int colour, const Uint16 (&values)[3]) {
    check(file.getDataset()->putAndInsertUint16Array(DcmTagKey(0x0028, static_cast<Uint16>(0x1101 + colour)), values, 3),
          "palette descriptor");
  }
  static void set_all_descriptors(DcmFileFormat& file, Uint16 entries, Uint16 first, Uint16 bits) {
    const Uint16 values[3] = {entries, first, bits};
    for (int c = 0; c < 3; ++c) set_descriptor(file, c, values);
  }

  template <class Change>
  void palette_case(const std::string& kind, const std::string& expect, DcmFileFormat base, Change change) {
    change(base);
    const fs::path path = bad_ / (kind + ".dcm");
    save(base, path);
    add(path, kind, expect, "file");
  }

  void write_palette_cases() {
    fs::create_directories(out_ / "palette");
    {
      DcmFileFormat good8 = palette8(), good16 = palette16_segmented();
      save(good8, out_ / "palette" / "palette_8bit.dcm");
      save(good16, out_ / "palette" / "palette_16bit_segmented.dcm");
    }
    // Plain palettes of an 8-bit image.
    palette_case("palette_descriptor_disagrees_with_data", "palette", palette8(),
                 [](DcmFileFormat& f) { set_all_descriptors(f, 128, 0, 16); });  // 128 entries, 256 in the data
    palette_case("palette_descriptors_differ", "palette", palette8(), [](DcmFileFormat& f) {
      const Uint16 green[3] = {200, 0, 16};
      set_descriptor(f, 1, green);
    });
    palette_case("palette_65536_entries_for_8bit_pixels", "palette", palette8(),
                 [](DcmFileFormat& f) { set_all_descriptors(f, 0, 0, 16); });  // 0 means 65536
    palette_case("palette_first_mapped_value_not_0", "palette", palette8(),
                 [](DcmFileFormat& f) { set_all_descriptors(f, 256, 10, 16); });
    palette_case("palette_12_bits_per_entry", "palette", palette8(),
                 [](DcmFileFormat& f) { set_all_descriptors(f, 256, 0, 12); });
    palette_case("palette_descriptor_two_values", "palette", palette8(), [](DcmFileFormat& f) {
      const Uint16 two[2] = {256, 0};
      check(f.getDataset()->putAndInsertUint16Array(DCM_BluePaletteColorLookupTableDescriptor, two, 2), "descriptor");
    });
    palette_case("palette_green_data_missing", "palette", palette8(), [](DcmFileFormat& f) {
      check(f.getDataset()->findAndDeleteElement(DCM_GreenPaletteColorLookupTableData), "delete green data");
    });
    palette_case("palette_pixel_beyond_partial_palette", "palette", palette8(), [](DcmFileFormat& f) {
      // 100 entries (a partial palette, 200 bytes each) while pixel values reach 255.
      set_all_descriptors(f, 100, 0, 16);
      std::vector<Uint16> lut(100, 1000);
      for (int c = 0; c < 3; ++c)
        check(f.getDataset()->putAndInsertUint16Array(DcmTagKey(0x0028, static_cast<Uint16>(0x1201 + c)), lut.data(), 100),
              "palette data");
    });
    palette_case("palette_bits_allocated_32", "palette", palette8(), [](DcmFileFormat& f) {
      put16(f, DCM_BitsAllocated, 32);
      put16(f, DCM_BitsStored, 32);
      put16(f, DCM_HighBit, 31);
      std::vector<Uint16> pixels(2 * kPaletteRows * kPaletteColumns, 3);
      put_pixels(f, pixels);
    });
    palette_case("palette_6_of_8_bits_stored", "bits stored", palette8(), [](DcmFileFormat& f) {
      put16(f, DCM_BitsStored, 6);
      put16(f, DCM_HighBit, 5);
    });
    palette_case("palette_three_samples_per_pixel", "sample", palette8(), [](DcmFileFormat& f) {
      put16(f, DCM_SamplesPerPixel, 3);
      put16(f, DCM_PlanarConfiguration, 0);
      std::vector<Uint8> pixels(3 * kPaletteRows * kPaletteColumns, 3);
      check(f.getDataset()->putAndInsertUint8Array(DCM_PixelData, pixels.data(), pixels.size()), "PixelData");
    });
    palette_case("palette_256_entries_for_16bit_pixels", "palette", palette16_segmented(), [](DcmFileFormat& f) {
      set_all_descriptors(f, 256, 0, 16);
    });
    // Segmented palettes of a 16-bit image.
    palette_case("segmented_palette_8bit_pixels", "palette", palette16_segmented(), [](DcmFileFormat& f) {
      set_all_descriptors(f, 256, 0, 16);  // a size 8-bit pixels can have
      const std::vector<Uint16> words{0, 1, 0, 1, 255, 65535};
      for (int c = 0; c < 3; ++c)
        check(f.getDataset()->putAndInsertUint16Array(segmented_tag(c), words.data(), words.size()), "segmented data");
      put16(f, DCM_BitsAllocated, 8);
      put16(f, DCM_BitsStored, 8);
      put16(f, DCM_HighBit, 7);
      std::vector<Uint8> pixels(kPaletteRows * kPaletteColumns, 3);
      check(f.getDataset()->putAndInsertUint8Array(DCM_PixelData, pixels.data(), pixels.size()), "PixelData");
    });
    palette_case("segmented_palette_segment_runs_past_the_data", "palette", palette16_segmented(), [](DcmFileFormat& f) {
      const std::vector<Uint16> words{0, 1, 0, 0, 60000, 5, 6};  // a discrete segment of 60000 values in 7 words
      check(f.getDataset()->putAndInsertUint16Array(segmented_tag(1), words.data(), words.size()), "segmented data");
    });
    palette_case("segmented_palette_expands_to_too_few_entries", "palette", palette16_segmented(), [](DcmFileFormat& f) {
      const std::vector<Uint16> words{0, 1, 0, 1, 999, 65535};  // 1000 entries, 65536 declared
      check(f.getDataset()->putAndInsertUint16Array(segmented_tag(2), words.data(), words.size()), "segmented data");
    });
    palette_case("segmented_palette_indirect_copies_too_many", "palette", palette16_segmented(), [](DcmFileFormat& f) {
      const std::vector<Uint16> words{0, 1, 0, 1, 65534, 65535, 2, 9, 0, 0};
      check(f.getDataset()->putAndInsertUint16Array(segmented_tag(0), words.data(), words.size()), "segmented data");
    });
    palette_case("segmented_palette_indirect_copies_itself", "palette", palette16_segmented(), [](DcmFileFormat& f) {
      // Segment 3 copies from byte offset 12, its own start: GDCM would follow it without end.
      const std::vector<Uint16> words{0, 1, 0, 1, 65535, 65535, 2, 1, 12, 0};
      check(f.getDataset()->putAndInsertUint16Array(segmented_tag(0), words.data(), words.size()), "segmented data");
    });
    palette_case("segmented_palette_unknown_segment_type", "palette", palette16_segmented(), [](DcmFileFormat& f) {
      const std::vector<Uint16> words{0, 1, 0, 7, 65535, 65535};
      check(f.getDataset()->putAndInsertUint16Array(segmented_tag(1), words.data(), words.size()), "segmented data");
    });
    {  // An odd length (DCMTK pads values when it writes, so the saved bytes are patched).
      DcmFileFormat file = palette16_segmented();
      set_series(file, new_uid(), "segmented_palette_odd_length");
      Bytes bytes = saved_bytes(file, bad_ / ".segmented_palette_odd_length.tmp");
      const RawElement e = find_element(bytes, 0x0028, 0x1223);
      put_u32(bytes, e.length_at, e.length - 1);
      bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(e.value_at + e.length - 1));
      const fs::path path = bad_ / "segmented_palette_odd_length.dcm";
      write_bytes(path, bytes);
      add(path, "segmented_palette_odd_length", "palette", "file");
    }
    palette_case("segmented_palette_linear_first_segment", "palette", palette16_segmented(), [](DcmFileFormat& f) {
      const std::vector<Uint16> words{1, 65535, 65535, 0, 1, 0};  // a ramp with no value to start from
      check(f.getDataset()->putAndInsertUint16Array(segmented_tag(0), words.data(), words.size()), "segmented data");
    });
    // The first ultrasound region, which GDCM reads for the pixel spacing (found by mutating the
    // ALOKA palette image of the DICOM zoo: a region without Physical Delta Y aborted the process).
    palette_case("ultrasound_region_without_physical_delta_y", "ultrasound region", palette8(), [](DcmFileFormat& f) {
      DcmItem* region = nullptr;
      check(f.getDataset()->findOrCreateSequenceItem(DCM_SequenceOfUltrasoundRegions, region, 0), "region item");
      check(region->putAndInsertUint16(DCM_RegionSpatialFormat, 1), "RegionSpatialFormat");
      check(region->putAndInsertUint16(DCM_PhysicalUnitsXDirection, 3), "PhysicalUnitsXDirection");
      check(region->putAndInsertUint16(DCM_PhysicalUnitsYDirection, 3), "PhysicalUnitsYDirection");
      check(region->putAndInsertFloat64(DCM_PhysicalDeltaX, 0.01), "PhysicalDeltaX");
    });
    {  // A VR GDCM does not know in the file meta information (GDCM asserts; DCMTK reads it as "??").
      DcmFileFormat file = palette8();
      Bytes bytes = saved_bytes(file, bad_ / ".meta_invalid_vr.tmp");
      const RawElement e = find_element(bytes, 0x0002, 0x0012);  // Implementation Class UID, UI
      bytes[e.start + 5] = 'i';                                   // "UI" -> "Ui"
      const fs::path path = bad_ / "palette_meta_invalid_vr.dcm";
      write_bytes(path, bytes);
      add(path, "palette_meta_invalid_vr", "invalid vr", "file");
    }
    // The icon GDCM reads with the image.
    palette_case("icon_sequence_without_item", "icon", palette8(), [](DcmFileFormat& f) {
      check(f.getDataset()->insertEmptyElement(DCM_IconImageSequence), "Icon Image Sequence");
    });
    palette_case("icon_with_segmented_palette", "icon", palette8(), [&](DcmFileFormat& f) {
      DcmFileFormat icon = palette16_segmented();
      DcmItem* item = nullptr;
      check(f.getDataset()->findOrCreateSequenceItem(DCM_IconImageSequence, item, 0), "icon item");
      for (const DcmTagKey& tag : {DCM_Rows, DCM_Columns, DCM_SamplesPerPixel, DCM_BitsAllocated, DCM_BitsStored,
                                   DCM_HighBit, DCM_PixelRepresentation, DCM_PhotometricInterpretation,
                                   DCM_RedPaletteColorLookupTableDescriptor, DCM_GreenPaletteColorLookupTableDescriptor,
                                   DCM_BluePaletteColorLookupTableDescriptor, segmented_tag(0), segmented_tag(1),
                                   segmented_tag(2), DCM_PixelData}) {
        DcmElement* e = nullptr;
        check(icon.getDataset()->findAndGetElement(tag, e, OFFalse, OFTrue), "icon element");
        check(item->insert(e, OFTrue), "icon insert");
      }
    });
  }

  // -------------------------------------------------------------------------------------------
  // JPEG 2000 files, decoded by GDCM, whose codec reads a fragment's first 13 bytes and its
  // main-header marker segments (or JP2 boxes) trusting their lengths (issue 21: found by fuzzing,
  // a read past the end of a short fragment). Each holds made-up codestream bytes: the damage is
  // found before any decoder sees them.

  /// A minimal codestream main header up to SOD: SOC, SIZ (one 16-bit component, 16 x 16), COD
  /// (reversible 5/3 wavelet), QCD, SOT, SOD, a few bytes of data and EOC.
  static Bytes codestream_header() {
    Bytes b = {0xFF, 0x4F,                                      // SOC
               0xFF, 0x51, 0x00, 0x29, 0x00, 0x00,              // SIZ, Lsiz 41, Rsiz
               0, 0, 0, 16, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0,  // Xsiz, Ysiz, XOsiz, YOsiz
               0, 0, 0, 16, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0,  // XTsiz, YTsiz, XTOsiz, YTOsiz
               0x00, 0x01, 0x0F, 0x01, 0x01,                    // Csiz 1; Ssiz 16 bits, XRsiz, YRsiz
               0xFF, 0x52, 0x00, 0x0C, 0x00, 0x00, 0x00, 0x01, 0x00, 0x05, 0x04, 0x04, 0x00, 0x01,  // COD
               0xFF, 0x5C, 0x00, 0x04, 0x20, 0x90,              // QCD
               0xFF, 0x90, 0x00, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x01,  // SOT
               0xFF, 0x93, 0x80, 0x80, 0x80, 0x80, 0xFF, 0xD9};  // SOD, data, EOC
    return b;
  }

  /// A 16 x 16 16-bit CT image in JPEG 2000 (lossless only) whose encapsulated pixel data hold
  /// `fragments`, one frame each when there are `frames` of them.
  DcmFileFormat jpeg2000_file(const std::vector<Bytes>& fragments, int frames) {
    DcmFileFormat file;
    DcmDataset& ds = *file.getDataset();
    for (auto [tag, value] : std::vector<std::pair<DcmTagKey, std::string>>{
             {DCM_SOPClassUID, UID_CTImageStorage}, {DCM_SOPInstanceUID, new_uid()}, {DCM_StudyInstanceUID, new_uid()},
             {DCM_SeriesInstanceUID, new_uid()}, {DCM_Modality, "CT"}, {DCM_PatientID, "CORPUS"},
             {DCM_SeriesDescription, "corpus jpeg 2000"}, {DCM_SeriesNumber, std::to_string(series_number_++)},
             {DCM_InstanceNumber, "1"}, {DCM_PhotometricInterpretation, "MONOCHROME2"},
             {DCM_NumberOfFrames, std::to_string(frames)}, {DCM_PixelSpacing, "1\\1"},
             {DCM_ImagePositionPatient, "0\\0\\0"}, {DCM_ImageOrientationPatient, "1\\0\\0\\0\\1\\0"},
             {DCM_SliceThickness, "1"}})
      check(ds.putAndInsertString(tag, value.c_str()), DcmTag(tag).getTagName());
    for (auto [tag, value] : std::vector<std::pair<DcmTagKey, Uint16>>{
             {DCM_Rows, 16}, {DCM_Columns, 16}, {DCM_SamplesPerPixel, 1}, {DCM_BitsAllocated, 16},
             {DCM_BitsStored, 16}, {DCM_HighBit, 15}, {DCM_PixelRepresentation, 0}})
      check(ds.putAndInsertUint16(tag, value), DcmTag(tag).getTagName());
    auto* sequence = new DcmPixelSequence(DcmTag(DCM_PixelData, EVR_OB));
    sequence->insert(new DcmPixelItem(DcmTag(DCM_Item, EVR_OB)));  // empty Basic Offset Table
    for (Bytes fragment : fragments) {
      if (fragment.size() % 2 != 0) fragment.push_back(0);
      auto* item = new DcmPixelItem(DcmTag(DCM_Item, EVR_OB));
      check(item->putUint8Array(fragment.data(), static_cast<Uint32>(fragment.size())), "fragment");
      sequence->insert(item);
    }
    auto* pixels = new DcmPixelData(DCM_PixelData);
    pixels->putOriginalRepresentation(EXS_JPEG2000LosslessOnly, nullptr, sequence);
    check(ds.insert(pixels, true), "PixelData");
    return file;
  }

  void jpeg2000_case(const std::string& kind, const std::string& expect, const std::vector<Bytes>& fragments,
                     int frames = 1) {
    DcmFileFormat file = jpeg2000_file(fragments, frames);
    const fs::path path = bad_ / (kind + ".dcm");
    check(file.saveFile(path.c_str(), EXS_JPEG2000LosslessOnly), "cannot write " + path.string());
    add(path, kind, expect, "file");
  }

  void write_jpeg2000_cases() {
    const Bytes header = codestream_header();
    // GDCM compares the first 13 bytes with the JP2 signature whatever the fragment's length.
    jpeg2000_case("jpeg2000_fragment_10_bytes", "too short", {Bytes(header.begin(), header.begin() + 10)});
    // SIZ declares 41 bytes; the fragment ends 20 bytes in.
    jpeg2000_case("jpeg2000_marker_segment_past_fragment_end", "left in the stream",
                  {Bytes(header.begin(), header.begin() + 20)});
    // A comment segment, then a COD segment cut 4 bytes into its body (GDCM reads its 10th byte).
    jpeg2000_case("jpeg2000_cod_segment_cut_short", "cut short",
                  {Bytes{0xFF, 0x4F, 0xFF, 0x64, 0x00, 0x06, 0x00, 0x01, 0x41, 0x42, 0xFF, 0x52, 0x00, 0x0C, 0, 0, 0, 1}});
    // A JP2 file of a signature box and an empty 'ftyp' box, no codestream box: GDCM does not
    // count skipped boxes and reads on past the end.
    jpeg2000_case("jpeg2000_jp2_without_codestream_box", "no codestream box",
                  {Bytes{0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A,
                         0x00, 0x00, 0x00, 0x08, 0x66, 0x74, 0x79, 0x70}});
    // Two frames: the first a whole main header, the second 6 bytes.
    jpeg2000_case("jpeg2000_second_frame_fragment_short", "fragment 2", {header, Bytes{0xFF, 0x4F, 0xFF, 0x51, 0x00, 0x29}},
                  2);
  }

  // -------------------------------------------------------------------------------------------
  // Deflated files (1.2.840.10008.1.2.1.99): DCMTK reads a deflated data set at once and allocates
  // each element's declared length before reading it (issue 21: a fuzzed file declared 3.6 GB).

  /// Explicit VR little endian element bytes: tag, VR, length (2 or 4 bytes), value.
  static void put_element(Bytes& out, std::uint16_t group, std::uint16_t element, const char* vr, const Bytes& value,
                          std::uint32_t declared) {
    const auto u16 = [&](std::uint32_t v) { out.push_back(std::uint8_t(v)); out.push_back(std::uint8_t(v >> 8)); };
    u16(group);
    u16(element);
    out.push_back(std::uint8_t(vr[0]));
    out.push_back(std::uint8_t(vr[1]));
    const std::string wide = "OB OD OF OL OV OW SQ SV UC UN UR UT UV";
    if (wide.find(std::string(vr, 2)) != std::string::npos) {
      u16(0);
      u16(declared & 0xFFFF);
      u16(declared >> 16);
    } else {
      u16(declared);
    }
    out.insert(out.end(), value.begin(), value.end());
  }

  static Bytes text_value(const std::string& text) {
    Bytes b(text.begin(), text.end());
    if (b.size() % 2 != 0) b.push_back(0);
    return b;
  }

  /// A deflated secondary-capture file whose data set holds `data_set` (explicit VR little endian).
  static Bytes deflated_file(const Bytes& data_set) {
    Bytes meta;
    const Bytes sop_class = text_value("1.2.840.10008.5.1.4.1.1.7"), sop = text_value(new_uid()),
                syntax = text_value("1.2.840.10008.1.2.1.99"), implementation = text_value("1.2.826.0.1.3680043.9.7125");
    put_element(meta, 0x0002, 0x0001, "OB", {0, 1}, 2);
    put_element(meta, 0x0002, 0x0002, "UI", sop_class, std::uint32_t(sop_class.size()));
    put_element(meta, 0x0002, 0x0003, "UI", sop, std::uint32_t(sop.size()));
    put_element(meta, 0x0002, 0x0010, "UI", syntax, std::uint32_t(syntax.size()));
    put_element(meta, 0x0002, 0x0012, "UI", implementation, std::uint32_t(implementation.size()));
    Bytes file(128, 0);
    for (char c : std::string("DICM")) file.push_back(std::uint8_t(c));
    const std::uint32_t meta_length = std::uint32_t(meta.size());
    put_element(file, 0x0002, 0x0000, "UL", {std::uint8_t(meta_length), std::uint8_t(meta_length >> 8), 0, 0}, 4);
    file.insert(file.end(), meta.begin(), meta.end());
    z_stream z{};
    if (deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) fail("deflateInit2");
    Bytes packed(deflateBound(&z, uLong(data_set.size())) + 64);
    z.next_in = const_cast<Bytef*>(data_set.data());
    z.avail_in = uInt(data_set.size());
    z.next_out = packed.data();
    z.avail_out = uInt(packed.size());
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) fail("deflate");
    packed.resize(packed.size() - z.avail_out);
    deflateEnd(&z);
    file.insert(file.end(), packed.begin(), packed.end());
    return file;
  }

  void write_deflated_cases() {
    Bytes data_set;
    const Bytes sop_class = text_value("1.2.840.10008.5.1.4.1.1.7");
    put_element(data_set, 0x0008, 0x0016, "UI", sop_class, std::uint32_t(sop_class.size()));
    put_element(data_set, 0x0010, 0x0020, "LO", text_value("CORPUS"), 6);
    // A text element declaring 3,579,468,378 bytes, followed by 16.
    put_element(data_set, 0x0040, 0xA160, "UT", Bytes(16, 'x'), 3579468378u);
    const fs::path path = bad_ / "deflated_element_longer_than_its_stream.dcm";
    write_bytes(path, deflated_file(data_set));
    add(path, "deflated_element_longer_than_its_stream", "more than the", "file");
  }

  void write_dicomdir_case() {
    // A DICOMDIR referencing IMAGES/IM1 and IMAGES/IM2; IM2 is deleted after the DICOMDIR is written.
    const fs::path dir = bad_ / "dicomdir_missing";
    fs::create_directories(dir / "IMAGES");
    const std::string uid = new_uid();
    for (int n = 1; n <= 2; ++n) {
      const Slice& s = slices_[n - 1];
      series_slice(dir / "IMAGES", uid, "dicomdir_missing", n, s, s.position);
      fs::rename(dir / "IMAGES" / (n == 1 ? "IM_00001.dcm" : "IM_00002.dcm"), dir / "IMAGES" / ("IM" + std::to_string(n)));
    }
    ++series_number_;
    DicomDirInterface dicomdir;
    check(dicomdir.createNewDicomDir(DicomDirInterface::AP_GeneralPurpose, (dir / "DICOMDIR").c_str(), "MCSA_CORPUS"),
          "cannot create DICOMDIR");
    for (const char* name : {"IMAGES/IM1", "IMAGES/IM2"})
      check(dicomdir.addDicomFile(name, dir.c_str()), std::string("cannot add ") + name + " to the DICOMDIR");
    check(dicomdir.writeDicomDir(EET_ExplicitLength), "cannot write DICOMDIR");
    {
      // DCMTK gives a new DICOMDIR a UID from the clock; the corpus's own keeps it the same bytes
      // every time (DcmDicomDir::write places the records again).
      DcmDicomDir written((dir / "DICOMDIR").c_str());
      check(written.error(), "cannot read the DICOMDIR back");
      check(written.getDirFileFormat().getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPInstanceUID, new_uid().c_str()),
            "DICOMDIR UID");
      check(written.write(EXS_LittleEndianExplicit, EET_ExplicitLength, EGL_withoutGL), "cannot write DICOMDIR");
    }
    fs::remove(dir / "IMAGES" / "IM2");
    add(dir / "IMAGES" / "IM2", "dicomdir_missing_reference", "missing", "file");
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_dicom_corpus OUT_DIR\n";
    return 2;
  }
  OFLog::configure(OFLogger::ERROR_LOG_LEVEL);
  try {
    const fs::path out = argv[1];
    fs::create_directories(out);
    CorpusWriter(out).run();
  } catch (const std::exception& e) {
    std::cerr << "make_dicom_corpus: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
