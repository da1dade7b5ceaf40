// The plausibility check of a segmentation (docs/ultrasound.md, "Plausibility check"): thickness and
// area against the protocol's plausible range and the imaged depth, both boundaries on a fascia or
// aponeurosis line over the muscle belly, the deep boundary above the image's bottom edge, and
// independent cues that must agree with the contour (the striated texture ends at the deep boundary;
// the thickness measured again on the centre column's grey-level profile).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include <opencv2/imgproc.hpp>

#include "musclecsa/ultrasound/us_analysis.h"
#include "us_internal.h"

namespace musclecsa::ultrasound {

namespace {

std::string fixed(double v, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

/// Bright-line (ridge) strength of every pixel of the field of view: the Hessian's strongly negative
/// eigenvalue across a line, blobs (two negative eigenvalues) suppressed, at 0.3 mm, smoothed over
/// 0.3 mm; as a fraction of its 98th percentile inside the field of view (the scale the automatic
/// segmentation scores its candidates on).
cv::Mat ridge_map(const GreyImage& image, const FieldOfView& fov, double px_mm) {
  cv::Mat grey(image.height, image.width, CV_32FC1, const_cast<float*>(image.grey.data()));
  cv::Mat gs, hxx, hyy, hxy;
  const double sigma = std::max(1.0, 0.3 / px_mm);
  cv::GaussianBlur(grey, gs, cv::Size(0, 0), sigma, sigma, cv::BORDER_REPLICATE);
  cv::Sobel(gs, hxx, CV_32F, 2, 0, 3);
  cv::Sobel(gs, hyy, CV_32F, 0, 2, 3);
  cv::Sobel(gs, hxy, CV_32F, 1, 1, 3, 0.25);
  cv::Mat ridge(image.height, image.width, CV_32FC1, cv::Scalar(0));
  for (int y = 0; y < image.height; ++y) {
    const float* a = hxx.ptr<float>(y);
    const float* b = hyy.ptr<float>(y);
    const float* c = hxy.ptr<float>(y);
    float* r = ridge.ptr<float>(y);
    for (int x = 0; x < image.width; ++x) {
      if (!fov.mask.at(x, y)) continue;
      const float mean = 0.5f * (a[x] + b[x]), dev = std::sqrt(0.25f * (a[x] - b[x]) * (a[x] - b[x]) + c[x] * c[x]);
      const float l1 = mean - dev, l2 = mean + dev;
      if (l1 < 0) r[x] = -l1 - std::max(0.0f, -l2);
    }
  }
  cv::GaussianBlur(ridge, ridge, cv::Size(0, 0), std::max(1.0, 0.3 / px_mm), std::max(1.0, 0.3 / px_mm), cv::BORDER_REPLICATE);
  std::vector<float> positive;
  for (int y = fov.min_y; y <= fov.max_y; y += 2)
    for (int x = fov.min_x; x <= fov.max_x; x += 2)
      if (fov.mask.at(x, y) && ridge.at<float>(y, x) > 0) positive.push_back(ridge.at<float>(y, x));
  double scale = 1;
  if (positive.size() >= 100) {
    std::nth_element(positive.begin(), positive.begin() + positive.size() * 98 / 100, positive.end());
    scale = std::max(1e-3, double(positive[positive.size() * 98 / 100]));
  }
  ridge /= scale;
  return ridge;
}

/// The median striation (mean ridge strength) of the field of view's 3 mm blocks that lie wholly
/// inside it and are not black (grey above 10): the image's ordinary texture.
double median_block_striation(const GreyImage& image, const FieldOfView& fov, const cv::Mat& ridge, double px_mm) {
  const int bs = std::max(4, int(std::lround(3.0 / px_mm)));
  std::vector<double> blocks;
  for (int y0 = fov.min_y; y0 + bs <= fov.max_y + 1; y0 += bs)
    for (int x0 = fov.min_x; x0 + bs <= fov.max_x + 1; x0 += bs) {
      double ridge_sum = 0, grey_sum = 0;
      bool whole = true;
      for (int y = y0; y < y0 + bs && whole; ++y)
        for (int x = x0; x < x0 + bs && whole; ++x) {
          whole = fov.mask.at(x, y);
          ridge_sum += ridge.at<float>(y, x), grey_sum += image.at(x, y);
        }
      if (whole && grey_sum / (bs * bs) > 10) blocks.push_back(ridge_sum / (bs * bs));
    }
  return median_of(blocks);
}

}  // namespace

UsPlausibility check_plausibility(const GreyImage& image, const FieldOfView& fov, const UsSegmentation& seg, const UsMeasures& m,
                                  const UsProtocol& protocol) {
  const UsPlausibilityLimits& lim = protocol.plausibility;
  UsPlausibility result;
  const bool cal = image.calibrated;
  const double px_mm = detail::working_pixel_mm(image, fov);
  const double pw = cal ? image.pixel_width_mm : px_mm, ph = cal ? image.pixel_height_mm : px_mm;
  const int w = image.width, h = image.height;
  const Mask& mask = seg.mask;
  const std::string muscle_name = protocol.structure_key;
  auto add = [&](PlausibilityRule rule) {
    if (rule.applied && !rule.passed) result.passed = false, result.reasons.push_back(rule.reason);
    result.rules.push_back(std::move(rule));
  };

  // Each column's extent of the mask and of the field of view.
  std::vector<int> top(w, -1), bottom(w, -1), fov_top(w, -1), fov_bottom(w, -1);
  int x_first = w, x_last = -1;
  for (int x = 0; x < w; ++x)
    for (int y = 0; y < h; ++y) {
      if (mask.at(x, y)) {
        if (top[x] < 0) top[x] = y;
        bottom[x] = y;
        x_first = std::min(x_first, x), x_last = std::max(x_last, x);
      }
      if (fov.mask.at(x, y)) {
        if (fov_top[x] < 0) fov_top[x] = y;
        fov_bottom[x] = y;
      }
    }
  const int c = std::clamp(m.centre_column, 0, w - 1);

  // 1. Thickness at the centre column: the protocol's plausible range, at most the imaged depth there.
  {
    PlausibilityRule r;
    r.name = "thickness";
    r.unit = "cm";
    r.source = lim.thickness_source;
    const double depth_mm = fov_top[c] >= 0 ? (fov_bottom[c] - fov_top[c] + 1) * ph : 0;
    r.value = m.muscle_thickness_mm / 10;
    r.min = lim.thickness_min_mm / 10;
    r.max = std::min(lim.thickness_max_mm, depth_mm) / 10;
    if (!cal) {
      r.applied = false;
      r.reason = "no calibration: the thickness in cm is unknown";
    } else if (r.value < r.min || r.value > r.max) {
      r.passed = false;
      r.reason = "thickness " + fixed(r.value, 2) + " cm is outside the " + fixed(r.min, 1) + "-" + fixed(r.max, 1) + " cm plausible for the " +
                 muscle_name + (r.max < lim.thickness_max_mm / 10 ? " at this imaged depth" : "");
    }
    add(r);
  }
  // 2. Area: the whole muscle's plausible range; the minimum only when the muscle is wholly in view.
  {
    PlausibilityRule r;
    r.name = "area";
    r.unit = "cm2";
    r.source = lim.acsa_source;
    r.value = m.acsa_mm2 / 100;
    const bool cut = std::find(seg.qc_flags.begin(), seg.qc_flags.end(), "muscle_cut_by_field_of_view") != seg.qc_flags.end();
    r.min = cut ? 0.0 : lim.acsa_min_cm2;
    r.max = lim.acsa_max_cm2;
    if (!lim.check_area) {
      r.applied = false;
      r.reason = "the region is a muscle layer, not one muscle's cross-section (" + protocol.name + ")";
    } else if (!cal) {
      r.applied = false;
      r.reason = "no calibration: the area in cm2 is unknown";
    } else if (r.value < r.min || r.value > r.max) {
      r.passed = false;
      r.reason = "area " + fixed(r.value, 2) + " cm2 is outside the " + fixed(r.min, 1) + "-" + fixed(r.max, 0) + " cm2 plausible for the " +
                 muscle_name + (cut ? " (the part in view)" : "");
    }
    add(r);
  }

  // The muscle belly: the central half of the mask's columns.
  const int span = x_last - x_first + 1;
  const int belly_first = x_first + span / 4, belly_last = x_last - span / 4;
  const cv::Mat ridge = ridge_map(image, fov, px_mm);
  const int search = std::max(2, int(std::lround(lim.line_search_mm / ph)));
  const int inset = std::max(1, int(std::lround(0.5 / ph)));
  const int rows_1mm = std::max(1, int(std::lround(1.0 / ph))), rows_5mm = std::max(3, int(std::lround(5.0 / ph)));
  auto line_at = [&](int x, int y0, int y1) {
    double best = 0;
    for (int y = std::max(0, y0); y <= std::min(h - 1, y1); ++y) best = std::max(best, double(ridge.at<float>(y, x)));
    return best;
  };
  std::vector<double> superficial_line, deep_line;
  int deep_on_bottom = 0;
  double inside_sum = 0, below_sum = 0;
  long inside_n = 0, below_n = 0;
  for (int x = std::max(0, belly_first); x <= belly_last; ++x) {
    if (top[x] < 0 || fov_top[x] < 0) continue;
    superficial_line.push_back(line_at(x, top[x] - search, top[x] + inset));
    deep_line.push_back(line_at(x, bottom[x] - inset, bottom[x] + search));
    if (bottom[x] >= fov_bottom[x] - rows_1mm) ++deep_on_bottom;
    for (int y = top[x] + rows_1mm; y <= bottom[x] - rows_1mm; ++y) inside_sum += ridge.at<float>(y, x), ++inside_n;
    for (int y = bottom[x] + rows_1mm; y <= std::min(fov_bottom[x], bottom[x] + rows_5mm); ++y)
      if (fov.mask.at(x, y)) below_sum += ridge.at<float>(y, x), ++below_n;
  }
  const int belly_columns = int(superficial_line.size());

  // 3. Bounded by the superficial and deep aponeuroses over the belly: the strongest line within
  // line_search_mm outside each boundary (or half a millimetre inside it), its median over the belly.
  {
    PlausibilityRule r;
    r.name = "bounded_by_aponeuroses";
    r.unit = "1";
    const double superficial = median_of(superficial_line), deep = median_of(deep_line);
    r.value = std::min(superficial, deep);
    r.min = lim.line_strength, r.max = 0;  // no maximum
    r.source = "median line strength over the belly: superficial " + fixed(superficial, 2) + ", deep " + fixed(deep, 2) +
               " (of the image's 98th-percentile ridge strength)";
    if (belly_columns < 3) {
      r.applied = false;
      r.reason = "the muscle is too narrow to judge its belly";
    } else if (r.value < r.min) {
      r.passed = false;
      const bool both = superficial < r.min && deep < r.min;
      r.reason = std::string(both ? "neither boundary lies" : superficial < r.min ? "the superficial boundary does not lie" : "the deep boundary does not lie") +
                 " on a fascia or aponeurosis over the muscle belly (line strength " +
                 (both ? fixed(superficial, 2) + " and " + fixed(deep, 2) : fixed(r.value, 2)) + ", at least " + fixed(r.min, 2) + " expected)";
    }
    add(r);
  }
  // 4. The imaged depth: a deep boundary running along the field of view's bottom edge is where the
  // image ends, not where the muscle does.
  {
    PlausibilityRule r;
    r.name = "imaged_depth";
    r.unit = "1";
    r.min = 0, r.max = lim.bottom_edge_fraction;
    r.value = belly_columns ? double(deep_on_bottom) / belly_columns : 0;
    r.source = "share of the belly's columns whose deep boundary lies within 1 mm of the image's bottom edge";
    if (belly_columns < 3) {
      r.applied = false;
      r.reason = "the muscle is too narrow to judge its belly";
    } else if (r.value > r.max) {
      r.passed = false;
      r.reason = "the deep boundary runs along the bottom of the image over " + fixed(100 * r.value, 0) +
                 "% of the belly: the muscle may go on deeper than the imaged depth";
    }
    add(r);
  }
  // 5. Independent cue, the texture: a deep aponeurosis ends a striated muscle's texture, while a deep
  // boundary on an intramuscular line has as much striation under it as above it. Judged only where
  // the muscle is striated (more than the image's ordinary texture): in speckle alone it tells nothing.
  {
    PlausibilityRule r;
    r.name = "deep_boundary_texture";
    r.unit = "1";
    r.min = 0, r.max = lim.texture_below_ratio;
    const double inside = inside_n ? inside_sum / double(inside_n) : 0, below = below_n ? below_sum / double(below_n) : 0;
    const double ordinary = median_block_striation(image, fov, ridge, px_mm);
    const double striated = ordinary > 0 ? inside / ordinary : 0;
    r.value = inside > 0 ? below / inside : 0;
    r.source = "striation (mean ridge strength) 1-5 mm under the deep boundary over the belly / inside the muscle: " + fixed(below, 3) + " / " +
               fixed(inside, 3) + "; the muscle's striation is " + fixed(striated, 2) + " x the image's median";
    if (lim.texture_below_ratio <= 0) {
      r.applied = false;
      r.reason = "not used with " + protocol.name + " (the texture under this muscle's deep boundary need not change)";
    } else if (below_n < 10 || inside_n < 10) {
      r.applied = false;
      r.reason = "too little image inside or under the muscle";
    } else if (striated < lim.striated_ratio) {
      r.applied = false;
      r.reason = "the muscle is not striated (" + fixed(striated, 2) + " x the image's median texture, " + fixed(lim.striated_ratio, 2) +
                 " needed): its texture does not mark its end";
    } else if (r.value > r.max) {
      r.passed = false;
      r.reason = "the band under the deep boundary is as striated as the muscle (" + fixed(r.value, 2) + " times, at most " + fixed(r.max, 2) +
                 "): the deep boundary may be an intramuscular line, with more of the muscle under it";
    }
    add(r);
  }
  // 6. Independent cue, the thickness measured again on the centre column's grey-level profile (no
  // ridge filter, no dynamic programming, no active contour): the bright band nearest each end of the
  // thickness line and the distance between their inner half-maximum edges.
  {
    PlausibilityRule r;
    r.name = "independent_thickness";
    const int t = m.muscle_top_row, b = m.muscle_bottom_row;
    const int radius = std::max(1, int(std::lround(2.0 / pw)));
    std::vector<double> profile(h, 0.0);
    for (int y = 0; y < h; ++y) {
      double sum = 0;
      int n = 0;
      for (int x = std::max(0, c - radius); x <= std::min(w - 1, c + radius); ++x)
        if (fov.mask.at(x, y)) sum += image.at(x, y), ++n;
      profile[y] = n ? sum / n : 0;
    }
    {
      cv::Mat p(h, 1, CV_64FC1, profile.data());
      cv::GaussianBlur(p, p, cv::Size(1, 0), 0, std::max(0.7, 0.2 / ph), cv::BORDER_REPLICATE);
    }
    const int rows_2mm = std::max(2, int(std::lround(2.0 / ph)));
    std::vector<double> interior;
    for (int y = t + rows_1mm; y <= b - rows_1mm; ++y) interior.push_back(profile[y]);
    const double muscle = median_of(interior);
    // The band nearest the line's end: the first local maximum, going outwards from half a millimetre
    // inside the muscle up to 2 mm outside it, at least 1.2 times the muscle's grey and 8 grey levels
    // above it; its inner edge is where the profile falls half-way to the muscle's grey.
    auto band_edge = [&](int from, int to, int out) -> std::optional<double> {
      for (int y = from; y != to + out && y - out >= 0 && y - out < h && y + out >= 0 && y + out < h; y += out) {
        const bool peak = profile[y] >= profile[y - out] && profile[y] >= profile[y + out];
        if (!peak || profile[y] < 1.2 * muscle || profile[y] - muscle < 8) continue;
        const double half = 0.5 * (profile[y] + muscle);
        for (int q = y; q - out >= 0 && q - out < h; q -= out)
          if (profile[q - out] < half) return q - out * (profile[q] - half) / std::max(1e-6, profile[q] - profile[q - out]);
        return std::nullopt;
      }
      return std::nullopt;
    };
    const auto upper = band_edge(t + inset, t - rows_2mm, -1), lower = band_edge(b - inset, b + rows_2mm, +1);
    // In cm, or in pixels when the image is not calibrated.
    const double contour = cal ? m.muscle_thickness_mm / 10 : m.muscle_thickness_px;
    r.unit = cal ? "cm" : "{px}";
    r.value = upper && lower ? (*lower - *upper) * (cal ? ph / 10 : 1.0) : 0;
    r.min = contour * (1 - lim.thickness_agreement), r.max = contour * (1 + lim.thickness_agreement);
    r.source = "centre column +-2 mm: muscle grey " + fixed(muscle, 1) + "; bright band at the superficial end " + (upper ? "found" : "not found") +
               ", at the deep end " + (lower ? "found" : "not found");
    if (interior.size() < 3) {
      r.applied = false;
      r.reason = "the muscle is too thin at its centre column to measure again";
    } else if (!upper || !lower) {
      r.passed = false;
      r.reason = std::string("no bright fascia or aponeurosis at the ") + (!upper && !lower ? "two ends" : !upper ? "superficial end" : "deep end") +
                 " of the thickness line (centre column)";
    } else if (r.value < r.min || r.value > r.max) {
      r.passed = false;
      r.reason = "the thickness measured again between the aponeuroses on the centre column's grey profile (" + fixed(r.value, 2) + " " +
                 (cal ? "cm" : "px") + ") differs from the contour's by more than " + fixed(100 * lim.thickness_agreement, 0) + "%";
    }
    add(r);
  }
  // 7. The ends (protocols whose muscle ends where its aponeuroses meet: vl-us): an end cut straight
  // where the muscle is still thick, away from the image's edge, leaves part of the muscle out.
  {
    PlausibilityRule r;
    r.name = "closed_ends";
    r.unit = "1";
    r.min = 0, r.max = lim.open_end_ratio;
    const double centre_rows = std::max(1, m.muscle_bottom_row - m.muscle_top_row + 1);
    const int reach = std::max(1, int(std::lround(0.5 / pw)));
    auto end_ratio = [&](int x_end, int dir, bool& at_edge) {
      int rows = 0;
      for (int x = x_end; x != x_end - dir * (reach + 1); x -= dir)
        if (x >= 0 && x < w && top[x] >= 0) rows = std::max(rows, bottom[x] - top[x] + 1);
      // At the image's edge: the field of view ends within 3 mm beyond the muscle's end, on one of its rows
      // (the automatic segmentation stops a few columns short of a sector's slanted edge).
      at_edge = false;
      for (int y = top[x_end]; y <= bottom[x_end] && !at_edge; ++y)
        for (int k = 1; k <= std::max(3, int(std::lround(3.0 / pw))) && !at_edge; ++k) {
          const int x = x_end + dir * k;
          at_edge = x < 0 || x >= w || !fov.mask.at(x, y);
        }
      return rows / centre_rows;
    };
    bool left_edge = false, right_edge = false;
    const double left = x_last >= 0 ? end_ratio(x_first, -1, left_edge) : 0, right = x_last >= 0 ? end_ratio(x_last, +1, right_edge) : 0;
    const double open_left = left_edge ? 0 : left, open_right = right_edge ? 0 : right;
    r.value = std::max(open_left, open_right);
    r.source = "thickness within 0.5 mm of each end / at the centre column: left " + fixed(left, 2) + (left_edge ? " (image edge)" : "") +
               ", right " + fixed(right, 2) + (right_edge ? " (image edge)" : "");
    if (lim.open_end_ratio <= 0) {
      r.applied = false;
      r.reason = "not used with " + protocol.name;
    } else if (x_last < 0) {
      r.applied = false;
      r.reason = "no muscle";
    } else if (r.value > r.max) {
      r.passed = false;
      r.reason = std::string("the muscle's ") + (open_left >= open_right ? "left" : "right") + " end is cut straight where it is still " +
                 fixed(100 * r.value, 0) + "% of its centre thickness, away from the image's edge: part of the muscle may be left out";
    }
    add(r);
  }
  return result;
}

}  // namespace musclecsa::ultrasound
