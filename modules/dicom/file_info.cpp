// Reading one DICOM file's header with DCMTK (kept private to this module).

#include "musclecsa/dicom/file_info.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>

#include "dcmtk_util.h"
#include "gdcm_guard.h"
#include "musclecsa/core/error.h"

namespace musclecsa::dicom {

std::string_view to_string(DixonRole role) {
  switch (role) {
    case DixonRole::None: return "none";
    case DixonRole::Water: return "water";
    case DixonRole::Fat: return "fat";
    case DixonRole::InPhase: return "in_phase";
    case DixonRole::OpposedPhase: return "opposed_phase";
    case DixonRole::FatFraction: return "fat_fraction";
  }
  return "none";
}

namespace {

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

DixonRole DicomFileInfo::dixon_role() const {
  for (const auto& raw : image_type) {
    const std::string v = upper(raw);
    if (v == "WATER" || v == "W") return DixonRole::Water;
    if (v == "FAT" || v == "F") return DixonRole::Fat;
    if (v == "IN_PHASE" || v == "IP" || v == "IN") return DixonRole::InPhase;
    if (v == "OUT_PHASE" || v == "OPP" || v == "OP" || v == "OPPOSED_PHASE") return DixonRole::OpposedPhase;
    if (v == "FF" || v == "FAT_FRACTION" || v == "FATFRACTION") return DixonRole::FatFraction;
  }
  const std::string d = upper(series_description);
  if (ends_with(d, "_W") || ends_with(d, "_WATER")) return DixonRole::Water;
  if (ends_with(d, "_F") || ends_with(d, "_FAT")) return DixonRole::Fat;
  if (ends_with(d, "_IN") || ends_with(d, "_IP") || ends_with(d, "_INPHASE")) return DixonRole::InPhase;
  if (ends_with(d, "_OPP") || ends_with(d, "_OP") || ends_with(d, "_OUTPHASE")) return DixonRole::OpposedPhase;
  if (ends_with(d, "_FF") || ends_with(d, "_FATFRACTION")) return DixonRole::FatFraction;
  return DixonRole::None;
}

bool DicomFileInfo::is_localizer() const {
  for (const auto& raw : image_type) {
    const std::string v = upper(raw);
    if (v == "LOCALIZER" || v == "SCOUT" || v == "SCANOGRAM") return true;
  }
  const std::string d = upper(series_description);
  return d.find("LOCALIZER") != std::string::npos || d.find("SCOUT") != std::string::npos ||
         d.find("SURVEY") != std::string::npos || d.find("TOPOGRAM") != std::string::npos;
}

bool looks_like_dicom(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  char head[132] = {};
  in.read(head, sizeof head);
  const std::streamsize n = in.gcount();
  if (n >= 132 && std::string_view(head + 128, 4) == "DICM") return true;
  // No preamble (old ACR-NEMA style): the dataset starts with a group 0x0002 or 0x0008 tag.
  if (n >= 8) {
    const unsigned group = static_cast<unsigned char>(head[0]) | (static_cast<unsigned char>(head[1]) << 8);
    return group == 0x0002 || group == 0x0008;
  }
  return false;
}

namespace {

[[noreturn]] void bad(const std::filesystem::path& path, const std::string& problem) {
  throw Error(ErrorCode::InvalidInput, path.string(), problem);
}

/// Reads `count` numbers of a DS/FD/FL element; nullopt when absent; throws when malformed.
std::optional<std::vector<double>> numbers(DcmItem& item, const DcmTagKey& tag, unsigned long count,
                                           const std::filesystem::path& path, const char* name) {
  DcmElement* element = nullptr;
  if (item.findAndGetElement(tag, element).bad() || element == nullptr || element->getLength() == 0) return std::nullopt;
  const unsigned long vm = element->getVM();
  if (vm != count)
    bad(path, std::string(name) + " has " + std::to_string(vm) + " value(s); " + std::to_string(count) + " expected");
  std::vector<double> values(count);
  for (unsigned long n = 0; n < count; ++n) {
    Float64 v = 0;
    if (element->getFloat64(v, n).bad() || !std::isfinite(v)) {
      OFString text;
      element->getOFStringArray(text);
      bad(path, std::string(name) + " is not numeric ('" + std::string(text.c_str()) + "')");
    }
    values[n] = v;
  }
  return values;
}

void read_frame_geometry(DcmItem& item, FrameInfo& frame, const std::filesystem::path& path) {
  if (auto v = numbers(item, DCM_ImagePositionPatient, 3, path, "Image Position (Patient)"))
    frame.position_lps_mm = Vec3{(*v)[0], (*v)[1], (*v)[2]};
  if (auto v = numbers(item, DCM_ImageOrientationPatient, 6, path, "Image Orientation (Patient)")) {
    std::array<double, 6> o{};
    std::copy(v->begin(), v->end(), o.begin());
    const Vec3 row{o[0], o[1], o[2]}, col{o[3], o[4], o[5]};
    if (std::abs(norm(row) - 1) > 0.01 || std::abs(norm(col) - 1) > 0.01)
      bad(path, "Image Orientation (Patient) direction cosines are not unit vectors");
    if (std::abs(dot(row, col)) > 0.01) bad(path, "Image Orientation (Patient) row and column are not orthogonal");
    frame.orientation = o;
  }
  if (auto v = numbers(item, DCM_PixelSpacing, 2, path, "Pixel Spacing")) {
    if (!((*v)[0] > 0) || !((*v)[1] > 0))
      bad(path, "Pixel Spacing must be positive (is " + std::to_string((*v)[0]) + "\\" + std::to_string((*v)[1]) + ")");
    frame.pixel_spacing_mm = std::array<double, 2>{(*v)[0], (*v)[1]};
  }
  if (auto v = numbers(item, DCM_SliceThickness, 1, path, "Slice Thickness")) frame.slice_thickness_mm = (*v)[0];
  if (auto v = numbers(item, DCM_RescaleSlope, 1, path, "Rescale Slope")) {
    if ((*v)[0] == 0) bad(path, "Rescale Slope is 0 (all values would be equal)");
    frame.rescale_slope = (*v)[0];
  }
  if (auto v = numbers(item, DCM_RescaleIntercept, 1, path, "Rescale Intercept")) frame.rescale_intercept = (*v)[0];
}

/// The first item of a functional-group sequence inside `group`, or nullptr.
DcmItem* macro(DcmItem* group, const DcmTagKey& sequence) {
  if (group == nullptr) return nullptr;
  DcmItem* item = nullptr;
  return group->findAndGetSequenceItem(sequence, item, 0).good() ? item : nullptr;
}

void apply_functional_groups(DcmItem* group, FrameInfo& frame, const std::filesystem::path& path) {
  if (DcmItem* m = macro(group, DCM_PlanePositionSequence)) read_frame_geometry(*m, frame, path);
  if (DcmItem* m = macro(group, DCM_PlaneOrientationSequence)) read_frame_geometry(*m, frame, path);
  if (DcmItem* m = macro(group, DCM_PixelMeasuresSequence)) read_frame_geometry(*m, frame, path);
  if (DcmItem* m = macro(group, DCM_PixelValueTransformationSequence)) read_frame_geometry(*m, frame, path);
  if (DcmItem* m = macro(group, DCM_FrameContentSequence)) {
    OFString stack;
    if (m->findAndGetOFString(DCM_StackID, stack).good()) frame.stack_id = stack.c_str();
    Uint32 pos = 0;
    if (m->findAndGetUint32(DCM_InStackPositionNumber, pos).good()) frame.stack_position = static_cast<int>(pos);
    Uint32 temporal = 0;
    if (m->findAndGetUint32(DCM_TemporalPositionIndex, temporal).good()) frame.temporal_position = static_cast<int>(temporal);
  }
}

/// True when the file's last `length` bytes are the value of a Pixel Data element whose header
/// (explicit or implicit VR, the given byte order) immediately precedes them.
bool pixel_data_ends_file(const std::filesystem::path& path, std::uintmax_t file_size, std::uint32_t length,
                          E_TransferSyntax xfer) {
  const DcmXfer x(xfer);
  if (x.isEncapsulated() || xfer == EXS_DeflatedLittleEndianExplicit || length == 0) return false;
  const std::uintmax_t header = x.isExplicitVR() ? 12 : 8;
  if (file_size < length + header) return false;
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(file_size - length - header));
  unsigned char h[12] = {};
  in.read(reinterpret_cast<char*>(h), static_cast<std::streamsize>(header));
  if (!in) return false;
  const bool big = x.getByteOrder() == EBO_BigEndian;
  auto u16at = [&](int o) { return big ? (h[o] << 8) | h[o + 1] : h[o] | (h[o + 1] << 8); };
  auto u32at = [&](int o) {
    return big ? (std::uint32_t(h[o]) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3]
               : std::uint32_t(h[o]) | (h[o + 1] << 8) | (h[o + 2] << 16) | (std::uint32_t(h[o + 3]) << 24);
  };
  if (u16at(0) != 0x7FE0 || u16at(2) != 0x0010) return false;
  return u32at(static_cast<int>(header) - 4) == length;
}

std::uint32_t u16(DcmItem& item, const DcmTagKey& tag, bool& present) {
  Uint16 v = 0;
  present = item.findAndGetUint16(tag, v).good();
  return v;
}

}  // namespace

DicomFileInfo read_file_info(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw Error(ErrorCode::InputNotFound, path.string(), "file not found");
  const std::uintmax_t file_size = std::filesystem::file_size(path, ec);
  if (ec) throw Error(ErrorCode::InputNotFound, path.string(), "cannot read: " + ec.message());
  if (file_size == 0) bad(path, "empty file (0 bytes): not DICOM");
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw Error(ErrorCode::InputNotFound, path.string(), "cannot read: permission denied or not a file");
  }
  if (!looks_like_dicom(path)) bad(path, "not DICOM (no DICM preamble and no DICOM dataset at the start)");

