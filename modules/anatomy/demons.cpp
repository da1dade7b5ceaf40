// ITK's diffeomorphic demons (Vercauteren 2009) with symmetric forces, in a three-level pyramid: the
// only ITK code of the anatomy module. Chosen over B-spline and SyN for speed on small 2-D grids
// (docs/methods.md, "Muscles and groups").

#include "demons.h"

#include <algorithm>

#include <itkDiffeomorphicDemonsRegistrationFilter.h>
#include <itkImage.h>
#include <itkMultiResolutionPDEDeformableRegistration.h>
#include <itkMultiThreaderBase.h>

namespace musclecsa::anatomy {
namespace {

using FloatImage = itk::Image<float, 2>;
using Field = itk::Image<itk::Vector<float, 2>, 2>;

FloatImage::Pointer make_image(const std::vector<float>& values, int nx, int ny, double h_mm) {
  auto image = FloatImage::New();
  FloatImage::RegionType region;
  region.SetSize({{static_cast<itk::SizeValueType>(nx), static_cast<itk::SizeValueType>(ny)}});
  image->SetRegions(region);
  image->SetSpacing(h_mm);
  image->Allocate();
  std::copy(values.begin(), values.end(), image->GetBufferPointer());
  return image;
}

}  // namespace

ItkOneThreadPerFilter::ItkOneThreadPerFilter() : previous_(int(itk::MultiThreaderBase::GetGlobalDefaultNumberOfThreads())) {
  itk::MultiThreaderBase::SetGlobalDefaultNumberOfThreads(1);
}
ItkOneThreadPerFilter::~ItkOneThreadPerFilter() { itk::MultiThreaderBase::SetGlobalDefaultNumberOfThreads(itk::ThreadIdType(previous_)); }

DisplacementField register_demons(const std::vector<float>& fixed, const std::vector<float>& moving, int nx, int ny,
                                  double h_mm, int iterations) {
  using Demons = itk::DiffeomorphicDemonsRegistrationFilter<FloatImage, FloatImage, Field>;
  using Pyramid = itk::MultiResolutionPDEDeformableRegistration<FloatImage, FloatImage, Field, float>;
  auto demons = Demons::New();
  demons->SetNumberOfWorkUnits(1);
  demons->SetStandardDeviations(1.5);           // field smoothing (grid points): elastic regularisation
  demons->SetMaximumUpdateStepLength(2.0);      // grid points per iteration
  demons->SetUseGradientType(Demons::GradientType::Symmetric);
  demons->SetIntensityDifferenceThreshold(0.01);
  auto pyramid = Pyramid::New();
  pyramid->SetNumberOfWorkUnits(1);
  pyramid->GetModifiableFixedImagePyramid()->SetNumberOfWorkUnits(1);
  pyramid->GetModifiableMovingImagePyramid()->SetNumberOfWorkUnits(1);
  pyramid->SetRegistrationFilter(demons);
  pyramid->SetNumberOfLevels(3);
  unsigned int per_level[3] = {unsigned(2 * iterations), unsigned(3 * iterations / 2), unsigned(iterations)};
  pyramid->SetNumberOfIterations(per_level);
  const auto fixed_image = make_image(fixed, nx, ny, h_mm);
  const auto moving_image = make_image(moving, nx, ny, h_mm);
  pyramid->SetFixedImage(fixed_image);
  pyramid->SetMovingImage(moving_image);
  pyramid->Update();
  const Field* field = pyramid->GetOutput();
  DisplacementField out;
  const std::size_t n = std::size_t(nx) * std::size_t(ny);
  out.ux.resize(n), out.uy.resize(n);
  const auto* v = field->GetBufferPointer();
  for (std::size_t q = 0; q < n; ++q) out.ux[q] = v[q][0], out.uy[q] = v[q][1];
  return out;
}

}  // namespace musclecsa::anatomy
