#include "musclecsa/report/dicom_seg.h"

#include "dicom_common.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmfg/fgseg.h>
#include <dcmtk/dcmiod/cielabutil.h>
#include <dcmtk/dcmiod/iodmacro.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>
#include <dcmtk/dcmseg/segutils.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <sstream>

#include "musclecsa/core/error.h"

namespace musclecsa::report {
namespace {

// Codes written besides the catalog's (docs/coding.md).
const CodedConcept kThigh{"SCT", "68367000", "Thigh"};
const CodedConcept kLowerLeg{"SCT", "30021000", "Lower leg"};
const CodedConcept kSegmentationDerivation{"DCM", "113076", "Segmentation"};
const CodedConcept kSourceImagePurpose{"DCM", "121322", "Source image for image processing operation"};
// Algorithm family (CID 7162, DCMTK dcmsr/codes/dcm.h): the muscle segmentation is a
// marker-controlled watershed with morphological clean-up (docs/methods.md).
const CodedConcept kAlgorithmFamily{"DCM", "123104", "Morphological Operations"};
constexpr const char* kPrivateScheme = "99MCSA";
constexpr const char* kAlgorithmName = "MuscleCSA";

// Slices closer than this along the normal are one plane when reading (DS values carry ~1e-6 mm).
constexpr double kPlaneTolerance_mm = 0.01;

/// A decimal string that fits DICOM DS (at most 16 characters).
std::string decimal(double value) {
  if (std::abs(value) < 1e-9) value = 0;  // no "-0" or "1e-17" from rounding noise
  for (int precision = 10; precision > 3; --precision) {
    std::ostringstream s;
    s.precision(precision);
    s << value;
    if (s.str().size() <= 16) return s.str();
  }
  std::ostringstream s;
  s.precision(3);
  s << value;
  return s.str();
}


CodeSequenceMacro code_of(const CodedConcept& concept_code) {
  return CodeSequenceMacro(concept_code.code.c_str(), concept_code.scheme.c_str(), concept_code.meaning.c_str());
}

/// Throws Error(code, input, "<what>: <DCMTK reason>") when DCMTK reports a failure.
void check(const OFCondition& status, ErrorCode code, const std::string& input, const std::string& what) {
  if (status.bad()) throw Error(code, input, what + ": " + status.text());
}

struct DcmSegmentationDeleter {
  void operator()(DcmSegmentation* seg) const { delete seg; }
};
using SegmentationPtr = std::unique_ptr<DcmSegmentation, DcmSegmentationDeleter>;

/// One segment to write: a label id present in the map, with its catalog entry.
struct PlannedSegment {
  LabelId label = 0;
  const Structure* structure = nullptr;
  Side side = Side::None;
  std::vector<std::size_t> slices;  ///< slices where the label has voxels, ascending
};

std::string segment_label(const Structure& structure, Side side) {
  if (side == Side::Right) return structure.name + " right";
  if (side == Side::Left) return structure.name + " left";
  return structure.name;
}

std::string tracking_id(const Structure& structure, Side side) {
  return std::string(to_string(side)) + ":" + structure.key;
}

/// The labels present in the map, in catalog order (structures, right then left), each with the
/// slices that hold it. Unknown non-zero ids cannot be coded and are refused.
std::vector<PlannedSegment> plan_segments(const LabelMap& labels, const std::filesystem::path& path) {
  const Geometry& g = labels.geometry;
  const std::size_t slice_voxels = g.slice_voxel_count();
  // present[label][k]: label has a voxel in slice k.
  std::map<LabelId, std::vector<bool>> present;
  for (std::size_t k = 0; k < g.size[2]; ++k) {
    const LabelId* slice = labels.slice(k);
    LabelId last = 0;  // runs of one label are common: skip the map look-up for them
    for (std::size_t n = 0; n < slice_voxels; ++n) {
      const LabelId label = slice[n];
      if (label == 0 || label == last) continue;
      last = label;
      auto& slices = present[label];
      if (slices.empty()) slices.assign(g.size[2], false);
      slices[k] = true;
    }
  }
  const LabelCatalog& catalog = LabelCatalog::standard();
  for (const auto& [label, slices] : present)
    if (!catalog.decode(label))
      throw Error(ErrorCode::InvalidArgument, path.string(),
                  "the label map holds label id " + std::to_string(label) + ", which is not in the MuscleCSA catalog");

  std::vector<PlannedSegment> planned;
  for (const Structure& structure : catalog.structures()) {
    for (const Side side : {Side::Right, Side::Left}) {
      const LabelId label = catalog.label_id(structure.key, side);
      const auto found = present.find(label);
      if (found == present.end()) continue;
      const auto decoded = catalog.decode(label);
      PlannedSegment segment;
      segment.label = label;
      segment.structure = decoded->structure;
      segment.side = decoded->side;
      for (std::size_t k = 0; k < found->second.size(); ++k)
        if (found->second[k]) segment.slices.push_back(k);
      planned.push_back(std::move(segment));
      present.erase(found);
    }
  }
  if (!present.empty())  // a catalog id that label_id never yields (defect in the catalog)
    throw Error(ErrorCode::Internal, path.string(),
                "label id " + std::to_string(present.begin()->first) + " has no place in the catalog order");
  return planned;
}

/// Builds the Segment Sequence item of one planned segment (codes, laterality, colour, algorithm).
DcmSegment* make_segment(const PlannedSegment& planned, const std::string& software_version, const std::string& path) {
  const Structure& structure = *planned.structure;
  DcmSegment* raw = nullptr;
  check(DcmSegment::create(raw, segment_label(structure, planned.side).c_str(), code_of(structure.category),
                           code_of(structure.type), DcmSegTypes::SAT_AUTOMATIC, kAlgorithmName),
        ErrorCode::Internal, path, "cannot create segment " + structure.key);
  std::unique_ptr<DcmSegment> segment(raw);

  const CodedConcept* laterality = detail::laterality_code(planned.side);
  if (laterality != nullptr)
    segment->getSegmentedPropertyTypeModifierCode().push_back(new CodeSequenceMacro(code_of(*laterality)));

  // Muscles and groups belong to one region; tissues and bones (region Any) get none.
  const CodedConcept* region = structure.region == BodyRegion::Thigh ? &kThigh
                               : structure.region == BodyRegion::Calf ? &kLowerLeg
                                                                      : nullptr;
  if (region != nullptr) {
    GeneralAnatomyMacro& anatomy = segment->getGeneralAnatomyCode();
    check(anatomy.getAnatomicRegion().set(region->code.c_str(), region->scheme.c_str(), region->meaning.c_str()),
          ErrorCode::Internal, path, "anatomic region of " + structure.key);
    if (laterality != nullptr) anatomy.getAnatomicRegionModifier().push_back(new CodeSequenceMacro(code_of(*laterality)));
  }

  AlgorithmIdentificationMacro algorithm;
  check(algorithm.getAlgorithmFamilyCode().set(kAlgorithmFamily.code.c_str(), kAlgorithmFamily.scheme.c_str(),
                                               kAlgorithmFamily.meaning.c_str()),
        ErrorCode::Internal, path, "algorithm family");
  check(algorithm.setAlgorithmName(kAlgorithmName), ErrorCode::Internal, path, "algorithm name");
  check(algorithm.setAlgorithmVersion(software_version.c_str()), ErrorCode::Internal, path, "algorithm version");
  check(segment->setSegmentationAlgorithmIdentification(algorithm), ErrorCode::Internal, path,
        "algorithm identification of " + structure.key);

  double l_dicom = 0, a_dicom = 0, b_dicom = 0;
  IODCIELabUtil::rgb2DicomLab(l_dicom, a_dicom, b_dicom, structure.colour.r / 255.0, structure.colour.g / 255.0,
                              structure.colour.b / 255.0);
  const auto to_u16 = [](double v) { return static_cast<Uint16>(std::clamp(std::lround(v), 0L, 65535L)); };
  check(segment->setRecommendedDisplayCIELabValue(to_u16(l_dicom), to_u16(a_dicom), to_u16(b_dicom)),
        ErrorCode::Internal, path, "display colour of " + structure.key);
  check(segment->setTrackingID(tracking_id(structure, planned.side).c_str()), ErrorCode::Internal, path,
        "tracking ID of " + structure.key);
  check(segment->setTrackingUID(detail::new_uid().c_str()), ErrorCode::Internal, path, "tracking UID of " + structure.key);
  return segment.release();
}

/// A Derivation Image functional group: "Segmentation" of the given source images.
std::unique_ptr<FGDerivationImage> derivation_from(const std::string& sop_class_uid,
                                                   const std::vector<std::string>& sop_instance_uids,
                                                   const std::string& path) {
  auto derivation = std::make_unique<FGDerivationImage>();
  DerivationImageItem* item = nullptr;
  check(derivation->addDerivationImageItem(code_of(kSegmentationDerivation), "", item), ErrorCode::Internal, path,
        "derivation image");
  for (const std::string& sop_instance_uid : sop_instance_uids) {
    auto* source_image = new SourceImageItem();
    item->getSourceImageItems().push_back(source_image);  // the item owns it from here
    check(source_image->getPurposeOfReferenceCode().set(kSourceImagePurpose.code.c_str(),
                                                         kSourceImagePurpose.scheme.c_str(),
                                                         kSourceImagePurpose.meaning.c_str()),
          ErrorCode::Internal, path, "purpose of reference");
    ImageSOPInstanceReferenceMacro& reference = source_image->getImageSOPInstanceReference();
    check(reference.setReferencedSOPClassUID(sop_class_uid.c_str()), ErrorCode::InvalidArgument, path,
          "source SOP class UID");
    check(reference.setReferencedSOPInstanceUID(sop_instance_uid.c_str()), ErrorCode::InvalidArgument, path,
          "source SOP instance UID " + sop_instance_uid);
  }
  return derivation;
}

/// Adds the Coding Scheme Identification Sequence for the private scheme, as PS3.3 C.12.1.1.4
/// expects for any scheme that is not a standard one.
void identify_private_scheme(DcmDataset& dataset, const std::string& path) {
  DcmItem* item = nullptr;
  check(dataset.findOrCreateSequenceItem(DCM_CodingSchemeIdentificationSequence, item, -2), ErrorCode::Internal, path,
        "coding scheme identification");
  check(item->putAndInsertString(DCM_CodingSchemeDesignator, kPrivateScheme), ErrorCode::Internal, path,
        "coding scheme designator");
  // Named as the SR names it, so both objects identify the scheme alike.
  check(item->putAndInsertString(DCM_CodingSchemeName, "MuscleCSA structures and measurements"), ErrorCode::Internal,
        path, "coding scheme name");
  check(item->putAndInsertString(DCM_CodingSchemeResponsibleOrganization, "MuscleCSA project (docs/coding.md)"),
        ErrorCode::Internal, path, "coding scheme responsible organization");
}

bool uses_private_scheme(const std::vector<PlannedSegment>& planned) {
  return std::any_of(planned.begin(), planned.end(), [](const PlannedSegment& s) {
    return s.structure->type.scheme == kPrivateScheme || s.structure->category.scheme == kPrivateScheme;
  });
}

}  // namespace

DicomSegInfo write_dicom_seg(const LabelMap& labels, const DicomSource& source, const SegOptions& options,
                             const std::filesystem::path& path) {
  detail::quiet_dcmtk_logging();
  const std::string out = path.string();
  const SourceSeries& series = source.series;
  {
    std::error_code ec;
    if (series.study_instance_uid.empty() || series.series_instance_uid.empty() || source.any_file.empty() ||
        !std::filesystem::is_regular_file(source.any_file, ec))
      throw Error(ErrorCode::InvalidArgument, out,
                  "DICOM SEG needs DICOM input (the source has no study/series UID or no DICOM file)");
  }
  const Geometry& g = labels.geometry;
  g.validate(out);
  if (labels.voxels.size() != g.voxel_count())
    throw Error(ErrorCode::InvalidArgument, out, "the label map's voxel count does not match its geometry");
  constexpr std::size_t kMaxRowsColumns = std::numeric_limits<Uint16>::max();
  if (g.size[0] > kMaxRowsColumns || g.size[1] > kMaxRowsColumns)
    throw Error(ErrorCode::InvalidArgument, out, "DICOM allows at most 65535 rows and columns");
  if (source.one_instance_per_slice) {
    if (series.sop_instance_uids.size() != g.size[2] || series.sop_class_uid.empty())
      throw Error(ErrorCode::InvalidArgument, out,
                  "the source should have one SOP instance per slice (" + std::to_string(g.size[2]) + ") and a SOP class");
    if (!source.geometry.same_grid_as(g))
      throw Error(ErrorCode::InvalidArgument, out,
                  "the label map is not on the source grid, so its slices cannot reference the source images");
  }
  const std::vector<PlannedSegment> planned = plan_segments(labels, path);
  if (planned.empty()) throw Error(ErrorCode::InvalidArgument, out, "the label map is empty: a SEG needs a segment");

  const std::string software_version = options.software_version.empty() ? "unknown" : options.software_version;
  // The SEG's equipment is MuscleCSA (the creator), not the scanner of the source images.
  const IODGeneralEquipmentModule::EquipmentInfo equipment("MuscleCSA", "MuscleCSA", "1", software_version.c_str());
  ContentIdentificationMacro content("1", "MUSCLECSA", options.series_description.c_str(), "");
  DcmSegmentation* raw = nullptr;
  check(DcmSegmentation::createBinarySegmentation(raw, static_cast<Uint16>(g.size[1]), static_cast<Uint16>(g.size[0]),
                                                  equipment, content),
        ErrorCode::Internal, out, "cannot create the segmentation");
  SegmentationPtr seg(raw);

  // Patient, study and frame of reference come from the source; importing the study also copies
  // the source's equipment, which is put back to MuscleCSA's below.
  check(seg->importFromSourceImage(source.any_file.c_str()), ErrorCode::InvalidInput, source.any_file.string(),
        "cannot import patient and study from the source DICOM file");
  check(seg->setEquipmentInfo(equipment), ErrorCode::Internal, out, "equipment");
  {
    OFString imported_study;
    seg->getStudy().getStudyInstanceUID(imported_study);
    if (imported_study.c_str() != series.study_instance_uid)
      throw Error(ErrorCode::InvalidArgument, source.any_file.string(),
                  "this file belongs to study " + std::string(imported_study.c_str()) + ", not to the source study " +
                      series.study_instance_uid);
  }
  if (!series.frame_of_reference_uid.empty())
    check(seg->getFrameOfReference().setFrameOfReferenceUID(series.frame_of_reference_uid.c_str()),
          ErrorCode::InvalidArgument, out, "frame of reference UID");

  DicomSegInfo info;
  info.study_instance_uid = series.study_instance_uid;
  info.series_instance_uid = detail::new_uid();
  info.sop_instance_uid = detail::new_uid();
  info.sop_class_uid = UID_SegmentationStorage;
  check(seg->getSeries().setSeriesInstanceUID(info.series_instance_uid.c_str()), ErrorCode::Internal, out, "series UID");
  check(seg->getSeries().setSeriesNumber(std::to_string(options.series_number).c_str()), ErrorCode::InvalidArgument,
        out, "series number");
  check(seg->getSeries().setSeriesDescription(options.series_description.c_str()), ErrorCode::InvalidArgument, out,
        "series description");
  check(seg->getSOPCommon().setSOPInstanceUID(info.sop_instance_uid.c_str()), ErrorCode::Internal, out, "SOP instance UID");

  // Frames are indexed by segment, then by position along the normal.
  const std::string dimension_uid = detail::new_uid();
  IODMultiframeDimensionModule& dimensions = seg->getDimensions();
  check(dimensions.addDimensionIndex(DCM_ReferencedSegmentNumber, dimension_uid.c_str(),
                                     DCM_SegmentIdentificationSequence, "ReferencedSegmentNumber"),
        ErrorCode::Internal, out, "dimension index (segment)");
  check(dimensions.addDimensionIndex(DCM_ImagePositionPatient, dimension_uid.c_str(), DCM_PlanePositionSequence,
                                     "ImagePositionPatient"),
        ErrorCode::Internal, out, "dimension index (position)");

  FGPixelMeasures pixel_measures;
  // Pixel Spacing is row spacing (between rows, along j) \ column spacing (along i).
  check(pixel_measures.setPixelSpacing((decimal(g.spacing_mm[1]) + "\\" + decimal(g.spacing_mm[0])).c_str()),
        ErrorCode::Internal, out, "pixel spacing");
  check(pixel_measures.setSliceThickness(decimal(g.spacing_mm[2]).c_str()), ErrorCode::Internal, out, "slice thickness");
  check(pixel_measures.setSpacingBetweenSlices(decimal(g.spacing_mm[2]).c_str()), ErrorCode::Internal, out,
        "spacing between slices");
  check(seg->addForAllFrames(pixel_measures), ErrorCode::Internal, out, "pixel measures");
  const Vec3 row = g.axis(0), column = g.axis(1);
  std::unique_ptr<FGPlaneOrientationPatient> orientation(FGPlaneOrientationPatient::createMinimal(
      decimal(row.x).c_str(), decimal(row.y).c_str(), decimal(row.z).c_str(), decimal(column.x).c_str(),
      decimal(column.y).c_str(), decimal(column.z).c_str()));
  if (!orientation) throw Error(ErrorCode::Internal, out, "cannot create the plane orientation");
  check(seg->addForAllFrames(*orientation), ErrorCode::Internal, out, "plane orientation");

  // Source images: slice k's own image per frame when the grid is the source's; otherwise (a
  // resampled grid) every frame derives from the whole source series, listed once for all frames.
  // The Referenced Series Sequence below is only allowed when such references exist.
  const bool references_source = !series.sop_instance_uids.empty() && !series.sop_class_uid.empty();
  std::vector<std::unique_ptr<FGDerivationImage>> derivations;  // per slice, shared by the segments' frames
  if (source.one_instance_per_slice) {
    for (std::size_t k = 0; k < g.size[2]; ++k)
      derivations.push_back(derivation_from(series.sop_class_uid, {series.sop_instance_uids[k]}, out));
  } else if (references_source) {
    check(seg->addForAllFrames(*derivation_from(series.sop_class_uid, series.sop_instance_uids, out)),
          ErrorCode::Internal, out, "derivation image");
  }

  std::vector<Uint8> frame_pixels(g.slice_voxel_count());
  for (std::size_t s = 0; s < planned.size(); ++s) {
    const PlannedSegment& segment_plan = planned[s];
    Uint16 segment_number = 0;
    DcmSegment* segment = make_segment(segment_plan, software_version, out);
    const OFCondition added = seg->addSegment(segment, segment_number);
    if (added.bad()) delete segment;  // ownership passes only on success
    check(added, ErrorCode::Internal, out, "cannot add segment " + segment_plan.structure->key);
    info.segments.push_back({segment_number, segment_plan.label, segment_plan.structure->key, segment_plan.side});

    for (const std::size_t k : segment_plan.slices) {
      const LabelId* slice = labels.slice(k);
      for (std::size_t n = 0; n < frame_pixels.size(); ++n) frame_pixels[n] = slice[n] == segment_plan.label ? 1 : 0;
      const Vec3 position = g.index_to_lps({0, 0, static_cast<double>(k)});
      std::unique_ptr<FGPlanePosPatient> plane_position(FGPlanePosPatient::createMinimal(
          decimal(position.x).c_str(), decimal(position.y).c_str(), decimal(position.z).c_str()));
      if (!plane_position) throw Error(ErrorCode::Internal, out, "cannot create a plane position");
      FGFrameContent frame_content;
      check(frame_content.setDimensionIndexValues(segment_number, 0), ErrorCode::Internal, out, "frame index");
      check(frame_content.setDimensionIndexValues(static_cast<Uint32>(k + 1), 1), ErrorCode::Internal, out,
            "frame index");
      OFVector<FGBase*> per_frame;
      per_frame.push_back(plane_position.get());
      per_frame.push_back(&frame_content);
      if (source.one_instance_per_slice) per_frame.push_back(derivations[k].get());
      check(seg->addFrame(frame_pixels.data(), segment_number, per_frame), ErrorCode::Internal, out,
            "cannot add a frame of segment " + segment_plan.structure->key);
    }
  }

  // The SEG references the series it was derived from (Common Instance Reference module).
  if (references_source) {
    auto* referenced = new IODSeriesAndInstanceReferenceMacro::ReferencedSeriesItem();
    seg->getCommonInstanceReference().getReferencedSeriesItems().push_back(referenced);
    check(referenced->setSeriesInstanceUID(series.series_instance_uid.c_str()), ErrorCode::InvalidArgument, out,
          "referenced series UID");
    for (const std::string& sop_instance_uid : series.sop_instance_uids)
      check(referenced->addReference(series.sop_class_uid.c_str(), sop_instance_uid.c_str()),
            ErrorCode::InvalidArgument, out, "referenced instance " + sop_instance_uid);
  }

  DcmFileFormat file;
  check(seg->writeDataset(*file.getDataset()), ErrorCode::Internal, out, "cannot build the DICOM SEG dataset");
  if (uses_private_scheme(planned)) identify_private_scheme(*file.getDataset(), out);
  detail::save_dicom_atomically(file, path, "DICOM SEG");
  return info;
}

namespace {

/// The catalog label a segment stands for: from its Tracking ID ("<side>:<key>", as written), else
/// from its property type code and laterality modifier.
std::optional<StructureOnSide> structure_of(DcmSegment& segment) {
  const LabelCatalog& catalog = LabelCatalog::standard();
  OFString tracking;
  if (segment.getTrackingID(tracking).good()) {
    const std::string text = tracking.c_str();
    const auto colon = text.find(':');
    if (colon != std::string::npos) {
      const Structure* structure = catalog.find(text.substr(colon + 1));
      const std::string side_text = text.substr(0, colon);
      if (structure != nullptr && (side_text == "right" || side_text == "left" || side_text == "none"))
        return StructureOnSide{structure, side_from_string(side_text)};
    }
  }
  OFString scheme, code;
  segment.getSegmentedPropertyTypeCode().getCodingSchemeDesignator(scheme);
  segment.getSegmentedPropertyTypeCode().getCodeValue(code);
  Side side = Side::None;
  for (CodeSequenceMacro* modifier : segment.getSegmentedPropertyTypeModifierCode()) {
    OFString modifier_scheme, modifier_code;
    modifier->getCodingSchemeDesignator(modifier_scheme);
    modifier->getCodeValue(modifier_code);
    if (modifier_scheme == detail::kRightCode.scheme.c_str() && modifier_code == detail::kRightCode.code.c_str()) side = Side::Right;
    if (modifier_scheme == detail::kLeftCode.scheme.c_str() && modifier_code == detail::kLeftCode.code.c_str()) side = Side::Left;
  }
  for (const Structure& structure : catalog.structures())
    if (structure.type.scheme == scheme.c_str() && structure.type.code == code.c_str())
      return StructureOnSide{&structure, side};
  return std::nullopt;
}

}  // namespace

LabelMap read_dicom_seg(const std::filesystem::path& path, DicomSegInfo* info) {
  detail::quiet_dcmtk_logging();
  const std::string in = path.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(ErrorCode::InputNotFound, in, "no such file");

  DcmFileFormat file;
  const OFCondition loaded = file.loadFile(path.c_str());
  if (loaded.bad()) throw Error(ErrorCode::InvalidInput, in, std::string("not a readable DICOM file: ") + loaded.text());
  DcmDataset& dataset = *file.getDataset();
  OFString sop_class;
  dataset.findAndGetOFString(DCM_SOPClassUID, sop_class);
  if (sop_class != UID_SegmentationStorage)
    throw Error(ErrorCode::InvalidInput, in,
                "not a DICOM Segmentation (SOP Class UID \"" + std::string(sop_class.c_str()) + "\")");
  // DCMTK does not report short pixel data from read() (and then indexes frames that do not
  // exist), so the sizes are checked here first.
  Uint16 rows = 0, columns = 0;
  Sint32 declared_frames = 0;
  dataset.findAndGetUint16(DCM_Rows, rows);
  dataset.findAndGetUint16(DCM_Columns, columns);
  dataset.findAndGetSint32(DCM_NumberOfFrames, declared_frames);
  DcmElement* pixel_data = nullptr;
  if (rows == 0 || columns == 0 || declared_frames <= 0 || dataset.findAndGetElement(DCM_PixelData, pixel_data).bad())
    throw Error(ErrorCode::InvalidInput, in, "no rows, columns, frames or pixel data");
  const std::size_t frame_count = static_cast<std::size_t>(declared_frames);
  const std::size_t pixel_bits = std::size_t{rows} * columns * frame_count;
  if (pixel_data->getLength() < (pixel_bits + 7) / 8)
    throw Error(ErrorCode::InvalidInput, in, "the pixel data is shorter than its rows, columns and frames (truncated?)");

  DcmSegmentation* raw = nullptr;
  const OFCondition parsed = DcmSegmentation::loadDataset(dataset, raw);
  SegmentationPtr seg(raw);
  if (parsed.bad() || !seg)
    throw Error(ErrorCode::InvalidInput, in, std::string("not a readable DICOM Segmentation: ") + parsed.text());
  if (seg->getSegmentationType() != DcmSegTypes::ST_BINARY)
    throw Error(ErrorCode::InvalidInput, in, "only binary segmentations are supported");
  if (seg->getNumberOfFrames() != frame_count || seg->getNumberOfSegments() == 0)
    throw Error(ErrorCode::InvalidInput, in, "the functional groups do not describe every frame, or there is no segment");

  // Segment numbers -> catalog labels.
  std::map<Uint16, LabelId> label_of_segment;
  std::vector<SegSegment> segments;
  const LabelCatalog& catalog = LabelCatalog::standard();
  for (std::size_t number = 1; number <= seg->getNumberOfSegments(); ++number) {
    DcmSegment* segment = seg->getSegment(number);
    if (segment == nullptr) throw Error(ErrorCode::InvalidInput, in, "segment " + std::to_string(number) + " is missing");
    const auto structure = structure_of(*segment);
    if (!structure) {
      OFString label;
      segment->getSegmentLabel(label);
      throw Error(ErrorCode::InvalidInput, in,
                  "segment " + std::to_string(number) + " (\"" + label.c_str() + "\") is not a MuscleCSA structure");
    }
    const LabelId label = catalog.label_id(structure->structure->key, structure->side);
    label_of_segment[static_cast<Uint16>(number)] = label;
    segments.push_back({static_cast<int>(number), label, structure->structure->key,
                        structure->side == Side::None ? Side::Right : structure->side});
  }

  FGInterface& groups = seg->getFunctionalGroups();
  auto* pixel_measures = dynamic_cast<FGPixelMeasures*>(groups.get(0, DcmFGTypes::EFG_PIXELMEASURES));
  auto* orientation = dynamic_cast<FGPlaneOrientationPatient*>(groups.get(0, DcmFGTypes::EFG_PLANEORIENTPATIENT));
  if (pixel_measures == nullptr || orientation == nullptr)
    throw Error(ErrorCode::InvalidInput, in, "no pixel measures or plane orientation: the SEG has no patient geometry");
  Float64 row_spacing = 0, column_spacing = 0;
  if (pixel_measures->getPixelSpacing(row_spacing, 0).bad() || pixel_measures->getPixelSpacing(column_spacing, 1).bad())
    throw Error(ErrorCode::InvalidInput, in, "no pixel spacing");
  Float64 rx = 0, ry = 0, rz = 0, cx = 0, cy = 0, cz = 0;
  if (orientation->getImageOrientationPatient(rx, ry, rz, cx, cy, cz).bad())
    throw Error(ErrorCode::InvalidInput, in, "no image orientation");

  Geometry g;
  g.size = {columns, rows, 1};
  g.spacing_mm = {column_spacing, row_spacing, 1};
  const Vec3 row_axis{rx, ry, rz}, column_axis{cx, cy, cz};
  const Vec3 normal = cross(row_axis, column_axis);
  g.direction = {row_axis.x, column_axis.x, normal.x, row_axis.y, column_axis.y, normal.y,
                 row_axis.z, column_axis.z, normal.z};

  // Each frame: its segment and its position; planes are ordered along the normal.
  struct FrameRef {
    Uint16 segment = 0;
    Vec3 position;
    double along_normal_mm = 0;
  };
  std::vector<FrameRef> frames(frame_count);
  for (std::size_t f = 0; f < frame_count; ++f) {
    const auto frame_no = static_cast<Uint32>(f);
    auto* segmentation = dynamic_cast<FGSegmentation*>(groups.get(frame_no, DcmFGTypes::EFG_SEGMENTATION));
    auto* position = dynamic_cast<FGPlanePosPatient*>(groups.get(frame_no, DcmFGTypes::EFG_PLANEPOSPATIENT));
    Float64 x = 0, y = 0, z = 0;
    if (segmentation == nullptr || segmentation->getReferencedSegmentNumber(frames[f].segment).bad() ||
        position == nullptr || position->getImagePositionPatient(x, y, z).bad())
      throw Error(ErrorCode::InvalidInput, in, "frame " + std::to_string(f + 1) + " has no segment number or position");
    if (label_of_segment.count(frames[f].segment) == 0)
      throw Error(ErrorCode::InvalidInput, in,
                  "frame " + std::to_string(f + 1) + " refers to segment " + std::to_string(frames[f].segment) +
                      ", which does not exist");
    frames[f].position = {x, y, z};
    frames[f].along_normal_mm = dot(frames[f].position, normal);
  }
  std::vector<double> planes;
  for (const FrameRef& frame : frames) planes.push_back(frame.along_normal_mm);
  std::sort(planes.begin(), planes.end());
  planes.erase(std::unique(planes.begin(), planes.end(),
                           [](double a, double b) { return std::abs(a - b) <= kPlaneTolerance_mm; }),
               planes.end());

  // Slice spacing: Spacing Between Slices when given, else the smallest gap between planes, else
  // the slice thickness (a single plane).
  Float64 slice_spacing = 0;
  if (pixel_measures->getSpacingBetweenSlices(slice_spacing).bad() || slice_spacing <= 0) {
    slice_spacing = 0;
    for (std::size_t n = 1; n < planes.size(); ++n) {
      const double gap = planes[n] - planes[n - 1];
      if (slice_spacing == 0 || gap < slice_spacing) slice_spacing = gap;
    }
    if (slice_spacing == 0 && (pixel_measures->getSliceThickness(slice_spacing).bad() || slice_spacing <= 0))
      slice_spacing = 1;  // one plane and no thickness: any positive spacing describes it
  }
  g.spacing_mm[2] = slice_spacing;
  const double lowest = planes.front();
  g.size[2] = static_cast<std::size_t>(std::lround((planes.back() - lowest) / slice_spacing)) + 1;
  const auto lowest_frame = std::find_if(frames.begin(), frames.end(), [&](const FrameRef& frame) {
    return std::abs(frame.along_normal_mm - lowest) <= kPlaneTolerance_mm;
  });
  g.origin_lps_mm = lowest_frame->position;
  g.validate(in);

  LabelMap labels(g);
  for (std::size_t f = 0; f < frame_count; ++f) {
    const FrameRef& frame = frames[f];
    const Vec3 index = g.lps_to_index(frame.position);
    const double k_exact = index.z;
    const auto k = static_cast<long>(std::lround(k_exact));
    // Frames must sit on the grid: no in-plane shift, whole slice steps along the normal.
    if (std::abs(index.x) * g.spacing_mm[0] > kPlaneTolerance_mm ||
        std::abs(index.y) * g.spacing_mm[1] > kPlaneTolerance_mm ||
        std::abs(k_exact - static_cast<double>(k)) * slice_spacing > kPlaneTolerance_mm || k < 0 ||
        static_cast<std::size_t>(k) >= g.size[2])
      throw Error(ErrorCode::InvalidInput, in, "frame " + std::to_string(f + 1) + " is not on a regular slice grid");
    const DcmIODTypes::Frame* packed = seg->getFrame(f);
    if (packed == nullptr || packed->pixData == nullptr)
      throw Error(ErrorCode::InvalidInput, in, "frame " + std::to_string(f + 1) + " has no pixel data");
    std::unique_ptr<DcmIODTypes::Frame> unpacked(DcmSegUtils::unpackBinaryFrame(packed, rows, columns));
    if (!unpacked || unpacked->pixData == nullptr || unpacked->length < g.slice_voxel_count())
      throw Error(ErrorCode::InvalidInput, in, "frame " + std::to_string(f + 1) + " cannot be unpacked");
    const LabelId label = label_of_segment[frame.segment];
    LabelId* slice = labels.slice(static_cast<std::size_t>(k));
    for (std::size_t n = 0; n < g.slice_voxel_count(); ++n)
      if (unpacked->pixData[n] != 0) slice[n] = label;  // binary segments may overlap; the later one wins
  }

  if (info != nullptr) {
    OFString value;
    seg->getStudy().getStudyInstanceUID(value);
    info->study_instance_uid = value.c_str();
    seg->getSeries().getSeriesInstanceUID(value);
    info->series_instance_uid = value.c_str();
    seg->getSOPCommon().getSOPInstanceUID(value);
    info->sop_instance_uid = value.c_str();
    seg->getSOPCommon().getSOPClassUID(value);
    info->sop_class_uid = value.c_str();
    info->segments = std::move(segments);
  }
  return labels;
}

}  // namespace musclecsa::report
