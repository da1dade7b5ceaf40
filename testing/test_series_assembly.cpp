// Series assembly from synthetic DICOM headers (no files are read or written): grouping,
// splitting, localizer removal, slice ordering, spacing checks and the resulting geometry.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "musclecsa/core/geometry.h"
#include "musclecsa/dicom/file_info.h"
#include "musclecsa/dicom/series.h"

using namespace musclecsa;
using namespace musclecsa::dicom;

namespace {

constexpr const char* kCtImageStorage = "1.2.840.10008.5.1.4.1.1.2";
constexpr const char* kUsImageStorage = "1.2.840.10008.5.1.4.1.1.6.1";

// Image Orientation (Patient): row cosine, column cosine.
constexpr std::array<double, 6> kAxial{1, 0, 0, 0, 1, 0};        // normal (0, 0, 1)
constexpr std::array<double, 6> kCoronal{1, 0, 0, 0, 0, -1};     // normal (0, 1, 0)
constexpr std::array<double, 6> kSagittal{0, 1, 0, 0, 0, -1};    // normal (-1, 0, 0)
constexpr std::array<double, 6> kAxialFlipped{1, 0, 0, 0, -1, 0};  // normal (0, 0, -1)

// Defaults of the synthetic CT slices: deliberately non-square in both size and pixel spacing so
// that swapping rows/columns or row/column spacing is detected.
constexpr std::uint32_t kRows = 64, kColumns = 96;
constexpr double kRowSpacing = 0.8;     // PixelSpacing[0]: distance between rows (along j)
constexpr double kColumnSpacing = 0.6;  // PixelSpacing[1]: distance between columns (along i)
constexpr double kThickness = 2.5;

Vec3 row_cosine(const std::array<double, 6>& o) { return {o[0], o[1], o[2]}; }
Vec3 column_cosine(const std::array<double, 6>& o) { return {o[3], o[4], o[5]}; }
Vec3 normal_of(const std::array<double, 6>& o) { return cross(row_cosine(o), column_cosine(o)); }

/// One classic single-frame CT image of series `series_uid` at `position`.
DicomFileInfo ct_slice(const std::string& series_uid, int instance, Vec3 position,
                       const std::array<double, 6>& orientation = kAxial) {
  DicomFileInfo f;
  f.sop_instance_uid = series_uid + ".9." + std::to_string(instance);
  f.path = "/synthetic/" + f.sop_instance_uid + ".dcm";
  f.transfer_syntax_uid = "1.2.840.10008.1.2.1";
  f.sop_class_uid = kCtImageStorage;
  f.modality = "CT";
  f.manufacturer = "SIEMENS";
  f.body_part = "THIGH";
  f.patient_name = "Synthetic^Patient";
  f.patient_id = "SYN001";
  f.study_instance_uid = "1.2.826.0.1.3680043.10.543.1";
  f.study_date = "20240115";
  f.study_description = "Thigh CT";
  f.series_instance_uid = series_uid;
  f.series_description = "thigh_axial";
  f.frame_of_reference_uid = "1.2.826.0.1.3680043.10.543.2";
  f.image_type = {"ORIGINAL", "PRIMARY", "AXIAL"};
  f.series_number = 3;
  f.instance_number = instance;
  f.acquisition_number = 1;
  f.rows = kRows;
  f.columns = kColumns;
  f.number_of_frames = 1;
  f.samples_per_pixel = 1;
  f.bits_allocated = 16;
  f.bits_stored = 16;
  f.high_bit = 15;
  f.pixel_representation = 1;
  f.photometric = "MONOCHROME2";
  f.has_pixel_data = true;
  f.pixel_data_bytes = std::uint64_t{kRows} * kColumns * 2;
  FrameInfo frame;
  frame.position_lps_mm = position;
  frame.orientation = orientation;
  frame.pixel_spacing_mm = std::array<double, 2>{kRowSpacing, kColumnSpacing};
  frame.slice_thickness_mm = kThickness;
  frame.rescale_slope = 1;
  frame.rescale_intercept = -1024;
  f.frames = {frame};
  return f;
}

/// n slices at first + k*gap*normal (k = 0..n-1), in that order, instance numbers first_instance+k.
std::vector<DicomFileInfo> ct_stack(const std::string& series_uid, int n, Vec3 first, double gap,
                                    const std::array<double, 6>& orientation = kAxial, int first_instance = 1) {
  std::vector<DicomFileInfo> files;
  const Vec3 normal = normal_of(orientation);
  for (int k = 0; k < n; ++k)
    files.push_back(ct_slice(series_uid, first_instance + k, first + (k * gap) * normal, orientation));
  return files;
}

/// Axial slices at the given z positions (x, y fixed).
std::vector<DicomFileInfo> ct_at_z(const std::string& series_uid, const std::vector<double>& zs) {
  std::vector<DicomFileInfo> files;
  int instance = 1;
  for (const double z : zs) files.push_back(ct_slice(series_uid, instance++, {-120, -100, z}));
  return files;
}

std::vector<DicomFileInfo> permuted(const std::vector<DicomFileInfo>& files, const std::vector<std::size_t>& order) {
  std::vector<DicomFileInfo> out;
  for (const std::size_t i : order) out.push_back(files.at(i));
  return out;
}

void append(std::vector<DicomFileInfo>& to, const std::vector<DicomFileInfo>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

bool has_flag(const Series& s, const std::string& flag) {
  return std::find(s.qc_flags.begin(), s.qc_flags.end(), flag) != s.qc_flags.end();
}

std::string flags_of(const Series& s) {
  std::string out;
  for (const auto& f : s.qc_flags) out += (out.empty() ? "" : ",") + f;
  return "[" + out + "]";
}

std::vector<const Series*> with_uid(const std::vector<Series>& all, const std::string& uid) {
  std::vector<const Series*> out;
  for (const auto& s : all)
    if (s.series_instance_uid == uid) out.push_back(&s);
  return out;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void expect_vec_near(const Vec3& actual, const Vec3& expected, double tolerance, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_NEAR(actual.x, expected.x, tolerance);
  EXPECT_NEAR(actual.y, expected.y, tolerance);
  EXPECT_NEAR(actual.z, expected.z, tolerance);
}

/// The position of the slice a SliceRef points at.
Vec3 position_of(const std::vector<DicomFileInfo>& files, const SliceRef& ref) {
  return files.at(ref.file_index).frames.at(ref.frame).position_lps_mm.value();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// 1. Ordering and geometry of a plain axial stack
// ---------------------------------------------------------------------------------------------

TEST(SeriesAssembly, ShuffledAxialSlicesAreSortedAlongTheNormalWithGeometryFromTheFirstSlice) {
  const std::string uid = "1.2.826.0.1.3680043.10.543.100";
  const auto stack = ct_stack(uid, 6, {-120, -100, -50}, 2.5);
  const auto files = permuted(stack, {3, 0, 5, 1, 4, 2});

  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 1u);
  const Series& s = series[0];
  EXPECT_EQ(s.id, uid);
  EXPECT_EQ(s.series_instance_uid, uid);
  EXPECT_TRUE(s.usable) << s.unusable_reason;
  ASSERT_EQ(s.slices.size(), 6u);
  for (std::size_t k = 0; k < 6; ++k) {
    SCOPED_TRACE("slice " + std::to_string(k));
    EXPECT_EQ(s.slices[k].frame, 0u);
    const Vec3 p = position_of(files, s.slices[k]);
    EXPECT_NEAR(p.z, -50 + 2.5 * static_cast<double>(k), 1e-9);
    EXPECT_NEAR(s.slices[k].normal_mm, -50 + 2.5 * static_cast<double>(k), 1e-6);
  }

  const Geometry& g = s.geometry;
  EXPECT_EQ(g.size[0], kColumns);
  EXPECT_EQ(g.size[1], kRows);
  EXPECT_EQ(g.size[2], 6u);
  EXPECT_NEAR(g.spacing_mm[0], kColumnSpacing, 1e-9);
  EXPECT_NEAR(g.spacing_mm[1], kRowSpacing, 1e-9);
  EXPECT_NEAR(g.spacing_mm[2], 2.5, 1e-6);
  expect_vec_near(g.origin_lps_mm, {-120, -100, -50}, 1e-6, "origin");
  expect_vec_near(g.axis(0), {1, 0, 0}, 1e-9, "axis 0 = row cosine");
  expect_vec_near(g.axis(1), {0, 1, 0}, 1e-9, "axis 1 = column cosine");
  expect_vec_near(g.axis(2), {0, 0, 1}, 1e-9, "axis 2 = normal");
  EXPECT_NO_THROW(g.validate("axial"));

  EXPECT_EQ(s.spacing_regularity, "uniform");
  EXPECT_NEAR(s.nominal_spacing_mm, 2.5, 1e-6);
  EXPECT_NEAR(s.min_gap_mm, 2.5, 1e-6);
  EXPECT_NEAR(s.max_gap_mm, 2.5, 1e-6);
  EXPECT_FALSE(s.needs_resampling);
  EXPECT_TRUE(s.qc_flags.empty()) << flags_of(s);
  EXPECT_EQ(s.modality, "CT");
  EXPECT_EQ(s.photometric, "MONOCHROME2");
  EXPECT_FALSE(s.color);
  EXPECT_EQ(s.dixon_role, DixonRole::None);
}

TEST(SeriesAssembly, AxialStackWithCaudalNormalStartsAtTheHighestZ) {
  // Column cosine (0,-1,0): normal = row x column = (0,0,-1), so "first along the normal" is the
  // most cranial slice, not the lowest z.
  const std::string uid = "1.2.826.0.1.3680043.10.543.101";
  const auto stack = ct_stack(uid, 5, {-120, 100, 40}, 3.0, kAxialFlipped);  // z = 40, 37, ..., 28
  const auto files = permuted(stack, {4, 2, 0, 3, 1});

  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 1u);
  const Series& s = series[0];
  ASSERT_EQ(s.slices.size(), 5u);
  for (std::size_t k = 0; k < 5; ++k) {
    SCOPED_TRACE("slice " + std::to_string(k));
    EXPECT_NEAR(position_of(files, s.slices[k]).z, 40 - 3.0 * static_cast<double>(k), 1e-9);
    if (k > 0) {
      EXPECT_GT(s.slices[k].normal_mm, s.slices[k - 1].normal_mm);
    }
  }
  expect_vec_near(s.geometry.origin_lps_mm, {-120, 100, 40}, 1e-6, "origin");
  expect_vec_near(s.geometry.axis(1), {0, -1, 0}, 1e-9, "axis 1");
  expect_vec_near(s.geometry.axis(2), {0, 0, -1}, 1e-9, "axis 2");
  EXPECT_NEAR(s.geometry.spacing_mm[2], 3.0, 1e-6);
  EXPECT_EQ(s.spacing_regularity, "uniform");
}

// ---------------------------------------------------------------------------------------------
// 2. Oblique and non-axial orientations
// ---------------------------------------------------------------------------------------------

namespace {

/// Assembles a shuffled stack with `orientation` and checks that voxel (i, j, k) of the geometry
/// lies at DICOM position(k) + i*column_spacing*row_cosine + j*row_spacing*column_cosine.
void check_index_to_lps_matches_dicom(const std::array<double, 6>& orientation, Vec3 first, double gap,
                                      const std::string& uid) {
  const int n = 7;
  const auto stack = ct_stack(uid, n, first, gap, orientation);
  const auto files = permuted(stack, {6, 1, 4, 0, 3, 5, 2});
  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 1u);
  const Series& s = series[0];
  EXPECT_TRUE(s.usable) << s.unusable_reason;
  ASSERT_EQ(s.slices.size(), static_cast<std::size_t>(n));
  EXPECT_FALSE(s.needs_resampling);
  EXPECT_EQ(s.spacing_regularity, "uniform");
  EXPECT_TRUE(s.qc_flags.empty()) << flags_of(s);

  const Geometry& g = s.geometry;
  ASSERT_NO_THROW(g.validate("oblique"));
  EXPECT_EQ(g.size[0], kColumns);
  EXPECT_EQ(g.size[1], kRows);
  EXPECT_EQ(g.size[2], static_cast<std::size_t>(n));
  expect_vec_near(g.axis(0), row_cosine(orientation), 1e-9, "axis 0 = row cosine");
  expect_vec_near(g.axis(1), column_cosine(orientation), 1e-9, "axis 1 = column cosine");
  expect_vec_near(g.axis(2), normal_of(orientation), 1e-9, "axis 2 = normal");

  const Vec3 r = row_cosine(orientation), c = column_cosine(orientation), nrm = normal_of(orientation);
  for (int k = 0; k < n; ++k) {
    // Expected slice positions computed independently of the assembly: k-th along the normal.
    const Vec3 slice_position = first + (k * gap) * nrm;
    EXPECT_NEAR(position_of(files, s.slices[static_cast<std::size_t>(k)]).x, slice_position.x, 1e-9);
    EXPECT_NEAR(position_of(files, s.slices[static_cast<std::size_t>(k)]).y, slice_position.y, 1e-9);
    EXPECT_NEAR(position_of(files, s.slices[static_cast<std::size_t>(k)]).z, slice_position.z, 1e-9);
    for (const auto& [i, j] : {std::pair{0.0, 0.0}, std::pair{95.0, 0.0}, std::pair{0.0, 63.0},
                               std::pair{17.0, 42.0}, std::pair{95.0, 63.0}}) {
      const Vec3 expected = slice_position + (i * kColumnSpacing) * r + (j * kRowSpacing) * c;
      expect_vec_near(g.index_to_lps({i, j, static_cast<double>(k)}), expected, 1e-4,
                      "voxel (" + std::to_string(i) + ", " + std::to_string(j) + ", " + std::to_string(k) + ")");
    }
  }
}

}  // namespace

TEST(SeriesAssembly, AxialRotated20DegreesAboutZMapsIndicesToDicomPositions) {
  const double a = 20 * std::numbers::pi / 180;
  const std::array<double, 6> orientation{std::cos(a), std::sin(a), 0, -std::sin(a), std::cos(a), 0};
  check_index_to_lps_matches_dicom(orientation, {-80.5, 33.25, -210}, 4.0, "1.2.826.0.1.3680043.10.543.110");
}

TEST(SeriesAssembly, SagittalStackMapsIndicesToDicomPositions) {
  // Normal (-1,0,0): the first slice along the normal is the one with the largest x.
  check_index_to_lps_matches_dicom(kSagittal, {30, -90, 120}, 1.5, "1.2.826.0.1.3680043.10.543.111");
}

TEST(SeriesAssembly, DoubleObliqueStackMapsIndicesToDicomPositions) {
  // Row cosine rotated 25 degrees about z, column cosine tilted 30 degrees out of the axial plane.
  const double a = 25 * std::numbers::pi / 180, b = 30 * std::numbers::pi / 180;
  const Vec3 r{std::cos(a), std::sin(a), 0};
  const Vec3 c{-std::sin(a) * std::cos(b), std::cos(a) * std::cos(b), -std::sin(b)};
  ASSERT_NEAR(dot(r, c), 0, 1e-12);
  check_index_to_lps_matches_dicom({r.x, r.y, r.z, c.x, c.y, c.z}, {12, -40, 75}, 2.0,
                                   "1.2.826.0.1.3680043.10.543.112");
}

// ---------------------------------------------------------------------------------------------
// 3. Localizers
// ---------------------------------------------------------------------------------------------

TEST(SeriesAssembly, LocalizerImageTypeIsRecognised) {
  auto f = ct_slice("1.2.826.0.1.3680043.10.543.120", 1, {0, 0, 0}, kCoronal);
  EXPECT_FALSE(f.is_localizer());
  f.image_type = {"ORIGINAL", "PRIMARY", "LOCALIZER"};
  EXPECT_TRUE(f.is_localizer());
  f.image_type = {"ORIGINAL", "PRIMARY", "SCOUT"};
  EXPECT_TRUE(f.is_localizer());
}

TEST(SeriesAssembly, LocalizerInsideAnAxialUidIsDroppedWithFlag) {
  const std::string uid = "1.2.826.0.1.3680043.10.543.121";
  auto files = ct_stack(uid, 8, {-120, -100, 0}, 5.0, kAxial, 3);
  auto coronal_scout = ct_slice(uid, 1, {-250, 0, 200}, kCoronal);
  coronal_scout.image_type = {"ORIGINAL", "PRIMARY", "LOCALIZER"};
  auto sagittal_scout = ct_slice(uid, 2, {0, -250, 200}, kSagittal);
  sagittal_scout.image_type = {"ORIGINAL", "PRIMARY", "LOCALIZER"};
  files.insert(files.begin() + 3, sagittal_scout);
  files.insert(files.begin(), coronal_scout);

  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 1u) << "localizers are dropped, not kept as a series of their own";
  const Series& s = series[0];
  EXPECT_TRUE(s.usable) << s.unusable_reason;
  ASSERT_EQ(s.slices.size(), 8u);
  EXPECT_EQ(s.geometry.size[2], 8u);
  for (const auto& ref : s.slices) EXPECT_FALSE(files.at(ref.file_index).is_localizer());
  expect_vec_near(s.geometry.axis(2), {0, 0, 1}, 1e-9, "axis 2");
  EXPECT_TRUE(has_flag(s, "dropped_localizer")) << flags_of(s);
  EXPECT_FALSE(has_flag(s, "split_series")) << flags_of(s);
  EXPECT_EQ(s.spacing_regularity, "uniform");
}

