// Masks and polygons: rasterisation by pixel centre, outlines, manual segmentations.

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "musclecsa/core/error.h"
#include "musclecsa/ultrasound/us_analysis.h"

namespace musclecsa::ultrasound {

std::size_t Mask::count() const { return static_cast<std::size_t>(std::count_if(on.begin(), on.end(), [](std::uint8_t v) { return v != 0; })); }

Mask rasterize_polygon(const std::vector<Point2>& polygon, int width, int height) {
  Mask mask(width, height);
  const std::size_t n = polygon.size();
  if (n < 3) return mask;
  std::vector<double> xs;
  for (int j = 0; j < height; ++j) {
    xs.clear();
    const double y = j;
    for (std::size_t a = 0; a < n; ++a) {
      const Point2& p = polygon[a];
      const Point2& q = polygon[(a + 1) % n];
      // Half-open rule: an edge counts when the row lies in [min y, max y).
      if ((p.y <= y && q.y > y) || (q.y <= y && p.y > y)) xs.push_back(p.x + (y - p.y) / (q.y - p.y) * (q.x - p.x));
    }
    std::sort(xs.begin(), xs.end());
    for (std::size_t k = 0; k + 1 < xs.size(); k += 2) {
      const int i0 = std::max(0, static_cast<int>(std::ceil(xs[k])));
      const int i1 = std::min(width - 1, static_cast<int>(std::ceil(xs[k + 1])) - 1);
      for (int i = i0; i <= i1; ++i) mask.on[std::size_t(i) + std::size_t(width) * std::size_t(j)] = 1;
    }
  }
  return mask;
}

std::vector<Point2> mask_outline(const Mask& mask) {
  cv::Mat m(mask.height, mask.width, CV_8UC1, const_cast<std::uint8_t*>(mask.on.data()));
  cv::Mat copy = m.clone();
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(copy, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
  std::vector<Point2> out;
  std::size_t best = 0;
  double best_area = -1;
  for (std::size_t c = 0; c < contours.size(); ++c) {
    const double a = cv::contourArea(contours[c]) + double(contours[c].size());
    if (a > best_area) best_area = a, best = c;
  }
  if (contours.empty()) return out;
  for (const auto& p : contours[best]) out.push_back({double(p.x), double(p.y)});
  return out;
}

UsSegmentation segment_manual(const GreyImage& image, const std::vector<Point2>& polygon, const std::string& source) {
  if (polygon.size() < 3) throw Error(ErrorCode::InvalidInput, source, "an outline needs at least 3 points");
  std::size_t outside = 0;
  for (const auto& p : polygon)
    if (p.x < -0.5 || p.y < -0.5 || p.x > image.width - 0.5 || p.y > image.height - 0.5) ++outside;
  if (outside > 0)
    throw Error(ErrorCode::InvalidInput, source,
                std::to_string(outside) + " outline point(s) lie outside the image (" + std::to_string(image.width) + "x" +
                    std::to_string(image.height) + " pixels); coordinates must be pixels of this image");
  UsSegmentation s;
  s.method = SegmentationMethod::Manual;
  s.contour = polygon;
  s.mask = rasterize_polygon(polygon, image.width, image.height);
  s.source = source;
  if (s.mask.count() == 0) throw Error(ErrorCode::InvalidInput, source, "the outline encloses no pixel centre");
  return s;
}

UsSegmentation segment_manual(const GreyImage& image, const Mask& mask, const std::string& source) {
  if (mask.width != image.width || mask.height != image.height)
    throw Error(ErrorCode::InvalidInput, source,
                "the mask is " + std::to_string(mask.width) + "x" + std::to_string(mask.height) + " pixels, the image " +
                    std::to_string(image.width) + "x" + std::to_string(image.height));
  if (mask.count() == 0) throw Error(ErrorCode::InvalidInput, source, "the mask is empty");
  UsSegmentation s;
  s.method = SegmentationMethod::Manual;
  s.mask = mask;
  s.contour = mask_outline(mask);
  s.source = source;
  return s;
}

}  // namespace musclecsa::ultrasound
