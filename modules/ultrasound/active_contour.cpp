// Active contour (dynamic programming along normals) that snaps an outline to the fascia.

#include <algorithm>
#include <cmath>
#include <limits>

#include <opencv2/imgproc.hpp>

#include "us_internal.h"

namespace musclecsa::ultrasound::detail {

double working_pixel_mm(const GreyImage& image, const FieldOfView& fov) {
  if (image.calibrated) return 0.5 * (image.pixel_width_mm + image.pixel_height_mm);
  std::vector<int> depths;
  for (int i = fov.min_x; i <= fov.max_x; ++i) {
    int n = 0;
    for (int j = fov.min_y; j <= fov.max_y; ++j) n += fov.mask.at(i, j) ? 1 : 0;
    if (n > 0) depths.push_back(n);
  }
  if (depths.empty()) return 0.1;
  std::nth_element(depths.begin(), depths.begin() + depths.size() * 3 / 4, depths.end());
  return 45.0 / std::max(1, depths[depths.size() * 3 / 4]);
}

std::vector<Point2> resample_closed(const std::vector<Point2>& c, double step_px) {
  const std::size_t n = c.size();
  if (n < 3) return c;
  std::vector<double> cum(n + 1, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const Point2& a = c[i];
    const Point2& b = c[(i + 1) % n];
    cum[i + 1] = cum[i] + std::hypot(b.x - a.x, b.y - a.y);
  }
  const double total = cum[n];
  const std::size_t m = std::clamp<std::size_t>(static_cast<std::size_t>(total / std::max(0.25, step_px)), 24, 4000);
  std::vector<Point2> out;
  out.reserve(m);
  std::size_t seg = 0;
  for (std::size_t k = 0; k < m; ++k) {
    const double s = total * double(k) / double(m);
    while (seg + 1 < n && cum[seg + 1] < s) ++seg;
    const double len = cum[seg + 1] - cum[seg];
    const double t = len > 0 ? (s - cum[seg]) / len : 0;
    const Point2& a = c[seg];
    const Point2& b = c[(seg + 1) % n];
    out.push_back({a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)});
  }
  return out;
}

std::vector<Point2> closed_spline(std::vector<Point2> p, int samples) {
  Point2 centre;
  for (const auto& q : p) centre.x += q.x / double(p.size()), centre.y += q.y / double(p.size());
  std::sort(p.begin(), p.end(), [&](const Point2& a, const Point2& b) {
    return std::atan2(a.y - centre.y, a.x - centre.x) < std::atan2(b.y - centre.y, b.x - centre.x);
  });
  const std::size_t n = p.size();
  std::vector<Point2> out;
  for (std::size_t i = 0; i < n; ++i) {
    const Point2& p0 = p[(i + n - 1) % n];
    const Point2& p1 = p[i];
    const Point2& p2 = p[(i + 1) % n];
    const Point2& p3 = p[(i + 2) % n];
    for (int s = 0; s < samples; ++s) {
      const double t = double(s) / samples, t2 = t * t, t3 = t2 * t;
      auto f = [&](double a, double b, double c, double d) {
        return 0.5 * ((2 * b) + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t2 + (-a + 3 * b - 3 * c + d) * t3);
      };
      out.push_back({f(p0.x, p1.x, p2.x, p3.x), f(p0.y, p1.y, p2.y, p3.y)});
    }
  }
  return out;
}

namespace {

double bilinear(const cv::Mat& m, double x, double y) {
  x = std::clamp(x, 0.0, double(m.cols - 1) - 1e-6);
  y = std::clamp(y, 0.0, double(m.rows - 1) - 1e-6);
  const int i = int(x), j = int(y);
  const double fx = x - i, fy = y - j;
  const float* r0 = m.ptr<float>(j);
  const float* r1 = m.ptr<float>(std::min(j + 1, m.rows - 1));
  const int i1 = std::min(i + 1, m.cols - 1);
  return (1 - fy) * ((1 - fx) * r0[i] + fx * r0[i1]) + fy * ((1 - fx) * r1[i] + fx * r1[i1]);
}

}  // namespace