TEST(SeriesAssembly, UidWithOnlyLocalizersIsUnusableAndOtherSeriesAreUnaffected) {
  const std::string scout_uid = "1.2.826.0.1.3680043.10.543.122";
  const std::string axial_uid = "1.2.826.0.1.3680043.10.543.123";
  std::vector<DicomFileInfo> files;
  auto coronal = ct_slice(scout_uid, 1, {-250, 0, 200}, kCoronal);
  coronal.image_type = {"ORIGINAL", "PRIMARY", "LOCALIZER"};
  auto sagittal = ct_slice(scout_uid, 2, {0, -250, 200}, kSagittal);
  sagittal.image_type = {"ORIGINAL", "PRIMARY", "LOCALIZER"};
  files.push_back(coronal);
  append(files, ct_stack(axial_uid, 4, {-120, -100, 0}, 5.0));
  files.push_back(sagittal);

  const auto series = assemble_series(files);
  const auto scouts = with_uid(series, scout_uid);
  ASSERT_FALSE(scouts.empty()) << "a UID of localizers only still gives a (unusable) Series";
  for (const Series* s : scouts) {
    EXPECT_FALSE(s->usable);
    EXPECT_FALSE(s->unusable_reason.empty());
  }
  const auto axial = with_uid(series, axial_uid);
  ASSERT_EQ(axial.size(), 1u);
  EXPECT_TRUE(axial[0]->usable) << axial[0]->unusable_reason;
  EXPECT_EQ(axial[0]->slices.size(), 4u);
  EXPECT_FALSE(has_flag(*axial[0], "dropped_localizer")) << flags_of(*axial[0]);
}

