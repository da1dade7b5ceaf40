// DICOM SEG of a label map: written from a CT phantom read back as DICOM, validated with dciodvfy,
// read back to the same grid and voxels, and checked for the source's patient, study, frame of
// reference and per-frame references.

#include <gtest/gtest.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <unistd.h>

#include "musclecsa/core/catalog.h"
#include "musclecsa/core/error.h"
#include "musclecsa/core/progress.h"
#include "musclecsa/dicom/file_info.h"
#include "musclecsa/dicom/series.h"
#include "musclecsa/phantom/phantom.h"
#include "musclecsa/report/dicom_seg.h"
#include "test_support.h"

using namespace musclecsa;
using musclecsa::testing::TempDir;
using musclecsa::testing::quoted;
using musclecsa::testing::run_command;

namespace {

/// A small thigh CT phantom written as DICOM and read back like the CLI does, with its truth labels.
struct PhantomCt {
  TempDir dir;
  phantom::Phantom truth;
  ScalarVolume volume;
  report::DicomSource source;
};

const PhantomCt& phantom_ct() {
  // Made once for all tests; destroyed (with its folder) at exit.
  static const std::unique_ptr<PhantomCt> made = [] {
    auto ct = std::make_unique<PhantomCt>();
    phantom::PhantomParams p;
    p.anatomy = phantom::Anatomy::Thigh;
    p.modality = phantom::PhantomModality::CT;
    p.columns = 160;
    p.pixel_spacing_mm = 2.5;
    p.slices = 6;
    p.slice_spacing_mm = 10;
    NullProgress progress;
    ct->truth = phantom::make_phantom(p, progress);
    phantom::write_phantom(ct->truth, ct->dir.path(), progress);

    const dicom::ScanResult scan = dicom::scan_paths({ct->dir.path() / "dicom" / "ct"}, progress);
    const std::vector<dicom::Series> all = dicom::assemble_series(scan.files);
    if (all.size() != 1 || !all.front().usable) throw std::runtime_error("the phantom CT should be one usable series");
    const dicom::Series& series = all.front();
    ct->volume = dicom::load_series(series, scan.files, progress);
    ct->source.series = ct->volume.source;
    ct->source.geometry = ct->volume.geometry;
    ct->source.any_file = scan.files[series.slices.front().file_index].path;
    ct->source.one_instance_per_slice = !series.needs_resampling && series.slices.size() == series.geometry.size[2];
    return ct;
  }();
  return *made;
}

report::SegOptions test_options() {
  report::SegOptions options;
  options.software_version = "9.8.7-test";
  options.series_number = 901;
  options.series_description = "MuscleCSA test segmentation";
  return options;
}

std::set<LabelId> labels_present(const LabelMap& labels) {
  std::set<LabelId> present;
  for (const LabelId label : labels.voxels)
    if (label != 0) present.insert(label);
  return present;
}

std::string text(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  item.findAndGetOFStringArray(tag, value);
  return value.c_str();
}

/// The item of a one-item code sequence, or nullptr.
DcmItem* code_item(DcmItem& item, const DcmTagKey& sequence, unsigned long index = 0) {
  DcmItem* code = nullptr;
  return item.findAndGetSequenceItem(sequence, code, static_cast<signed long>(index)).good() ? code : nullptr;
}

std::string code_text(DcmItem* code) {
  if (code == nullptr) return "(none)";
  return text(*code, DCM_CodingSchemeDesignator) + " " + text(*code, DCM_CodeValue) + " \"" +
         text(*code, DCM_CodeMeaning) + "\"";
}

/// The Segment Sequence item whose Tracking ID is `tracking_id`, or nullptr.
DcmItem* segment_with_tracking_id(DcmDataset& dataset, const std::string& tracking_id) {
  DcmSequenceOfItems* segments = nullptr;
  if (dataset.findAndGetSequence(DCM_SegmentSequence, segments).bad()) return nullptr;
  for (unsigned long n = 0; n < segments->card(); ++n)
    if (text(*segments->getItem(n), DCM_TrackingID) == tracking_id) return segments->getItem(n);
  return nullptr;
}

}  // namespace

