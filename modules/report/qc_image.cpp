#include "musclecsa/report/qc_image.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <map>

#include "musclecsa/core/catalog.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"

namespace musclecsa::report {

void write_qc_image(const ScalarVolume& image, const LabelMap& labels, std::size_t k, const QcImageOptions& o,
                    const std::filesystem::path& png_path) {
  const Geometry& g = image.geometry;
  if (!g.same_grid_as(labels.geometry, 1e-3))
    throw Error(ErrorCode::InvalidArgument, png_path.string(), "image and label map are not on the same grid");
  if (k >= g.size[2]) throw Error(ErrorCode::InvalidArgument, png_path.string(), "slice " + std::to_string(k) + " is outside the image");
  const int nx = int(g.size[0]), ny = int(g.size[1]);
  const auto& catalog = LabelCatalog::standard();

  // Grey slice in the window, colour overlay in the catalog colours (OpenCV uses BGR).
  cv::Mat view(ny, nx, CV_8UC3);
  const float* values = image.slice(k);
  const LabelId* l = labels.slice(k);
  const double lo = o.window.centre - 0.5 * o.window.width;
  std::map<LabelId, std::size_t> present;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const std::size_t n = std::size_t(i) + std::size_t(nx) * std::size_t(j);
      const double grey = std::clamp((values[n] - lo) / o.window.width * 255.0, 0.0, 255.0);
      cv::Vec3b& px = view.at<cv::Vec3b>(j, i);
      px = cv::Vec3b(cv::saturate_cast<uchar>(grey), cv::saturate_cast<uchar>(grey), cv::saturate_cast<uchar>(grey));
      if (l[n] == 0) continue;
      ++present[l[n]];
      const auto d = catalog.decode(l[n]);
      if (!d) continue;
      const Rgb c = d->structure->colour;
      const double a = o.overlay_opacity;
      px = cv::Vec3b(cv::saturate_cast<uchar>((1 - a) * px[0] + a * c.b), cv::saturate_cast<uchar>((1 - a) * px[1] + a * c.g),
                     cv::saturate_cast<uchar>((1 - a) * px[2] + a * c.r));
    }
  const int scale = std::max(1, (o.minimum_width + nx - 1) / nx);
  cv::Mat big;
  cv::resize(view, big, cv::Size(nx * scale, ny * scale), 0, 0, cv::INTER_NEAREST);
  // Outlines of every labelled region, in its colour.
  for (const auto& [label, count] : present) {
    const auto d = catalog.decode(label);
    if (!d) continue;
    cv::Mat mask(ny, nx, CV_8UC1, cv::Scalar(0));
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) mask.at<uchar>(j, i) = l[std::size_t(i) + std::size_t(nx) * std::size_t(j)] == label ? 255 : 0;
    cv::Mat mask_big;
    cv::resize(mask, mask_big, big.size(), 0, 0, cv::INTER_NEAREST);
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(mask_big, contours, cv::RETR_LIST, cv::CHAIN_APPROX_SIMPLE);
    const Rgb c = d->structure->colour;
    cv::drawContours(big, contours, -1, cv::Scalar(c.b, c.g, c.r), 1, cv::LINE_8);
  }
  // Orientation marks (radiological display).
  const double font = 0.5;
  cv::putText(big, "R", cv::Point(6, big.rows / 2), cv::FONT_HERSHEY_SIMPLEX, font, cv::Scalar(0, 255, 255), 1, cv::LINE_AA);
  cv::putText(big, "L", cv::Point(big.cols - 16, big.rows / 2), cv::FONT_HERSHEY_SIMPLEX, font, cv::Scalar(0, 255, 255), 1, cv::LINE_AA);
  cv::putText(big, "A", cv::Point(big.cols / 2, 18), cv::FONT_HERSHEY_SIMPLEX, font, cv::Scalar(0, 255, 255), 1, cv::LINE_AA);

  // Legend panel: text lines, then a colour swatch per structure present.
  const int panel_width = 420, line = 18;
  cv::Mat canvas(std::max(big.rows, int(o.text.size() + present.size() + 4) * line), big.cols + panel_width, CV_8UC3,
                 cv::Scalar(24, 24, 24));
  big.copyTo(canvas(cv::Rect(0, 0, big.cols, big.rows)));
  int y = line;
  for (const auto& text : o.text) {
    cv::putText(canvas, text, cv::Point(big.cols + 10, y), cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(235, 235, 235), 1, cv::LINE_AA);
    y += line;
  }
  y += line / 2;
  for (const auto& [label, count] : present) {
    const auto d = catalog.decode(label);
    if (!d) continue;
    const Rgb c = d->structure->colour;
    cv::rectangle(canvas, cv::Rect(big.cols + 10, y - 11, 14, 12), cv::Scalar(c.b, c.g, c.r), cv::FILLED);
    const std::string name = d->structure->name + " (" + std::string(to_string(d->side)) + ")";
    cv::putText(canvas, name, cv::Point(big.cols + 30, y), cv::FONT_HERSHEY_SIMPLEX, 0.42, cv::Scalar(220, 220, 220), 1, cv::LINE_AA);
    y += line;
  }

  cv::Mat rgb;
  cv::cvtColor(canvas, rgb, cv::COLOR_BGR2RGB);
  io::write_png(png_path, {rgb.cols, rgb.rows, 3, std::vector<std::uint8_t>(rgb.datastart, rgb.dataend)});
}

}  // namespace musclecsa::report
