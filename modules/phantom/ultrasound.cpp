// Ultrasound B-mode phantom of one muscle's cross-section: skin, subcutaneous fat, fascia, the
// target muscle, the muscle beneath it and the bone surface with its acoustic shadow, formed with
// speckle and depth attenuation, inside a black border with burned-in annotations.

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

#include "musclecsa/core/error.h"
#include "phantom_internal.h"

namespace musclecsa::phantom::detail {
namespace {

constexpr double kPi = std::numbers::pi;

struct MuscleShape {
  double width_mm, thickness_mm, curvature;  // curvature: how much the lens bends down at its edges (x thickness)
  const char* below_key;                     // muscle under the target
  double below_thickness_mm;
  bool bone_below;                           // femur surface below
};

MuscleShape default_shape(const std::string& key) {
  if (key == "vastus_lateralis") return {75, 22, 0.35, "vastus_intermedius", 14, true};
  if (key == "gastrocnemius_medial") return {60, 17, 0.15, "soleus", 16, false};
  return {44, 20, 0.1, "vastus_intermedius", 15, true};  // rectus femoris
}

/// Separable Gaussian blur of a row-major float image in place.
void blur(std::vector<double>& img, std::size_t w, std::size_t h, double sigma_x, double sigma_y) {
  auto kernel = [](double sigma) {
    const int r = std::max(1, static_cast<int>(std::ceil(3 * sigma)));
    std::vector<double> k(2 * r + 1);
    double sum = 0;
    for (int i = -r; i <= r; ++i) sum += k[i + r] = std::exp(-0.5 * i * i / (sigma * sigma));
    for (double& v : k) v /= sum;
    return k;
  };
  const auto kx = kernel(sigma_x), ky = kernel(sigma_y);
  const int rx = static_cast<int>(kx.size() / 2), ry = static_cast<int>(ky.size() / 2);
  std::vector<double> tmp(img.size());
  for (std::size_t y = 0; y < h; ++y)
    for (std::size_t x = 0; x < w; ++x) {
      double s = 0;
      for (int i = -rx; i <= rx; ++i) {
        const std::size_t xi = std::clamp<long>(static_cast<long>(x) + i, 0, static_cast<long>(w) - 1);
        s += kx[i + rx] * img[xi + w * y];
      }
      tmp[x + w * y] = s;
    }
  for (std::size_t y = 0; y < h; ++y)
    for (std::size_t x = 0; x < w; ++x) {
      double s = 0;
      for (int i = -ry; i <= ry; ++i) {
        const std::size_t yi = std::clamp<long>(static_cast<long>(y) + i, 0, static_cast<long>(h) - 1);
        s += ky[i + ry] * tmp[x + w * yi];
      }
      img[x + w * y] = s;
    }
}

}  // namespace

Phantom make_ultrasound(const PhantomParams& p, Progress& progress) {
  const auto& catalog = LabelCatalog::standard();
  const double dx = p.us_pixel_spacing_mm;
  const std::size_t region_w = static_cast<std::size_t>(std::lround(p.us_width_mm / dx));
  const std::size_t region_h = static_cast<std::size_t>(std::lround(p.us_depth_mm / dx));
  const std::size_t border_left = 40, border_right = 60, border_top = 60, border_bottom = 30;
  const std::size_t w = region_w + border_left + border_right, h = region_h + border_top + border_bottom;

  MuscleShape shape = default_shape(p.us_muscle);
  if (p.us_muscle_width_mm > 0) shape.width_mm = p.us_muscle_width_mm;
  if (p.us_muscle_thickness_mm > 0) shape.thickness_mm = p.us_muscle_thickness_mm;
  // The muscle's width scales with atrophy like its area's square root; thickness likewise.
  shape.width_mm *= std::sqrt(p.muscle_area_scale);
  shape.thickness_mm *= std::sqrt(p.muscle_area_scale);
  if (shape.width_mm > p.us_width_mm - 4)
    throw Error(ErrorCode::InvalidArgument, "us-width-mm",
                "the imaged width must exceed the muscle width (" + std::to_string(shape.width_mm) + " mm) by 4 mm");

  std::mt19937_64 rng(p.seed * 0x9E3779B97F4A7C15ull + 77);
  std::uniform_real_distribution<double> uni(-1, 1);
  const double fascia_mm = 0.7;
  const double x0 = 0.5 * p.us_width_mm + 0.05 * p.shape_variation * p.us_width_mm * uni(rng) * 0.5;
  const double sat_phase = kPi * uni(rng);
  const double sat_wobble = 0.12 * std::min(1.0, p.shape_variation);
  auto sat_at = [&](double x) { return p.sat_thickness_mm * (1 + sat_wobble * std::sin(2 * kPi * 1.3 * x / p.us_width_mm + sat_phase)); };
  const double d0 = p.skin_thickness_mm + sat_at(x0) + fascia_mm;  // top of the target at its centre
  const double aw = 0.5 * shape.width_mm, half_t = 0.5 * shape.thickness_mm;
  const double bend = shape.curvature * shape.thickness_mm;
  auto centre_line = [&](double x) {
    const double u = (x - x0) / aw;
    return d0 + half_t + bend * u * u;
  };
  // Bent-ellipse coordinate: e < 1 inside the target muscle.
  auto ellipse_e = [&](double x, double d) {
    const double u = (x - x0) / aw;
    const double v = (d - centre_line(x)) / half_t;
    return u * u + v * v;
  };
  const double below_bottom = d0 + shape.thickness_mm + shape.below_thickness_mm;
  const double bone_radius = 25;
  auto bone_depth = [&](double x) {  // depth of the bone surface, or infinity where there is none
    const double dxb = x - x0;
    if (!shape.bone_below || std::abs(dxb) >= bone_radius) return 1e9;
    return below_bottom + bone_radius - std::sqrt(bone_radius * bone_radius - dxb * dxb);
  };

  Infiltration inf;
  if (auto it = p.infiltration.find(p.us_muscle); it != p.infiltration.end()) inf = it->second;
  else if (auto all = p.infiltration.find("all"); all != p.infiltration.end()) inf = all->second;

  const LabelId target = catalog.label_id(p.us_muscle, Side::Right);
  const LabelId below = catalog.label_id(shape.below_key, Side::Right);
  const LabelId other = catalog.label_id("skeletal_muscle", Side::Right);
  const LabelId skin = catalog.label_id("skin", Side::Right);
  const LabelId sat = catalog.label_id("subcutaneous_fat", Side::Right);
  const LabelId bone = catalog.label_id(p.anatomy == Anatomy::Thigh ? "femur" : "tibia", Side::Right);

  const Geometry g = make_axial_geometry({w, h, 1}, {dx, dx, 1.0}, {0, 0, 0});
  Phantom ph;
  ph.params = p;
  ph.labels = LabelMap(g);
  ph.fat_fraction = Image<float>(g);
  std::vector<double> echo(w * h, 0.0);

  // Sparse hyperechoic connective-tissue dots inside muscle and septa inside the fat.
  std::vector<std::pair<double, double>> dots;
  const double dot_density = 0.02 + 0.15 * inf.fraction;  // per mm2
  const std::size_t n_dots = static_cast<std::size_t>(dot_density * p.us_width_mm * p.us_depth_mm);
  std::uniform_real_distribution<double> ux(0, p.us_width_mm), ud(0, p.us_depth_mm);
  for (std::size_t n = 0; n < n_dots; ++n) dots.emplace_back(ux(rng), ud(rng));

  for (std::size_t j = 0; j < region_h; ++j) {
    for (std::size_t i = 0; i < region_w; ++i) {
      const double x = (i + 0.5) * dx, d = (j + 0.5) * dx;
      const std::size_t o = (i + border_left) + w * (j + border_top);
      LabelId label = 0;
      double e = 0;
      float ff = 0;
      const double fascia_top = p.skin_thickness_mm + sat_at(x);
      const double ee = ellipse_e(x, d);
      const double bd = bone_depth(x);
      if (d < p.skin_thickness_mm) {
        label = skin, e = 0.85, ff = 0.05f;
      } else if (d < fascia_top) {
        label = sat, e = 0.28, ff = 1.0f;
        // thin oblique connective septa in the fat
        if (std::abs(std::sin(2 * kPi * (x + 0.6 * d) / 9.0 + sat_phase)) < 0.04) e = 0.7;
      } else if (d < fascia_top + fascia_mm) {
        label = other, e = 1.0;  // deep fascia
      } else if (ee < 1) {
        label = target, ff = static_cast<float>(inf.fraction);
        e = 0.42 + 0.45 * inf.fraction;
      } else if (d >= bd) {
        label = bone, e = d < bd + 1.0 ? 1.35 : 0.03;  // bright surface, then acoustic shadow
      } else {
        // Epimysium/aponeurosis around the target: a band of fascia_mm outside its boundary.
        const double h_mm = 0.05;
        const double gx = (std::sqrt(ellipse_e(x + h_mm, d)) - std::sqrt(ellipse_e(x - h_mm, d))) / (2 * h_mm);
        const double gy = (std::sqrt(ellipse_e(x, d + h_mm)) - std::sqrt(ellipse_e(x, d - h_mm))) / (2 * h_mm);
        const double dist = (std::sqrt(ee) - 1) / std::max(1e-9, std::hypot(gx, gy));
        if (dist < fascia_mm) {
          label = other, e = 1.0;
        } else if (d > centre_line(x) && d < below_bottom + (shape.bone_below ? 0 : 6) &&
                   std::abs(x - x0) < aw * 1.25) {
          label = below, e = 0.45;
        } else {
          label = other, e = 0.45;
        }
      }
      ph.labels.voxels[o] = label;
      ph.fat_fraction.voxels[o] = ff;
      echo[o] = e;
    }
  }
  // Connective-tissue dots (hyperechoic) inside muscle labels.
  for (const auto& [xd, dd] : dots) {
    const long ci = static_cast<long>(xd / dx) + static_cast<long>(border_left);
    const long cj = static_cast<long>(dd / dx) + static_cast<long>(border_top);
    const long rx = std::max(1L, std::lround(0.6 / dx)), ry = std::max(1L, std::lround(0.25 / dx));
    for (long b = -ry; b <= ry; ++b)
      for (long a = -rx; a <= rx; ++a) {
        const long i = ci + a, j = cj + b;
        if (i < 0 || j < 0 || i >= static_cast<long>(w) || j >= static_cast<long>(h)) continue;
        const std::size_t o = i + w * j;
        const LabelId l = ph.labels.voxels[o];
        if ((l == target || l == below || l == other) && echo[o] < 0.9 && double(a * a) / (rx * rx) + double(b * b) / (ry * ry) <= 1)
          echo[o] = 0.95;
      }
  }
  progress.report(0.4, "synthesising ultrasound");

  // Speckle: blurred complex Gaussian field, envelope normalised to unit RMS.
  std::normal_distribution<double> gauss(0, 1);
  std::vector<double> re(w * h), im(w * h);
  for (std::size_t n = 0; n < w * h; ++n) {
    re[n] = gauss(rng);
    im[n] = gauss(rng);
  }
  blur(re, w, h, 1.2, 0.7);
  blur(im, w, h, 1.2, 0.7);
  double power = 0;
  for (std::size_t n = 0; n < w * h; ++n) power += re[n] * re[n] + im[n] * im[n];
  const double rms = std::sqrt(power / double(w * h));
  progress.report(0.7, "synthesising ultrasound");

  PhantomSeries series;
  series.role = "us";
  series.description = std::string("Phantom ") + catalog.get(p.us_muscle).name + " B-mode";
  series.image_type = {"ORIGINAL", "PRIMARY", "ABDOMINAL"};
  series.image = ScalarVolume(g);
  series.image.modality = Modality::US;
  series.image.unit_ucum = "1";
  series.image.source.series_description = series.description;
  series.noise_free = series.image;
  const double reference = 1.3;  // echo that maps to grey 255 at zero depth
  for (std::size_t j = 0; j < region_h; ++j)
    for (std::size_t i = 0; i < region_w; ++i) {
      const std::size_t o = (i + border_left) + w * (j + border_top);
      const double depth_mm = (j + 0.5) * dx;
      const double attenuation = std::exp(-0.006 * depth_mm);
      const double clean = 255.0 * p.us_echogenicity_gain * echo[o] * attenuation / reference;
      const double envelope = std::hypot(re[o], im[o]) / rms;
      series.noise_free.voxels[o] = static_cast<float>(std::clamp(clean * 0.886, 0.0, 255.0));  // Rayleigh mean
      series.image.voxels[o] = static_cast<float>(std::clamp(std::round(clean * envelope), 0.0, 255.0));
    }
  // Burned-in annotations in the border: text-like blocks and a depth scale with 10 mm ticks.
  auto fill = [&](std::size_t x1, std::size_t y1, std::size_t x2, std::size_t y2, float grey) {
    for (std::size_t y = y1; y < std::min(y2, h); ++y)
      for (std::size_t x = x1; x < std::min(x2, w); ++x) series.image.voxels[x + w * y] = grey;
  };
  for (std::size_t c = 0; c < 14; ++c) {
    const std::size_t x = border_left + c * 9;
    fill(x, 15, x + 6, 17, 230);
    fill(x + (c % 3) * 2, 17, x + (c % 3) * 2 + 2, 27, 230);
    fill(x, 25 + (c % 2) * 2, x + 6, 27 + (c % 2) * 2, 230);
  }
  const std::size_t scale_x = border_left + region_w + 15;
  fill(scale_x, border_top, scale_x + 2, border_top + region_h, 200);
  for (double mm = 0; mm <= p.us_depth_mm + 1e-9; mm += 10) {
    const std::size_t y = border_top + static_cast<std::size_t>(std::lround(mm / dx));
    fill(scale_x, y > 0 ? y - 1 : 0, scale_x + 12, y + 1, 200);
  }
  ph.series.push_back(std::move(series));

  // Ground truth.
  UltrasoundTruth& t = ph.ultrasound;
  t.muscle_key = p.us_muscle;
  t.region_min_x = static_cast<int>(border_left);
  t.region_min_y = static_cast<int>(border_top);
  t.region_max_x = static_cast<int>(border_left + region_w - 1);
  t.region_max_y = static_cast<int>(border_top + region_h - 1);
  std::size_t count = 0;
  double grey_sum = 0;
  double column_sum = 0;
  for (std::size_t o = 0; o < w * h; ++o)
    if (ph.labels.voxels[o] == target) {
      ++count;
      grey_sum += ph.series[0].image.voxels[o];
      column_sum += double(o % w);
    }
  if (count == 0) throw Error(ErrorCode::Internal, "ultrasound phantom", "the target muscle has no pixels");
  t.acsa_mm2 = count * dx * dx;
  t.echo_intensity = grey_sum / count;
  t.centre_column = static_cast<int>(std::lround(column_sum / count));
  std::size_t thickness_px = 0;
  for (std::size_t j = 0; j < h; ++j)
    if (ph.labels.voxels[t.centre_column + w * j] == target) ++thickness_px;
  t.muscle_thickness_mm = thickness_px * dx;
  t.sat_thickness_mm = sat_at((t.centre_column - double(border_left) + 0.5) * dx);

  SliceTruth slice;
  slice.slice_index = 0;
  StructureTruth st;
  st.structure_key = p.us_muscle;
  st.side = Side::Right;
  st.voxel_count = count;
  st.area_mm2 = t.acsa_mm2;
  st.fat_fraction = inf.fraction;
  st.mean_value = t.echo_intensity;
  slice.structures.push_back(st);
  ph.slices.push_back(slice);
  progress.report(1.0, "synthesising ultrasound");
  return ph;
}

}  // namespace musclecsa::phantom::detail