// ---------------------------------------------------------------------------------------------
// 4, 5, 10. Splitting one Series Instance UID into several volumes
// ---------------------------------------------------------------------------------------------

TEST(SeriesAssembly, TwoOrientationsInOneUidGiveTwoSplitSeries) {
  const std::string uid = "1.2.826.0.1.3680043.10.543.130";
  const auto axial = ct_stack(uid, 10, {-120, -100, 0}, 3.0, kAxial, 1);
  const auto coronal = ct_stack(uid, 10, {-120, -60, 80}, 4.0, kCoronal, 11);
  std::vector<DicomFileInfo> files;
  for (std::size_t n = 0; n < 10; ++n) {  // interleaved
    files.push_back(coronal[9 - n]);
    files.push_back(axial[n]);
  }

  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 2u);
  EXPECT_NE(series[0].id, series[1].id);
  int axial_count = 0, coronal_count = 0;
  for (const auto& s : series) {
    SCOPED_TRACE(s.id);
    EXPECT_EQ(s.series_instance_uid, uid);
    EXPECT_TRUE(starts_with(s.id, uid)) << s.id;
    EXPECT_TRUE(has_flag(s, "split_series")) << flags_of(s);
    EXPECT_TRUE(s.usable) << s.unusable_reason;
    ASSERT_EQ(s.slices.size(), 10u);
    const Vec3 n2 = s.geometry.axis(2);
    const bool is_axial = std::abs(n2.z - 1) < 1e-6;
    const bool is_coronal = std::abs(n2.y - 1) < 1e-6;
    EXPECT_TRUE(is_axial || is_coronal);
    axial_count += is_axial;
    coronal_count += is_coronal;
    const auto& expected_orientation = is_axial ? kAxial : kCoronal;
    for (const auto& ref : s.slices) EXPECT_EQ(files.at(ref.file_index).frames[0].orientation, expected_orientation);
    EXPECT_NEAR(s.geometry.spacing_mm[2], is_axial ? 3.0 : 4.0, 1e-6);
    EXPECT_EQ(s.spacing_regularity, "uniform");
  }
  EXPECT_EQ(axial_count, 1);
  EXPECT_EQ(coronal_count, 1);
}