TEST(DicomSeg, RoundTripKeepsGridVoxelsAndOneSegmentPerLabel) {
  const PhantomCt& ct = phantom_ct();
  ASSERT_TRUE(ct.truth.labels.geometry.same_grid_as(ct.volume.geometry)) << "phantom labels and CT grid differ";
  ASSERT_TRUE(ct.source.one_instance_per_slice);
  TempDir out;
  const auto path = out / "seg.dcm";
  const report::DicomSegInfo written = report::write_dicom_seg(ct.truth.labels, ct.source, test_options(), path);

  report::DicomSegInfo read_info;
  const LabelMap back = report::read_dicom_seg(path, &read_info);
  ASSERT_TRUE(back.geometry.same_grid_as(ct.truth.labels.geometry))
      << "size " << back.geometry.size[0] << "x" << back.geometry.size[1] << "x" << back.geometry.size[2]
      << ", spacing " << back.geometry.spacing_mm[2] << ", origin z " << back.geometry.origin_lps_mm.z;
  std::size_t differing = 0, first_difference = 0;
  for (std::size_t n = 0; n < back.voxels.size(); ++n)
    if (back.voxels[n] != ct.truth.labels.voxels[n] && differing++ == 0) first_difference = n;
  EXPECT_EQ(differing, 0u) << "first at voxel " << first_difference << ": read " << back.voxels[first_difference]
                           << ", written " << ct.truth.labels.voxels[first_difference];

  // One segment per label present, numbered 1..n, in catalog order, on both sides.
  const std::set<LabelId> present = labels_present(ct.truth.labels);
  ASSERT_GT(present.size(), 20u) << "the thigh phantom should hold many muscles on both sides";
  ASSERT_EQ(read_info.segments.size(), present.size());
  std::set<LabelId> segment_labels;
  for (std::size_t n = 0; n < read_info.segments.size(); ++n) {
    const report::SegSegment& segment = read_info.segments[n];
    EXPECT_EQ(segment.segment_number, static_cast<int>(n + 1));
    segment_labels.insert(segment.label);
    EXPECT_EQ(LabelCatalog::standard().label_id(segment.structure_key, segment.side), segment.label);
    ASSERT_LT(n, written.segments.size());
    EXPECT_EQ(written.segments[n].segment_number, segment.segment_number);
    EXPECT_EQ(written.segments[n].label, segment.label);
  }
  EXPECT_EQ(segment_labels, present);
  EXPECT_EQ(read_info.study_instance_uid, ct.source.series.study_instance_uid);
  EXPECT_EQ(read_info.series_instance_uid, written.series_instance_uid);
  EXPECT_NE(read_info.series_instance_uid, ct.source.series.series_instance_uid);
  EXPECT_EQ(read_info.sop_instance_uid, written.sop_instance_uid);
  EXPECT_EQ(read_info.sop_class_uid, UID_SegmentationStorage);
  EXPECT_EQ(written.sop_class_uid, UID_SegmentationStorage);
}

TEST(DicomSeg, SegmentsWithoutTrackingIdAreMappedByTypeCodeAndLaterality) {
  const PhantomCt& ct = phantom_ct();
  TempDir out;
  report::write_dicom_seg(ct.truth.labels, ct.source, test_options(), out / "seg.dcm");
  // Another tool's SEG carries no MuscleCSA Tracking IDs: only the codes identify the segments.
  DcmFileFormat file;
  ASSERT_TRUE(file.loadFile((out / "seg.dcm").c_str()).good());
  DcmSequenceOfItems* segments = nullptr;
  ASSERT_TRUE(file.getDataset()->findAndGetSequence(DCM_SegmentSequence, segments).good());
  for (unsigned long n = 0; n < segments->card(); ++n) {
    segments->getItem(n)->findAndDeleteElement(DCM_TrackingID);
    segments->getItem(n)->findAndDeleteElement(DCM_TrackingUID);
  }
  ASSERT_TRUE(file.saveFile((out / "untracked.dcm").c_str(), EXS_LittleEndianExplicit).good());
  const LabelMap back = report::read_dicom_seg(out / "untracked.dcm");
  ASSERT_TRUE(back.geometry.same_grid_as(ct.truth.labels.geometry));
  EXPECT_TRUE(back.voxels == ct.truth.labels.voxels);
}

