#pragma once
// Synthetic B-mode pictures for the ultrasound plausibility check (0.1 mm pixels, 1200 x 450):
// a vastus-lateralis-like lens under a thin superficial band that the automatic segmentation takes
// for the muscle, and a striated lens with an intramuscular line.

#include <algorithm>
#include <cmath>
#include <random>

#include "musclecsa/ultrasound/us_analysis.h"

namespace musclecsa::testing {

struct UsSyntheticCase {
  ultrasound::GreyImage image;
  ultrasound::Mask band;    ///< the thin superficial band (thin-band case) or the lens above the intramuscular line (striated case)
  ultrasound::Mask muscle;  ///< the whole lens: the muscle
};

/// Skin, fat, then two strong parallel lines 6 mm apart across the whole picture (a thin layer between
/// two fasciae, as in the failed panoramas); the lower line is the superficial aponeurosis of
/// a lens 20 mm thick at its centre whose deep aponeurosis is fainter. Speckle only, no striation. The
/// automatic segmentation takes the thin band: two strong lines beat one strong and one faint.
inline UsSyntheticCase make_thin_band_case(double deep_contrast = 60) {
  const int w = 1200, h = 450;
  const double band_top = 90, superficial = 150, centre = 600, half_width = 450, depth_rows = 200;
  UsSyntheticCase c;
  c.image.width = w, c.image.height = h;
  c.image.pixel_width_mm = c.image.pixel_height_mm = 0.1;
  c.image.calibrated = true;
  c.image.grey.assign(std::size_t(w) * h, 0);
  c.band = ultrasound::Mask(w, h);
  c.muscle = ultrasound::Mask(w, h);
  std::mt19937 random(11);
  std::normal_distribution<double> speckle(0.0, 8.0);
  auto line = [](double distance_px) { return std::exp(-0.5 * distance_px * distance_px / (1.5 * 1.5)); };
  for (int x = 0; x < w; ++x) {
    const double t = (x - centre) / half_width;
    const double deep = superficial + depth_rows * std::max(0.0, 1.0 - t * t);
    for (int y = 0; y < h; ++y) {
      const bool in_band = y > band_top + 2 && y < superficial - 2;
      const bool in_muscle = std::abs(t) < 1 && y > superficial + 2 && y < deep - 2;
      double g = y < 10 ? 150 : y < band_top ? 70 : in_band ? 50 : in_muscle ? 45 : 55;
      g += speckle(random);
      g += 150.0 * line(y - band_top) + 150.0 * line(y - superficial);
      if (std::abs(t) < 1) g += deep_contrast * line(y - deep);
      const std::size_t n = std::size_t(x) + std::size_t(w) * y;
      c.image.grey[n] = float(std::clamp(g, 10.0, 255.0));
      c.band.on[n] = in_band;
      c.muscle.on[n] = in_muscle;
    }
  }
  return c;
}

/// A striated lens (20 mm thick at its centre) with an intramuscular line 9 mm under its superficial
/// aponeurosis, over a less striated layer (as a vastus lateralis over the vastus intermedius): short
/// bright oblique striations, dense in the muscle and sparse under it. `band` is the lens above the
/// intramuscular line, a contour whose deep boundary is that line.
inline UsSyntheticCase make_striated_case() {
  const int w = 1200, h = 450;
  const double superficial = 120, intramuscular = 90, centre = 600, half_width = 450, depth_rows = 200;
  UsSyntheticCase c;
  c.image.width = w, c.image.height = h;
  c.image.pixel_width_mm = c.image.pixel_height_mm = 0.1;
  c.image.calibrated = true;
  c.band = ultrasound::Mask(w, h);
  c.muscle = ultrasound::Mask(w, h);
  std::mt19937 random(5);
  std::normal_distribution<double> speckle(0.0, 6.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<double> grey(std::size_t(w) * h, 0.0);
  auto deep_row = [&](double x) {
    const double t = (x - centre) / half_width;
    return superficial + depth_rows * std::max(0.0, 1.0 - t * t);
  };
  auto line = [](double distance_px) { return std::exp(-0.5 * distance_px * distance_px / (1.5 * 1.5)); };
  for (int x = 0; x < w; ++x) {
    const double t = (x - centre) / half_width, deep = deep_row(x);
    const double inner = superficial + std::min(intramuscular, 0.45 * (deep - superficial));
    for (int y = 0; y < h; ++y) {
      const bool in_muscle = std::abs(t) < 1 && y > superficial + 2 && y < deep - 2;
      double g = y < 10 ? 150 : y < superficial ? 70 : in_muscle ? 40 : 45;
      g += speckle(random) + 150.0 * line(y - superficial);
      if (std::abs(t) < 1) g += 120.0 * line(y - deep) + 110.0 * line(y - inner);
      const std::size_t n = std::size_t(x) + std::size_t(w) * y;
      grey[n] = g;
      c.muscle.on[n] = in_muscle;
      c.band.on[n] = in_muscle && y < inner - 2;
    }
  }
  // Striations: short (2-4 mm) oblique bright lines, about one per 2.5 mm2 in the muscle (half as many
  // again under the intramuscular line: in the real panorama SUB02_img2, 1.15 times as striated) and one per 10 mm2
  // under the muscle.
  for (int k = 0; k < 4000; ++k) {
    const double x0 = uniform(random) * w, y0 = superficial + 5 + uniform(random) * (h - superficial - 10);
    const bool in_muscle = std::abs(x0 - centre) < half_width && y0 < deep_row(x0) - 5;
    const bool lower_part = y0 > superficial + intramuscular;
    if (!in_muscle && uniform(random) > 0.1) continue;
    if (in_muscle && uniform(random) > (lower_part ? 0.6 : 0.4)) continue;
    const double length = 20 + 20 * uniform(random), angle = (uniform(random) - 0.5) * 0.8;
    for (double s = 0; s < length; s += 0.5) {
      const int x = int(x0 + s * std::cos(angle)), y = int(y0 + s * std::sin(angle));
      if (x < 0 || x >= w || y < 0 || y >= h) continue;
      grey[std::size_t(x) + std::size_t(w) * y] += 35;
    }
  }
  c.image.grey.resize(grey.size());
  for (std::size_t n = 0; n < grey.size(); ++n) c.image.grey[n] = float(std::clamp(grey[n], 10.0, 255.0));
  return c;
}

}  // namespace musclecsa::testing