TEST(SeriesAssembly, TwoEchoesAtTheSamePositionsGiveTwoSplitSeriesWithoutDuplicateRemoval) {
  const std::string uid = "1.2.826.0.1.3680043.10.543.131";
  auto echo1 = ct_stack(uid, 5, {-120, -100, 0}, 5.0, kAxial, 1);
  auto echo2 = ct_stack(uid, 5, {-120, -100, 0}, 5.0, kAxial, 6);
  std::vector<DicomFileInfo> files;
  for (std::size_t n = 0; n < 5; ++n) {
    echo1[n].modality = echo2[n].modality = "MR";
    echo1[n].echo_number = 1;
    echo1[n].echo_time_ms = 4.6;
    echo2[n].echo_number = 2;
    echo2[n].echo_time_ms = 9.2;
    files.push_back(echo2[n]);
    files.push_back(echo1[n]);
  }

  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 2u);
  EXPECT_NE(series[0].id, series[1].id);
  std::vector<int> echoes;
  for (const auto& s : series) {
    SCOPED_TRACE(s.id);
    EXPECT_TRUE(starts_with(s.id, uid)) << s.id;
    EXPECT_TRUE(has_flag(s, "split_series")) << flags_of(s);
    EXPECT_FALSE(has_flag(s, "duplicate_positions_removed")) << flags_of(s);
    ASSERT_EQ(s.slices.size(), 5u);
    const int echo = files.at(s.slices[0].file_index).echo_number;
    for (const auto& ref : s.slices) EXPECT_EQ(files.at(ref.file_index).echo_number, echo);
    echoes.push_back(echo);
    EXPECT_EQ(s.spacing_regularity, "uniform");
    EXPECT_NEAR(s.geometry.spacing_mm[2], 5.0, 1e-6);
  }
  std::sort(echoes.begin(), echoes.end());
  EXPECT_EQ(echoes, (std::vector<int>{1, 2}));
}

TEST(SeriesAssembly, DifferentRowsAndColumnsInOneUidAreSplitBySize) {
  const std::string uid = "1.2.826.0.1.3680043.10.543.132";
  const auto small = ct_stack(uid, 5, {-120, -100, 0}, 2.0, kAxial, 1);
  auto large = ct_stack(uid, 5, {-120, -100, 0}, 2.0, kAxial, 6);
  for (auto& f : large) {
    f.rows = 128;
    f.columns = 160;
    f.pixel_data_bytes = 128u * 160u * 2u;
  }
  std::vector<DicomFileInfo> files;
  for (std::size_t n = 0; n < 5; ++n) {
    files.push_back(small[n]);
    files.push_back(large[4 - n]);
  }

  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 2u);
  EXPECT_NE(series[0].id, series[1].id);
  bool saw_small = false, saw_large = false;
  for (const auto& s : series) {
    SCOPED_TRACE(s.id);
    EXPECT_TRUE(has_flag(s, "split_series")) << flags_of(s);
    EXPECT_FALSE(has_flag(s, "duplicate_positions_removed")) << flags_of(s);
    ASSERT_EQ(s.slices.size(), 5u);
    const auto columns = files.at(s.slices[0].file_index).columns;
    const auto rows = files.at(s.slices[0].file_index).rows;
    for (const auto& ref : s.slices) {
      EXPECT_EQ(files.at(ref.file_index).columns, columns);
      EXPECT_EQ(files.at(ref.file_index).rows, rows);
    }
    EXPECT_EQ(s.geometry.size[0], columns);
    EXPECT_EQ(s.geometry.size[1], rows);
    EXPECT_EQ(s.geometry.size[2], 5u);
    saw_small |= (columns == kColumns && rows == kRows);
    saw_large |= (columns == 160 && rows == 128);
  }
  EXPECT_TRUE(saw_small);
  EXPECT_TRUE(saw_large);
}

// ---------------------------------------------------------------------------------------------
// 6, 7, 8. Duplicates, missing slices and uneven gaps
// ---------------------------------------------------------------------------------------------

TEST(SeriesAssembly, DuplicatePositionKeepsTheLowestInstanceAndFlags) {
  const std::string uid = "1.2.826.0.1.3680043.10.543.140";
  auto files = ct_stack(uid, 5, {-120, -100, 0}, 5.0, kAxial, 1);  // instances 1..5
  // A second image at the position of instance 3 (z = 10), different SOP UID, higher instance,
  // placed before the original in file order.
  auto duplicate = ct_slice(uid, 17, {-120, -100, 10});
  ASSERT_NE(duplicate.sop_instance_uid, files[2].sop_instance_uid);
  files.insert(files.begin(), duplicate);

  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 1u);
  const Series& s = series[0];
  EXPECT_TRUE(s.usable) << s.unusable_reason;
  ASSERT_EQ(s.slices.size(), 5u);
  EXPECT_EQ(s.geometry.size[2], 5u);
  EXPECT_TRUE(has_flag(s, "duplicate_positions_removed")) << flags_of(s);
  EXPECT_FALSE(has_flag(s, "split_series")) << flags_of(s);
  EXPECT_EQ(files.at(s.slices[2].file_index).instance_number, 3);
  EXPECT_NEAR(position_of(files, s.slices[2]).z, 10, 1e-9);
  EXPECT_EQ(s.spacing_regularity, "uniform");
  EXPECT_NEAR(s.geometry.spacing_mm[2], 5.0, 1e-6);
}