TEST(DicomSeg, EmptySlicesAreLeftOutAndTheGridSpansTheFramesPresent) {
  const PhantomCt& ct = phantom_ct();
  ASSERT_EQ(ct.truth.labels.geometry.size[2], 6u);
  // Only slices 1 and 4 labelled: slices 2 and 3 have no frame, 0 and 5 lie outside the SEG.
  LabelMap sparse = ct.truth.labels;
  for (const std::size_t k : {0u, 2u, 3u, 5u})
    std::fill(sparse.slice(k), sparse.slice(k) + sparse.geometry.slice_voxel_count(), LabelId{0});
  TempDir out;
  report::write_dicom_seg(sparse, ct.source, test_options(), out / "seg.dcm");
  const LabelMap back = report::read_dicom_seg(out / "seg.dcm");
  Geometry expected = sparse.geometry;
  expected.size[2] = 4;
  expected.origin_lps_mm = sparse.geometry.index_to_lps({0, 0, 1});
  ASSERT_TRUE(back.geometry.same_grid_as(expected))
      << "size z " << back.geometry.size[2] << ", origin z " << back.geometry.origin_lps_mm.z;
  const std::size_t slice_voxels = sparse.geometry.slice_voxel_count();
  EXPECT_TRUE(std::equal(back.voxels.begin(), back.voxels.end(), sparse.slice(1)))
      << "slices 1-4 should come back, the empty ones empty";
  EXPECT_EQ(back.voxels.size(), 4 * slice_voxels);
}

namespace {

/// dciodvfy's "Error" lines for a file (empty when valid), with the full output on failure.
::testing::AssertionResult dciodvfy_accepts(const std::filesystem::path& path) {
  const auto result = run_command(std::string(DCIODVFY_EXECUTABLE) + " " + quoted(path));
  if (result.output.find("Segmentation") == std::string::npos)
    return ::testing::AssertionFailure() << "dciodvfy did not run:\n" << result.output;
  std::string errors;
  std::istringstream lines(result.output);
  for (std::string line; std::getline(lines, line);)
    if (line.find("Error") != std::string::npos) errors += line + "\n";
  if (!errors.empty())
    return ::testing::AssertionFailure() << "dciodvfy errors:\n" << errors << "\nfull output:\n" << result.output;
  return ::testing::AssertionSuccess() << result.output;
}

}  // namespace

TEST(DicomSeg, DciodvfyReportsNoErrors) {
  const PhantomCt& ct = phantom_ct();
  TempDir out;
  report::write_dicom_seg(ct.truth.labels, ct.source, test_options(), out / "seg.dcm");
  EXPECT_TRUE(dciodvfy_accepts(out / "seg.dcm"));
  // A resampled analysis grid: frames cannot name their source image, the series is still referenced.
  report::DicomSource resampled = ct.source;
  resampled.one_instance_per_slice = false;
  report::write_dicom_seg(ct.truth.labels, resampled, test_options(), out / "resampled.dcm");
  EXPECT_TRUE(dciodvfy_accepts(out / "resampled.dcm"));
  EXPECT_TRUE(report::read_dicom_seg(out / "resampled.dcm").voxels == ct.truth.labels.voxels);
}

