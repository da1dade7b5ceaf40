// Pixel decoding against small synthetic DICOM files written here with DCMTK: every file is read
// through scan_paths -> assemble_series -> load_series and the physical values and geometry are
// compared with what was written (per-slice rescale, signed data and Bits Stored, enhanced
// multi-frame CT, gantry tilt, non-uniform spacing, Philips private scaling, colour, ultrasound
// cine, MONOCHROME1, big endian, RLE and JPEG-LS).

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcrlerp.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/dcmjpls/djrparam.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "musclecsa/core/progress.h"
#include "musclecsa/dicom/file_info.h"
#include "musclecsa/dicom/series.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace musclecsa;
using musclecsa::testing::TempDir;

namespace {

constexpr const char* kCtImage = "1.2.840.10008.5.1.4.1.1.2";
constexpr const char* kEnhancedCtImage = "1.2.840.10008.5.1.4.1.1.2.1";
constexpr const char* kMrImage = "1.2.840.10008.5.1.4.1.1.4";
constexpr const char* kUsImage = "1.2.840.10008.5.1.4.1.1.6.1";
constexpr const char* kUsMultiFrameImage = "1.2.840.10008.5.1.4.1.1.3.1";
constexpr double kPi = 3.14159265358979323846;

// ---------------------------------------------------------------------------------------------
// Writing synthetic files

void check(const OFCondition& status, const std::string& what) {
  if (status.bad()) throw std::runtime_error(what + ": " + status.text());
}

std::string new_uid() {
  char buffer[100];
  return dcmGenerateUniqueIdentifier(buffer, SITE_INSTANCE_UID_ROOT);
}

/// A decimal string (DS) that reads back as `v` for the values used here.
std::string ds(double v) {
  std::ostringstream s;
  s.precision(12);
  s << v;
  const std::string text = s.str();
  if (text.size() > 16) throw std::runtime_error("DS value too long: " + text);
  return text;
}

std::string ds(std::initializer_list<double> values) {
  std::string out;
  for (double v : values) out += (out.empty() ? "" : "\\") + ds(v);
  return out;
}

void put(DcmItem& item, const DcmTagKey& tag, const std::string& value) {
  check(item.putAndInsertString(DcmTag(tag), value.c_str()), "putting " + value);
}

void put_u16(DcmItem& item, const DcmTagKey& tag, unsigned value) {
  check(item.putAndInsertUint16(DcmTag(tag), static_cast<Uint16>(value)), "putting a US value");
}

/// The UIDs shared by the files of one series.
struct SeriesIds {
  std::string study = new_uid(), series = new_uid(), frame_of_reference = new_uid();
};

void put_identity(DcmItem& ds_, const SeriesIds& ids, const char* sop_class, const std::string& modality, int instance,
                  const std::string& manufacturer = "MuscleCSA test") {
  put(ds_, DCM_SOPClassUID, sop_class);
  put(ds_, DCM_SOPInstanceUID, new_uid());
  put(ds_, DCM_StudyInstanceUID, ids.study);
  put(ds_, DCM_SeriesInstanceUID, ids.series);
  put(ds_, DCM_FrameOfReferenceUID, ids.frame_of_reference);
  put(ds_, DCM_Modality, modality);
  put(ds_, DCM_PatientName, "DECODING^TEST");
  put(ds_, DCM_PatientID, "MCSA-DECODING");
  put(ds_, DCM_StudyDate, "20260101");
  put(ds_, DCM_SeriesNumber, "1");
  put(ds_, DCM_InstanceNumber, std::to_string(instance));
  put(ds_, DCM_Manufacturer, manufacturer);
  put(ds_, DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL");
}

/// Image Pixel module. bits_stored/high_bit 0 mean "all bits of the sample".
struct PixelFormat {
  unsigned bits_stored = 0, high_bit = 0, pixel_representation = 0, samples = 1, planar = 0, frames = 1;
  std::string photometric = "MONOCHROME2";
};

template <class T>
void put_pixels(DcmItem& ds_, unsigned rows, unsigned columns, const PixelFormat& pf, const std::vector<T>& samples) {
  static_assert(sizeof(T) == 1 || sizeof(T) == 2);
  const unsigned bits_allocated = 8 * sizeof(T);
  const unsigned bits_stored = pf.bits_stored ? pf.bits_stored : bits_allocated;
  const unsigned high_bit = pf.bits_stored ? pf.high_bit : bits_allocated - 1;
  if (samples.size() != std::size_t(rows) * columns * pf.samples * pf.frames)
    throw std::runtime_error("test error: pixel buffer size does not match the image size");
  put_u16(ds_, DCM_Rows, rows);
  put_u16(ds_, DCM_Columns, columns);
  put_u16(ds_, DCM_SamplesPerPixel, pf.samples);
  put(ds_, DCM_PhotometricInterpretation, pf.photometric);
  if (pf.samples > 1) put_u16(ds_, DCM_PlanarConfiguration, pf.planar);
  put_u16(ds_, DCM_BitsAllocated, bits_allocated);
  put_u16(ds_, DCM_BitsStored, bits_stored);
  put_u16(ds_, DCM_HighBit, high_bit);
  put_u16(ds_, DCM_PixelRepresentation, pf.pixel_representation);
  if (pf.frames > 1) put(ds_, DCM_NumberOfFrames, std::to_string(pf.frames));
  if constexpr (sizeof(T) == 1) {
    check(ds_.putAndInsertUint8Array(DCM_PixelData, reinterpret_cast<const Uint8*>(samples.data()), samples.size()),
          "putting 8-bit pixel data");
  } else {
    check(ds_.putAndInsertUint16Array(DCM_PixelData, reinterpret_cast<const Uint16*>(samples.data()), samples.size()),
          "putting 16-bit pixel data");
  }
}

/// Image Plane module, axial (row +x, column +y). Pixel Spacing is row spacing \ column spacing.
void put_plane(DcmItem& ds_, Vec3 position, double row_spacing, double column_spacing, double thickness) {
  put(ds_, DCM_ImagePositionPatient, ds({position.x, position.y, position.z}));
  put(ds_, DCM_ImageOrientationPatient, "1\\0\\0\\0\\1\\0");
  put(ds_, DCM_PixelSpacing, ds({row_spacing, column_spacing}));
  put(ds_, DCM_SliceThickness, ds(thickness));
}

void put_rescale(DcmItem& ds_, double slope, double intercept) {
  put(ds_, DCM_RescaleSlope, ds(slope));
  put(ds_, DCM_RescaleIntercept, ds(intercept));
}

void save(DcmFileFormat& file, const fs::path& path, E_TransferSyntax xfer = EXS_LittleEndianExplicit) {
  fs::create_directories(path.parent_path());
  check(file.saveFile(path.c_str(), xfer), "saving " + path.string());
}

// ---------------------------------------------------------------------------------------------
// Reading back

struct Loaded {
  dicom::ScanResult scan;
  std::vector<dicom::Series> series;
  ScalarVolume volume;
  bool ok = false;  ///< exactly one series, loaded
};

/// Scans a folder, expects exactly one series in it and loads it.
Loaded load_folder(const fs::path& folder) {
  NullProgress progress;
  Loaded out;
  out.scan = dicom::scan_paths({folder}, progress);
  for (const auto& p : out.scan.problems) ADD_FAILURE() << "scan problem: " << p.path << ": " << p.problem;
  out.series = dicom::assemble_series(out.scan.files);
  if (out.series.size() != 1) {
    ADD_FAILURE() << folder << ": " << out.series.size() << " series assembled, 1 expected";
    return out;
  }
  out.volume = dicom::load_series(out.series.front(), out.scan.files, progress);
  out.ok = true;
  return out;
}

bool has_flag(const dicom::Series& s, const std::string& flag) {
  return std::find(s.qc_flags.begin(), s.qc_flags.end(), flag) != s.qc_flags.end();
}

std::string flags_of(const dicom::Series& s) {
  std::string out;
  for (const auto& f : s.qc_flags) out += f + " ";
  for (const auto& n : s.notes) out += "| " + n + " ";
  return out;
}

/// Compares slice k of `volume` with expected(i, j): exactly (as float) when tolerance is 0.
void expect_slice(const ScalarVolume& volume, std::size_t k, const std::function<double(std::size_t, std::size_t)>& expected,
                  double tolerance, const std::string& what) {
  const Geometry& g = volume.geometry;
  ASSERT_LT(k, g.size[2]) << what;
  std::size_t wrong = 0;
  std::ostringstream first;
  first.precision(9);
  for (std::size_t j = 0; j < g.size[1]; ++j)
    for (std::size_t i = 0; i < g.size[0]; ++i) {
      const double e = expected(i, j);
      const float got = volume.at(i, j, k);
      const bool same = tolerance == 0 ? got == static_cast<float>(e) : std::abs(double(got) - e) <= tolerance;
      if (!same && wrong++ < 6) first << "\n    (i=" << i << ", j=" << j << "): got " << got << ", expected " << e;
    }
  EXPECT_EQ(wrong, 0u) << what << ", slice k=" << k << ": " << wrong << " of " << g.slice_voxel_count()
                       << " voxels differ" << first.str();
}

void expect_same_volume(const ScalarVolume& a, const ScalarVolume& b, const std::string& what) {
  ASSERT_EQ(a.geometry.size, b.geometry.size) << what;
  std::size_t wrong = 0;
  std::ostringstream first;
  for (std::size_t n = 0; n < a.voxels.size(); ++n)
    if (a.voxels[n] != b.voxels[n] && wrong++ < 6) first << "\n    voxel " << n << ": " << a.voxels[n] << " vs " << b.voxels[n];
  EXPECT_EQ(wrong, 0u) << what << ": " << wrong << " voxels differ" << first.str();
}

void expect_vec(const Vec3& got, const Vec3& expected, double tolerance, const std::string& what) {
  EXPECT_NEAR(got.x, expected.x, tolerance) << what << " x";
  EXPECT_NEAR(got.y, expected.y, tolerance) << what << " y";
  EXPECT_NEAR(got.z, expected.z, tolerance) << what << " z";
}

// ---------------------------------------------------------------------------------------------
// The per-slice rescaled CT stack shared by the rescale, big-endian and compression cases

constexpr unsigned kRows = 6, kCols = 8;
constexpr std::array<double, 4> kSlopes{1, 2, 0.5, 1};
constexpr std::array<double, 4> kIntercepts{-1024, -1000, 0, -2048};
constexpr std::array<int, 4> kInstances{3, 1, 4, 2};  // instance order differs from position order
const Vec3 kOrigin{-100.5, -80.25, 10};
constexpr double kRowSpacing = 0.8, kColumnSpacing = 0.7, kGap = 2.5;

/// Stored value of pixel (i, j) of slice k: textured, distinct per slice, above 255 (both bytes used).
std::uint16_t ct_stored(std::size_t k, std::size_t i, std::size_t j) {
  return static_cast<std::uint16_t>(1000 + 300 * k + 17 * i + 29 * j + ((i * 7 + j * 13 + k) % 11) * 37);
}

void fill_ct_slice(DcmFileFormat& file, const SeriesIds& ids, std::size_t k, unsigned rows = kRows,
                   unsigned cols = kCols) {
  DcmDataset& d = *file.getDataset();
  put_identity(d, ids, kCtImage, "CT", kInstances[k]);
  put_plane(d, kOrigin + Vec3{0, 0, kGap * double(k)}, kRowSpacing, kColumnSpacing, kGap);
  put_rescale(d, kSlopes[k], kIntercepts[k]);
  put(d, DCM_RescaleType, "HU");
  std::vector<std::uint16_t> px(rows * cols);
  for (std::size_t j = 0; j < rows; ++j)
    for (std::size_t i = 0; i < cols; ++i) px[i + cols * j] = ct_stored(k, i, j);
  put_pixels(d, rows, cols, PixelFormat{}, px);
}

/// Writes the 4-slice stack into `folder` (one file per slice) with transfer syntax `xfer`.
void write_ct_stack(const fs::path& folder, const SeriesIds& ids, E_TransferSyntax xfer = EXS_LittleEndianExplicit,
                    const DcmRepresentationParameter* parameter = nullptr, unsigned rows = kRows, unsigned cols = kCols) {
  for (std::size_t k = 0; k < 4; ++k) {
    DcmFileFormat file;
    fill_ct_slice(file, ids, k, rows, cols);
    if (xfer != EXS_LittleEndianExplicit && DcmXfer(xfer).isEncapsulated())
      check(file.getDataset()->chooseRepresentation(xfer, parameter), "compressing slice " + std::to_string(k));
    save(file, folder / ("slice_" + std::to_string(kInstances[k]) + ".dcm"), xfer);
  }
}

double ct_value(std::size_t k, std::size_t i, std::size_t j) {
  return double(ct_stored(k, i, j)) * kSlopes[k] + kIntercepts[k];
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// 1. Per-slice rescale

TEST(DicomDecoding, PerSliceRescaleSlopeAndInterceptApplyToTheirOwnSliceOnly) {
  TempDir tmp;
  const SeriesIds ids;
  write_ct_stack(tmp.path(), ids);
  const Loaded l = load_folder(tmp.path());
  ASSERT_TRUE(l.ok);
  const dicom::Series& s = l.series.front();
  EXPECT_EQ(s.spacing_regularity, "uniform") << flags_of(s);
  EXPECT_FALSE(s.needs_resampling);

  const Geometry& g = l.volume.geometry;
  ASSERT_EQ(g.size, (std::array<std::size_t, 3>{kCols, kRows, 4}));
  EXPECT_DOUBLE_EQ(g.spacing_mm[0], kColumnSpacing);  // along i: between columns
  EXPECT_DOUBLE_EQ(g.spacing_mm[1], kRowSpacing);     // along j: between rows
  EXPECT_DOUBLE_EQ(g.spacing_mm[2], kGap);
  EXPECT_DOUBLE_EQ(g.origin_lps_mm.x, kOrigin.x);
  EXPECT_DOUBLE_EQ(g.origin_lps_mm.y, kOrigin.y);
  EXPECT_DOUBLE_EQ(g.origin_lps_mm.z, kOrigin.z);
  EXPECT_EQ(g.direction, (std::array<double, 9>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(l.volume.modality, Modality::CT);
  EXPECT_EQ(l.volume.unit_ucum, "[hnsf'U]");

  // Slices are in position order, whatever the instance numbers and file names say.
  ASSERT_EQ(s.slices.size(), 4u);
  for (std::size_t k = 0; k < 4; ++k) {
    EXPECT_EQ(l.scan.files[s.slices[k].file_index].instance_number, kInstances[k]) << "slice " << k;
    expect_slice(l.volume, k, [k](std::size_t i, std::size_t j) { return ct_value(k, i, j); }, 0,
                 "stored * slope_k + intercept_k");
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Signed data and Bits Stored

TEST(DicomDecoding, TwelveBitSignedDataIsSignExtendedIgnoringGarbageInTheUnusedHighBits) {
  TempDir tmp;
  const SeriesIds ids;
  const std::vector<int> values{-2048, -1, 0, 2047, 1, -2047, -1000, 1000, 2046, -2, 255, -256, 1024, -1024, 7, -7};
  std::vector<std::uint16_t> px(kRows * kCols);
  std::vector<int> expected(px.size());
  for (std::size_t n = 0; n < px.size(); ++n) {
    const int v = values[n % values.size()];
    const unsigned garbage = static_cast<unsigned>((n * 5 + 3) % 16);  // every nibble 0x0..0xF appears
    px[n] = static_cast<std::uint16_t>((garbage << 12) | (static_cast<unsigned>(v) & 0x0FFFu));
    expected[n] = v;
  }
  DcmFileFormat file;
  DcmDataset& d = *file.getDataset();
  put_identity(d, ids, kCtImage, "CT", 1);
  put_plane(d, {0, 0, 0}, 1, 1, 1);
  put_rescale(d, 1, 0);
  PixelFormat pf;
  pf.bits_stored = 12;
  pf.high_bit = 11;
  pf.pixel_representation = 1;
  put_pixels(d, kRows, kCols, pf, px);
  save(file, tmp / "signed12.dcm");

  const Loaded l = load_folder(tmp.path());
  ASSERT_TRUE(l.ok);
  ASSERT_EQ(l.volume.geometry.size, (std::array<std::size_t, 3>{kCols, kRows, 1}));
  expect_slice(l.volume, 0, [&](std::size_t i, std::size_t j) { return expected[i + kCols * j]; }, 0,
               "sign-extended 12-bit values");
}

TEST(DicomDecoding, EightBitUnsignedMrKeepsValuesAbove127Positive) {
  TempDir tmp;
  const SeriesIds ids;
  std::vector<std::uint8_t> px(kRows * kCols);
  const std::vector<std::uint8_t> edges{0, 1, 127, 128, 129, 200, 254, 255};
  for (std::size_t n = 0; n < px.size(); ++n)
    px[n] = n < edges.size() ? edges[n] : static_cast<std::uint8_t>((n * 37 + 11) % 256);
  DcmFileFormat file;
  DcmDataset& d = *file.getDataset();
  put_identity(d, ids, kMrImage, "MR", 1);
  put_plane(d, {0, 0, 0}, 1, 1, 1);
  put_pixels(d, kRows, kCols, PixelFormat{}, px);
  save(file, tmp / "mr8.dcm");

  const Loaded l = load_folder(tmp.path());
  ASSERT_TRUE(l.ok);
  ASSERT_EQ(l.volume.geometry.size, (std::array<std::size_t, 3>{kCols, kRows, 1}));
  EXPECT_EQ(l.volume.modality, Modality::MR);
  expect_slice(l.volume, 0, [&](std::size_t i, std::size_t j) { return px[i + kCols * j]; }, 0, "8-bit unsigned values");
}

TEST(DicomDecoding, SixteenBitSignedWithAllBitsStoredCoversTheFullInt16Range) {
  TempDir tmp;
  const SeriesIds ids;
  const std::vector<int> values{-32768, -1, 0, 32767, 1, -32767, -256, 256, 255, -255, 12345, -12345};
  std::vector<std::uint16_t> px(kRows * kCols);
  std::vector<int> expected(px.size());
  for (std::size_t n = 0; n < px.size(); ++n) {
    expected[n] = n < values.size() ? values[n] : int((n * 1361 + 977) % 65536) - 32768;
    px[n] = static_cast<std::uint16_t>(static_cast<std::int16_t>(expected[n]));
  }
  DcmFileFormat file;
  DcmDataset& d = *file.getDataset();
  put_identity(d, ids, kMrImage, "MR", 1);
  put_plane(d, {0, 0, 0}, 1, 1, 1);
  PixelFormat pf;
  pf.pixel_representation = 1;
  put_pixels(d, kRows, kCols, pf, px);
  save(file, tmp / "signed16.dcm");

  const Loaded l = load_folder(tmp.path());
  ASSERT_TRUE(l.ok);
  ASSERT_EQ(l.volume.geometry.size, (std::array<std::size_t, 3>{kCols, kRows, 1}));
  expect_slice(l.volume, 0, [&](std::size_t i, std::size_t j) { return expected[i + kCols * j]; }, 0,
               "16-bit signed values");
}

// ---------------------------------------------------------------------------------------------
// 3. Enhanced multi-frame CT

TEST(DicomDecoding, EnhancedCtFramesAreSortedByPositionAndUseTheirOwnPerFrameRescale) {
  TempDir tmp;
  const SeriesIds ids;
  constexpr unsigned kFrames = 5;
  constexpr double kFrameGap = 5;
  const Vec3 base{-50.25, -40.5, -30};
  // Frame f lies at z = -30 + 5 * (4 - f): given in reverse z order.
  auto frame_position = [&](unsigned f) { return base + Vec3{0, 0, kFrameGap * double(kFrames - 1 - f)}; };
  const std::array<double, kFrames> slopes{1, 1, 2, 1, 0.5};
  const std::array<double, kFrames> intercepts{-1024, -1000, -900, -800, -2000};
  auto stored = [](unsigned f, std::size_t i, std::size_t j) {
    return static_cast<std::uint16_t>(500 + 211 * f + 13 * i + 31 * j);
  };

  DcmFileFormat file;
  DcmDataset& d = *file.getDataset();
  put_identity(d, ids, kEnhancedCtImage, "CT", 1);
  put(d, DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL\\NONE");
  DcmItem* shared = nullptr;
  check(d.findOrCreateSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, -2), "shared groups");
  DcmItem* measures = nullptr;
  check(shared->findOrCreateSequenceItem(DCM_PixelMeasuresSequence, measures, -2), "pixel measures");
  put(*measures, DCM_PixelSpacing, ds({kRowSpacing, kColumnSpacing}));
  put(*measures, DCM_SliceThickness, ds(kFrameGap));
  DcmItem* orientation = nullptr;
  check(shared->findOrCreateSequenceItem(DCM_PlaneOrientationSequence, orientation, -2), "plane orientation");
  put(*orientation, DCM_ImageOrientationPatient, "1\\0\\0\\0\\1\\0");
  for (unsigned f = 0; f < kFrames; ++f) {
    DcmItem* group = nullptr;
    check(d.findOrCreateSequenceItem(DCM_PerFrameFunctionalGroupsSequence, group, -2), "per-frame groups");
    DcmItem* position = nullptr;
    check(group->findOrCreateSequenceItem(DCM_PlanePositionSequence, position, -2), "plane position");
    const Vec3 p = frame_position(f);
    put(*position, DCM_ImagePositionPatient, ds({p.x, p.y, p.z}));
    DcmItem* transform = nullptr;
    check(group->findOrCreateSequenceItem(DCM_PixelValueTransformationSequence, transform, -2), "value transform");
    put_rescale(*transform, slopes[f], intercepts[f]);
    put(*transform, DCM_RescaleType, "HU");
    DcmItem* content = nullptr;
    check(group->findOrCreateSequenceItem(DCM_FrameContentSequence, content, -2), "frame content");
    put(*content, DCM_StackID, "1");
    check(content->putAndInsertUint32(DCM_InStackPositionNumber, f + 1), "in-stack position");
  }
  std::vector<std::uint16_t> px(kFrames * kRows * kCols);
  for (unsigned f = 0; f < kFrames; ++f)
    for (std::size_t j = 0; j < kRows; ++j)
      for (std::size_t i = 0; i < kCols; ++i) px[f * kRows * kCols + i + kCols * j] = stored(f, i, j);
  PixelFormat pf;
  pf.frames = kFrames;
  put_pixels(d, kRows, kCols, pf, px);
  save(file, tmp / "enhanced_ct.dcm");

  const Loaded l = load_folder(tmp.path());
  ASSERT_TRUE(l.ok);
  const dicom::Series& s = l.series.front();
  ASSERT_EQ(l.scan.files.size(), 1u);
  EXPECT_TRUE(l.scan.files.front().enhanced);
  ASSERT_EQ(s.slices.size(), kFrames) << flags_of(s);
  EXPECT_EQ(s.spacing_regularity, "uniform") << flags_of(s);
  EXPECT_FALSE(s.needs_resampling);
  const Geometry& g = l.volume.geometry;
  ASSERT_EQ(g.size, (std::array<std::size_t, 3>{kCols, kRows, kFrames}));
  EXPECT_DOUBLE_EQ(g.spacing_mm[0], kColumnSpacing);
  EXPECT_DOUBLE_EQ(g.spacing_mm[1], kRowSpacing);
  EXPECT_DOUBLE_EQ(g.spacing_mm[2], kFrameGap);
  expect_vec(g.origin_lps_mm, frame_position(kFrames - 1), 0, "origin = the most inferior frame (the last one)");
  EXPECT_EQ(g.direction, (std::array<double, 9>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
  for (unsigned k = 0; k < kFrames; ++k) {
    const unsigned f = kFrames - 1 - k;  // slice k is frame 4 - k
    EXPECT_EQ(s.slices[k].frame, f) << "slice " << k;
    expect_vec(g.index_to_lps({0, 0, double(k)}), frame_position(f), 1e-9, "slice " + std::to_string(k) + " position");
    expect_slice(l.volume, k, [&](std::size_t i, std::size_t j) { return stored(f, i, j) * slopes[f] + intercepts[f]; },
                 0, "frame " + std::to_string(f) + " rescaled with its own Pixel Value Transformation");
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Gantry tilt

TEST(DicomDecoding, GantryTiltIsResampledOntoAnOrthogonalGridKeepingPatientPositions) {
  TempDir tmp;
  const SeriesIds ids;
  constexpr unsigned kN = 16, kSlices = 5;
  constexpr double kSpacing = 0.8, kSliceGap = 5, kTiltDeg = 20;
  const double shift = kSliceGap * std::tan(kTiltDeg * kPi / 180);  // 1.8199 mm per slice along y
  const Vec3 first{-6, -20, 0};
  const std::size_t bright_i = 7;
  const double target_y = first.y + 12.3 * kSpacing;  // the bright spot's fixed patient y
  constexpr std::uint16_t kBackground = 0, kBright = 2024;
  constexpr double kIntercept = -1024;

  std::array<Vec3, kSlices> positions{};  // as written (and read back from the DS strings)
  std::array<Vec3, kSlices> bright{};     // patient position of the bright pixel's centre in source slice k
  for (unsigned k = 0; k < kSlices; ++k) {
    const double y = std::stod(ds(first.y + k * shift));
    positions[k] = {first.x, y, first.z + kSliceGap * k};
    const long row = std::lround((target_y - y) / kSpacing);
    ASSERT_GE(row, 0);
    ASSERT_LT(row, long(kN));
    bright[k] = {first.x + bright_i * kSpacing, y + row * kSpacing, positions[k].z};

    DcmFileFormat file;
    DcmDataset& d = *file.getDataset();
    put_identity(d, ids, kCtImage, "CT", int(k) + 1);
    put_plane(d, positions[k], kSpacing, kSpacing, kSliceGap);
    put(d, DCM_GantryDetectorTilt, ds(kTiltDeg));
    put_rescale(d, 1, kIntercept);
    std::vector<std::uint16_t> px(kN * kN, kBackground);
    px[bright_i + kN * std::size_t(row)] = kBright;
    put_pixels(d, kN, kN, PixelFormat{}, px);
    save(file, tmp / ("tilt_" + std::to_string(k) + ".dcm"));
  }

  const Loaded l = load_folder(tmp.path());
  ASSERT_TRUE(l.ok);
  const dicom::Series& s = l.series.front();
  EXPECT_TRUE(has_flag(s, "gantry_tilt_resampled")) << flags_of(s);
  EXPECT_TRUE(s.needs_resampling);
  const Geometry& g = l.volume.geometry;
  EXPECT_NO_THROW(g.validate("gantry tilt series"));
  ASSERT_EQ(g.size, (std::array<std::size_t, 3>{kN, kN, kSlices}));
  expect_vec(g.axis(0), {1, 0, 0}, 1e-9, "axis(0)");
  expect_vec(g.axis(1), {0, 1, 0}, 1e-9, "axis(1)");
  expect_vec(g.axis(2), {0, 0, 1}, 1e-9, "axis(2)");
  EXPECT_DOUBLE_EQ(g.spacing_mm[0], kSpacing);
  EXPECT_DOUBLE_EQ(g.spacing_mm[1], kSpacing);
  EXPECT_NEAR(g.spacing_mm[2], kSliceGap, 1e-9);

  const double amplitude = double(kBright) - kBackground;
  for (std::size_t k = 0; k < kSlices; ++k) {
    // Brightest voxel and intensity centroid of the output slice.
    std::size_t best_i = 0, best_j = 0;
    float best = -1e30f;
    double sum = 0, ci = 0, cj = 0;
    for (std::size_t j = 0; j < kN; ++j)
      for (std::size_t i = 0; i < kN; ++i) {
        const float v = l.volume.at(i, j, k);
        if (v > best) {
          best = v;
          best_i = i;
          best_j = j;
        }
        const double w = double(v) - (kBackground + kIntercept);
        sum += w;
        ci += w * double(i);
        cj += w * double(j);
      }
    const std::string what = "slice " + std::to_string(k);
    EXPECT_GE(best, kBackground + kIntercept + 0.5 * amplitude - 1e-3) << what << ": the bright spot is lost";
    EXPECT_NEAR(sum, amplitude, 1e-2 * amplitude) << what << ": bright spot intensity not preserved";
    const Vec3 peak = g.index_to_lps({double(best_i), double(best_j), double(k)});
    EXPECT_LE(norm(peak - bright[k]), kSpacing + 1e-6)
        << what << ": brightest voxel at (" << peak.x << ", " << peak.y << ", " << peak.z << "), written at ("
        << bright[k].x << ", " << bright[k].y << ", " << bright[k].z << ")";
    if (sum > 0) {
      const Vec3 centre = g.index_to_lps({ci / sum, cj / sum, double(k)});
      EXPECT_LE(norm(centre - bright[k]), 0.5 * kSpacing)
          << what << ": bright spot centroid at (" << centre.x << ", " << centre.y << ", " << centre.z
          << "), written at (" << bright[k].x << ", " << bright[k].y << ", " << bright[k].z << ")";
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 5. Non-uniform spacing

TEST(DicomDecoding, NonUniformSpacingIsResampledByLinearInterpolationAlongZ) {
  TempDir tmp;
  const SeriesIds ids;
  const std::vector<double> z{0, 5, 10, 17, 22};
  for (std::size_t n = 0; n < z.size(); ++n) {
    DcmFileFormat file;
    DcmDataset& d = *file.getDataset();
    put_identity(d, ids, kCtImage, "CT", int(n) + 1);
    put_plane(d, {-10, -10, z[n]}, 1, 1, 1);
    put_rescale(d, 1, 0);
    put_pixels(d, kRows, kCols, PixelFormat{}, std::vector<std::uint16_t>(kRows * kCols, std::uint16_t(z[n])));
    save(file, tmp / ("z" + std::to_string(n) + ".dcm"));
  }
  const Loaded l = load_folder(tmp.path());
  ASSERT_TRUE(l.ok);
  const dicom::Series& s = l.series.front();
  EXPECT_TRUE(has_flag(s, "non_uniform_spacing_resampled")) << flags_of(s);
  EXPECT_EQ(s.spacing_regularity, "non_uniform");
  const Geometry& g = l.volume.geometry;
  ASSERT_EQ(g.size, (std::array<std::size_t, 3>{kCols, kRows, 5}));
  EXPECT_DOUBLE_EQ(g.spacing_mm[2], 5);
  expect_vec(g.origin_lps_mm, {-10, -10, 0}, 0, "origin");
  for (std::size_t k = 0; k < 5; ++k)
    expect_slice(l.volume, k, [k](std::size_t, std::size_t) { return 5.0 * double(k); }, 1e-3,
                 "value = z interpolated at z = 5k");
}

// ---------------------------------------------------------------------------------------------
// 6. Philips private scaling

TEST(DicomDecoding, PhilipsPrivateScaleSlopeGivesFloatingPointValues) {
  TempDir tmp;
  const SeriesIds ids;
  std::vector<std::uint16_t> px(kRows * kCols);
  for (std::size_t n = 0; n < px.size(); ++n) px[n] = static_cast<std::uint16_t>(3 * (n % kCols) + 5 * (n / kCols) + 1 + 100 * n);
  DcmFileFormat file;
  DcmDataset& d = *file.getDataset();
  put_identity(d, ids, kMrImage, "MR", 1, "Philips Medical Systems");
  put_plane(d, {0, 0, 0}, 1, 1, 1);
  put_rescale(d, 2, 10);
  check(d.putAndInsertString(DcmTag(0x2005, 0x0010, EVR_LO), "Philips MR Imaging DD 001"), "private creator");
  check(d.putAndInsertFloat32(DcmTag(0x2005, 0x100E, EVR_FL), 4.0f), "scale slope");
  check(d.putAndInsertFloat32(DcmTag(0x2005, 0x100D, EVR_FL), 0.0f), "scale intercept");
  put_pixels(d, kRows, kCols, PixelFormat{}, px);
  save(file, tmp / "philips.dcm");

  const Loaded l = load_folder(tmp.path());
  ASSERT_TRUE(l.ok);
  EXPECT_TRUE(has_flag(l.series.front(), "philips_private_scaling")) << flags_of(l.series.front());
  ASSERT_EQ(l.volume.geometry.size, (std::array<std::size_t, 3>{kCols, kRows, 1}));
  expect_slice(l.volume, 0, [&](std::size_t i, std::size_t j) { return (px[i + kCols * j] * 2.0 + 10.0) / (2.0 * 4.0); },
               0, "(SV*RS + RI) / (RS*SS)");
}

// ---------------------------------------------------------------------------------------------
// 7. Colour

namespace {

std::array<std::uint8_t, 3> colour_of(std::size_t n) {
  static const std::vector<std::array<std::uint8_t, 3>> fixed{
      {255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}, {0, 0, 0}, {128, 128, 128},
      {255, 255, 0}, {0, 255, 255}, {255, 0, 255}, {1, 2, 3}, {254, 253, 252}, {200, 100, 50}};
  if (n < fixed.size()) return fixed[n];
  return {static_cast<std::uint8_t>((n * 97 + 13) % 256), static_cast<std::uint8_t>((n * 53 + 101) % 256),
          static_cast<std::uint8_t>((n * 211 + 7) % 256)};
}

std::uint8_t clamp_round(double v) { return static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

/// Writes an 8-bit colour ultrasound image: RGB interleaved/planar, or YBR_FULL interleaved.
void write_colour_us(const fs::path& path, const std::string& photometric, unsigned planar) {
  const std::size_t pixels = kRows * kCols;
  std::vector<std::uint8_t> samples(3 * pixels);
  for (std::size_t n = 0; n < pixels; ++n) {
    const auto c = colour_of(n);
    std::array<std::uint8_t, 3> v = c;
    if (photometric == "YBR_FULL") {  // PS3.3 C.7.6.3.1.2
      const double r = c[0], g = c[1], b = c[2];
      v = {clamp_round(0.2990 * r + 0.5870 * g + 0.1140 * b),
           clamp_round(-0.1687 * r - 0.3313 * g + 0.5000 * b + 128),
           clamp_round(0.5000 * r - 0.4187 * g - 0.0813 * b + 128)};
    }
    for (std::size_t s = 0; s < 3; ++s) samples[planar ? s * pixels + n : 3 * n + s] = v[s];
  }
  const SeriesIds ids;
  DcmFileFormat file;
  DcmDataset& d = *file.getDataset();
  put_identity(d, ids, kUsImage, "US", 1);
  PixelFormat pf;
  pf.samples = 3;
  pf.planar = planar;
  pf.photometric = photometric;
  put_pixels(d, kRows, kCols, pf, samples);
  save(file, path);
}

double luminance_of(std::size_t n) {
  const auto c = colour_of(n);
  return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
}

}  // namespace

TEST(DicomDecoding, ColourUltrasoundBecomesLuminanceForRgbInterleavedPlanarAndYbrFull) {
  TempDir tmp;
  write_colour_us(tmp / "rgb_interleaved" / "a.dcm", "RGB", 0);
  write_colour_us(tmp / "rgb_planar" / "a.dcm", "RGB", 1);
  write_colour_us(tmp / "ybr_full" / "a.dcm", "YBR_FULL", 0);

  const Loaded interleaved = load_folder(tmp / "rgb_interleaved");
  const Loaded planar = load_folder(tmp / "rgb_planar");
  const Loaded ybr = load_folder(tmp / "ybr_full");
  ASSERT_TRUE(interleaved.ok && planar.ok && ybr.ok);
  for (const Loaded* l : {&interleaved, &planar, &ybr}) {
    EXPECT_TRUE(l->series.front().color);
    ASSERT_EQ(l->volume.geometry.size, (std::array<std::size_t, 3>{kCols, kRows, 1}));
  }
  auto expected = [](std::size_t i, std::size_t j) { return luminance_of(i + kCols * j); };
  expect_slice(interleaved.volume, 0, expected, 0.5, "RGB, Planar Configuration 0: 0.299R + 0.587G + 0.114B");
  expect_slice(planar.volume, 0, expected, 0.5, "RGB, Planar Configuration 1: 0.299R + 0.587G + 0.114B");
  expect_slice(ybr.volume, 0, expected, 1.5, "YBR_FULL: luminance of the original RGB");
  expect_same_volume(interleaved.volume, planar.volume, "RGB interleaved vs planar");
}

// ---------------------------------------------------------------------------------------------
// 8. Ultrasound cine

TEST(DicomDecoding, UltrasoundCineFramesBecomeSlicesInFrameOrderWithRegionPixelSize) {
  TempDir tmp;
  const SeriesIds ids;
  constexpr unsigned kFrames = 3;
  auto stored = [](unsigned f, std::size_t i, std::size_t j) { return static_cast<std::uint8_t>(60 * f + 3 * i + 5 * j + 1); };
  DcmFileFormat file;
  DcmDataset& d = *file.getDataset();
  put_identity(d, ids, kUsMultiFrameImage, "US", 1);
  check(d.putAndInsertTagKey(DCM_FrameIncrementPointer, DCM_FrameTime), "frame increment pointer");
  put(d, DCM_FrameTime, "33.3");
  DcmItem* region = nullptr;
  check(d.findOrCreateSequenceItem(DCM_SequenceOfUltrasoundRegions, region, -2), "ultrasound region");
  put_u16(*region, DCM_RegionSpatialFormat, 1);
  put_u16(*region, DCM_RegionDataType, 1);
  check(region->putAndInsertUint32(DCM_RegionFlags, 0), "region flags");
  check(region->putAndInsertUint32(DCM_RegionLocationMinX0, 0), "min x0");
  check(region->putAndInsertUint32(DCM_RegionLocationMinY0, 0), "min y0");
  check(region->putAndInsertUint32(DCM_RegionLocationMaxX1, kCols - 1), "max x1");
  check(region->putAndInsertUint32(DCM_RegionLocationMaxY1, kRows - 1), "max y1");
  put_u16(*region, DCM_PhysicalUnitsXDirection, 3);
  put_u16(*region, DCM_PhysicalUnitsYDirection, 3);
  check(region->putAndInsertFloat64(DCM_PhysicalDeltaX, 0.02), "delta x");
  check(region->putAndInsertFloat64(DCM_PhysicalDeltaY, 0.02), "delta y");
  std::vector<std::uint8_t> px(kFrames * kRows * kCols);
  for (unsigned f = 0; f < kFrames; ++f)
    for (std::size_t j = 0; j < kRows; ++j)
      for (std::size_t i = 0; i < kCols; ++i) px[f * kRows * kCols + i + kCols * j] = stored(f, i, j);
  PixelFormat pf;
  pf.frames = kFrames;
  put_pixels(d, kRows, kCols, pf, px);
  save(file, tmp / "cine.dcm");

  const Loaded l = load_folder(tmp.path());
  ASSERT_TRUE(l.ok);
  const dicom::Series& s = l.series.front();
  ASSERT_EQ(s.slices.size(), kFrames);
  for (unsigned k = 0; k < kFrames; ++k) EXPECT_EQ(s.slices[k].frame, k);
  ASSERT_TRUE(s.ultrasound.has_value());
  EXPECT_TRUE(s.ultrasound->calibrated) << s.ultrasound->note;
  EXPECT_FALSE(has_flag(s, "ultrasound_uncalibrated")) << flags_of(s);
  const Geometry& g = l.volume.geometry;
  ASSERT_EQ(g.size, (std::array<std::size_t, 3>{kCols, kRows, kFrames}));
  EXPECT_NEAR(g.spacing_mm[0], 0.2, 1e-12);
  EXPECT_NEAR(g.spacing_mm[1], 0.2, 1e-12);
  EXPECT_EQ(l.volume.modality, Modality::US);
  for (unsigned k = 0; k < kFrames; ++k)
    expect_slice(l.volume, k, [&](std::size_t i, std::size_t j) { return stored(k, i, j); }, 0, "frame k");
}

// ---------------------------------------------------------------------------------------------
// 9. MONOCHROME1

TEST(DicomDecoding, MonochromeOneUltrasoundIsInvertedToDisplayedGrey) {
  TempDir tmp;
  const SeriesIds ids;
  std::vector<std::uint8_t> px(kRows * kCols);
  for (std::size_t n = 0; n < px.size(); ++n) px[n] = n == 0 ? 255 : static_cast<std::uint8_t>(n * 5);
  DcmFileFormat file;
  DcmDataset& d = *file.getDataset();
  put_identity(d, ids, kUsImage, "US", 1);
  PixelFormat pf;
  pf.photometric = "MONOCHROME1";
  put_pixels(d, kRows, kCols, pf, px);
  save(file, tmp / "us_mono1.dcm");

  const Loaded l = load_folder(tmp.path());
  ASSERT_TRUE(l.ok);
  ASSERT_EQ(l.volume.geometry.size, (std::array<std::size_t, 3>{kCols, kRows, 1}));
  expect_slice(l.volume, 0, [&](std::size_t i, std::size_t j) { return 255.0 - px[i + kCols * j]; }, 0, "255 - stored");
}

TEST(DicomDecoding, MonochromeOneCtKeepsItsRescaledValuesUninverted) {
  TempDir tmp;
  const SeriesIds ids;
  std::vector<std::uint16_t> px(kRows * kCols);
  for (std::size_t n = 0; n < px.size(); ++n) px[n] = n == 0 ? 4095 : static_cast<std::uint16_t>(n * 83);
  DcmFileFormat file;
  DcmDataset& d = *file.getDataset();
  put_identity(d, ids, kCtImage, "CT", 1);
  put_plane(d, {0, 0, 0}, 1, 1, 1);
  put_rescale(d, 1, -1024);
  PixelFormat pf;
  pf.photometric = "MONOCHROME1";
  pf.bits_stored = 12;
  pf.high_bit = 11;
  put_pixels(d, kRows, kCols, pf, px);
  save(file, tmp / "ct_mono1.dcm");

  const Loaded l = load_folder(tmp.path());
  ASSERT_TRUE(l.ok);
  ASSERT_EQ(l.volume.geometry.size, (std::array<std::size_t, 3>{kCols, kRows, 1}));
  expect_slice(l.volume, 0, [&](std::size_t i, std::size_t j) { return px[i + kCols * j] - 1024.0; }, 0,
               "stored + intercept, not inverted");
}

// ---------------------------------------------------------------------------------------------
// 10. Big endian

TEST(DicomDecoding, BigEndianExplicitDecodesLikeLittleEndian) {
  TempDir tmp;
  const SeriesIds ids;
  for (const auto& [folder, xfer] : {std::pair{"little", EXS_LittleEndianExplicit}, std::pair{"big", EXS_BigEndianExplicit}}) {
    DcmFileFormat file;
    fill_ct_slice(file, ids, 0);
    save(file, tmp / folder / "slice.dcm", xfer);
  }
  const Loaded little = load_folder(tmp / "little");
  const Loaded big = load_folder(tmp / "big");
  ASSERT_TRUE(little.ok && big.ok);
  EXPECT_EQ(big.scan.files.front().transfer_syntax_uid, UID_BigEndianExplicitTransferSyntax);
  EXPECT_EQ(little.scan.files.front().transfer_syntax_uid, UID_LittleEndianExplicitTransferSyntax);
  ASSERT_EQ(big.volume.geometry.size, (std::array<std::size_t, 3>{kCols, kRows, 1}));
  EXPECT_TRUE(big.volume.geometry.same_grid_as(little.volume.geometry, 0));
  expect_slice(big.volume, 0, [](std::size_t i, std::size_t j) { return ct_value(0, i, j); }, 0, "big endian");
  expect_same_volume(big.volume, little.volume, "big vs little endian");
}

// ---------------------------------------------------------------------------------------------
// 11. Lossless compression written by DCMTK

TEST(DicomDecoding, RleLosslessDecodesIdenticallyToTheUncompressedFiles) {
  DcmRLEEncoderRegistration::registerCodecs();
  TempDir tmp;
  const SeriesIds ids;
  write_ct_stack(tmp / "plain", ids);
  const DcmRLERepresentationParameter rle;
  write_ct_stack(tmp / "rle", ids, EXS_RLELossless, &rle);
  const Loaded plain = load_folder(tmp / "plain");
  const Loaded compressed = load_folder(tmp / "rle");
  ASSERT_TRUE(plain.ok && compressed.ok);
  for (const auto& f : compressed.scan.files) {
    EXPECT_EQ(f.transfer_syntax_uid, UID_RLELosslessTransferSyntax) << f.path;
    EXPECT_TRUE(f.encapsulated) << f.path;
  }
  ASSERT_EQ(compressed.volume.geometry.size, (std::array<std::size_t, 3>{kCols, kRows, 4}));
  for (std::size_t k = 0; k < 4; ++k)
    expect_slice(compressed.volume, k, [k](std::size_t i, std::size_t j) { return ct_value(k, i, j); }, 0, "RLE");
  expect_same_volume(compressed.volume, plain.volume, "RLE vs uncompressed");
}

TEST(DicomDecoding, JpegLsLosslessDecodesIdenticallyToTheUncompressedFiles) {
  DJLSEncoderRegistration::registerCodecs();
  TempDir tmp;
  const SeriesIds ids;
  // 32 x 32 rather than 8 x 6: DCMTK 3.6.7's JPEG-LS encoder writes its pad byte into the raw
  // frame buffer (DJLSEncoderBase::compressCookedFrame -> fixPaddingIfNecessary), a heap overflow
  // when the JPEG-LS stream is longer than the raw frame, as it is for tiny frames.
  constexpr unsigned kSide = 32;
  write_ct_stack(tmp / "plain", ids, EXS_LittleEndianExplicit, nullptr, kSide, kSide);
  const DJLSRepresentationParameter lossless(0, OFTrue);
  write_ct_stack(tmp / "jpegls", ids, EXS_JPEGLSLossless, &lossless, kSide, kSide);
  const Loaded plain = load_folder(tmp / "plain");
  const Loaded compressed = load_folder(tmp / "jpegls");
  ASSERT_TRUE(plain.ok && compressed.ok);
  for (const auto& f : compressed.scan.files) {
    EXPECT_EQ(f.transfer_syntax_uid, UID_JPEGLSLosslessTransferSyntax) << f.path;
    EXPECT_TRUE(f.encapsulated) << f.path;
  }
  ASSERT_EQ(compressed.volume.geometry.size, (std::array<std::size_t, 3>{kSide, kSide, 4}));
  for (std::size_t k = 0; k < 4; ++k)
    expect_slice(compressed.volume, k, [k](std::size_t i, std::size_t j) { return ct_value(k, i, j); }, 0, "JPEG-LS");
  expect_same_volume(compressed.volume, plain.volume, "JPEG-LS vs uncompressed");
}