TEST(SeriesAssembly, MissingSliceKeepsNominalSpacingAndFillsTheGridNeverAveraging) {
  const std::string uid = "1.2.826.0.1.3680043.10.543.141";
  const auto files = permuted(ct_at_z(uid, {0, 5, 10, 20, 25}), {4, 1, 3, 0, 2});

  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 1u);
  const Series& s = series[0];
  EXPECT_TRUE(s.usable) << s.unusable_reason;
  EXPECT_EQ(s.slices.size(), 5u);
  EXPECT_TRUE(has_flag(s, "missing_slices")) << flags_of(s);
  EXPECT_FALSE(has_flag(s, "non_uniform_spacing_resampled")) << flags_of(s);
  EXPECT_EQ(s.spacing_regularity, "missing_slices");
  EXPECT_TRUE(s.needs_resampling);
  EXPECT_NEAR(s.nominal_spacing_mm, 5.0, 1e-6);
  EXPECT_NEAR(s.min_gap_mm, 5.0, 1e-6);
  EXPECT_NEAR(s.max_gap_mm, 10.0, 1e-6);
  EXPECT_NEAR(s.geometry.spacing_mm[2], 5.0, 1e-6);
  EXPECT_GT(std::abs(s.geometry.spacing_mm[2] - 25.0 / 4.0), 0.5) << "spacing must not be averaged";
  EXPECT_EQ(s.geometry.size[2], 6u) << "grid covers 0..25 mm at 5 mm";
  expect_vec_near(s.geometry.origin_lps_mm, {-120, -100, 0}, 1e-6, "origin");
  EXPECT_NO_THROW(s.geometry.validate("missing slices"));
}

TEST(SeriesAssembly, NonUniformGapsResampleAtTheMedianGapByDefault) {
  const std::string uid = "1.2.826.0.1.3680043.10.543.142";
  const auto files = permuted(ct_at_z(uid, {0, 5, 10, 17, 22}), {2, 4, 0, 3, 1});

  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 1u);
  const Series& s = series[0];
  EXPECT_TRUE(s.usable) << s.unusable_reason;
  EXPECT_EQ(s.slices.size(), 5u);
  EXPECT_TRUE(has_flag(s, "non_uniform_spacing_resampled")) << flags_of(s);
  EXPECT_FALSE(has_flag(s, "missing_slices")) << flags_of(s) << " (a 7 mm gap is no multiple of 5 mm)";
  EXPECT_EQ(s.spacing_regularity, "non_uniform");
  EXPECT_TRUE(s.needs_resampling);
  EXPECT_NEAR(s.nominal_spacing_mm, 5.0, 1e-6);
  EXPECT_NEAR(s.min_gap_mm, 5.0, 1e-6);
  EXPECT_NEAR(s.max_gap_mm, 7.0, 1e-6);
  EXPECT_NEAR(s.geometry.spacing_mm[2], 5.0, 1e-6) << "median gap, not the average 5.5";
  EXPECT_GT(std::abs(s.geometry.spacing_mm[2] - 5.5), 0.25);
  EXPECT_GE(s.geometry.size[2], 5u);
  EXPECT_LE(s.geometry.size[2], 6u);
  expect_vec_near(s.geometry.origin_lps_mm, {-120, -100, 0}, 1e-6, "origin");
}

TEST(SeriesAssembly, NonUniformGapsWithRefusePolicyAreUnusableBecauseOfSpacing) {
  const std::string uid = "1.2.826.0.1.3680043.10.543.143";
  const auto files = ct_at_z(uid, {0, 5, 10, 17, 22});

  const auto series = assemble_series(files, AssemblyOptions{NonUniformPolicy::Refuse});
  ASSERT_EQ(series.size(), 1u);
  EXPECT_FALSE(series[0].usable);
  EXPECT_NE(lower(series[0].unusable_reason).find("spacing"), std::string::npos) << series[0].unusable_reason;
}

TEST(SeriesAssembly, RefusePolicyLeavesUniformStacksUsable) {
  const auto files = ct_at_z("1.2.826.0.1.3680043.10.543.144", {0, 5, 10, 15, 20});
  const auto series = assemble_series(files, AssemblyOptions{NonUniformPolicy::Refuse});
  ASSERT_EQ(series.size(), 1u);
  EXPECT_TRUE(series[0].usable) << series[0].unusable_reason;
  EXPECT_EQ(series[0].spacing_regularity, "uniform");
}

TEST(SeriesAssembly, GapJitterWithinToleranceIsUniform) {
  // Gaps 5.01, 4.99, 5.02, 4.98: at most 0.4 % from the median, inside the default 1 %.
  const auto files = ct_at_z("1.2.826.0.1.3680043.10.543.145", {0, 5.01, 10, 15.02, 20});
  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 1u);
  const Series& s = series[0];
  EXPECT_EQ(s.spacing_regularity, "uniform");
  EXPECT_FALSE(s.needs_resampling);
  EXPECT_TRUE(s.qc_flags.empty()) << flags_of(s);
  EXPECT_NEAR(s.geometry.spacing_mm[2], 5.0, 0.03);
  EXPECT_EQ(s.geometry.size[2], 5u);
}

// ---------------------------------------------------------------------------------------------
// 9. Gantry tilt
// ---------------------------------------------------------------------------------------------

namespace {

void check_gantry_tilt(double header_tilt_deg, const std::string& uid) {
  const double gap = 3.0, shift = std::tan(15 * std::numbers::pi / 180) * gap;
  std::vector<DicomFileInfo> stack;
  for (int k = 0; k < 8; ++k) {
    auto f = ct_slice(uid, k + 1, {-120, -100 + k * shift, -30 + k * gap});
    f.gantry_tilt_deg = header_tilt_deg;
    stack.push_back(f);
  }
  const auto files = permuted(stack, {5, 0, 7, 2, 4, 1, 6, 3});

  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 1u);
  const Series& s = series[0];
  EXPECT_TRUE(s.usable) << s.unusable_reason;
  ASSERT_EQ(s.slices.size(), 8u);
  for (std::size_t k = 0; k < 8; ++k)
    EXPECT_NEAR(position_of(files, s.slices[k]).z, -30 + gap * static_cast<double>(k), 1e-9);
  EXPECT_TRUE(has_flag(s, "gantry_tilt_resampled")) << flags_of(s);
  EXPECT_FALSE(has_flag(s, "split_series")) << flags_of(s);
  EXPECT_TRUE(s.needs_resampling);
  EXPECT_NO_THROW(s.geometry.validate("tilted"));
  expect_vec_near(s.geometry.axis(0), {1, 0, 0}, 1e-6, "axis 0");
  expect_vec_near(s.geometry.axis(1), {0, 1, 0}, 1e-6, "axis 1");
  expect_vec_near(s.geometry.axis(2), {0, 0, 1}, 1e-6, "axis 2 = slice normal, not the sheared stack axis");
  EXPECT_NEAR(s.geometry.spacing_mm[0], kColumnSpacing, 1e-6);
  EXPECT_NEAR(s.geometry.spacing_mm[1], kRowSpacing, 1e-6);
  EXPECT_NEAR(s.geometry.spacing_mm[2], gap, 1e-6) << "distance between slice planes along the normal";
}

}  // namespace

