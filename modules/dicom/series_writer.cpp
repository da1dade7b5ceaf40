#include "musclecsa/dicom/series_writer.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <unistd.h>

#include "musclecsa/core/error.h"
#include "musclecsa/io/text_file.h"

namespace musclecsa::dicom {
namespace {

std::string decimal(double v, int precision = 10) {
  std::ostringstream s;
  s.precision(precision);
  s << v;
  std::string text = s.str();
  if (text.size() > 16) {  // DS is at most 16 characters
    s.str("");
    s.precision(8);
    s << v;
    text = s.str();
  }
  return text;
}

std::string join(const std::vector<std::string>& values, const char* sep = "\\") {
  std::string out;
  for (std::size_t n = 0; n < values.size(); ++n) out += (n ? sep : "") + values[n];
  return out;
}

void check(const OFCondition& status, const std::string& what) {
  if (status.bad()) throw Error(ErrorCode::Internal, what, std::string("DCMTK: ") + status.text());
}

void put(DcmItem& item, const DcmTagKey& tag, const std::string& value) {
  check(item.putAndInsertString(tag, value.c_str()), DcmTag(tag).getTagName());
}

}  // namespace

std::vector<std::filesystem::path> write_series(const ScalarVolume& volume, const SeriesWriteOptions& o,
                                                const std::filesystem::path& directory) {
  const Geometry& g = volume.geometry;
  g.validate(o.series_description.empty() ? "volume to write" : o.series_description);
  const bool us = volume.modality == Modality::US;
  const bool ct = volume.modality == Modality::CT;
  const bool mr = volume.modality == Modality::MR;
  if (!us && !ct && !mr)
    throw Error(ErrorCode::InvalidArgument, directory.string(), "only CT, MR and US volumes can be written as DICOM");
  if (o.study_instance_uid.empty() || o.series_instance_uid.empty() || (!us && o.frame_of_reference_uid.empty()))
    throw Error(ErrorCode::InvalidArgument, directory.string(), "study, series and frame of reference UIDs are required");

  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) throw Error(ErrorCode::OutputFailed, directory.string(), "cannot create folder: " + ec.message());