std::vector<Point2> snap_contour(const GreyImage& image, const FieldOfView& fov, std::vector<Point2> contour, double search_mm,
                                 int iterations, const std::vector<Point2>& pins, double pin_tolerance_mm) {
  const double px_mm = working_pixel_mm(image, fov);
  const double sigma_px = std::max(0.8, 0.25 / px_mm);
  cv::Mat grey(image.height, image.width, CV_32FC1, const_cast<float*>(image.grey.data()));
  cv::Mat smooth, gx, gy;
  cv::GaussianBlur(grey, smooth, cv::Size(0, 0), sigma_px, sigma_px, cv::BORDER_REPLICATE);
  cv::Sobel(smooth, gx, CV_32F, 1, 0, 3, 1.0 / 8);
  cv::Sobel(smooth, gy, CV_32F, 0, 1, 3, 1.0 / 8);
  // Robust gradient scale inside the field of view.
  std::vector<float> mags;
  for (int j = fov.min_y; j <= fov.max_y; j += 2)
    for (int i = fov.min_x; i <= fov.max_x; i += 2)
      if (fov.mask.at(i, j)) mags.push_back(std::hypot(gx.at<float>(j, i), gy.at<float>(j, i)));
  double gscale = 1;
  if (!mags.empty()) {
    std::nth_element(mags.begin(), mags.begin() + mags.size() * 95 / 100, mags.end());
    gscale = std::max(1e-3, double(mags[mags.size() * 95 / 100]));
  }
  const double step = 0.5;  // pixels between candidate offsets
  for (int it = 0; it < iterations; ++it) {
    const double range_px = std::max(1.0, search_mm / px_mm / std::pow(2.0, it));
    contour = resample_closed(contour, std::max(1.0, 0.5 / px_mm));
    const std::size_t n = contour.size();
    const int k_max = static_cast<int>(std::ceil(range_px / step));
    const int kc = 2 * k_max + 1;
    // Outward normals.
    Point2 centre;
    for (const auto& p : contour) centre.x += p.x / double(n), centre.y += p.y / double(n);
    std::vector<Point2> normal(n);
    double outward = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const Point2& a = contour[(i + n - 1) % n];
      const Point2& b = contour[(i + 1) % n];
      double tx = b.x - a.x, ty = b.y - a.y;
      const double len = std::max(1e-9, std::hypot(tx, ty));
      normal[i] = {ty / len, -tx / len};
      outward += normal[i].x * (contour[i].x - centre.x) + normal[i].y * (contour[i].y - centre.y);
    }
    if (outward < 0)
      for (auto& v : normal) v.x = -v.x, v.y = -v.y;
    // Pinned vertices: the nearest vertex to each pin.
    std::vector<double> limit(n, range_px);
    for (const auto& pin : pins) {
      std::size_t best = 0;
      double best_d = std::numeric_limits<double>::max();
      for (std::size_t i = 0; i < n; ++i) {
        const double d = std::hypot(contour[i].x - pin.x, contour[i].y - pin.y);
        if (d < best_d) best_d = d, best = i;
      }
      contour[best] = pin;
      limit[best] = pin_tolerance_mm / px_mm;
    }
    // External cost: minus the outward grey-level derivative (dark inside, bright outside).
    const double big = 1e6;
    std::vector<double> cost(n * kc);
    for (std::size_t i = 0; i < n; ++i)
      for (int k = 0; k < kc; ++k) {
        const double o = (k - k_max) * step;
        const double x = contour[i].x + o * normal[i].x, y = contour[i].y + o * normal[i].y;
        double c;
        if (std::abs(o) > limit[i] + 1e-9) {
          c = big;
        } else {
          const int xi = int(std::lround(x)), yi = int(std::lround(y));
          const bool in = xi >= 0 && yi >= 0 && xi < image.width && yi < image.height && fov.mask.at(xi, yi);
          const double g = bilinear(gx, x, y) * normal[i].x + bilinear(gy, x, y) * normal[i].y;
          c = in ? -std::clamp(g / gscale, -1.5, 1.5) : 0.5;
        }
        cost[i * kc + k] = c;
      }
    // Start at the vertex with the most decided edge; closed chain by fixing its offset.
    std::size_t start = 0;
    double start_cost = big;
    int start_k = k_max;
    for (std::size_t i = 0; i < n; ++i)
      for (int k = 0; k < kc; ++k)
        if (cost[i * kc + k] < start_cost) start_cost = cost[i * kc + k], start = i, start_k = k;
    const double w_smooth = 0.08;  // per candidate step between neighbours
    const int max_jump = 2;
    std::vector<double> acc(n * kc, big);
    std::vector<int> from(n * kc, -1);
    acc[0 * kc + start_k] = cost[start * kc + start_k];
    for (std::size_t s = 1; s < n; ++s) {
      const std::size_t i = (start + s) % n;
      for (int k = 0; k < kc; ++k) {
        if (cost[i * kc + k] >= big) continue;
        double best = big;
        int arg = -1;
        for (int d = -max_jump; d <= max_jump; ++d) {
          const int kp = k + d;
          if (kp < 0 || kp >= kc) continue;
          const double v = acc[(s - 1) * kc + kp] + w_smooth * std::abs(d);
          if (v < best) best = v, arg = kp;
        }
        if (arg < 0) continue;
        acc[s * kc + k] = best + cost[i * kc + k];
        from[s * kc + k] = arg;
      }
    }
    double best = big;
    int arg = -1;
    for (int k = 0; k < kc; ++k) {
      if (std::abs(k - start_k) > max_jump) continue;
      const double v = acc[(n - 1) * kc + k] + w_smooth * std::abs(k - start_k);
      if (v < best) best = v, arg = k;
    }
    if (arg < 0) break;  // no closed path (cannot happen with the start's own offset reachable); keep the contour
    std::vector<int> chosen(n);
    for (std::size_t s = n; s-- > 0;) {
      chosen[s] = arg;
      arg = from[s * kc + arg];
      if (arg < 0 && s > 0) break;
    }
    std::vector<Point2> moved(n);
    for (std::size_t s = 0; s < n; ++s) {
      const std::size_t i = (start + s) % n;
      const double o = (chosen[s] - k_max) * step;
      moved[i] = {contour[i].x + o * normal[i].x, contour[i].y + o * normal[i].y};
    }
    contour = std::move(moved);
  }
  return contour;
}

}  // namespace musclecsa::ultrasound::detail