TEST(SeriesAssembly, GantryTiltIsResampledOntoAnOrthogonalGridAlongTheSliceNormal) {
  check_gantry_tilt(15.0, "1.2.826.0.1.3680043.10.543.150");
}

TEST(SeriesAssembly, GantryTiltIsDetectedFromPositionsWhenTheTiltTagIsAbsent) {
  check_gantry_tilt(0.0, "1.2.826.0.1.3680043.10.543.151");
}

// ---------------------------------------------------------------------------------------------
// 11. Enhanced multi-frame
// ---------------------------------------------------------------------------------------------

TEST(SeriesAssembly, EnhancedMultiFrameGivesOneSeriesWithFramesInPositionOrder) {
  const std::string uid = "1.2.826.0.1.3680043.10.543.160";
  auto f = ct_slice(uid, 1, {0, 0, 0});
  f.sop_class_uid = "1.2.840.10008.5.1.4.1.1.2.1";  // Enhanced CT Image Storage
  f.enhanced = true;
  f.number_of_frames = 5;
  f.pixel_data_bytes = std::uint64_t{kRows} * kColumns * 2 * 5;
  const FrameInfo base = f.frames[0];
  f.frames.clear();
  for (int n = 0; n < 5; ++n) {  // frame n at z = 16 - 4n: reverse position order
    FrameInfo frame = base;
    frame.position_lps_mm = Vec3{-120, -100, 16 - 4.0 * n};
    frame.rescale_slope = 1.0 + 0.5 * n;
    frame.rescale_intercept = -1024 + 10.0 * n;
    frame.stack_id = "1";
    frame.stack_position = n + 1;
    f.frames.push_back(frame);
  }
  const std::vector<DicomFileInfo> files{f};

  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 1u);
  const Series& s = series[0];
  EXPECT_TRUE(s.usable) << s.unusable_reason;
  ASSERT_EQ(s.slices.size(), 5u);
  for (std::size_t k = 0; k < 5; ++k) {
    SCOPED_TRACE("slice " + std::to_string(k));
    EXPECT_EQ(s.slices[k].file_index, 0u);
    EXPECT_EQ(s.slices[k].frame, 4 - k);
    EXPECT_NEAR(s.slices[k].normal_mm, 4.0 * static_cast<double>(k), 1e-6);
  }
  EXPECT_EQ(s.geometry.size[0], kColumns);
  EXPECT_EQ(s.geometry.size[1], kRows);
  EXPECT_EQ(s.geometry.size[2], 5u);
  EXPECT_NEAR(s.geometry.spacing_mm[2], 4.0, 1e-6);
  expect_vec_near(s.geometry.origin_lps_mm, {-120, -100, 0}, 1e-6, "origin = frame 4");
  EXPECT_EQ(s.spacing_regularity, "uniform");
  EXPECT_FALSE(has_flag(s, "split_series")) << flags_of(s);
  EXPECT_FALSE(has_flag(s, "duplicate_positions_removed")) << flags_of(s);
  EXPECT_FALSE(s.needs_resampling);
}

// ---------------------------------------------------------------------------------------------
// 12. Dixon roles
// ---------------------------------------------------------------------------------------------

TEST(SeriesAssembly, DixonRoleNamesAreStable) {
  EXPECT_EQ(to_string(DixonRole::None), "none");
  EXPECT_EQ(to_string(DixonRole::Water), "water");
  EXPECT_EQ(to_string(DixonRole::Fat), "fat");
  EXPECT_EQ(to_string(DixonRole::InPhase), "in_phase");
  EXPECT_EQ(to_string(DixonRole::OpposedPhase), "opposed_phase");
  EXPECT_EQ(to_string(DixonRole::FatFraction), "fat_fraction");
}

TEST(SeriesAssembly, DixonRoleFromImageTypeLastValue) {
  auto f = ct_slice("1.2.826.0.1.3680043.10.543.170", 1, {0, 0, 0});
  f.modality = "MR";
  f.series_description = "t1_vibe_dixon_tra";
  const std::vector<std::pair<std::string, DixonRole>> cases{
      {"WATER", DixonRole::Water},         {"FAT", DixonRole::Fat},
      {"IN_PHASE", DixonRole::InPhase},    {"OUT_PHASE", DixonRole::OpposedPhase},
      {"OPP", DixonRole::OpposedPhase},    {"FF", DixonRole::FatFraction}};
  for (const auto& [last, role] : cases) {
    f.image_type = {"DERIVED", "PRIMARY", "DIXON", last};
    EXPECT_EQ(f.dixon_role(), role) << last;
  }
}

TEST(SeriesAssembly, DixonRoleFromSeriesDescriptionSuffix) {
  auto f = ct_slice("1.2.826.0.1.3680043.10.543.171", 1, {0, 0, 0});
  f.modality = "MR";
  f.image_type = {"ORIGINAL", "PRIMARY", "M", "ND"};
  const std::vector<std::pair<std::string, DixonRole>> cases{{"mDIXON_thigh_W", DixonRole::Water},
                                                             {"mDIXON_thigh_F", DixonRole::Fat},
                                                             {"t1_vibe_dixon_tra_in", DixonRole::InPhase},
                                                             {"t1_vibe_dixon_tra_opp", DixonRole::OpposedPhase}};
  for (const auto& [description, role] : cases) {
    f.series_description = description;
    EXPECT_EQ(f.dixon_role(), role) << description;
  }
}

TEST(SeriesAssembly, PlainT1HasNoDixonRole) {
  auto f = ct_slice("1.2.826.0.1.3680043.10.543.172", 1, {0, 0, 0});
  f.modality = "MR";
  f.image_type = {"ORIGINAL", "PRIMARY", "M", "ND"};
  for (const std::string description : {"t1_tse_tra", "T1_TSE_TRA_FS", "ax t1 fse"}) {
    f.series_description = description;
    EXPECT_EQ(f.dixon_role(), DixonRole::None) << description;
  }
}

TEST(SeriesAssembly, SeriesCarriesTheDixonRoleOfItsFiles) {
  const std::string water_uid = "1.2.826.0.1.3680043.10.543.173";
  const std::string fat_uid = "1.2.826.0.1.3680043.10.543.174";
  const std::string t1_uid = "1.2.826.0.1.3680043.10.543.175";
  std::vector<DicomFileInfo> files;
  for (auto f : ct_stack(water_uid, 4, {0, 0, 0}, 5.0)) {
    f.modality = "MR";
    f.image_type = {"DERIVED", "PRIMARY", "DIXON", "WATER"};
    files.push_back(f);
  }
  for (auto f : ct_stack(fat_uid, 4, {0, 0, 0}, 5.0)) {
    f.modality = "MR";
    f.image_type = {"ORIGINAL", "PRIMARY", "M", "ND"};
    f.series_description = "mDIXON_thigh_F";
    files.push_back(f);
  }
  for (auto f : ct_stack(t1_uid, 4, {0, 0, 0}, 5.0)) {
    f.modality = "MR";
    f.image_type = {"ORIGINAL", "PRIMARY", "M", "ND"};
    f.series_description = "t1_tse_tra";
    files.push_back(f);
  }

  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 3u);
  const auto water = with_uid(series, water_uid), fat = with_uid(series, fat_uid), t1 = with_uid(series, t1_uid);
  ASSERT_EQ(water.size(), 1u);
  ASSERT_EQ(fat.size(), 1u);
  ASSERT_EQ(t1.size(), 1u);
  EXPECT_EQ(water[0]->dixon_role, DixonRole::Water);
  EXPECT_EQ(fat[0]->dixon_role, DixonRole::Fat);
  EXPECT_EQ(t1[0]->dixon_role, DixonRole::None);
}

