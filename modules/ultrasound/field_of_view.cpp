// Field of view: the imaged sector or panoramic band, without the black border, burned-in text,
// scale bars and coloured overlays.

#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "musclecsa/core/error.h"
#include "musclecsa/ultrasound/us_analysis.h"

namespace musclecsa::ultrasound {

FieldOfView detect_field_of_view(const GreyImage& image, const Mask* overlay, const std::optional<std::array<int, 4>>& region) {
  const int w = image.width, h = image.height;
  if (w < 32 || h < 32) throw Error(ErrorCode::InvalidInput, "image", "too small for an ultrasound image (" + std::to_string(w) + "x" + std::to_string(h) + ")");
  cv::Mat grey(h, w, CV_32FC1, const_cast<float*>(image.grey.data()));
  // Non-black pixels; thin strokes (text, tick marks, scale lines) removed by an opening.
  cv::Mat bright;
  cv::threshold(grey, bright, 8.0, 255.0, cv::THRESH_BINARY);
  bright.convertTo(bright, CV_8UC1);
  std::size_t removed = 0;
  if (overlay != nullptr && overlay->width == w && overlay->height == h)
    for (int j = 0; j < h; ++j)
      for (int i = 0; i < w; ++i)
        if (overlay->at(i, j)) bright.at<std::uint8_t>(j, i) = 0;
  if (region) {
    cv::Mat keep = cv::Mat::zeros(h, w, CV_8UC1);
    const int x0 = std::clamp((*region)[0], 0, w - 1), y0 = std::clamp((*region)[1], 0, h - 1);
    const int x1 = std::clamp((*region)[2], x0, w - 1), y1 = std::clamp((*region)[3], y0, h - 1);
    keep(cv::Rect(x0, y0, x1 - x0 + 1, y1 - y0 + 1)).setTo(255);
    cv::bitwise_and(bright, keep, bright);
  }
  const int open_px = std::max(5, std::min(w, h) / 120) | 1;
  const int close_px = std::max(9, std::min(w, h) / 30) | 1;
  cv::morphologyEx(bright, bright, cv::MORPH_OPEN, cv::getStructuringElement(cv::MORPH_ELLIPSE, {open_px, open_px}));
  cv::morphologyEx(bright, bright, cv::MORPH_CLOSE, cv::getStructuringElement(cv::MORPH_ELLIPSE, {close_px, close_px}));
  // The largest connected region, its holes filled.
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(bright, labels, stats, centroids, 8, CV_32S);
  int best = 0, best_area = 0;
  for (int c = 1; c < n; ++c)
    if (stats.at<int>(c, cv::CC_STAT_AREA) > best_area) best_area = stats.at<int>(c, cv::CC_STAT_AREA), best = c;
  if (best == 0 || best_area < std::max(2500, w * h / 50))
    throw Error(ErrorCode::InvalidInput, "image", "no imaged region found (the picture is black or holds only small marks)");
  // The imaged region is the largest region's convex hull (dark tissue near the sector's sides
  // and bottom stays inside), below the first bright pixel of each column (the skin line: a
  // panoramic band is concave on top), and inside the DICOM region when there is one.
  cv::Mat region_mask = (labels == best);
  cv::Mat filled = cv::Mat::zeros(h, w, CV_8UC1);
  {
    std::vector<cv::Point> points, hull;
    cv::findNonZero(region_mask, points);
    cv::convexHull(points, hull);
    cv::fillConvexPoly(filled, hull, 255);
    for (int i = 0; i < w; ++i) {
      int first = h;
      for (int j = 0; j < h; ++j)
        if (region_mask.at<std::uint8_t>(j, i)) {
          first = j;
          break;
        }
      for (int j = 0; j < std::min(first, h); ++j) filled.at<std::uint8_t>(j, i) = 0;
    }
    if (region) {
      cv::Mat keep = cv::Mat::zeros(h, w, CV_8UC1);
      const int x0 = std::clamp((*region)[0], 0, w - 1), y0 = std::clamp((*region)[1], 0, h - 1);
      const int x1 = std::clamp((*region)[2], x0, w - 1), y1 = std::clamp((*region)[3], y0, h - 1);
      keep(cv::Rect(x0, y0, x1 - x0 + 1, y1 - y0 + 1)).setTo(255);
      cv::bitwise_and(filled, keep, filled);
    }
  }
  // Leave out the edge pixels (partial, interpolated) of the region.
  cv::erode(filled, filled, cv::getStructuringElement(cv::MORPH_RECT, {5, 5}));
  FieldOfView fov;
  fov.mask = Mask(w, h);
  fov.min_x = w, fov.min_y = h, fov.max_x = -1, fov.max_y = -1;
  for (int j = 0; j < h; ++j)
    for (int i = 0; i < w; ++i) {
      if (!filled.at<std::uint8_t>(j, i)) continue;
      if (overlay != nullptr && overlay->width == w && overlay->height == h && overlay->at(i, j)) {
        ++removed;
        continue;
      }
      fov.mask.on[std::size_t(i) + std::size_t(w) * std::size_t(j)] = 1;
      fov.min_x = std::min(fov.min_x, i), fov.max_x = std::max(fov.max_x, i);
      fov.min_y = std::min(fov.min_y, j), fov.max_y = std::max(fov.max_y, j);
    }
  if (fov.max_x < 0) throw Error(ErrorCode::InvalidInput, "image", "no imaged region found");
  fov.overlay_pixels_removed = removed;
  fov.method = std::string("largest non-black region (grey > 8) after opening ") + std::to_string(open_px) + " px and closing " +
               std::to_string(close_px) + " px, holes filled, edge eroded 2 px" + (region ? ", inside the DICOM ultrasound region" : "") +
               (overlay != nullptr ? ", coloured pixels left out" : "");
  return fov;
}

}  // namespace musclecsa::ultrasound
