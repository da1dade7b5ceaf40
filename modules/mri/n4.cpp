// N4 bias-field correction (ITK), fitted on an in-plane downsampled copy and evaluated at full
// resolution from the B-spline control lattice. The only ITK translation unit of the module.

#include <itkBSplineControlPointImageFilter.h>
#include <itkImage.h>
#include <itkN4BiasFieldCorrectionImageFilter.h>
#include <itkShrinkImageFilter.h>

#include <algorithm>
#include <cmath>

#include "musclecsa/core/error.h"
#include "musclecsa/mri/mr_analysis.h"

namespace musclecsa::mri {
namespace {

using FloatImage = itk::Image<float, 3>;
using MaskImage = itk::Image<unsigned char, 3>;

template <class ItkImage, class T>
typename ItkImage::Pointer to_itk(const Image<T>& image) {
  auto out = ItkImage::New();
  typename ItkImage::RegionType region;
  typename ItkImage::SizeType size;
  typename ItkImage::SpacingType spacing;
  typename ItkImage::PointType origin;
  typename ItkImage::DirectionType direction;
  const Geometry& g = image.geometry;
  for (unsigned d = 0; d < 3; ++d) {
    size[d] = g.size[d];
    spacing[d] = g.spacing_mm[d];
    for (unsigned e = 0; e < 3; ++e) direction[d][e] = g.direction[3 * d + e];
  }
  origin[0] = g.origin_lps_mm.x, origin[1] = g.origin_lps_mm.y, origin[2] = g.origin_lps_mm.z;
  region.SetSize(size);
  out->SetRegions(region);
  out->SetSpacing(spacing);
  out->SetOrigin(origin);
  out->SetDirection(direction);
  out->Allocate();
  std::copy(image.voxels.begin(), image.voxels.end(), out->GetBufferPointer());
  return out;
}

}  // namespace

ScalarVolume n4_correct(const ScalarVolume& image, const Image<std::uint8_t>& mask, const N4Settings& s) {
  if (!image.geometry.same_grid_as(mask.geometry))
    throw Error(ErrorCode::Internal, "n4_correct", "image and mask are not on the same grid");
  try {
    ScalarVolume positive = image;
    for (float& v : positive.voxels) v = std::max(v, 1.0f);  // N4 works on log intensities
    auto input = to_itk<FloatImage>(positive);
    auto mask_itk = to_itk<MaskImage>(mask);
    const unsigned shrink_xy = unsigned(std::max(1, s.shrink_factor));
    auto shrink = itk::ShrinkImageFilter<FloatImage, FloatImage>::New();
    shrink->SetInput(input);
    itk::ShrinkImageFilter<FloatImage, FloatImage>::ShrinkFactorsType factors;
    factors[0] = factors[1] = shrink_xy, factors[2] = 1;
    shrink->SetShrinkFactors(factors);
    auto shrink_mask = itk::ShrinkImageFilter<MaskImage, MaskImage>::New();
    shrink_mask->SetInput(mask_itk);
    shrink_mask->SetShrinkFactors(factors);
    shrink->Update();
    shrink_mask->Update();

    using N4 = itk::N4BiasFieldCorrectionImageFilter<FloatImage, MaskImage, FloatImage>;
    auto n4 = N4::New();
    n4->SetInput(shrink->GetOutput());
    n4->SetMaskImage(shrink_mask->GetOutput());
    n4->SetNumberOfFittingLevels(unsigned(std::max(1, s.fitting_levels)));
    N4::VariableSizeArrayType iterations(unsigned(std::max(1, s.fitting_levels)));
    iterations.Fill(unsigned(std::max(1, s.iterations_per_level)));
    n4->SetMaximumNumberOfIterations(iterations);
    n4->SetConvergenceThreshold(float(s.convergence_threshold));
    N4::ArrayType control_points;
    control_points.Fill(unsigned(std::max(4, s.spline_control_points)));
    n4->SetNumberOfControlPoints(control_points);
    n4->SetNumberOfWorkUnits(2);
    n4->Update();

    // The log bias field at full resolution, from the fitted lattice.
    using Lattice = N4::BiasFieldControlPointLatticeType;
    using ScalarImage = N4::ScalarImageType;
    auto bspline = itk::BSplineControlPointImageFilter<Lattice, ScalarImage>::New();
    bspline->SetInput(n4->GetLogBiasFieldControlPointLattice());
    bspline->SetSplineOrder(n4->GetSplineOrder());
    bspline->SetSize(input->GetLargestPossibleRegion().GetSize());
    bspline->SetOrigin(input->GetOrigin());
    bspline->SetSpacing(input->GetSpacing());
    bspline->SetDirection(input->GetDirection());
    bspline->Update();
    const auto* log_field = bspline->GetOutput()->GetBufferPointer();
    ScalarVolume out = image;
    // Keep the mean level inside the mask: divide by the field normalised to its masked mean.
    double sum = 0;
    std::size_t count = 0;
    for (std::size_t o = 0; o < out.voxels.size(); ++o)
      if (mask.voxels[o]) sum += log_field[o][0], ++count;
    const double mean_log = count > 0 ? sum / double(count) : 0;
    for (std::size_t o = 0; o < out.voxels.size(); ++o)
      out.voxels[o] = float(image.voxels[o] / std::exp(double(log_field[o][0]) - mean_log));
    return out;
  } catch (const itk::ExceptionObject& e) {
    throw Error(ErrorCode::InvalidInput, image.source.path.empty() ? "input" : image.source.path,
                std::string("N4 bias-field correction failed: ") + e.GetDescription());
  }
}

}  // namespace musclecsa::mri