TEST(SeriesAssembly, DixonImagesSharingOneUidAreSplitByImageTypeWithTheirRoles) {
  // Some vendors store water and fat images in one Series Instance UID at the same positions.
  const std::string uid = "1.2.826.0.1.3680043.10.543.176";
  auto water = ct_stack(uid, 4, {0, 0, 0}, 5.0, kAxial, 1);
  auto fat = ct_stack(uid, 4, {0, 0, 0}, 5.0, kAxial, 5);
  std::vector<DicomFileInfo> files;
  for (std::size_t n = 0; n < 4; ++n) {
    water[n].modality = fat[n].modality = "MR";
    water[n].image_type = {"DERIVED", "PRIMARY", "DIXON", "WATER"};
    fat[n].image_type = {"DERIVED", "PRIMARY", "DIXON", "FAT"};
    files.push_back(fat[n]);
    files.push_back(water[n]);
  }
  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 2u);
  std::vector<DixonRole> roles;
  for (const auto& s : series) {
    EXPECT_TRUE(has_flag(s, "split_series")) << flags_of(s);
    EXPECT_FALSE(has_flag(s, "duplicate_positions_removed")) << flags_of(s);
    EXPECT_EQ(s.slices.size(), 4u);
    for (const auto& ref : s.slices) EXPECT_EQ(files.at(ref.file_index).dixon_role(), s.dixon_role);
    roles.push_back(s.dixon_role);
  }
  std::sort(roles.begin(), roles.end());
  EXPECT_EQ(roles, (std::vector<DixonRole>{DixonRole::Water, DixonRole::Fat}));
}

// ---------------------------------------------------------------------------------------------
// 13. Ultrasound
// ---------------------------------------------------------------------------------------------

namespace {

DicomFileInfo us_image(const std::string& series_uid) {
  DicomFileInfo f;
  f.sop_instance_uid = series_uid + ".9.1";
  f.path = "/synthetic/" + f.sop_instance_uid + ".dcm";
  f.transfer_syntax_uid = "1.2.840.10008.1.2.1";
  f.sop_class_uid = kUsImageStorage;
  f.modality = "US";
  f.manufacturer = "ACME";
  f.patient_name = "Synthetic^Patient";
  f.patient_id = "SYN001";
  f.study_instance_uid = "1.2.826.0.1.3680043.10.543.3";
  f.series_instance_uid = series_uid;
  f.series_description = "quadriceps";
  f.image_type = {"ORIGINAL", "PRIMARY"};
  f.instance_number = 1;
  f.rows = 480;
  f.columns = 640;
  f.number_of_frames = 1;
  f.samples_per_pixel = 3;
  f.bits_allocated = 8;
  f.bits_stored = 8;
  f.high_bit = 7;
  f.photometric = "RGB";
  f.has_pixel_data = true;
  f.pixel_data_bytes = 480u * 640u * 3u;
  f.frames = {FrameInfo{}};  // no position, orientation or pixel spacing
  return f;
}

}  // namespace

TEST(SeriesAssembly, UltrasoundIsCalibratedFromTheTissueRegionNotTheColourFlowRegion) {
  auto f = us_image("1.2.826.0.1.3680043.10.543.180");
  UltrasoundRegionInfo flow;
  flow.spatial_format = 1;
  flow.data_type = 2;  // colour flow
  flow.min_x0 = 200;
  flow.min_y0 = 100;
  flow.max_x1 = 400;
  flow.max_y1 = 300;
  flow.units_x = flow.units_y = 3;
  flow.physical_delta_x = flow.physical_delta_y = 0.02;
  UltrasoundRegionInfo tissue;
  tissue.spatial_format = 1;
  tissue.data_type = 1;  // tissue
  tissue.min_x0 = 50;
  tissue.min_y0 = 40;
  tissue.max_x1 = 589;
  tissue.max_y1 = 439;
  tissue.units_x = tissue.units_y = 3;  // cm
  tissue.physical_delta_x = tissue.physical_delta_y = 0.01;
  f.ultrasound_regions = {flow, tissue};
  const std::vector<DicomFileInfo> files{f};

  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 1u);
  const Series& s = series[0];
  EXPECT_TRUE(s.usable) << s.unusable_reason;
  EXPECT_EQ(s.modality, "US");
  EXPECT_TRUE(s.color);
  EXPECT_EQ(s.photometric, "RGB");
  ASSERT_TRUE(s.ultrasound.has_value());
  EXPECT_TRUE(s.ultrasound->calibrated);
  EXPECT_NEAR(s.ultrasound->pixel_width_mm, 0.1, 1e-9);
  EXPECT_NEAR(s.ultrasound->pixel_height_mm, 0.1, 1e-9);
  EXPECT_EQ(s.ultrasound->region_min_x, 50);
  EXPECT_EQ(s.ultrasound->region_min_y, 40);
  EXPECT_EQ(s.ultrasound->region_max_x, 589);
  EXPECT_EQ(s.ultrasound->region_max_y, 439);
  EXPECT_FALSE(has_flag(s, "ultrasound_uncalibrated")) << flags_of(s);
  ASSERT_EQ(s.slices.size(), 1u);
  EXPECT_EQ(s.geometry.size[0], 640u);
  EXPECT_EQ(s.geometry.size[1], 480u);
  EXPECT_EQ(s.geometry.size[2], 1u);
}

TEST(SeriesAssembly, UltrasoundWithoutRegionsIsUncalibratedAndFlagged) {
  const std::vector<DicomFileInfo> files{us_image("1.2.826.0.1.3680043.10.543.181")};
  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 1u);
  const Series& s = series[0];
  EXPECT_TRUE(s.usable) << s.unusable_reason;
  EXPECT_TRUE(s.color);
  ASSERT_TRUE(s.ultrasound.has_value());
  EXPECT_FALSE(s.ultrasound->calibrated);
  EXPECT_TRUE(has_flag(s, "ultrasound_uncalibrated")) << flags_of(s);
  EXPECT_EQ(s.slices.size(), 1u);
}

