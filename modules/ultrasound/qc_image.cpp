// QC picture, mask PNG and the coloured-overlay detector (OpenCV).

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/ultrasound/us_analysis.h"

namespace musclecsa::ultrasound {

namespace {

/// An 8-bit grey or BGR OpenCV picture as PNG.
void write_png(const cv::Mat& m, const std::filesystem::path& png) {
  cv::Mat values = m;
  if (m.channels() == 3) cv::cvtColor(m, values, cv::COLOR_BGR2RGB);
  else if (!m.isContinuous()) values = m.clone();
  io::write_png(png, {values.cols, values.rows, values.channels(), std::vector<std::uint8_t>(values.datastart, values.dataend)});
}

cv::Point to_cv(const Point2& p, int scale) { return {int(std::lround(p.x * scale)), int(std::lround(p.y * scale))}; }

}  // namespace

void write_mask_png(const Mask& mask, const std::filesystem::path& png) {
  cv::Mat m(mask.height, mask.width, CV_8UC1);
  for (int j = 0; j < mask.height; ++j)
    for (int i = 0; i < mask.width; ++i) m.at<std::uint8_t>(j, i) = mask.at(i, j) ? 255 : 0;
  write_png(m, png);
}

Mask coloured_pixels(const std::filesystem::path& picture) {
  io::Picture rgb;
  try {
    rgb = io::read_rgb_picture(picture);
  } catch (const Error&) {
    return {};
  }
  Mask m(rgb.width, rgb.height);
  std::size_t n = 0;
  for (int j = 0; j < rgb.height; ++j)
    for (int i = 0; i < rgb.width; ++i) {
      const std::uint8_t* p = rgb.values.data() + 3 * (std::size_t(i) + std::size_t(rgb.width) * std::size_t(j));
      const int hi = std::max({p[0], p[1], p[2]}), lo = std::min({p[0], p[1], p[2]});
      // Grey-scale B-mode (even with a blue or sepia tint map) has low chroma; overlays are saturated.
      if (hi - lo > 60 && hi > 80) m.on[std::size_t(i) + std::size_t(rgb.width) * std::size_t(j)] = 1, ++n;
    }
  if (n == 0) return {};
  return m;
}

void write_qc_image(const GreyImage& image, const FieldOfView& fov, const UsSegmentation& seg, const UsMeasures& m,
                    const std::vector<std::string>& text, const std::filesystem::path& png, const std::vector<std::string>& alert) {
  const int w = image.width, h = image.height;
  cv::Mat view(h, w, CV_8UC3);
  for (int j = 0; j < h; ++j)
    for (int i = 0; i < w; ++i) {
      const auto g = cv::saturate_cast<uchar>(image.at(i, j));
      view.at<cv::Vec3b>(j, i) = {g, g, g};
    }
  const int shift = 3, scale = 1 << shift;  // sub-pixel drawing
  const int thick = std::max(1, std::min(w, h) / 400);
  // Field of view outline (dim blue).
  {
    cv::Mat fm(h, w, CV_8UC1, const_cast<std::uint8_t*>(fov.mask.on.data()));
    std::vector<std::vector<cv::Point>> cs;
    cv::findContours(fm.clone(), cs, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    cv::drawContours(view, cs, -1, cv::Scalar(160, 90, 40), thick, cv::LINE_AA);
  }
  // Muscle contour (yellow), user points (magenta).
  std::vector<cv::Point> poly;
  for (const auto& p : seg.contour) poly.push_back(to_cv(p, scale));
  if (poly.size() >= 2) cv::polylines(view, std::vector<std::vector<cv::Point>>{poly}, true, cv::Scalar(0, 230, 255), thick, cv::LINE_AA, shift);
  for (const auto& p : seg.user_points) cv::circle(view, to_cv(p, scale), (3 * thick + 2) * scale, cv::Scalar(255, 0, 255), thick, cv::LINE_AA, shift);
  // Thickness (red) and fat thickness (cyan) at the centre column, with end ticks.
  const double c = m.centre_column;
  auto vline = [&](double y0, double y1, const cv::Scalar& colour) {
    cv::line(view, to_cv({c, y0}, scale), to_cv({c, y1}, scale), colour, thick + 1, cv::LINE_AA, shift);
    for (double y : {y0, y1}) cv::line(view, to_cv({c - 6.0 * thick, y}, scale), to_cv({c + 6.0 * thick, y}, scale), colour, thick + 1, cv::LINE_AA, shift);
  };
  vline(m.muscle_top_row - 0.5, m.muscle_bottom_row + 0.5, cv::Scalar(60, 60, 255));
  if (m.sat_found) vline(m.skin_fat_row, m.fascia_row, cv::Scalar(255, 220, 0));
  // Text in a band above the picture (the image itself stays uncovered), sized to the picture.
  const double font = std::clamp(w / 1400.0, 0.45, 1.2);
  const int line_h = int(std::lround(22 * font)) + 4;
  // Lines longer than the picture is wide are wrapped at spaces.
  auto wrap = [&](const std::vector<std::string>& lines) {
    std::vector<std::string> out;
    for (const auto& line : lines) {
      std::string current;
      std::size_t start = 0;
      while (start <= line.size()) {
        const std::size_t space = line.find(' ', start);
        const std::string word = line.substr(start, space == std::string::npos ? std::string::npos : space - start);
        const std::string candidate = current.empty() ? word : current + " " + word;
        int baseline = 0;
        if (!current.empty() && cv::getTextSize(candidate, cv::FONT_HERSHEY_SIMPLEX, font, 2, &baseline).width > w - 12) {
          out.push_back(current);
          current = "  " + word;
        } else {
          current = candidate;
        }
        if (space == std::string::npos) break;
        start = space + 1;
      }
      out.push_back(current);
    }
    return out;
  };
  const std::vector<std::string> alert_lines = wrap(alert), text_lines = wrap(text);
  // A contour that needs review: a red banner on top, and the contour's numbers in red below it.
  const int banner = alert.empty() ? 0 : line_h * int(alert_lines.size()) + 10;
  const int band = line_h * int(text_lines.size()) + 10;
  cv::Mat canvas(h + banner + band, w, CV_8UC3, cv::Scalar(24, 24, 24));
  if (banner > 0) {
    canvas(cv::Rect(0, 0, w, banner)).setTo(cv::Scalar(0, 0, 200));
    for (std::size_t k = 0; k < alert_lines.size(); ++k)
      cv::putText(canvas, alert_lines[k], {6, int(line_h * (k + 1))}, cv::FONT_HERSHEY_SIMPLEX, font, cv::Scalar(255, 255, 255),
                  k == 0 ? 2 : 1, cv::LINE_AA);
  }
  view.copyTo(canvas(cv::Rect(0, banner + band, w, h)));
  const cv::Scalar numbers = alert.empty() ? cv::Scalar(0, 230, 255) : cv::Scalar(80, 80, 255);
  for (std::size_t k = 0; k < text_lines.size(); ++k)
    cv::putText(canvas, text_lines[k], {6, banner + int(line_h * (k + 1))}, cv::FONT_HERSHEY_SIMPLEX, font,
                k == 0 ? cv::Scalar(255, 255, 255) : numbers, 1, cv::LINE_AA);
  view = canvas;
  write_png(view, png);
}

}  // namespace musclecsa::ultrasound
