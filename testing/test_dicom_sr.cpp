// DICOM SR (TID 1500 Measurement Report) of an analysed thigh CT phantom: read back, validated
// with dciodvfy, shown by dsrdump, SEG references, and the errors.

#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>

#include <unistd.h>

#include "musclecsa/core/error.h"
#include "musclecsa/dicom/file_info.h"
#include "musclecsa/dicom/series.h"
#include "musclecsa/phantom/phantom.h"
#include "musclecsa/quantify/ct_measures.h"
#include "musclecsa/report/dicom_sr.h"
#include "musclecsa/segment/ct_muscles.h"
#include "musclecsa/segment/ct_tissue.h"
#include "test_support.h"

using namespace musclecsa;
using musclecsa::testing::lines_with;
using musclecsa::testing::quoted;
using musclecsa::testing::run_command;
using musclecsa::testing::TempDir;

namespace {

/// A thigh CT phantom written as DICOM, read back like the CLI does, analysed once for the suite.
struct AnalysedPhantom {
  TempDir dir;
  report::DicomSource source;
  std::vector<Measurement> measurements;       ///< everything to_measurements gives
  std::vector<Measurement> level_measurements;  ///< those the report holds
};

const AnalysedPhantom& analysed_phantom() {
  static const std::unique_ptr<AnalysedPhantom> shared = [] {
    auto a = std::make_unique<AnalysedPhantom>();
    phantom::PhantomParams p;
    p.anatomy = phantom::Anatomy::Thigh;
    p.modality = phantom::PhantomModality::CT;
    p.columns = 200;
    p.pixel_spacing_mm = 2.0;
    p.slices = 24;  // the whole femur, so the level is found from the bone
    p.slice_spacing_mm = 20;
    NullProgress progress;
    const auto ph = phantom::make_phantom(p, progress);
    phantom::write_phantom(ph, a->dir.path(), progress);

    const auto scan = dicom::scan_paths({a->dir / "dicom/ct"}, progress);
    const auto series = dicom::assemble_series(scan.files);
    EXPECT_EQ(series.size(), 1u);
    const ScalarVolume ct = dicom::load_series(series.at(0), scan.files, progress);
    a->source.series = ct.source;
    a->source.geometry = ct.geometry;
    a->source.one_instance_per_slice = ct.source.sop_instance_uids.size() == ct.geometry.size[2];
    a->source.any_file = scan.files.at(series.at(0).slices.front().file_index).path;

    const auto protocol = segment::builtin_ct_protocol("thigh-ct");
    auto seg = segment::segment_ct_tissues(ct, protocol, progress);
    segment::segment_ct_muscles(ct, protocol, seg, progress);
    const auto results = quantify::measure_ct(ct, seg, protocol, {});
    a->measurements = quantify::to_measurements(results, protocol);
    for (const auto& m : a->measurements)
      if (!m.level.empty() && m.level != "scanned_range") a->level_measurements.push_back(m);
    return a;
  }();
  return *shared;
}

using MeasurementKey = std::tuple<std::string, std::string, std::string, std::string, int>;

MeasurementKey key_of(const Measurement& m) {
  return {m.quantity, m.structure_key, std::string(to_string(m.side)), m.level, m.slice_index.value_or(-1)};
}

std::map<MeasurementKey, const Measurement*> by_key(const std::vector<Measurement>& list) {
  std::map<MeasurementKey, const Measurement*> out;
  for (const auto& m : list) out[key_of(m)] = &m;
  return out;
}

std::string describe(const MeasurementKey& k) {
  return std::get<0>(k) + " " + std::get<1>(k) + " " + std::get<2>(k) + " " + std::get<3>(k) + " slice " +
         std::to_string(std::get<4>(k));
}


/// dsrdump with codes, long values, referenced UIDs and template identifiers.
musclecsa::testing::CommandResult dsrdump(const std::filesystem::path& path) {
  return run_command("dsrdump +Pl +Pu +Pc +Pt " + quoted(path));
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

/// A hand-made SEG description: one segment per thigh muscle and tissue of both sides, numbered in
/// catalog order (groups have none: their members' segments stand for them).
report::DicomSegInfo hand_made_seg(const report::DicomSource& source) {
  report::DicomSegInfo seg;
  seg.study_instance_uid = source.series.study_instance_uid;
  seg.series_instance_uid = "2.25.301234567890123456789012345678901234";
  seg.sop_instance_uid = "2.25.301234567890123456789012345678901235";
  seg.sop_class_uid = "1.2.840.10008.5.1.4.1.1.66.4";  // Segmentation Storage
  const auto& catalog = LabelCatalog::standard();
  int number = 1;
  for (const Side side : {Side::Right, Side::Left})
    for (const auto& s : catalog.structures()) {
      if (s.kind == StructureKind::MuscleGroup || s.region == BodyRegion::Calf) continue;
      seg.segments.push_back({number++, catalog.label_id(s.key, side), s.key, side});
    }
  return seg;
}

int segment_number_of(const report::DicomSegInfo& seg, const std::string& key, Side side) {
  for (const auto& s : seg.segments)
    if (s.structure_key == key && s.side == side) return s.segment_number;
  return 0;
}

}  // namespace

TEST(DicomSr, LevelMeasurementsReadBackWithTheirValues) {
  const auto& a = analysed_phantom();
  ASSERT_GT(a.level_measurements.size(), 50u) << "the phantom's level was not found on both sides";
  TempDir out;
  const auto path = out / "measurements.dcm";
  report::SrOptions options;
  options.software_version = "test-1.0";
  report::write_dicom_sr(a.measurements, a.source, nullptr, options, path);  // per-slice values are left out
  const auto read = report::read_dicom_sr(path);

  const auto expected = by_key(a.level_measurements);
  const auto found = by_key(read);
  EXPECT_EQ(read.size(), a.level_measurements.size());
  for (const auto& [key, m] : expected) {
    const auto it = found.find(key);
    if (it == found.end()) {
      ADD_FAILURE() << "missing after reading: " << describe(key);
      continue;
    }
    EXPECT_NEAR(it->second->value, m->value, 1e-6 * std::max(1.0, std::abs(m->value))) << describe(key);
    EXPECT_EQ(it->second->unit_ucum, m->unit_ucum) << describe(key);
  }
  for (const auto& [key, m] : found) EXPECT_TRUE(expected.count(key)) << "not written but read: " << describe(key);
  // The quantities the analysis gives at the level all survive, HU bins included.
  std::set<std::string> quantities;
  for (const auto& m : read) quantities.insert(m.quantity);
  for (const char* q : {"csa", "mean_hu", "sd_hu", "median_hu", "imat_area", "intramuscular_fat_area", "fat_fraction",
                        "outline_area", "low_attenuation_area", "normal_attenuation_area", "compartment_fat_fraction",
                        "area", "limb_area", "hu_bin_area:fat_like"})
    EXPECT_TRUE(quantities.count(q)) << q;
}

TEST(DicomSr, PassesDciodvfyAndDsrdumpShowsTheTid1500Tree) {
  const auto& a = analysed_phantom();
  TempDir out;
  const auto path = out / "measurements.dcm";
  report::SrOptions options;
  options.software_version = "test-1.0";
  report::write_dicom_sr(a.measurements, a.source, nullptr, options, path);

  const auto verify = run_command(std::string(DCIODVFY_EXECUTABLE) + " " + quoted(path));
  const auto errors = lines_with(verify.output, "Error");
  EXPECT_TRUE(errors.empty()) << "dciodvfy errors:\n" << joined(errors) << "\nwarnings:\n" << joined(lines_with(verify.output, "Warning"));
  EXPECT_NE(verify.output.find("EnhancedSR"), std::string::npos) << verify.output;

  const auto dump = dsrdump(path);
  ASSERT_EQ(dump.exit_code, 0) << dump.output;
  for (const char* expected : {"(126000,DCM,\"Imaging Measurement Report\")=SEPARATE>  # TID 1500",
                               "(125007,DCM,\"Measurement Group\")=SEPARATE>  # TID 1501",
                               "right:quadriceps@femur_50pct/slice=", "left:rectus_femoris@femur_50pct/slice=",
                               "(363698007,SCT,\"Finding Site\")=(QF,99MCSA,\"Quadriceps femoris\")",
                               "(272741003,SCT,\"Laterality\")=(24028007,SCT,\"Right\")",
                               "(272741003,SCT,\"Laterality\")=(7771000,SCT,\"Left\")",
                               "(42798000,SCT,\"Area\")",
                               "(cm2,UCUM,\"square centimeter\")", "([hnsf'U],UCUM,\"Hounsfield Unit\")",
                               "(373098007,SCT,\"Mean\")", "(M-IMAT-AREA,99MCSA,", "HU bin area: fat_like",
                               "(25045-6,LN,\"CT unspecified body region\")", "Image Library", "MuscleCSA test-1.0"})
    EXPECT_NE(dump.output.find(expected), std::string::npos) << "dsrdump lacks " << expected;
  // The private scheme is declared in the Coding Scheme Identification Sequence.
  const auto header = run_command(std::string(DCMDUMP_EXECUTABLE) + " " + quoted(path));
  const auto scheme = header.output.find("(0008,0110)");
  ASSERT_NE(scheme, std::string::npos) << "no Coding Scheme Identification Sequence";
  EXPECT_NE(header.output.find("[99MCSA]", scheme), std::string::npos);
  // Patient and study are the source's; the series is new.
  EXPECT_NE(header.output.find(a.source.series.study_instance_uid), std::string::npos);
  EXPECT_EQ(header.output.find("[" + a.source.series.series_instance_uid + "]  #"), std::string::npos)
      << "the SR must be in a series of its own";
}

TEST(DicomSr, MusclesReferenceTheirOwnSegmentAndGroupsNone) {
  const auto& a = analysed_phantom();
  const auto seg = hand_made_seg(a.source);
  TempDir out;
  const auto path = out / "measurements.dcm";
  report::write_dicom_sr(a.measurements, a.source, &seg, {}, path);
  EXPECT_EQ(report::read_dicom_sr(path).size(), a.level_measurements.size());

  const auto dump = dsrdump(path);
  ASSERT_EQ(dump.exit_code, 0) << dump.output;
  // Each group's "Referenced Segment" follows its tracking identifier; dsrdump prints the segment numbers.
  auto referenced_segments_after = [&](const std::string& tracking) -> std::string {
    const auto at = dump.output.find(tracking);
    if (at == std::string::npos) return "(no group " + tracking + ")";
    const auto ref = dump.output.find("Referenced Segment", at);
    if (ref == std::string::npos) return "(no Referenced Segment)";
    const auto line_end = dump.output.find('\n', ref);
    return dump.output.substr(ref, line_end - ref);
  };
  const int vl_right = segment_number_of(seg, "vastus_lateralis", Side::Right);
  const std::string vl = referenced_segments_after("right:vastus_lateralis@femur_50pct");
  EXPECT_NE(vl.find("(SG image,\"" + seg.sop_instance_uid + "\"," + std::to_string(vl_right) + ")"), std::string::npos) << vl;
  // TID 1411 references one segment whose voxels are the measured region: a group (the union of
  // its members) and total muscle tissue are TID 1501 groups without a reference.
  for (const char* tracking : {"left:quadriceps@femur_50pct", "right:skeletal_muscle@femur_50pct"}) {
    const auto at = dump.output.find(tracking);
    ASSERT_NE(at, std::string::npos) << tracking;
    const auto next_group = dump.output.find("Measurement Group", at);
    const auto ref = dump.output.find("Referenced Segment", at);
    EXPECT_TRUE(ref == std::string::npos || (next_group != std::string::npos && ref > next_group))
        << tracking << " references a segment";
  }
  EXPECT_NE(dump.output.find("TID 1501"), std::string::npos);
  EXPECT_NE(dump.output.find("(125007,DCM,\"Measurement Group\")=SEPARATE>  # TID 1411"), std::string::npos);
  EXPECT_NE(dump.output.find("Source series for segmentation"), std::string::npos);

  const auto verify = run_command(std::string(DCIODVFY_EXECUTABLE) + " " + quoted(path));
  const auto errors = lines_with(verify.output, "Error");
  EXPECT_TRUE(errors.empty()) << "dciodvfy errors:\n" << joined(errors) << "\nwarnings:\n" << joined(lines_with(verify.output, "Warning"));
}

TEST(DicomSr, RefusesANonDicomSourceAndReportsUnwritableFolders) {
  const auto& a = analysed_phantom();
  report::DicomSource research;  // e.g. a NIfTI volume: no UIDs, no file
  research.geometry = a.source.geometry;
  TempDir out;
  try {
    report::write_dicom_sr(a.measurements, research, nullptr, {}, out / "sr.dcm");
    ADD_FAILURE() << "a non-DICOM source was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(out / "sr.dcm"));

  if (::geteuid() != 0) {  // root writes anywhere: use a path below a file instead
    std::filesystem::create_directories(out / "locked");
    std::filesystem::permissions(out / "locked", std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  }
  std::ofstream(out / "a_file") << "x";
  const auto unwritable = ::geteuid() != 0 ? out / "locked" / "sr.dcm" : out / "a_file" / "sr.dcm";
  try {
    report::write_dicom_sr(a.measurements, a.source, nullptr, {}, unwritable);
    ADD_FAILURE() << "wrote into an unwritable folder";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::OutputFailed) << e.what();
    EXPECT_NE(std::string(e.what()).find(unwritable.string()), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(unwritable));
  // Nothing else appeared either (no temporary file): the folder holds what the test put there.
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(out.path())) left.push_back(entry.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (::geteuid() != 0 ? std::vector<std::string>{"a_file", "locked"} : std::vector<std::string>{"a_file"}));
  if (std::filesystem::exists(out / "locked"))
    std::filesystem::permissions(out / "locked", std::filesystem::perms::owner_all, std::filesystem::perm_options::replace);
}

TEST(DicomSr, ReadingANonReportNamesTheFile) {
  const auto& a = analysed_phantom();
  try {
    report::read_dicom_sr(a.source.any_file);  // a CT image, not an SR
    ADD_FAILURE() << "a CT image was read as an SR";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << e.what();
    EXPECT_EQ(e.input(), a.source.any_file.string());
  }
  TempDir dir;
  std::ofstream(dir / "notes.txt") << "not DICOM";
  try {
    report::read_dicom_sr(dir / "notes.txt");
    ADD_FAILURE() << "a text file was read as an SR";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << e.what();
    EXPECT_EQ(e.input(), (dir / "notes.txt").string());
  }
  try {
    report::read_dicom_sr(dir / "missing.dcm");
    ADD_FAILURE() << "a missing file was read";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InputNotFound) << e.what();
  }
}
