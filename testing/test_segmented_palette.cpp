// Segmented palette colour lookup tables (decoded with GDCM, which expands them without bounds
// checks): damaged tables found by fuzzing are named errors, a good one is decoded. GDCM is given
// a clean copy of the file, so elements it would assert on do not reach it.

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "musclecsa/core/error.h"
#include "musclecsa/core/progress.h"
#include "musclecsa/dicom/file_info.h"
#include "musclecsa/dicom/series.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace musclecsa;
using musclecsa::testing::TempDir;

namespace {

void check(const OFCondition& status, const std::string& what) {
  if (status.bad()) throw std::runtime_error(what + ": " + status.text());
}

std::string new_uid() {
  char buffer[100];
  return dcmGenerateUniqueIdentifier(buffer, SITE_INSTANCE_UID_ROOT);
}

/// A 2 x 2 ultrasound image in palette colour, 16-bit pixels 0..3, whose three segmented tables
/// are `segments` (16-bit words) under a descriptor of 65536 entries (written 0) of `bits` bits.
/// (GDCM reads palettes of 16-bit pixels only as 65536 entries.)
fs::path write_palette_image(const fs::path& path, const std::vector<Uint16>& segments, unsigned bits = 16,
                             const std::function<void(DcmDataset&)>& extra = {}) {
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  const auto put = [&](const DcmTagKey& tag, const std::string& value) {
    check(ds.putAndInsertString(DcmTag(tag), value.c_str()), "putting a value");
  };
  const auto put_u16 = [&](const DcmTagKey& tag, unsigned value) {
    check(ds.putAndInsertUint16(DcmTag(tag), static_cast<Uint16>(value)), "putting a US value");
  };
  put(DCM_SOPClassUID, "1.2.840.10008.5.1.4.1.1.6.1");
  put(DCM_SOPInstanceUID, new_uid());
  put(DCM_StudyInstanceUID, new_uid());
  put(DCM_SeriesInstanceUID, new_uid());
  put(DCM_Modality, "US");
  put(DCM_PatientName, "PALETTE^TEST");
  put(DCM_SeriesNumber, "1");
  put(DCM_InstanceNumber, "1");
  put_u16(DCM_Rows, 2);
  put_u16(DCM_Columns, 2);
  put_u16(DCM_SamplesPerPixel, 1);
  put(DCM_PhotometricInterpretation, "PALETTE COLOR");
  put_u16(DCM_BitsAllocated, 16);
  put_u16(DCM_BitsStored, 16);
  put_u16(DCM_HighBit, 15);
  put_u16(DCM_PixelRepresentation, 0);
  const Uint16 descriptor[3] = {0, 0, static_cast<Uint16>(bits)};
  for (const auto& [desc, data] : {std::pair{DCM_RedPaletteColorLookupTableDescriptor, DCM_SegmentedRedPaletteColorLookupTableData},
                                   std::pair{DCM_GreenPaletteColorLookupTableDescriptor, DCM_SegmentedGreenPaletteColorLookupTableData},
                                   std::pair{DCM_BluePaletteColorLookupTableDescriptor, DCM_SegmentedBluePaletteColorLookupTableData}}) {
    check(ds.putAndInsertUint16Array(desc, descriptor, 3), "putting a descriptor");
    check(ds.putAndInsertUint16Array(data, segments.data(), segments.size()), "putting segments");
  }
  const Uint16 pixels[4] = {0, 1, 2, 3};
  check(ds.putAndInsertUint16Array(DCM_PixelData, pixels, 4), "putting pixels");
  if (extra) extra(ds);
  fs::create_directories(path.parent_path());
  check(file.saveFile(path.c_str(), EXS_LittleEndianExplicit), "saving " + path.string());
  return path;
}

/// Reads the file and decodes its one series; returns the voxels, or throws the reader's Error.
std::vector<float> decode(const fs::path& path) {
  const auto info = dicom::read_file_info(path);
  const std::vector<dicom::DicomFileInfo> files{info};
  const auto series = dicom::assemble_series(files);
  if (series.size() != 1) throw std::runtime_error("expected one series");
  NullProgress progress;
  return dicom::load_series(series[0], files, progress).voxels;
}

std::string problem_of(const fs::path& path) {
  try {
    decode(path);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << e.what();
    return e.what();
  }
  ADD_FAILURE() << path << " was decoded";
  return "";
}

}  // namespace

