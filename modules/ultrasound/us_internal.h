#pragma once
// Private helpers of the ultrasound module.

#include <vector>

#include "musclecsa/ultrasound/us_analysis.h"

namespace musclecsa::ultrasound::detail {

/// Active contour by dynamic programming (Amini et al. 1990): each vertex of the closed contour
/// moves along its normal within +-search_mm to the strongest dark-inside/bright-outside edge (the
/// fascia's inner edge), with a smoothness cost between neighbours; vertices next to `pins` stay
/// within pin_tolerance_mm of them. Repeated `iterations` times with a halving search range.
std::vector<Point2> snap_contour(const GreyImage& image, const FieldOfView& fov, std::vector<Point2> contour,
                                 double search_mm, int iterations, const std::vector<Point2>& pins = {},
                                 double pin_tolerance_mm = 0.3);

/// The closed contour resampled every `step_px` pixels along its length.
std::vector<Point2> resample_closed(const std::vector<Point2>& contour, double step_px);

/// A smooth closed curve (Catmull-Rom) through the points, taken in angular order about their centroid.
std::vector<Point2> closed_spline(std::vector<Point2> points, int samples_per_segment);

/// Pixel size (mm) the algorithms use for their size limits: the calibration, or a nominal size
/// that makes the imaged depth 45 mm when the image is not calibrated.
double working_pixel_mm(const GreyImage& image, const FieldOfView& fov);

}  // namespace musclecsa::ultrasound::detail
