// Measurements on a segmented ultrasound image: ACSA, thickness, subcutaneous fat thickness, echo
// intensity (raw and corrected), histogram, hyperechoic fraction and GLCM texture.

#include <algorithm>
#include <cmath>

#include "musclecsa/core/error.h"
#include "musclecsa/ultrasound/us_analysis.h"

namespace musclecsa::ultrasound {

GlcmFeatures glcm_features(const GreyImage& image, const Mask& mask, int levels, int distance_px, const std::vector<int>& angles_deg) {
  if (levels < 2 || levels > 256) throw Error(ErrorCode::InvalidArgument, "--glcm-levels", "must be 2..256");
  if (distance_px < 1 || distance_px > 64) throw Error(ErrorCode::InvalidArgument, "--glcm-distance-px", "must be 1..64");
  GlcmFeatures f;
  f.levels = levels, f.distance_px = distance_px, f.angles_deg = angles_deg;
  const int w = image.width, h = image.height;
  std::vector<int> q(image.grey.size());
  for (std::size_t n = 0; n < q.size(); ++n)
    q[n] = std::clamp(static_cast<int>(std::floor(double(image.grey[n]) * levels / 256.0)), 0, levels - 1);
  std::vector<double> m(std::size_t(levels) * levels);
  int used = 0;
  for (int angle : angles_deg) {
    int dx = 0, dy = 0;
    switch (angle) {
      case 0: dx = distance_px; break;
      case 45: dx = distance_px, dy = -distance_px; break;
      case 90: dy = -distance_px; break;
      case 135: dx = -distance_px, dy = -distance_px; break;
      default: throw Error(ErrorCode::InvalidArgument, "GLCM angle", "must be 0, 45, 90 or 135 degrees");
    }
    std::fill(m.begin(), m.end(), 0.0);
    double total = 0;
    for (int j = 0; j < h; ++j) {
      const int j2 = j + dy;
      if (j2 < 0 || j2 >= h) continue;
      for (int i = 0; i < w; ++i) {
        const int i2 = i + dx;
        if (i2 < 0 || i2 >= w || !mask.at(i, j) || !mask.at(i2, j2)) continue;
        const int a = q[std::size_t(i) + std::size_t(w) * j], b = q[std::size_t(i2) + std::size_t(w) * j2];
        m[std::size_t(a) * levels + b] += 1;
        m[std::size_t(b) * levels + a] += 1;  // symmetric
        total += 2;
      }
    }
    if (total == 0) continue;
    f.pairs += static_cast<std::size_t>(total / 2);
    ++used;
    double contrast = 0, homogeneity = 0, energy = 0, entropy = 0, mean = 0, var = 0, cov = 0;
    for (int a = 0; a < levels; ++a)
      for (int b = 0; b < levels; ++b) {
        const double p = m[std::size_t(a) * levels + b] / total;
        if (p == 0) continue;
        contrast += (a - b) * (a - b) * p;
        homogeneity += p / (1.0 + (a - b) * (a - b));
        energy += p * p;
        entropy -= p * std::log2(p);
        mean += a * p;
      }
    for (int a = 0; a < levels; ++a)
      for (int b = 0; b < levels; ++b) {
        const double p = m[std::size_t(a) * levels + b] / total;
        if (p == 0) continue;
        var += (a - mean) * (a - mean) * p;
        cov += (a - mean) * (b - mean) * p;
      }
    f.contrast += contrast, f.homogeneity += homogeneity, f.energy += energy, f.entropy += entropy;
    f.correlation += var > 0 ? cov / var : 1.0;
  }
  if (used == 0) throw Error(ErrorCode::InvalidInput, "segmentation", "too small for texture: no pixel pair inside the mask");
  f.contrast /= used, f.homogeneity /= used, f.energy /= used, f.entropy /= used, f.correlation /= used;
  return f;
}

namespace {

/// The column profile of grey levels averaged over nearby field-of-view columns.
std::vector<double> column_profile(const GreyImage& image, const FieldOfView& fov, int column, int radius) {
  std::vector<double> p(image.height, 0.0);
  for (int j = 0; j < image.height; ++j) {
    double s = 0;
    int n = 0;
    for (int i = std::max(0, column - radius); i <= std::min(image.width - 1, column + radius); ++i)
      if (fov.mask.at(i, j)) s += image.at(i, j), ++n;
    p[j] = n > 0 ? s / n : 0;
  }
  std::vector<double> smooth = p;
  for (int j = 1; j + 1 < image.height; ++j) smooth[j] = 0.25 * p[j - 1] + 0.5 * p[j] + 0.25 * p[j + 1];
  return smooth;
}

}  // namespace

UsMeasures measure(const GreyImage& image, const FieldOfView& fov, const UsSegmentation& seg, const UsProtocol& protocol) {
  const Mask& mask = seg.mask;
  if (mask.width != image.width || mask.height != image.height)
    throw Error(ErrorCode::InvalidInput, "segmentation", "the mask is not on the image's grid");
  UsMeasures r;
  const double pw = image.calibrated ? image.pixel_width_mm : 1.0, ph = image.calibrated ? image.pixel_height_mm : 1.0;
  double column_sum = 0, sum = 0, sum2 = 0;
  std::size_t hyper = 0;
  r.histogram.assign(256, 0);
  for (int j = 0; j < image.height; ++j)
    for (int i = 0; i < image.width; ++i) {
      if (!mask.at(i, j)) continue;
      const double g = image.at(i, j);
      ++r.pixel_count;
      column_sum += i;
      sum += g, sum2 += g * g;
      ++r.histogram[std::size_t(std::clamp(static_cast<int>(std::lround(g)), 0, 255))];
      if (g > protocol.hyperechoic_threshold) ++hyper;
    }
  if (r.pixel_count == 0) throw Error(ErrorCode::InvalidInput, "segmentation", "the muscle outline holds no pixel");
  const double n = double(r.pixel_count);
  r.acsa_mm2 = n * pw * ph;
  r.echo_intensity = sum / n;
  r.echo_intensity_sd = std::sqrt(std::max(0.0, sum2 / n - r.echo_intensity * r.echo_intensity));
  r.hyperechoic_fraction = double(hyper) / n;
  r.centre_column = static_cast<int>(std::lround(column_sum / n));
  int count = 0, first = -1, last = -1;
  for (int j = 0; j < image.height; ++j)
    if (mask.at(r.centre_column, j)) {
      ++count;
      if (first < 0) first = j;
      last = j;
    }
  r.muscle_top_row = first, r.muscle_bottom_row = last;
  r.muscle_thickness_px = count;
  r.muscle_thickness_mm = count * ph;

  // Subcutaneous fat: from the skin/fat interface (lower half-maximum edge of the bright skin) to
  // the upper half-maximum edge of the deep fascia above the muscle, along the centre column.
  const int c = r.centre_column;
  int skin = -1;
  for (int j = 0; j < image.height; ++j)
    if (fov.mask.at(c, j)) {
      skin = j;
      break;
    }
  const double mm = image.calibrated ? ph : std::max(1e-3, 45.0 / std::max(1, fov.max_y - fov.min_y + 1));  // mm per row for search windows
  if (skin >= 0 && first > skin + 3) {
    const auto prof = column_profile(image, fov, c, std::max(2, int(std::lround(2.0 / (image.calibrated ? pw : mm)))));
    const int skin_window = std::max(3, int(std::lround(3.0 / mm)));
    int ps = skin;
    for (int j = skin; j <= std::min(first, skin + skin_window); ++j)
      if (prof[j] > prof[ps]) ps = j;
    int pf = std::max(ps + 1, first - int(std::lround(3.0 / mm)));
    for (int j = pf; j <= std::min(image.height - 1, first + int(std::lround(0.3 / mm))); ++j)
      if (prof[j] > prof[pf]) pf = j;
    std::vector<double> between(prof.begin() + ps, prof.begin() + std::max(ps + 1, pf));
    std::nth_element(between.begin(), between.begin() + between.size() / 2, between.end());
    const double fat = between[between.size() / 2];
    const double half_s = 0.5 * (prof[ps] + fat), half_f = 0.5 * (prof[pf] + fat);
    // An edge is where the profile crosses half-way and stays on the fat side for 1 mm (speckle
    // inside the skin or the fascia can dip below half for a row or two).
    const int settle = std::max(2, int(std::lround(1.0 / mm)));
    double skin_fat = -1, fascia = -1;
    for (int j = ps; j < pf; ++j) {
      if (!(prof[j] >= half_s && prof[j + 1] < half_s)) continue;
      bool stays = true;
      for (int k = j + 1; k <= std::min(pf - 1, j + settle) && stays; ++k) stays = prof[k] < half_s;
      if (!stays) continue;
      skin_fat = j + (prof[j] - half_s) / std::max(1e-6, prof[j] - prof[j + 1]);
      break;
    }
    for (int j = pf; j > ps; --j) {
      if (!(prof[j] >= half_f && prof[j - 1] < half_f)) continue;
      bool stays = true;
      for (int k = j - 1; k >= std::max(ps + 1, j - settle) && stays; --k) stays = prof[k] < half_f;
      if (!stays) continue;
      fascia = j - (prof[j] - half_f) / std::max(1e-6, prof[j] - prof[j - 1]);
      break;
    }
    if (skin_fat >= 0 && fascia > skin_fat && prof[pf] > fat * 1.15) {
      r.sat_found = true;
      r.skin_fat_row = skin_fat, r.fascia_row = fascia;
      r.sat_thickness_px = fascia - skin_fat;
      r.sat_thickness_mm = r.sat_thickness_px * ph;
    }
  }
  if (!protocol.ei_correction) {
    r.ei_correction_note = "no published subcutaneous-fat correction for this muscle in the protocol: echo intensity reported raw only";
  } else if (!image.calibrated) {
    r.ei_correction_note = "image not calibrated: the fat thickness in cm, and so the corrected echo intensity, is unknown";
  } else if (!r.sat_found) {
    r.ei_correction_note = "subcutaneous fat thickness not found at the centre column: no corrected echo intensity";
  } else {
    r.echo_intensity_corrected = r.echo_intensity + r.sat_thickness_mm / 10.0 * protocol.ei_coefficient_per_cm;
  }
  r.glcm = glcm_features(image, mask, protocol.glcm_levels, protocol.glcm_distance_px);
  return r;
}

}  // namespace musclecsa::ultrasound