  DcmFileFormat file;
  const OFCondition loaded = load_dicom_file(file, path, file_size);
  if (loaded.bad()) {
    const std::string why = loaded.text();
    if (why.find("premature end") != std::string::npos || why.find("length") != std::string::npos)
      bad(path, "truncated or corrupt DICOM: an element's declared length runs past the end of the file (" + why + ")");
    bad(path, "truncated or corrupt DICOM: the header cannot be parsed (" + why + ")");
  }
  DcmDataset& ds = *file.getDataset();
  DcmMetaInfo& meta = *file.getMetaInfo();

  DicomFileInfo info;
  info.path = path;
  OFString s;
  if (meta.findAndGetOFString(DCM_TransferSyntaxUID, s).good()) {
    info.transfer_syntax_uid = s.c_str();
    if (DcmXfer(s.c_str()).getXfer() == EXS_Unknown)
      bad(path, "unsupported or invalid transfer syntax '" + info.transfer_syntax_uid + "'");
  } else {
    info.transfer_syntax_uid = DcmXfer(ds.getOriginalXfer()).getXferID();
  }
  auto text = [&](const DcmTagKey& tag) {
    OFString v;
    return ds.findAndGetOFStringArray(tag, v).good() ? std::string(v.c_str()) : std::string();
  };
  info.sop_class_uid = text(DCM_SOPClassUID);
  if (info.sop_class_uid.empty()) {
    OFString m;
    if (meta.findAndGetOFString(DCM_MediaStorageSOPClassUID, m).good()) info.sop_class_uid = m.c_str();
  }
  info.sop_instance_uid = text(DCM_SOPInstanceUID);
  info.modality = text(DCM_Modality);
  info.manufacturer = text(DCM_Manufacturer);
  info.body_part = text(DCM_BodyPartExamined);
  info.patient_name = text(DCM_PatientName);
  info.patient_id = text(DCM_PatientID);
  info.study_instance_uid = text(DCM_StudyInstanceUID);
  info.study_date = text(DCM_StudyDate);
  info.study_description = text(DCM_StudyDescription);
  info.series_instance_uid = text(DCM_SeriesInstanceUID);
  info.series_description = text(DCM_SeriesDescription);
  info.frame_of_reference_uid = text(DCM_FrameOfReferenceUID);
  {
    std::string types = text(DCM_ImageType);
    std::stringstream split(types);
    for (std::string part; std::getline(split, part, '\\');) info.image_type.push_back(part);
  }
  auto integer = [&](const DcmTagKey& tag) {
    Sint32 v = 0;
    return ds.findAndGetSint32(tag, v).good() ? static_cast<int>(v) : 0;
  };
  info.series_number = integer(DCM_SeriesNumber);
  info.instance_number = integer(DCM_InstanceNumber);
  info.acquisition_number = integer(DCM_AcquisitionNumber);
  info.echo_number = integer(DCM_EchoNumbers);
  Float64 f = 0;
  if (ds.findAndGetFloat64(DCM_EchoTime, f).good()) info.echo_time_ms = f;
  if (ds.findAndGetFloat64(DCM_GantryDetectorTilt, f).good()) info.gantry_tilt_deg = f;
  if (ds.findAndGetFloat64(DCM_KVP, f).good()) info.kvp = f;
  info.contrast_agent = text(DCM_ContrastBolusAgent);