  const std::size_t nx = g.size[0], ny = g.size[1], nz = g.size[2];
  const Vec3 row = g.axis(0), col = g.axis(1), normal = g.axis(2);
  std::vector<std::filesystem::path> written;
  for (std::size_t k = 0; k < nz; ++k) {
    DcmFileFormat file;
    DcmDataset& ds = *file.getDataset();
    const std::string sop_uid = uid_from_text(o.uid_prefix_text + "/" + o.series_instance_uid + "/" + std::to_string(k));
    const char* sop_class = ct ? UID_CTImageStorage : (mr ? UID_MRImageStorage : UID_UltrasoundImageStorage);

    put(ds, DCM_SpecificCharacterSet, "ISO_IR 100");
    put(ds, DCM_SOPClassUID, sop_class);
    put(ds, DCM_SOPInstanceUID, sop_uid);
    put(ds, DCM_ImageType, join(o.image_type));
    put(ds, DCM_StudyDate, o.study_date);
    put(ds, DCM_SeriesDate, o.study_date);
    put(ds, DCM_ContentDate, o.study_date);
    put(ds, DCM_StudyTime, o.study_time);
    put(ds, DCM_SeriesTime, o.study_time);
    put(ds, DCM_ContentTime, o.study_time);
    put(ds, DCM_AccessionNumber, "");
    put(ds, DCM_Modality, std::string(to_string(volume.modality)));
    put(ds, DCM_Manufacturer, o.manufacturer);
    put(ds, DCM_ManufacturerModelName, o.model_name);
    put(ds, DCM_ReferringPhysicianName, "");
    put(ds, DCM_StudyDescription, o.study_description);
    put(ds, DCM_SeriesDescription, o.series_description);
    put(ds, DCM_PatientName, o.patient_name);
    put(ds, DCM_PatientID, o.patient_id);
    put(ds, DCM_PatientBirthDate, "");
    put(ds, DCM_PatientSex, o.patient_sex);
    put(ds, DCM_BodyPartExamined, o.body_part_examined);
    // Legs are paired body parts: Image Laterality stands in for the series' type 2C Laterality.
    put(ds, DCM_ImageLaterality, o.image_laterality);
    put(ds, DCM_StudyInstanceUID, o.study_instance_uid);
    put(ds, DCM_SeriesInstanceUID, o.series_instance_uid);
    put(ds, DCM_StudyID, "1");
    put(ds, DCM_SeriesNumber, std::to_string(o.series_number));
    put(ds, DCM_InstanceNumber, std::to_string(k + 1));
    if (!us) {
      put(ds, DCM_PatientPosition, "FFS");
      put(ds, DCM_AcquisitionNumber, "1");
      put(ds, DCM_FrameOfReferenceUID, o.frame_of_reference_uid);
      put(ds, DCM_PositionReferenceIndicator, "");
      const Vec3 pos = g.index_to_lps({0, 0, static_cast<double>(k)});
      put(ds, DCM_ImagePositionPatient, decimal(pos.x) + "\\" + decimal(pos.y) + "\\" + decimal(pos.z));
      put(ds, DCM_ImageOrientationPatient, decimal(row.x) + "\\" + decimal(row.y) + "\\" + decimal(row.z) + "\\" +
                                               decimal(col.x) + "\\" + decimal(col.y) + "\\" + decimal(col.z));
      // Pixel Spacing is row spacing (between rows, along j) \ column spacing (along i).
      put(ds, DCM_PixelSpacing, decimal(g.spacing_mm[1]) + "\\" + decimal(g.spacing_mm[0]));
      put(ds, DCM_SliceThickness, decimal(g.spacing_mm[2]));
      put(ds, DCM_SliceLocation, decimal(dot(pos, normal)));
      put(ds, DCM_WindowCenter, decimal(o.window_center));
      put(ds, DCM_WindowWidth, decimal(o.window_width));
    } else {
      put(ds, DCM_PatientOrientation, "");
      put(ds, DCM_LossyImageCompression, "00");
    }
    if (ct) {
      put(ds, DCM_KVP, "120");
      put(ds, DCM_RescaleIntercept, decimal(o.rescale_intercept));
      put(ds, DCM_RescaleSlope, decimal(o.rescale_slope));
      put(ds, DCM_RescaleType, "HU");
      put(ds, DCM_ConvolutionKernel, "STANDARD");
    }
    if (mr) {
      put(ds, DCM_ScanningSequence, o.mr.scanning_sequence);
      put(ds, DCM_SequenceVariant, o.mr.sequence_variant);
      put(ds, DCM_ScanOptions, "");
      put(ds, DCM_MRAcquisitionType, "2D");
      put(ds, DCM_RepetitionTime, decimal(o.mr.repetition_time_ms));
      put(ds, DCM_EchoTime, decimal(o.mr.echo_time_ms));
      put(ds, DCM_EchoTrainLength, "1");
      put(ds, DCM_MagneticFieldStrength, decimal(o.mr.field_strength_t));
      put(ds, DCM_ImagedNucleus, "1H");
    }
    if (us && o.ultrasound_region) {
      const UltrasoundRegion& r = *o.ultrasound_region;
      DcmItem* item = nullptr;
      check(ds.findOrCreateSequenceItem(DCM_SequenceOfUltrasoundRegions, item, 0), "SequenceOfUltrasoundRegions");
      check(item->putAndInsertUint16(DCM_RegionSpatialFormat, 1), "RegionSpatialFormat");    // 2-D tissue
      check(item->putAndInsertUint16(DCM_RegionDataType, 1), "RegionDataType");              // tissue
      check(item->putAndInsertUint32(DCM_RegionFlags, 0), "RegionFlags");
      check(item->putAndInsertUint32(DCM_RegionLocationMinX0, r.min_x0), "RegionLocationMinX0");
      check(item->putAndInsertUint32(DCM_RegionLocationMinY0, r.min_y0), "RegionLocationMinY0");
      check(item->putAndInsertUint32(DCM_RegionLocationMaxX1, r.max_x1), "RegionLocationMaxX1");
      check(item->putAndInsertUint32(DCM_RegionLocationMaxY1, r.max_y1), "RegionLocationMaxY1");
      check(item->putAndInsertUint16(DCM_PhysicalUnitsXDirection, 3), "PhysicalUnitsXDirection");  // cm
      check(item->putAndInsertUint16(DCM_PhysicalUnitsYDirection, 3), "PhysicalUnitsYDirection");
      check(item->putAndInsertFloat64(DCM_PhysicalDeltaX, r.physical_delta_x_cm), "PhysicalDeltaX");
      check(item->putAndInsertFloat64(DCM_PhysicalDeltaY, r.physical_delta_y_cm), "PhysicalDeltaY");
    }

    check(ds.putAndInsertUint16(DCM_SamplesPerPixel, 1), "SamplesPerPixel");
    put(ds, DCM_PhotometricInterpretation, "MONOCHROME2");
    check(ds.putAndInsertUint16(DCM_Rows, static_cast<Uint16>(ny)), "Rows");
    check(ds.putAndInsertUint16(DCM_Columns, static_cast<Uint16>(nx)), "Columns");
    check(ds.putAndInsertUint16(DCM_PixelRepresentation, 0), "PixelRepresentation");
    const float* values = volume.slice(k);
    const std::size_t count = nx * ny;
    if (us) {
      check(ds.putAndInsertUint16(DCM_BitsAllocated, 8), "BitsAllocated");
      check(ds.putAndInsertUint16(DCM_BitsStored, 8), "BitsStored");
      check(ds.putAndInsertUint16(DCM_HighBit, 7), "HighBit");
      std::vector<Uint8> stored(count);
      for (std::size_t n = 0; n < count; ++n) {
        const double v = std::round(values[n]);
        if (!(v >= 0 && v <= 255))
          throw Error(ErrorCode::InvalidArgument, o.series_description, "ultrasound grey value outside 0..255");
        stored[n] = static_cast<Uint8>(v);
      }
      check(ds.putAndInsertUint8Array(DCM_PixelData, stored.data(), static_cast<unsigned long>(count)), "PixelData");
    } else {
      check(ds.putAndInsertUint16(DCM_BitsAllocated, 16), "BitsAllocated");
      check(ds.putAndInsertUint16(DCM_BitsStored, 16), "BitsStored");
      check(ds.putAndInsertUint16(DCM_HighBit, 15), "HighBit");
      std::vector<Uint16> stored(count);
      for (std::size_t n = 0; n < count; ++n) {
        const double v = std::round((values[n] - o.rescale_intercept) / o.rescale_slope);
        if (!(v >= 0 && v <= 65535))
          throw Error(ErrorCode::InvalidArgument, o.series_description,
                      "value " + std::to_string(values[n]) + " does not fit 16-bit unsigned storage with the rescale given");
        stored[n] = static_cast<Uint16>(v);
      }
      check(ds.putAndInsertUint16Array(DCM_PixelData, stored.data(), static_cast<unsigned long>(count)), "PixelData");
    }

    char name[32];
    std::snprintf(name, sizeof name, "%s%05zu.dcm", o.file_prefix.c_str(), k + 1);
    const std::filesystem::path final_path = directory / name;
    const std::filesystem::path temp_path = directory / ("." + std::string(name) + ".tmp" + std::to_string(::getpid()));
    const OFCondition status = file.saveFile(temp_path.c_str(), EXS_LittleEndianExplicit);
    if (status.bad()) {
      std::filesystem::remove(temp_path, ec);
      throw Error(ErrorCode::OutputFailed, final_path.string(), std::string("cannot write DICOM file: ") + status.text());
    }
    io::move_into_place(temp_path, final_path);
    written.push_back(final_path);
  }
  return written;
}

}  // namespace musclecsa::dicom
