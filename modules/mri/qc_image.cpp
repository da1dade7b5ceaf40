// MRI QC picture: the anatomy image with the label outlines, and the fat-fraction map as a colour
// overlay with its colour bar (OpenCV, private to this module).

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <set>

#include "musclecsa/core/catalog.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/mri/mr_analysis.h"

namespace musclecsa::mri {

void write_mr_qc_image(const MrAnalysis& a, std::size_t k, const std::vector<std::string>& text,
                       const std::filesystem::path& png_path) {
  const Geometry& g = a.ff.ff.geometry;
  if (k >= g.size[2]) throw Error(ErrorCode::InvalidArgument, png_path.string(), "slice " + std::to_string(k) + " is outside the image");
  const int nx = int(g.size[0]), ny = int(g.size[1]);
  const auto& catalog = LabelCatalog::standard();
  const float* signal = a.ff.signal.slice(k);
  const float* ff = a.ff.ff.slice(k);
  const std::uint8_t* defined = a.ff.defined.slice(k);
  const LabelId* labels = a.segmentation.labels.slice(k);
  // Grey window: 0 .. 1.2 x the tissue level (the 95th percentile of the slice).
  std::vector<float> values(signal, signal + std::size_t(nx) * std::size_t(ny));
  const std::size_t i95 = std::size_t(0.95 * double(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + long(i95), values.end());
  const double white = std::max(1e-6, 1.2 * double(values[i95]));
  cv::Mat grey(ny, nx, CV_8UC1), ffc(ny, nx, CV_8UC1);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const std::size_t o = std::size_t(i) + std::size_t(nx) * std::size_t(j);
      grey.at<uchar>(j, i) = cv::saturate_cast<uchar>(signal[o] / white * 255.0);
      ffc.at<uchar>(j, i) = cv::saturate_cast<uchar>(std::clamp(ff[o], 0.0f, 1.0f) * 255.0f);
    }
  cv::Mat jet;
  cv::applyColorMap(ffc, jet, cv::COLORMAP_JET);
  cv::Mat anatomy, overlay;
  cv::cvtColor(grey, anatomy, cv::COLOR_GRAY2BGR);
  overlay = anatomy.clone();
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const std::size_t o = std::size_t(i) + std::size_t(nx) * std::size_t(j);
      if (!defined[o] || labels[o] == 0) continue;
      const cv::Vec3b c = jet.at<cv::Vec3b>(j, i), b = overlay.at<cv::Vec3b>(j, i);
      overlay.at<cv::Vec3b>(j, i) = cv::Vec3b(cv::saturate_cast<uchar>(0.35 * b[0] + 0.65 * c[0]),
                                              cv::saturate_cast<uchar>(0.35 * b[1] + 0.65 * c[1]),
                                              cv::saturate_cast<uchar>(0.35 * b[2] + 0.65 * c[2]));
    }
  const int scale = std::max(1, (600 + nx - 1) / nx);
  cv::Mat left, right;
  cv::resize(anatomy, left, cv::Size(nx * scale, ny * scale), 0, 0, cv::INTER_NEAREST);
  cv::resize(overlay, right, cv::Size(nx * scale, ny * scale), 0, 0, cv::INTER_NEAREST);
  // Outlines: every structure in its catalog colour on the anatomy, muscles in white on the FF map.
  std::set<LabelId> present(labels, labels + std::size_t(nx) * std::size_t(ny));
  present.erase(0);
  for (LabelId label : present) {
    const auto d = catalog.decode(label);
    if (!d) continue;
    cv::Mat mask(ny, nx, CV_8UC1, cv::Scalar(0));
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i)
        mask.at<uchar>(j, i) = labels[std::size_t(i) + std::size_t(nx) * std::size_t(j)] == label ? 255 : 0;
    cv::Mat big;
    cv::resize(mask, big, left.size(), 0, 0, cv::INTER_NEAREST);
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(big, contours, cv::RETR_LIST, cv::CHAIN_APPROX_SIMPLE);
    const Rgb c = d->structure->colour;
    cv::drawContours(left, contours, -1, cv::Scalar(c.b, c.g, c.r), 1, cv::LINE_8);
    if (d->structure->kind == StructureKind::Muscle)
      cv::drawContours(right, contours, -1, cv::Scalar(255, 255, 255), 1, cv::LINE_8);
  }
  for (cv::Mat* m : {&left, &right}) {
    cv::putText(*m, "R", cv::Point(6, m->rows / 2), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 255, 255), 1, cv::LINE_AA);
    cv::putText(*m, "L", cv::Point(m->cols - 16, m->rows / 2), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 255, 255), 1,
                cv::LINE_AA);
    cv::putText(*m, "A", cv::Point(m->cols / 2, 18), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 255, 255), 1, cv::LINE_AA);
  }
  // Canvas: the two views side by side, the colour bar, then the text lines.
  const int line = 18, bar_height = 40;
  const int text_height = int(text.size() + 2) * line;
  cv::Mat canvas(left.rows + bar_height + text_height, left.cols * 2, CV_8UC3, cv::Scalar(24, 24, 24));
  left.copyTo(canvas(cv::Rect(0, 0, left.cols, left.rows)));
  right.copyTo(canvas(cv::Rect(left.cols, 0, right.cols, right.rows)));
  const int bar_x = left.cols + 20, bar_w = right.cols - 40, bar_y = left.rows + 6;
  cv::Mat ramp(1, 256, CV_8UC1);
  for (int v = 0; v < 256; ++v) ramp.at<uchar>(0, v) = uchar(v);
  cv::Mat ramp_colour, ramp_big;
  cv::applyColorMap(ramp, ramp_colour, cv::COLORMAP_JET);
  cv::resize(ramp_colour, ramp_big, cv::Size(bar_w, 12), 0, 0, cv::INTER_LINEAR);
  ramp_big.copyTo(canvas(cv::Rect(bar_x, bar_y, bar_w, 12)));
  for (int pct : {0, 25, 50, 75, 100})
    cv::putText(canvas, std::to_string(pct) + "%", cv::Point(bar_x + bar_w * pct / 100 - 10, bar_y + 28), cv::FONT_HERSHEY_SIMPLEX,
                0.4, cv::Scalar(235, 235, 235), 1, cv::LINE_AA);
  cv::putText(canvas, "fat fraction", cv::Point(20, bar_y + 20), cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(235, 235, 235), 1,
              cv::LINE_AA);
  int y = left.rows + bar_height + line;
  for (const auto& t : text) {
    cv::putText(canvas, t, cv::Point(10, y), cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(235, 235, 235), 1, cv::LINE_AA);
    y += line;
  }
  cv::Mat rgb;
  cv::cvtColor(canvas, rgb, cv::COLOR_BGR2RGB);
  io::write_png(png_path, {rgb.cols, rgb.rows, 3, std::vector<std::uint8_t>(rgb.datastart, rgb.dataend)});
}

}  // namespace musclecsa::mri