TEST(SegmentedPalette, GoodTableOfDiscreteAndLinearSegmentsIsDecoded) {
  TempDir dir;
  // Discrete: entries 0..3 are 0, 21845, 43690, 65535; linear: 65532 more entries up to 65535.
  const auto path = write_palette_image(dir / "good.dcm", {0, 4, 0, 21845, 43690, 65535, 1, 65532, 65535});
  const auto voxels = decode(path);
  ASSERT_EQ(voxels.size(), 4u);
  EXPECT_NEAR(voxels[0], 0.0f, 0.01f);
  EXPECT_NEAR(voxels[1], 85.0f, 0.01f);   // grey (R = G = B): 21845 x 255 / 65535
  EXPECT_NEAR(voxels[3], 255.0f, 0.01f);
}

TEST(SegmentedPalette, DamagedTablesAreInvalidInputNotACrash) {
  TempDir dir;
  // A discrete segment declaring 1000 values where 2 follow (GDCM read past the data: SIGSEGV).
  auto problem = problem_of(write_palette_image(dir / "long_discrete.dcm", {0, 1000, 1, 2}));
  // The scan's GDCM guard (gdcm_guard.cpp) names it first; the decoder's own check is the second line.
  EXPECT_TRUE(problem.find("discrete segment of 1000 values") != std::string::npos ||
              problem.find("holds 1000 values and runs past the end") != std::string::npos) << problem;
  EXPECT_NE(problem.find("long_discrete.dcm"), std::string::npos) << problem;
  // An indirect segment that refers to itself (GDCM would recurse without end).
  problem = problem_of(write_palette_image(dir / "self.dcm", {0, 2, 5, 6, 2, 1, 8, 0}));
  EXPECT_NE(problem.find("indirect"), std::string::npos) << problem;
  // An indirect segment copying 5 segments where 1 follows its target (GDCM asserts).
  problem = problem_of(write_palette_image(dir / "copies.dcm", {0, 2, 5, 6, 2, 5, 0, 0}));
  EXPECT_TRUE(problem.find("more segments") != std::string::npos || problem.find("copies 5 segments") != std::string::npos)
      << problem;
  // A table cut inside a segment header, and one starting with a linear segment.
  problem = problem_of(write_palette_image(dir / "cut.dcm", {0, 2, 5, 6, 0}));
  EXPECT_TRUE(problem.find("header") != std::string::npos || problem.find("cut off") != std::string::npos) << problem;
  problem = problem_of(write_palette_image(dir / "linear_first.dcm", {1, 65535, 65535}));
  EXPECT_NE(problem.find("linear"), std::string::npos) << problem;
  // 8-bit entries in a segmented table (GDCM asserts: not implemented).
  problem = problem_of(write_palette_image(dir / "eight_bit.dcm", {0, 4, 0, 1, 2, 3, 1, 65532, 255}, 8));
  EXPECT_NE(problem.find("8-bit"), std::string::npos) << problem;
}

TEST(SegmentedPalette, GdcmIsGivenACleanCopySoAnElementWithAnotherVrDoesNotAbort) {
  TempDir dir;
  // Lossy Image Compression (0028,2110) as UL instead of CS: GDCM's own parser asserted on it
  // (found by fuzzing in a JPEG 2000 file; the palette file takes the same GDCM path).
  const auto path = write_palette_image(dir / "lossy_ul.dcm", {0, 4, 0, 21845, 43690, 65535, 1, 65532, 65535}, 16,
                                        [](DcmDataset& ds) {
                                          check(ds.putAndInsertUint32(DcmTag(DCM_LossyImageCompression, EVR_UL), 1),
                                                "putting a UL");
                                        });
  const auto voxels = decode(path);
  ASSERT_EQ(voxels.size(), 4u);
  EXPECT_NEAR(voxels[1], 85.0f, 0.01f);
  // The temporary copy is gone.
  for (const auto& entry : fs::directory_iterator(fs::temp_directory_path()))
    EXPECT_EQ(entry.path().filename().string().rfind("musclecsa-gdcm-" + std::to_string(::getpid()) + "-", 0), std::string::npos)
        << entry.path();
}