  if (info.sop_class_uid == UID_MediaStorageDirectoryStorage) bad(path, "a DICOMDIR, not an image");

  // Pixel description.
  bool present = false;
  info.rows = u16(ds, DCM_Rows, present);
  if (!present) bad(path, "no Rows (0028,0010): not an image or header damaged");
  info.columns = u16(ds, DCM_Columns, present);
  if (!present) bad(path, "no Columns (0028,0011): not an image or header damaged");
  if (info.rows == 0 || info.columns == 0)
    bad(path, "image size is " + std::to_string(info.columns) + " x " + std::to_string(info.rows) + " (Rows/Columns zero)");
  info.samples_per_pixel = u16(ds, DCM_SamplesPerPixel, present);
  if (!present) info.samples_per_pixel = 1;
  info.bits_allocated = u16(ds, DCM_BitsAllocated, present);
  if (!present) bad(path, "no Bits Allocated (0028,0100)");
  info.bits_stored = u16(ds, DCM_BitsStored, present);
  if (!present) info.bits_stored = info.bits_allocated;
  info.high_bit = u16(ds, DCM_HighBit, present);
  if (!present) info.high_bit = info.bits_stored - 1;
  info.pixel_representation = u16(ds, DCM_PixelRepresentation, present);
  info.planar_configuration = u16(ds, DCM_PlanarConfiguration, present);
  info.photometric = text(DCM_PhotometricInterpretation);
  {
    Sint32 frames = 1;
    if (ds.findAndGetSint32(DCM_NumberOfFrames, frames).good()) {
      if (frames < 1) bad(path, "Number of Frames is " + std::to_string(frames));
      info.number_of_frames = static_cast<std::uint32_t>(frames);
    }
  }
  if (info.bits_allocated != 1 && info.bits_allocated != 8 && info.bits_allocated != 16 && info.bits_allocated != 32)
    bad(path, "Bits Allocated " + std::to_string(info.bits_allocated) + " is not supported (1, 8, 16 or 32 bits)");
  if (info.bits_stored == 0 || info.bits_stored > info.bits_allocated)
    bad(path, "Bits Stored " + std::to_string(info.bits_stored) + " does not fit Bits Allocated " +
                  std::to_string(info.bits_allocated));
  if (info.high_bit >= info.bits_allocated || info.high_bit + 1 < info.bits_stored)
    bad(path, "High Bit " + std::to_string(info.high_bit) + " is inconsistent with Bits Stored " +
                  std::to_string(info.bits_stored));
  if (info.photometric.empty()) bad(path, "no Photometric Interpretation (0028,0004)");
  const bool mono = info.photometric == "MONOCHROME1" || info.photometric == "MONOCHROME2";
  if (mono && info.samples_per_pixel != 1)
    bad(path, "Samples per Pixel " + std::to_string(info.samples_per_pixel) + " contradicts " + info.photometric);
  if (!mono && info.photometric != "PALETTE COLOR" && info.samples_per_pixel != 3)
    bad(path, "Samples per Pixel " + std::to_string(info.samples_per_pixel) + " contradicts " + info.photometric);
  if (info.samples_per_pixel != 1 && info.samples_per_pixel != 3)
    bad(path, "Samples per Pixel " + std::to_string(info.samples_per_pixel) + " is not supported");