TEST(DicomSeg, CarriesSourcePatientStudyFrameOfReferenceReferencesAndCatalogCodes) {
  const PhantomCt& ct = phantom_ct();
  TempDir out;
  const auto path = out / "seg.dcm";
  const report::SegOptions options = test_options();
  report::write_dicom_seg(ct.truth.labels, ct.source, options, path);

  DcmFileFormat source_file, seg_file;
  ASSERT_TRUE(source_file.loadFile(ct.source.any_file.c_str()).good());
  ASSERT_TRUE(seg_file.loadFile(path.c_str()).good());
  DcmDataset& source = *source_file.getDataset();
  DcmDataset& seg = *seg_file.getDataset();

  EXPECT_EQ(text(seg, DCM_SOPClassUID), UID_SegmentationStorage);
  EXPECT_EQ(text(seg, DCM_Modality), "SEG");
  EXPECT_FALSE(text(source, DCM_PatientID).empty());
  EXPECT_EQ(text(seg, DCM_PatientID), text(source, DCM_PatientID));
  EXPECT_EQ(text(seg, DCM_PatientName), text(source, DCM_PatientName));
  EXPECT_EQ(text(seg, DCM_StudyInstanceUID), ct.source.series.study_instance_uid);
  EXPECT_FALSE(ct.source.series.frame_of_reference_uid.empty());
  EXPECT_EQ(text(seg, DCM_FrameOfReferenceUID), ct.source.series.frame_of_reference_uid);
  EXPECT_NE(text(seg, DCM_SeriesInstanceUID), ct.source.series.series_instance_uid);
  EXPECT_EQ(text(seg, DCM_SeriesNumber), "901");
  EXPECT_EQ(text(seg, DCM_SeriesDescription), options.series_description);
  EXPECT_EQ(text(seg, DCM_ContentLabel), "MUSCLECSA");
  EXPECT_EQ(text(seg, DCM_SegmentationType), "BINARY");
  // The equipment that made the SEG is MuscleCSA, not the source's scanner.
  EXPECT_EQ(text(seg, DCM_Manufacturer), "MuscleCSA");
  EXPECT_EQ(text(seg, DCM_SoftwareVersions), options.software_version);

  // Referenced Series Sequence: the source series with every slice.
  DcmItem* referenced_series = nullptr;
  ASSERT_TRUE(seg.findAndGetSequenceItem(DCM_ReferencedSeriesSequence, referenced_series, 0).good());
  EXPECT_EQ(text(*referenced_series, DCM_SeriesInstanceUID), ct.source.series.series_instance_uid);
  DcmSequenceOfItems* referenced_instances = nullptr;
  ASSERT_TRUE(referenced_series->findAndGetSequence(DCM_ReferencedInstanceSequence, referenced_instances).good());
  std::set<std::string> referenced;
  for (unsigned long n = 0; n < referenced_instances->card(); ++n)
    referenced.insert(text(*referenced_instances->getItem(n), DCM_ReferencedSOPInstanceUID));
  EXPECT_EQ(referenced, std::set<std::string>(ct.source.series.sop_instance_uids.begin(),
                                              ct.source.series.sop_instance_uids.end()));

  // Every frame references the source image of its own slice (found from its position).
  DcmSequenceOfItems* per_frame = nullptr;
  ASSERT_TRUE(seg.findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, per_frame).good());
  ASSERT_GT(per_frame->card(), 0u);
  const Geometry& g = ct.volume.geometry;
  for (unsigned long f = 0; f < per_frame->card(); ++f) {
    DcmItem& frame = *per_frame->getItem(f);
    DcmItem* plane = nullptr;
    ASSERT_TRUE(frame.findAndGetSequenceItem(DCM_PlanePositionSequence, plane, 0).good()) << "frame " << f + 1;
    Float64 x = 0, y = 0, z = 0;
    plane->findAndGetFloat64(DCM_ImagePositionPatient, x, 0);
    plane->findAndGetFloat64(DCM_ImagePositionPatient, y, 1);
    plane->findAndGetFloat64(DCM_ImagePositionPatient, z, 2);
    const Vec3 index = g.lps_to_index({x, y, z});
    const auto k = static_cast<std::size_t>(std::lround(index.z));
    ASSERT_LT(k, g.size[2]);
    EXPECT_NEAR(index.x, 0, 1e-3);
    EXPECT_NEAR(index.y, 0, 1e-3);
    DcmItem* derivation = nullptr;
    DcmItem* source_image = nullptr;
    ASSERT_TRUE(frame.findAndGetSequenceItem(DCM_DerivationImageSequence, derivation, 0).good()) << "frame " << f + 1;
    ASSERT_TRUE(derivation->findAndGetSequenceItem(DCM_SourceImageSequence, source_image, 0).good());
    EXPECT_EQ(text(*source_image, DCM_ReferencedSOPInstanceUID), ct.source.series.sop_instance_uids[k])
        << "frame " << f + 1 << " at slice " << k;
    EXPECT_EQ(text(*source_image, DCM_ReferencedSOPClassUID), ct.source.series.sop_class_uid);
    DcmItem* purpose = code_item(*source_image, DCM_PurposeOfReferenceCodeSequence);
    ASSERT_NE(purpose, nullptr);
    EXPECT_EQ(text(*purpose, DCM_CodeValue), "121322");
    EXPECT_EQ(text(*purpose, DCM_CodingSchemeDesignator), "DCM");
  }

  // Segments carry the catalog's codes, laterality, colour and the algorithm.
  const LabelCatalog& catalog = LabelCatalog::standard();
  struct Expected {
    std::string tracking_id, key, label, laterality_code;
  };
  for (const Expected& expected : {Expected{"right:vastus_lateralis", "vastus_lateralis", "Vastus lateralis right", "24028007"},
                                   Expected{"left:femur", "femur", "Femur left", "7771000"},
                                   Expected{"left:semitendinosus", "semitendinosus", "Semitendinosus left", "7771000"}}) {
    SCOPED_TRACE(expected.tracking_id);
    DcmItem* segment = segment_with_tracking_id(seg, expected.tracking_id);
    ASSERT_NE(segment, nullptr) << "no segment with this Tracking ID";
    const Structure& structure = catalog.get(expected.key);
    EXPECT_EQ(text(*segment, DCM_SegmentLabel), expected.label);
    DcmItem* category = code_item(*segment, DCM_SegmentedPropertyCategoryCodeSequence);
    DcmItem* type = code_item(*segment, DCM_SegmentedPropertyTypeCodeSequence);
    ASSERT_NE(category, nullptr);
    ASSERT_NE(type, nullptr);
    EXPECT_EQ(text(*category, DCM_CodingSchemeDesignator), structure.category.scheme);
    EXPECT_EQ(text(*category, DCM_CodeValue), structure.category.code) << code_text(category);
    EXPECT_EQ(text(*type, DCM_CodingSchemeDesignator), structure.type.scheme);
    EXPECT_EQ(text(*type, DCM_CodeValue), structure.type.code) << code_text(type);
    EXPECT_EQ(text(*type, DCM_CodeMeaning), structure.type.meaning);
    DcmItem* modifier = code_item(*type, DCM_SegmentedPropertyTypeModifierCodeSequence);
    ASSERT_NE(modifier, nullptr) << "no laterality modifier";
    EXPECT_EQ(text(*modifier, DCM_CodingSchemeDesignator), "SCT");
    EXPECT_EQ(text(*modifier, DCM_CodeValue), expected.laterality_code) << code_text(modifier);
    EXPECT_EQ(text(*segment, DCM_SegmentAlgorithmType), "AUTOMATIC");
    EXPECT_EQ(text(*segment, DCM_SegmentAlgorithmName), "MuscleCSA");
    DcmItem* algorithm = code_item(*segment, DCM_SegmentationAlgorithmIdentificationSequence);
    ASSERT_NE(algorithm, nullptr);
    EXPECT_EQ(text(*algorithm, DCM_AlgorithmVersion), options.software_version);
    EXPECT_FALSE(text(*segment, DCM_TrackingUID).empty());
    // CIELab of the catalog colour: three values, lightness rising with the sRGB luminance.
    Uint16 lightness = 0, a = 0, b = 0;
    ASSERT_TRUE(segment->findAndGetUint16(DCM_RecommendedDisplayCIELabValue, lightness, 0).good());
    ASSERT_TRUE(segment->findAndGetUint16(DCM_RecommendedDisplayCIELabValue, a, 1).good());
    ASSERT_TRUE(segment->findAndGetUint16(DCM_RecommendedDisplayCIELabValue, b, 2).good());
    EXPECT_GT(lightness, 0);
  }
  // Femur (240, 240, 225) in CIELab (D65, computed independently): L* 94.43, a* -2.57, b* 7.24;
  // DICOM scales L* 0..100 and a*, b* -128..127 to 0..65535.
  DcmItem* femur = segment_with_tracking_id(seg, "left:femur");
  ASSERT_NE(femur, nullptr);
  Uint16 lightness = 0, a = 0, b = 0;
  femur->findAndGetUint16(DCM_RecommendedDisplayCIELabValue, lightness, 0);
  femur->findAndGetUint16(DCM_RecommendedDisplayCIELabValue, a, 1);
  femur->findAndGetUint16(DCM_RecommendedDisplayCIELabValue, b, 2);
  EXPECT_NEAR(lightness * 100.0 / 65535.0, 94.43, 0.1);
  EXPECT_NEAR(a * 255.0 / 65535.0 - 128.0, -2.57, 0.1);
  EXPECT_NEAR(b * 255.0 / 65535.0 - 128.0, 7.24, 0.1);
}