TEST(SeriesAssembly, CtSeriesHasNoUltrasoundCalibration) {
  const auto series = assemble_series(ct_at_z("1.2.826.0.1.3680043.10.543.182", {0, 5, 10}));
  ASSERT_EQ(series.size(), 1u);
  EXPECT_FALSE(series[0].ultrasound.has_value());
  EXPECT_FALSE(has_flag(series[0], "ultrasound_uncalibrated"));
}

// ---------------------------------------------------------------------------------------------
// 14. Single slice
// ---------------------------------------------------------------------------------------------

TEST(SeriesAssembly, SingleSliceUsesSliceThicknessAsSpacingAndIsFlagged) {
  auto f = ct_slice("1.2.826.0.1.3680043.10.543.190", 1, {-120, -100, 42});
  f.frames[0].slice_thickness_mm = 3.0;
  const std::vector<DicomFileInfo> files{f};

  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 1u);
  const Series& s = series[0];
  EXPECT_TRUE(s.usable) << s.unusable_reason;
  EXPECT_EQ(s.spacing_regularity, "single");
  EXPECT_TRUE(has_flag(s, "single_slice")) << flags_of(s);
  EXPECT_FALSE(s.needs_resampling);
  EXPECT_NEAR(s.nominal_spacing_mm, 0.0, 1e-12);
  ASSERT_EQ(s.slices.size(), 1u);
  EXPECT_EQ(s.geometry.size[0], kColumns);
  EXPECT_EQ(s.geometry.size[1], kRows);
  EXPECT_EQ(s.geometry.size[2], 1u);
  EXPECT_NEAR(s.geometry.spacing_mm[0], kColumnSpacing, 1e-9);
  EXPECT_NEAR(s.geometry.spacing_mm[1], kRowSpacing, 1e-9);
  EXPECT_NEAR(s.geometry.spacing_mm[2], 3.0, 1e-9);
  expect_vec_near(s.geometry.origin_lps_mm, {-120, -100, 42}, 1e-9, "origin");
  EXPECT_NO_THROW(s.geometry.validate("single slice"));
}

// ---------------------------------------------------------------------------------------------
// 15. Several Series Instance UIDs
// ---------------------------------------------------------------------------------------------

TEST(SeriesAssembly, DifferentSeriesUidsStaySeparateAndKeepTheirPatientAndStudyFields) {
  const std::string uid_a = "1.2.826.0.1.3680043.10.543.200";
  const std::string uid_b = "1.2.826.0.1.3680043.10.543.201";
  auto a = ct_stack(uid_a, 4, {-120, -100, 0}, 5.0);
  for (auto& f : a) {
    f.patient_name = "Alpha^Anna";
    f.patient_id = "PA";
    f.study_instance_uid = "1.2.826.0.1.3680043.10.543.210";
    f.study_date = "20230301";
    f.study_description = "Thigh CT";
    f.series_description = "thigh 5mm";
    f.series_number = 4;
    f.frame_of_reference_uid = "1.2.826.0.1.3680043.10.543.220";
    f.body_part = "THIGH";
    f.manufacturer = "SIEMENS";
  }
  auto b = ct_stack(uid_b, 3, {-120, -100, 0}, 5.0);  // same positions as a, other series
  for (auto& f : b) {
    f.modality = "MR";
    f.patient_name = "Beta^Bert";
    f.patient_id = "PB";
    f.study_instance_uid = "1.2.826.0.1.3680043.10.543.211";
    f.study_date = "20240402";
    f.study_description = "Calf MR";
    f.series_description = "calf t1";
    f.series_number = 7;
    f.frame_of_reference_uid = "1.2.826.0.1.3680043.10.543.221";
    f.body_part = "LEG";
    f.manufacturer = "Philips";
    f.sop_class_uid = "1.2.840.10008.5.1.4.1.1.4";  // MR Image Storage
  }
  std::vector<DicomFileInfo> files{b[2], a[0], a[3], b[0], a[1], b[1], a[2]};

  const auto series = assemble_series(files);
  ASSERT_EQ(series.size(), 2u);
  const auto sa = with_uid(series, uid_a), sb = with_uid(series, uid_b);
  ASSERT_EQ(sa.size(), 1u);
  ASSERT_EQ(sb.size(), 1u);
  const Series& x = *sa[0];
  const Series& y = *sb[0];
  EXPECT_EQ(x.id, uid_a);
  EXPECT_EQ(y.id, uid_b);
  EXPECT_EQ(x.slices.size(), 4u);
  EXPECT_EQ(y.slices.size(), 3u);
  for (const auto& ref : x.slices) EXPECT_EQ(files.at(ref.file_index).series_instance_uid, uid_a);
  for (const auto& ref : y.slices) EXPECT_EQ(files.at(ref.file_index).series_instance_uid, uid_b);
  for (const Series* s : {&x, &y}) {
    EXPECT_FALSE(has_flag(*s, "split_series")) << flags_of(*s);
    EXPECT_FALSE(has_flag(*s, "duplicate_positions_removed")) << flags_of(*s);
  }

  EXPECT_EQ(x.patient_name, "Alpha^Anna");
  EXPECT_EQ(x.patient_id, "PA");
  EXPECT_EQ(x.study_instance_uid, "1.2.826.0.1.3680043.10.543.210");
  EXPECT_EQ(x.study_date, "20230301");
  EXPECT_EQ(x.study_description, "Thigh CT");
  EXPECT_EQ(x.series_description, "thigh 5mm");
  EXPECT_EQ(x.series_number, 4);
  EXPECT_EQ(x.frame_of_reference_uid, "1.2.826.0.1.3680043.10.543.220");
  EXPECT_EQ(x.body_part, "THIGH");
  EXPECT_EQ(x.manufacturer, "SIEMENS");
  EXPECT_EQ(x.modality, "CT");
  EXPECT_EQ(x.sop_class_uid, kCtImageStorage);
  EXPECT_EQ(x.image_type, (std::vector<std::string>{"ORIGINAL", "PRIMARY", "AXIAL"}));

  EXPECT_EQ(y.patient_name, "Beta^Bert");
  EXPECT_EQ(y.patient_id, "PB");
  EXPECT_EQ(y.study_instance_uid, "1.2.826.0.1.3680043.10.543.211");
  EXPECT_EQ(y.study_date, "20240402");
  EXPECT_EQ(y.study_description, "Calf MR");
  EXPECT_EQ(y.series_description, "calf t1");
  EXPECT_EQ(y.series_number, 7);
  EXPECT_EQ(y.frame_of_reference_uid, "1.2.826.0.1.3680043.10.543.221");
  EXPECT_EQ(y.body_part, "LEG");
  EXPECT_EQ(y.manufacturer, "Philips");
  EXPECT_EQ(y.modality, "MR");
  EXPECT_EQ(y.sop_class_uid, "1.2.840.10008.5.1.4.1.1.4");
}
