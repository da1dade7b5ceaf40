// DICOM Structured Report, TID 1500 Measurement Report, of the measurements at the standard levels
// (DCMTK dcmsr/cmr), and reading one back. The codes are listed with their sources in
// docs/coding.md ("DICOM SR measurement codes").

#include "musclecsa/report/dicom_sr.h"

#include "dicom_common.h"

#include <dcmtk/config/osconfig.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmsr/cmr/tid1500.h>
#include <dcmtk/dcmsr/codes/dcm.h>
#include <dcmtk/dcmsr/codes/sct.h>
#include <dcmtk/dcmsr/dsrdoc.h>
#include <dcmtk/oflog/oflog.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string_view>
#include <tuple>

#include "musclecsa/core/error.h"

namespace musclecsa::report {
namespace {

constexpr std::string_view kPrivateScheme = "99MCSA";
/// Device Observer UID of MuscleCSA (a fixed UUID-derived UID: the device is the software).
constexpr const char* kDeviceObserverUid = "2.25.206605186476087182188574589023303807648";
/// Separates the level from the slice index in a tracking identifier: "right:quadriceps@femur_50pct/slice=12".
constexpr std::string_view kSliceMarker = "/slice=";
/// Equivalent Meaning of Concept Name of a HU bin area: this prefix, then the protocol's bin name.
constexpr std::string_view kHuBinMeaningPrefix = "HU bin area: ";
constexpr std::string_view kHuBinQuantityPrefix = "hu_bin_area:";

DSRCodedEntryValue coded(const CodedConcept& c) { return DSRCodedEntryValue(c.code, c.scheme, c.meaning); }

bool same_code(const DSRCodedEntryValue& a, const CodedConcept& b) {
  return a.getCodeValue() == b.code.c_str() && a.getCodingSchemeDesignator() == b.scheme.c_str();
}

// --- Measurement concepts (docs/coding.md, "DICOM SR measurement codes") -----------------------

const CodedConcept kArea{"SCT", "42798000", "Area"};
const CodedConcept kVolume{"SCT", "118565006", "Volume"};
const CodedConcept kAttenuationCoefficient{"DCM", "112031", "Attenuation Coefficient"};
const CodedConcept kMean{"SCT", "373098007", "Mean"};
const CodedConcept kStandardDeviation{"SCT", "386136009", "Standard Deviation"};
const CodedConcept kMedian{"SCT", "373099004", "Median"};
const CodedConcept kFatFraction{"DCM", "129100", "Fat fraction"};
const CodedConcept kRelativeT1FatSignal{"99MCSA", "M-T1-FAT-SIGNAL", "Relative T1 fat signal"};

/// A quantity's concept name and, for HU statistics, the derivation modifier (TID 1419 row 3).
struct QuantityCode {
  std::string_view quantity;
  CodedConcept concept_name;
  std::optional<CodedConcept> derivation;
};

const std::vector<QuantityCode>& quantity_codes() {
  static const std::vector<QuantityCode> codes = {
      // "csa" and "area" share SCT Area: csa for muscles, groups and muscle tissue, area for the rest.
      {"csa", kArea, std::nullopt},
      {"area", kArea, std::nullopt},
      {"volume", kVolume, std::nullopt},
      {"mean_hu", kAttenuationCoefficient, kMean},
      {"sd_hu", kAttenuationCoefficient, kStandardDeviation},
      {"median_hu", kAttenuationCoefficient, kMedian},
      {"outline_area", {"99MCSA", "M-OUTLINE-AREA", "Muscle outline area"}, std::nullopt},
      {"imat_area", {"99MCSA", "M-IMAT-AREA", "Intermuscular adipose tissue area"}, std::nullopt},
      {"intramuscular_fat_area", {"99MCSA", "M-IMF-AREA", "Intramuscular fat area"}, std::nullopt},
      {"fat_fraction", {"99MCSA", "M-FAT-FRACTION", "Intramuscular fat fraction"}, std::nullopt},
      {"compartment_fat_fraction", {"99MCSA", "M-COMP-FF", "Compartment fat fraction"}, std::nullopt},
      {"low_attenuation_area", {"99MCSA", "M-LAMA", "Low-attenuation muscle area"}, std::nullopt},
      {"normal_attenuation_area", {"99MCSA", "M-NAMA", "Normal-attenuation muscle area"}, std::nullopt},
      {"limb_area", {"99MCSA", "M-LIMB-AREA", "Limb cross-sectional area"}, std::nullopt},
      {"csa_per_height2", {"99MCSA", "M-CSA-PER-HT2", "Muscle area per height squared"}, std::nullopt},
      {"hu_bin_area", {"99MCSA", "M-HUBIN-AREA", "Area in Hounsfield unit range"}, std::nullopt},
      // MRI (docs/mri.md): the Dixon signal fat fraction as DCM Fat fraction with Mean/Median, as
      // HU statistics are Attenuation Coefficient with Mean/Median; a T1-weighted series' relative
      // fat signal (a contrast index, not a fat fraction) has a private concept of its own.
      {"mean_fat_fraction", kFatFraction, kMean},
      {"median_fat_fraction", kFatFraction, kMedian},
      {"fat_free_csa", {"99MCSA", "M-FAT-FREE-AREA", "Fat-free muscle area"}, std::nullopt},
      {"suggested_mercuri_grade_ordinal", {"99MCSA", "M-MERCURI-SUGG", "Suggested Mercuri grade from mean fat fraction"}, std::nullopt},
      {"mean_relative_fat_signal", kRelativeT1FatSignal, kMean},
      {"median_relative_fat_signal", kRelativeT1FatSignal, kMedian},
  };
  return codes;
}

/// Muscles, groups and muscle tissue report their muscle area as "csa"; other structures as "area".
bool reports_muscle_area(const Structure& s) {
  return s.kind == StructureKind::Muscle || s.kind == StructureKind::MuscleGroup || s.key == "skeletal_muscle";
}

const QuantityCode& code_of_quantity(const Measurement& m) {
  std::string_view quantity = m.quantity;
  if (quantity.starts_with(kHuBinQuantityPrefix)) quantity = "hu_bin_area";
  for (const auto& c : quantity_codes())
    if (c.quantity == quantity) return c;
  throw Error(ErrorCode::InvalidArgument, m.quantity, "no DICOM SR code for this quantity (docs/coding.md)");
}

/// The quantity string of a NUM content item; empty when the concept is not one of ours.
std::string quantity_of_code(const DSRCodedEntryValue& concept_name, const std::optional<DSRCodedEntryValue>& derivation,
                             const std::string& equivalent_meaning, const Structure& structure) {
  for (const auto& c : quantity_codes()) {
    if (!same_code(concept_name, c.concept_name)) continue;
    if (c.derivation.has_value() != derivation.has_value()) continue;
    if (c.derivation && !same_code(*derivation, *c.derivation)) continue;
    if (c.quantity == "hu_bin_area") {
      if (!equivalent_meaning.starts_with(kHuBinMeaningPrefix)) return {};
      return std::string(kHuBinQuantityPrefix) + equivalent_meaning.substr(kHuBinMeaningPrefix.size());
    }
    if (c.quantity == "csa" || c.quantity == "area") return reports_muscle_area(structure) ? "csa" : "area";
    return std::string(c.quantity);
  }
  return {};
}

/// UCUM code meaning of the units MuscleCSA writes (PS3.16 CID 7181 where listed there).
std::string ucum_meaning(const std::string& unit) {
  static const std::map<std::string, std::string, std::less<>> meanings = {
      {"cm2", "square centimeter"},   {"mm2", "square millimeter"}, {"cm3", "cubic centimeter"},
      {"[hnsf'U]", "Hounsfield Unit"}, {"1", "no units"},          {"%", "Percent"},
      {"cm2/m2", "square centimeter per square meter"}, {"{ordinal}", "ordinal"},
  };
  const auto it = meanings.find(unit);
  return it == meanings.end() ? unit : it->second;
}

/// Shortest decimal string of at most 16 characters (DS) holding `value` as exactly as DS allows;
/// the full double goes into the Floating Point Value as well.
std::string decimal_string(double value) {
  char text[64];
  for (int precision = 15; precision > 0; --precision) {
    std::snprintf(text, sizeof text, "%.*g", precision, value);
    if (std::string_view(text).size() <= 16) return text;
  }
  return "0";
}

DSRCodedEntryValue laterality_code(Side side) {
  return coded(side == Side::Left ? detail::kLeftCode : detail::kRightCode);
}

/// Procedure reported, from PS3.16 CID 100 (as in DCMTK's cid100.h): by the source's modality.
DSRCodedEntryValue procedure_code(const std::string& modality) {
  if (modality == "CT") return DSRCodedEntryValue("25045-6", "LN", "CT unspecified body region");
  if (modality == "MR") return DSRCodedEntryValue("25056-3", "LN", "MRI unspecified body region");
  return DSRCodedEntryValue("363679005", "SCT", "Imaging procedure");
}


std::string tracking_identifier(const std::string& structure_key, Side side, const std::string& level, std::optional<int> slice) {
  std::string id = std::string(to_string(side)) + ":" + structure_key + "@" + level;
  if (slice) id += std::string(kSliceMarker) + std::to_string(*slice);
  return id;
}

/// One measurement group: a structure on a side at a level (and its slice).
struct GroupKey {
  std::string level;
  Side side = Side::None;
  std::string structure_key;
  std::optional<int> slice_index;
  auto operator<=>(const GroupKey&) const = default;
};

std::optional<GroupKey> parse_tracking_identifier(const std::string& id) {
  const auto colon = id.find(':');
  const auto at = id.find('@', colon == std::string::npos ? 0 : colon);
  if (colon == std::string::npos || at == std::string::npos) return std::nullopt;
  GroupKey key;
  try {
    key.side = side_from_string(id.substr(0, colon));
  } catch (const Error&) {
    return std::nullopt;
  }
  key.structure_key = id.substr(colon + 1, at - colon - 1);
  std::string rest = id.substr(at + 1);
  const auto marker = rest.find(kSliceMarker);
  if (marker != std::string::npos) {
    try {
      key.slice_index = std::stoi(rest.substr(marker + kSliceMarker.size()));
    } catch (const std::exception&) {
      return std::nullopt;
    }
    rest.resize(marker);
  }
  key.level = rest;
  return key;
}

/// The SEG segment a measurement group references (TID 1411 allows one): only where the segment's
/// voxels are exactly the measured region, i.e. an individual muscle (its territory) or the
/// subcutaneous fat. Groups (the union of their members), total muscle tissue (`skeletal_muscle`
/// holds only the unassigned fascia layer in the label map), IMAT (its area includes the fat inside
/// the muscles), bones (cortex and marrow are two segments) and the limb get none: TID 1501.
int segment_of(const Structure& structure, Side side, const DicomSegInfo& seg) {
  const bool exact = structure.kind == StructureKind::Muscle || structure.key == "subcutaneous_fat";
  if (!exact) return 0;
  for (const auto& s : seg.segments)
    if (s.structure_key == structure.key && s.side == side) return s.segment_number;
  return 0;
}

void check(const OFCondition& status, const std::string& input, const std::string& what) {
  if (status.bad()) throw Error(ErrorCode::Internal, input, "DICOM SR: " + what + ": " + status.text());
}

/// The attributes the image library entry of slice k describes (TID 1602): SOP reference, modality,
/// frame of reference and the slice's position and orientation on the analysed grid.
void fill_image_entry(DcmItem& item, const DicomSource& source, const std::string& sop_class_uid, DcmItem& source_dataset,
                      std::size_t k) {
  item.putAndInsertString(DCM_SOPClassUID, sop_class_uid.c_str());
  item.putAndInsertString(DCM_SOPInstanceUID, source.series.sop_instance_uids[k].c_str());
  for (const DcmTagKey& tag : {DCM_Modality, DCM_FrameOfReferenceUID, DCM_StudyDate, DCM_SliceThickness}) {
    OFString value;
    if (source_dataset.findAndGetOFStringArray(tag, value).good() && !value.empty()) item.putAndInsertOFStringArray(tag, value);
  }
  const Geometry& g = source.geometry;
  const Vec3 position = g.index_to_lps({0, 0, double(k)});
  const Vec3 row = g.axis(0), column = g.axis(1);
  char text[256];
  std::snprintf(text, sizeof text, "%.6g\\%.6g\\%.6g", position.x, position.y, position.z);
  item.putAndInsertString(DCM_ImagePositionPatient, text);
  std::snprintf(text, sizeof text, "%.6g\\%.6g\\%.6g\\%.6g\\%.6g\\%.6g", row.x, row.y, row.z, column.x, column.y, column.z);
  item.putAndInsertString(DCM_ImageOrientationPatient, text);
  std::snprintf(text, sizeof text, "%.6g\\%.6g", g.spacing_mm[1], g.spacing_mm[0]);
  item.putAndInsertString(DCM_PixelSpacing, text);
  item.putAndInsertUint16(DCM_Rows, Uint16(g.size[1]));
  item.putAndInsertUint16(DCM_Columns, Uint16(g.size[0]));
}

using Measurements = TID1500_MeasurementReport::TID1411_Measurements;
using IndividualMeasurements = TID1500_MeasurementReport::TID1501_Measurements;

/// Sets the common rows of a measurement group (TID 1411 or TID 1501): tracking, finding, finding site.
template <class Group>
void describe_group(Group& group, const GroupKey& key, const Structure& structure, const std::string& context) {
  check(group.setTrackingIdentifier(tracking_identifier(key.structure_key, key.side, key.level, key.slice_index).c_str()),
        context, "tracking identifier");
  check(group.setTrackingUniqueIdentifier(detail::new_uid().c_str()), context, "tracking UID");
  check(group.setFinding(coded(structure.sct_concept.code.empty() ? structure.type : structure.sct_concept)), context,
        "finding");
  const CID244e_Laterality laterality =
      key.side == Side::None ? CID244e_Laterality() : CID244e_Laterality(laterality_code(key.side));
  check(group.addFindingSite(coded(structure.type), laterality), context, "finding site");
}

/// Adds one NUM (with derivation and, for HU bins, the bin name) to a group's measurement list.
template <class Group>
void add_measurement(Group& group, const Measurement& m, const std::string& context) {
  const QuantityCode& code = code_of_quantity(m);
  typename Group::MeasurementValue value(decimal_string(m.value).c_str(),
                                         DSRCodedEntryValue(m.unit_ucum, "UCUM", ucum_meaning(m.unit_ucum)),
                                         OFFalse /*check: cm2/m2 is not in CID 7181*/);
  check(value.setFloatingPointRepresentation(m.value, OFFalse), context, "floating point value");
  check(group.addMeasurement(coded(code.concept_name), value, OFFalse /*checkEmpty: a new NUM every time*/, OFFalse),
        context, "measurement " + m.quantity);
  auto& num = group.getMeasurement();
  if (code.derivation) check(num.setDerivation(coded(*code.derivation)), context, "derivation of " + m.quantity);
  if (m.quantity.starts_with(kHuBinQuantityPrefix))
    check(num.setEquivalentMeaningOfConceptName(
              (std::string(kHuBinMeaningPrefix) + m.quantity.substr(kHuBinQuantityPrefix.size())).c_str()),
          context, "HU bin name");
}

}  // namespace

void write_dicom_sr(const std::vector<Measurement>& measurements, const DicomSource& source, const DicomSegInfo* seg,
                    const SrOptions& options, const std::filesystem::path& path) {
  detail::quiet_dcmtk_logging();
  const std::string target = path.string();
  if (source.series.study_instance_uid.empty() || source.series.series_instance_uid.empty())
    throw Error(ErrorCode::InvalidArgument, source.series.path.empty() ? target : source.series.path,
                "the source is not a DICOM series (no study/series instance UID): a DICOM SR needs one");
  std::error_code ec;
  if (source.any_file.empty() || !std::filesystem::is_regular_file(source.any_file, ec))
    throw Error(ErrorCode::InvalidArgument, source.any_file.string(), "no DICOM file of the source series to copy patient and study from");
  DcmFileFormat source_file;
  if (source_file.loadFile(source.any_file.c_str()).bad())
    throw Error(ErrorCode::InvalidArgument, source.any_file.string(), "not a readable DICOM file");
  DcmDataset& source_dataset = *source_file.getDataset();
  OFString modality, file_sop_class_uid;
  source_dataset.findAndGetOFString(DCM_Modality, modality);
  source_dataset.findAndGetOFString(DCM_SOPClassUID, file_sop_class_uid);
  const std::string image_sop_class_uid =
      source.series.sop_class_uid.empty() ? std::string(file_sop_class_uid.c_str()) : source.series.sop_class_uid;

  // Group the level measurements: one measurement group per structure, side, level and slice.
  const LabelCatalog& catalog = LabelCatalog::standard();
  std::map<GroupKey, std::vector<const Measurement*>> groups;
  for (const auto& m : measurements) {
    if (m.level.empty() || m.level == "scanned_range") continue;
    if (m.withheld) continue;  // not trustworthy: no number goes to PACS (results.json says why)
    catalog.get(m.structure_key);  // throws InvalidArgument for an unknown structure
    code_of_quantity(m);           // throws InvalidArgument for a quantity without a code
    groups[GroupKey{m.level, m.side, m.structure_key, m.slice_index}].push_back(&m);
  }

  TID1500_MeasurementReport report(CMR_CID7021::ImagingMeasurementReport);
  check(report.setLanguage(CID5000_Languages::English, CID5001_Countries::UnitedStates), target, "language");
  check(report.getObservationContext().addDeviceObserver(kDeviceObserverUid, "MuscleCSA", "MuscleCSA",
                                                         (options.software_version.empty() ? std::string("MuscleCSA") : "MuscleCSA " + options.software_version).c_str()),
        target, "device observer");
  check(report.addProcedureReported(CID100_QuantitativeDiagnosticImagingProcedures(procedure_code(modality.c_str()))),
        target, "procedure reported");

  // Image library: the source image of each level slice.
  std::set<int> level_slices;
  for (const auto& [key, list] : groups)
    if (key.slice_index) level_slices.insert(*key.slice_index);
  bool library_group = false;
  for (const int k : level_slices) {
    if (!source.one_instance_per_slice || k < 0 || std::size_t(k) >= source.series.sop_instance_uids.size()) continue;
    if (!library_group) {
      if (!report.getImageLibrary().hasImageLibrary()) check(report.getImageLibrary().createNewImageLibrary(), target, "image library");
      check(report.getImageLibrary().addImageGroup(), target, "image library group");
      library_group = true;
    }
    DcmItem entry;
    fill_image_entry(entry, source, image_sop_class_uid, source_dataset, std::size_t(k));
    check(report.getImageLibrary().addImageEntry(entry, TID1600_ImageLibrary::withAllDescriptors), target,
          "image library entry of slice " + std::to_string(k));
  }

  for (const auto& [key, list] : groups) {
    const Structure& structure = catalog.get(key.structure_key);
    const std::string context = target + " (" + tracking_identifier(key.structure_key, key.side, key.level, key.slice_index) + ")";
    std::set<std::string> quantities;
    for (const Measurement* m : list) {
      const QuantityCode& code = code_of_quantity(*m);
      const std::string written = m->quantity.starts_with(kHuBinQuantityPrefix) ? m->quantity : std::string(code.quantity);
      if (!quantities.insert(written == "area" || written == "csa" ? "area" : written).second)
        throw Error(ErrorCode::InvalidArgument, context, "quantity " + m->quantity + " appears twice (or csa and area together)");
    }
    const int segment = seg ? segment_of(structure, key.side, *seg) : 0;
    if (segment > 0) {
      // TID 1411: the segment measured, and the series it was segmented from.
      check(report.addVolumetricROIMeasurements(), context, "measurement group");
      Measurements& group = report.getVolumetricROIMeasurements();
      describe_group(group, key, structure, context);
      DSRImageReferenceValue reference(seg->sop_class_uid.c_str(), seg->sop_instance_uid.c_str());
      reference.getSegmentList().addItem(Uint16(segment));
      check(group.setReferencedSegment(reference), context, "referenced segment");
      check(group.setSourceSeriesForSegmentation(source.series.series_instance_uid.c_str()), context, "source series");
      for (const Measurement* m : list) add_measurement(group, *m, context);
    } else {
      // TID 1501: no segmentation object to reference.
      check(report.addIndividualMeasurements(), context, "measurement group");
      IndividualMeasurements& group = report.getIndividualMeasurements();
      describe_group(group, key, structure, context);
      for (const Measurement* m : list) add_measurement(group, *m, context);
    }
  }

  DSRDocument document;
  check(document.createNewDocument(DSRTypes::DT_ComprehensiveSR), target, "new document");
  check(document.setTreeFromRootTemplate(report, OFTrue /*expandTree*/), target, "content tree");
  check(document.readStudyData(source_dataset), target, "patient and study of " + source.any_file.string());
  check(document.createNewSeriesInStudy(source.series.study_instance_uid.c_str()), target, "new series");
  check(document.setSeriesNumber(std::to_string(options.series_number).c_str()), target, "series number");
  check(document.setSeriesDescription(options.series_description.c_str()), target, "series description");
  check(document.setInstanceNumber("1"), target, "instance number");
  check(document.setManufacturer("MuscleCSA"), target, "manufacturer");
  check(document.setManufacturerModelName("MuscleCSA"), target, "model name");
  if (!options.software_version.empty())
    check(document.setSoftwareVersions(options.software_version.c_str()), target, "software version");
  DSRCodingSchemeIdentificationList& schemes = document.getCodingSchemeIdentification();
  check(schemes.addItem(std::string(kPrivateScheme).c_str()), target, "coding scheme");
  check(schemes.setCodingSchemeName("MuscleCSA structures and measurements"), target, "coding scheme name");
  check(schemes.setCodingSchemeResponsibleOrganization("MuscleCSA project (docs/coding.md)"), target, "coding scheme organization");
  if (seg)
    check(document.getCurrentRequestedProcedureEvidence().addItem(seg->study_instance_uid.c_str(), seg->series_instance_uid.c_str(),
                                                                   seg->sop_class_uid.c_str(), seg->sop_instance_uid.c_str()),
          target, "SEG evidence");
  if (source.one_instance_per_slice)
    for (const int k : level_slices)
      if (k >= 0 && std::size_t(k) < source.series.sop_instance_uids.size())
        check(document.getCurrentRequestedProcedureEvidence().addItem(
                  source.series.study_instance_uid.c_str(), source.series.series_instance_uid.c_str(),
                  image_sop_class_uid.c_str(), source.series.sop_instance_uids[std::size_t(k)].c_str()),
              target, "image evidence");

  DcmFileFormat file;
  check(document.write(*file.getDataset()), target, "dataset");
  // DCMTK makes series and instance UIDs under its own root; MuscleCSA's objects use 2.25 UIDs.
  check(file.getDataset()->putAndInsertString(DCM_SeriesInstanceUID, detail::new_uid().c_str()), target, "series UID");
  check(file.getDataset()->putAndInsertString(DCM_SOPInstanceUID, detail::new_uid().c_str()), target, "SOP instance UID");

  detail::save_dicom_atomically(file, path, "DICOM SR");
}

namespace {

/// What a measurement group holds while the tree is walked.
struct GroupBeingRead {
  std::size_t level = 0;
  std::optional<GroupKey> key;
  struct Num {
    DSRCodedEntryValue concept_name;
    double value = 0;
    std::string unit;
    std::optional<DSRCodedEntryValue> derivation;
    std::string equivalent_meaning;
  };
  std::vector<Num> nums;
};

double value_of(const DSRNumericMeasurementValue& num) {
  Float64 exact = 0;
  if (num.getFloatingPointRepresentation(exact).good()) return exact;
  return std::stod(num.getNumericValue().c_str());
}

void finish_group(GroupBeingRead& group, std::vector<Measurement>& out) {
  if (!group.key) return;
  const Structure* structure = LabelCatalog::standard().find(group.key->structure_key);
  if (structure == nullptr) return;
  for (const auto& num : group.nums) {
    const std::string quantity = quantity_of_code(num.concept_name, num.derivation, num.equivalent_meaning, *structure);
    if (quantity.empty()) continue;
    Measurement m;
    m.quantity = quantity;
    m.value = num.value;
    m.unit_ucum = num.unit;
    m.structure_key = group.key->structure_key;
    m.side = group.key->side;
    m.level = group.key->level;
    m.slice_index = group.key->slice_index;
    out.push_back(std::move(m));
  }
}

}  // namespace

std::vector<Measurement> read_dicom_sr(const std::filesystem::path& path) {
  detail::quiet_dcmtk_logging();
  const std::string source = path.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(ErrorCode::InputNotFound, source, "no such file");
  DcmFileFormat file;
  if (file.loadFile(path.c_str()).bad()) throw Error(ErrorCode::InvalidInput, source, "not a readable DICOM file");
  DSRDocument document;
  const OFCondition read = document.read(*file.getDataset());
  if (read.bad()) throw Error(ErrorCode::InvalidInput, source, std::string("not a DICOM Structured Report: ") + read.text());
  DSRDocumentTree& tree = document.getTree();
  if (tree.gotoRoot() == 0 || tree.getCurrentContentItem().getConceptName().getCodeValue() != "126000")
    throw Error(ErrorCode::InvalidInput, source, "not a TID 1500 Imaging Measurement Report");

  std::vector<Measurement> out;
  std::optional<GroupBeingRead> group;
  bool last_child_is_num = false;  // the group's last direct child is a NUM: its modifiers follow
  do {
    DSRContentItem& item = tree.getCurrentContentItem();
    const std::size_t level = tree.getLevel();
    if (group && level <= group->level) {
      finish_group(*group, out);
      group.reset();
    }
    const DSRCodedEntryValue& concept_name = item.getConceptName();
    if (item.getValueType() == DSRTypes::VT_Container && concept_name == CODE_DCM_MeasurementGroup) {
      group.emplace();
      group->level = level;
      continue;
    }
    if (!group) continue;
    if (level == group->level + 1) {
      last_child_is_num = false;
      if (item.getValueType() == DSRTypes::VT_Text && concept_name == CODE_DCM_TrackingIdentifier)
        group->key = parse_tracking_identifier(item.getStringValue().c_str());
      else if (item.getValueType() == DSRTypes::VT_Num) {
        const DSRNumericMeasurementValue* num = item.getNumericValuePtr();
        if (num == nullptr || num->isEmpty()) continue;
        try {
          group->nums.push_back({concept_name, value_of(*num), num->getMeasurementUnit().getCodeValue().c_str(), std::nullopt, ""});
          last_child_is_num = true;
        } catch (const std::exception&) {
          throw Error(ErrorCode::InvalidInput, source, "numeric value '" + std::string(num->getNumericValue().c_str()) + "' of " +
                                                            concept_name.getCodeMeaning().c_str() + " is not a number");
        }
      }
    } else if (level == group->level + 2 && last_child_is_num) {
      auto& num = group->nums.back();
      if (item.getValueType() == DSRTypes::VT_Code && concept_name == CODE_DCM_Derivation)
        num.derivation = item.getCodeValue();
      else if (item.getValueType() == DSRTypes::VT_Text && concept_name == CODE_DCM_EquivalentMeaningOfConceptName)
        num.equivalent_meaning = item.getStringValue().c_str();
    }
  } while (tree.iterate());
  if (group) finish_group(*group, out);
  return out;
}

}  // namespace musclecsa::report