TEST(DicomSeg, NonDicomSourceIsRefusedAsInvalidArgument) {
  const PhantomCt& ct = phantom_ct();
  TempDir out;
  report::DicomSource research;  // e.g. a NIfTI input: no UIDs, no DICOM file
  research.geometry = ct.truth.labels.geometry;
  try {
    report::write_dicom_seg(ct.truth.labels, research, test_options(), out / "seg.dcm");
    FAIL() << "a source without UIDs was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument) << e.what();
    EXPECT_NE(std::string(e.what()).find("DICOM SEG needs DICOM input"), std::string::npos) << e.what();
  }
  report::DicomSource missing_file = ct.source;
  missing_file.any_file = out / "no-such-file.dcm";
  try {
    report::write_dicom_seg(ct.truth.labels, missing_file, test_options(), out / "seg.dcm");
    FAIL() << "a source whose DICOM file is missing was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument) << e.what();
  }
  EXPECT_TRUE(std::filesystem::is_empty(out.path()));
}

TEST(DicomSeg, UnwritableOutputFailsAndLeavesNoFileBehind) {
  const PhantomCt& ct = phantom_ct();
  TempDir out;
  // The folder cannot be created: a file stands where it should be.
  std::ofstream(out / "not-a-folder") << "x";
  const auto under_file = out / "not-a-folder" / "seg.dcm";
  try {
    report::write_dicom_seg(ct.truth.labels, ct.source, test_options(), under_file);
    FAIL() << "writing under a file succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::OutputFailed) << e.what();
    EXPECT_NE(std::string(e.what()).find(under_file.string()), std::string::npos) << e.what();
  }
  // The final rename fails (a folder holds the name): the finished temporary file must go too.
  const auto taken = out / "taken.dcm";
  std::filesystem::create_directories(taken / "inside");
  try {
    report::write_dicom_seg(ct.truth.labels, ct.source, test_options(), taken);
    FAIL() << "writing over a folder succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::OutputFailed) << e.what();
    EXPECT_NE(std::string(e.what()).find(taken.string()), std::string::npos) << e.what();
  }
  // A read-only folder (only meaningful when not root: root writes anyway).
  if (::geteuid() != 0) {
    const auto locked = out / "locked";
    std::filesystem::create_directories(locked);
    std::filesystem::permissions(locked, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    EXPECT_THROW(report::write_dicom_seg(ct.truth.labels, ct.source, test_options(), locked / "seg.dcm"), Error);
    std::filesystem::permissions(locked, std::filesystem::perms::owner_all);
  }
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(out.path()))
    left.push_back(std::filesystem::relative(entry.path(), out.path()).string());
  std::sort(left.begin(), left.end());
  std::vector<std::string> expected = {"not-a-folder", "taken.dcm", "taken.dcm/inside"};
  if (::geteuid() != 0) expected = {"locked", "not-a-folder", "taken.dcm", "taken.dcm/inside"};
  EXPECT_EQ(left, expected) << "a temporary or partial file was left behind";
}

