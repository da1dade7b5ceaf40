// make_image_seeds OUT_DIR: writes the seed corpus of the image_io fuzz target (fuzz_image_io.cpp):
// small files of every format it reads, as MuscleCSA and ITK write them. NIfTI (.nii, .nii.gz),
// NRRD and MetaImage through io::write_image (float, int16, label map storage), an oblique
// direction and a one-slice image; 8-bit grey and RGB PNG through io::write_png; 16-bit PNG,
// TIFF (grey, RGB), JPEG and BMP through ITK's writers. Files are named by content, as the target
// tells formats by their first bytes. Prints nothing on success; exits 1 with the problem on stderr.

#include <itkImage.h>
#include <itkImageFileWriter.h>
#include <itkRGBPixel.h>

#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>

#include "musclecsa/core/geometry.h"
#include "musclecsa/core/image.h"
#include "musclecsa/io/image_io.h"

using namespace musclecsa;
namespace fs = std::filesystem;

namespace {

template <class TPixel>
void write_picture_with_itk(const fs::path& path, unsigned width, unsigned height) {
  using ImageType = itk::Image<TPixel, 2>;
  auto image = ImageType::New();
  typename ImageType::RegionType region;
  region.SetSize({width, height});
  image->SetRegions(region);
  image->Allocate();
  std::size_t n = 0;
  for (auto* p = image->GetBufferPointer(); p != image->GetBufferPointer() + std::size_t(width) * height; ++p, ++n) {
    if constexpr (std::is_same_v<TPixel, itk::RGBPixel<unsigned char>>) {
      p->Set(static_cast<unsigned char>(n * 7), static_cast<unsigned char>(n * 3), static_cast<unsigned char>(255 - n));
    } else {
      *p = static_cast<TPixel>(n * 37);
    }
  }
  auto writer = itk::ImageFileWriter<ImageType>::New();
  writer->SetFileName(path.string());
  writer->SetInput(image);
  writer->Update();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_image_seeds OUT_DIR\n";
    return 2;
  }
  try {
    const fs::path out = argv[1];
    fs::create_directories(out);
    // A small CT-like volume: 6 x 5 x 3 voxels, values from -1000 to a few hundred.
    Image<float> volume(make_axial_geometry({6, 5, 3}, {0.8, 0.8, 2.5}, {-10.0, 20.0, 30.0}));
    for (std::size_t n = 0; n < volume.voxels.size(); ++n) volume.voxels[n] = float(int(n * 53 % 1400) - 1000);
    io::write_image(volume, out / "ct_float.nii", io::PixelStorage::Float32);
    io::write_image(volume, out / "ct_int16.nii.gz", io::PixelStorage::Int16);
    io::write_image(volume, out / "ct_float.nrrd", io::PixelStorage::Float32);
    io::write_image(volume, out / "ct_int16.mha", io::PixelStorage::Int16);
    // Oblique axes (rotated 30 degrees about z) and a single slice.
    Image<float> oblique = volume;
    const double c = std::cos(M_PI / 6), s = std::sin(M_PI / 6);
    oblique.geometry.direction = {c, -s, 0, s, c, 0, 0, 0, 1};
    io::write_image(oblique, out / "oblique.nii", io::PixelStorage::Int16);
    io::write_image(oblique, out / "oblique.nrrd", io::PixelStorage::Int16);
    Image<float> slice(make_axial_geometry({4, 4, 1}, {1.0, 1.0, 1.0}, {0.0, 0.0, 0.0}), 7.0f);
    io::write_image(slice, out / "slice.mha", io::PixelStorage::Float32);
    LabelMap labels(volume.geometry);
    for (std::size_t n = 0; n < labels.voxels.size(); ++n) labels.voxels[n] = LabelId(n % 5);
    io::write_image(labels, out / "labels.nii.gz");
    io::write_image(labels, out / "labels.nrrd");

    io::Picture grey{5, 4, 1, {}}, rgb{5, 4, 3, {}};
    for (int n = 0; n < 20; ++n) grey.values.push_back(std::uint8_t(n * 12));
    for (int n = 0; n < 60; ++n) rgb.values.push_back(std::uint8_t(n * 4));
    io::write_png(out / "grey.png", grey);
    io::write_png(out / "rgb.png", rgb);
    write_picture_with_itk<std::uint16_t>(out / "grey16.png", 5, 4);
    write_picture_with_itk<unsigned char>(out / "grey.tif", 5, 4);
    write_picture_with_itk<itk::RGBPixel<unsigned char>>(out / "rgb.tif", 5, 4);
    write_picture_with_itk<unsigned char>(out / "grey.jpg", 8, 8);
    write_picture_with_itk<itk::RGBPixel<unsigned char>>(out / "rgb.jpg", 8, 8);
    write_picture_with_itk<unsigned char>(out / "grey.bmp", 5, 4);
    write_picture_with_itk<itk::RGBPixel<unsigned char>>(out / "rgb.bmp", 5, 4);
  } catch (const std::exception& e) {
    std::cerr << "make_image_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