  // Pixel data: present, complete and as long as the image needs.
  DcmElement* pixel = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, pixel).bad() || pixel == nullptr)
    bad(path, "no Pixel Data (7FE0,0010): not an image (SOP class " + info.sop_class_uid + ")");
  info.has_pixel_data = true;
  info.encapsulated = DcmXfer(ds.getOriginalXfer()).isEncapsulated();
  const std::uint64_t samples = static_cast<std::uint64_t>(info.rows) * info.columns * info.samples_per_pixel *
                                info.number_of_frames;
  const std::uint64_t expected = info.bits_allocated == 1 ? (samples + 7) / 8 : samples * (info.bits_allocated / 8);
  if (info.encapsulated) {
    // Each frame takes at least one fragment: a larger Number of Frames is a damaged header.
    DcmPixelSequence* fragments = nullptr;
    const E_TransferSyntax xfer = ds.getOriginalXfer();
    if (static_cast<DcmPixelData*>(pixel)->getEncapsulatedRepresentation(xfer, nullptr, fragments).good() &&
        fragments != nullptr && fragments->card() > 0 && info.number_of_frames > fragments->card() - 1)
      bad(path, "Number of Frames " + std::to_string(info.number_of_frames) + " exceeds the " +
                    std::to_string(fragments->card() - 1) + " compressed pixel data fragment(s)");
  } else {
    info.pixel_data_bytes = pixel->getLength();
    if (info.pixel_data_bytes < expected)
      bad(path, "pixel data length " + std::to_string(info.pixel_data_bytes) + " bytes is shorter than declared (" +
                    std::to_string(info.columns) + " x " + std::to_string(info.rows) + " x " +
                    std::to_string(info.samples_per_pixel) + " samples x " + std::to_string(info.bits_allocated) +
                    " bits x " + std::to_string(info.number_of_frames) + " frames = " + std::to_string(expected) + " bytes)");
  }
  // A file cut short must be found now, not half-way through an analysis. Native pixel data that
  // ends the file is checked in O(1) (its element header sits right before the last L bytes);
  // anything else is read to its end.
  info.big_endian = DcmXfer(ds.getOriginalXfer()).getByteOrder() == EBO_BigEndian;
  if (!info.encapsulated && pixel_data_ends_file(path, file_size, pixel->getLength(), ds.getOriginalXfer())) {
    info.pixel_data_offset = file_size - pixel->getLength();
  } else {
    const OFCondition values = pixel->loadAllDataIntoMemory();
    if (values.bad()) bad(path, std::string("truncated: pixel data cannot be read to its end (") + values.text() + ")");
  }
  // Palette colour and JPEG 2000 files are decoded by GDCM, which aborts the process on some damage
  // (palette tables that disagree with their descriptors, ...): such a file is refused here, named.
  detail::check_before_gdcm(file, info);

  // Geometry: classic (one frame) or enhanced (per-frame functional groups).
  FrameInfo common;
  read_frame_geometry(ds, common, path);
  DcmItem* shared = nullptr;
  ds.findAndGetSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, 0);
  DcmSequenceOfItems* per_frame = nullptr;
  if (ds.findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, per_frame).good() && per_frame != nullptr) {
    info.enhanced = true;
    if (per_frame->card() < info.number_of_frames)
      bad(path, "Per-frame Functional Groups hold " + std::to_string(per_frame->card()) + " items for " +
                    std::to_string(info.number_of_frames) + " frames");
    if (per_frame->card() > info.number_of_frames)
      info.warnings.push_back("Per-frame Functional Groups hold " + std::to_string(per_frame->card()) +
                              " items for " + std::to_string(info.number_of_frames) + " frame(s): the first are used");
    if (shared != nullptr) apply_functional_groups(shared, common, path);
    for (unsigned long n = 0; n < info.number_of_frames; ++n) {
      FrameInfo frame = common;
      apply_functional_groups(per_frame->getItem(n), frame, path);
      info.frames.push_back(frame);
    }
  } else {
    {
      Sint32 temporal = 0;
      if (ds.findAndGetSint32(DCM_TemporalPositionIdentifier, temporal).good()) common.temporal_position = temporal;
    }
    info.frames.assign(info.number_of_frames, common);
  }

  // Philips private scaling (2005,100E) scale slope, (2005,100D) scale intercept.
  if (upper(info.manufacturer).find("PHILIPS") != std::string::npos) {
    Float32 v = 0;
    if (ds.findAndGetFloat32(DcmTagKey(0x2005, 0x100E), v).good() && v != 0 && std::isfinite(v))
      info.philips_scale_slope = v;
    if (ds.findAndGetFloat32(DcmTagKey(0x2005, 0x100D), v).good() && std::isfinite(v)) info.philips_scale_intercept = v;
  }

  // Ultrasound regions.
  DcmSequenceOfItems* regions = nullptr;
  if (ds.findAndGetSequence(DCM_SequenceOfUltrasoundRegions, regions).good() && regions != nullptr) {
    for (unsigned long n = 0; n < regions->card(); ++n) {
      DcmItem* item = regions->getItem(n);
      UltrasoundRegionInfo r;
      Uint16 v16 = 0;
      Uint32 v32 = 0;
      Float64 v64 = 0;
      if (item->findAndGetUint16(DCM_RegionSpatialFormat, v16).good()) r.spatial_format = v16;
      if (item->findAndGetUint16(DCM_RegionDataType, v16).good()) r.data_type = v16;
      if (item->findAndGetUint32(DCM_RegionLocationMinX0, v32).good()) r.min_x0 = static_cast<int>(v32);
      if (item->findAndGetUint32(DCM_RegionLocationMinY0, v32).good()) r.min_y0 = static_cast<int>(v32);
      if (item->findAndGetUint32(DCM_RegionLocationMaxX1, v32).good()) r.max_x1 = static_cast<int>(v32);
      if (item->findAndGetUint32(DCM_RegionLocationMaxY1, v32).good()) r.max_y1 = static_cast<int>(v32);
      if (item->findAndGetUint16(DCM_PhysicalUnitsXDirection, v16).good()) r.units_x = v16;
      if (item->findAndGetUint16(DCM_PhysicalUnitsYDirection, v16).good()) r.units_y = v16;
      if (item->findAndGetFloat64(DCM_PhysicalDeltaX, v64).good()) r.physical_delta_x = v64;
      if (item->findAndGetFloat64(DCM_PhysicalDeltaY, v64).good()) r.physical_delta_y = v64;
      info.ultrasound_regions.push_back(r);
    }
  }

  // Geometry sanity for cross-sectional images: CT and MR need their pixel size.
  if ((info.modality == "CT" || info.modality == "MR") && !info.frames.front().pixel_spacing_mm)
    info.warnings.push_back("no Pixel Spacing: physical size unknown");
  if (info.series_instance_uid.empty()) info.warnings.push_back("no Series Instance UID (anonymised?)");
  if (info.sop_instance_uid.empty()) info.warnings.push_back("no SOP Instance UID (anonymised?)");
  return info;
}

}  // namespace musclecsa::dicom