TEST(DicomSeg, TruncatedMissingOrNonSegFilesAreRefusedNamingTheFile) {
  const PhantomCt& ct = phantom_ct();
  TempDir out;
  const auto whole = out / "seg.dcm";
  report::write_dicom_seg(ct.truth.labels, ct.source, test_options(), whole);
  const auto size = std::filesystem::file_size(whole);

  const auto expect_refused = [](const std::filesystem::path& path, ErrorCode code) {
    try {
      report::read_dicom_seg(path);
      ADD_FAILURE() << path << " was read";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_EQ(e.input(), path.string()) << e.what();
    }
  };
  // Cut inside the pixel data and inside the header.
  for (const double fraction : {0.9, 0.3}) {
    const auto cut = out / ("cut" + std::to_string(static_cast<int>(fraction * 100)) + ".dcm");
    std::filesystem::copy_file(whole, cut);
    std::filesystem::resize_file(cut, static_cast<std::uintmax_t>(static_cast<double>(size) * fraction));
    SCOPED_TRACE(cut.string());
    expect_refused(cut, ErrorCode::InvalidInput);
  }
  expect_refused(ct.source.any_file, ErrorCode::InvalidInput);  // a CT image, not a SEG
  std::ofstream(out / "text.dcm") << "not DICOM at all";
  expect_refused(out / "text.dcm", ErrorCode::InvalidInput);
  expect_refused(out / "missing.dcm", ErrorCode::InputNotFound);
}
