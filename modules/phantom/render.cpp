// CT and MR phantom synthesis: label map, partial-volume images, noise, bias field, ground truth.

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "anatomy_model.h"
#include "musclecsa/core/error.h"
#include "musclecsa/core/parallel.h"
#include "phantom_internal.h"

namespace musclecsa::phantom {
namespace detail {
namespace {

/// Physical properties of a tissue sample, averaged over subsamples for partial volume.
struct TissueSignal {
  double ct_hu = 0;
  double t1 = 0;
  double water = 0;  ///< Dixon water signal
  double fat = 0;    ///< Dixon fat signal
  void add(const TissueSignal& o) {
    ct_hu += o.ct_hu;
    t1 += o.t1;
    water += o.water;
    fat += o.fat;
  }
};

TissueSignal signal_of(const Sample& s) {
  const double ff = s.fat_fraction;
  TissueSignal t;
  double density = 1;  // relative proton density for MR
  switch (s.tissue) {
    case Tissue::Air: t.ct_hu = -1000; density = 0; break;
    case Tissue::Skin: t.ct_hu = 30; density = 0.7; break;
    case Tissue::Fascia: t.ct_hu = 80; density = 0.6; break;
    case Tissue::SubcutaneousFat:
    case Tissue::Fat: t.ct_hu = -100; break;
    case Tissue::Muscle: t.ct_hu = 50 * (1 - ff) - 100 * ff; break;
    case Tissue::Cortex: t.ct_hu = 1250; density = 0.05; break;
    case Tissue::Marrow: t.ct_hu = -60 + 310 * s.marrow_epiphysis; break;
  }
  // T1-weighted: fat bright (1000), water-rich tissue dark (muscle 320).
  t.t1 = density * (1000 * ff + 320 * (1 - ff));
  if (s.tissue == Tissue::Skin) t.t1 = 350;
  if (s.tissue == Tissue::Fascia) t.t1 = 120;  // dense connective tissue: dark on T1
  t.water = 1000 * density * (1 - ff);
  t.fat = 1000 * density * ff;
  return t;
}

bool same_class(const Sample& a, const Sample& b) {
  return a.label == b.label && a.tissue == b.tissue && a.fat_fraction == b.fat_fraction;
}

std::mt19937_64 noise_rng(std::uint64_t seed, std::size_t slice, int role) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(slice), static_cast<std::uint32_t>(role), 0x5eedu};
  return std::mt19937_64(seq);
}

/// Smooth multiplicative coil-sensitivity field over the field of view, peak |B - 1| = amplitude.
class BiasField {
 public:
  BiasField(double amplitude, std::uint64_t seed) : amplitude_(amplitude) {
    std::mt19937_64 rng(seed ^ 0xb1a5);
    std::uniform_real_distribution<double> u(-1, 1);
    for (double& c : c_) c = u(rng);
    double peak = 1e-9;
    for (int i = 0; i <= 20; ++i)
      for (int j = 0; j <= 20; ++j)
        for (int k = 0; k <= 20; ++k) peak = std::max(peak, std::abs(raw(i / 10.0 - 1, j / 10.0 - 1, k / 10.0 - 1)));
    scale_ = amplitude_ / peak;
  }
  /// x, y, z normalised to [-1, 1] over the field of view.
  double at(double x, double y, double z) const { return 1 + scale_ * raw(x, y, z); }

 private:
  double raw(double x, double y, double z) const {
    return c_[0] * x + c_[1] * y + 0.5 * c_[2] * z + 0.6 * c_[3] * x * y + 0.5 * c_[4] * (x * x - 0.5) +
           0.5 * c_[5] * (y * y - 0.5) + 0.3 * c_[6] * x * z;
  }
  double amplitude_;
  double scale_ = 0;
  double c_[7]{};
};

double rician(double s, double sd, std::mt19937_64& rng) {
  if (sd <= 0) return s;
  std::normal_distribution<double> n(0, sd);
  return std::hypot(s + n(rng), n(rng));
}

}  // namespace

Phantom make_cross_sectional(const PhantomParams& p, AnatomySource source, Progress& progress) {
  const Geometry g = source.geometry;
  const std::size_t nx = g.size[0], ny = g.size[1], nz = g.size[2];
  Phantom ph;
  ph.params = p;
  ph.labels = LabelMap(g);
  ph.fat_fraction = Image<float>(g);

  const bool ct = p.modality == PhantomModality::CT;
  const bool dixon = p.modality == PhantomModality::MrDixon;
  const std::string region = source.description;
  auto add_series = [&](std::string role, std::string description, std::vector<std::string> image_type) {
    PhantomSeries s;
    s.role = std::move(role);
    s.description = std::move(description);
    s.image_type = std::move(image_type);
    s.image = ScalarVolume(g);
    s.image.modality = ct ? Modality::CT : Modality::MR;
    s.image.unit_ucum = ct ? "[hnsf'U]" : "1";
    s.image.source.series_description = s.description;
    s.noise_free = s.image;
    ph.series.push_back(std::move(s));
  };
  if (ct) {
    add_series("ct", "Phantom " + region + " CT", {"ORIGINAL", "PRIMARY", "AXIAL"});
  } else if (!dixon) {
    add_series("t1", "Phantom " + region + " t1_tse_tra", {"ORIGINAL", "PRIMARY", "M", "ND"});
  } else {
    add_series("water", "Phantom " + region + " t1_dixon_tra_W", {"DERIVED", "PRIMARY", "DIXON", "WATER"});
    add_series("fat", "Phantom " + region + " t1_dixon_tra_F", {"DERIVED", "PRIMARY", "DIXON", "FAT"});
    add_series("in_phase", "Phantom " + region + " t1_dixon_tra_in", {"ORIGINAL", "PRIMARY", "DIXON", "IN_PHASE"});
    add_series("opposed_phase", "Phantom " + region + " t1_dixon_tra_opp",
               {"ORIGINAL", "PRIMARY", "DIXON", "OUT_PHASE"});
  }

  const BiasField bias(p.bias_field_amplitude, p.seed);
  const int n = p.supersampling;
  std::vector<SliceTruth> truths(nz);
  auto work_slice = [&](std::size_t k) {
    const double z = g.index_to_lps({0, 0, static_cast<double>(k)}).z;
    const std::unique_ptr<SectionClassifier> section = source.section_at(z);
    std::vector<Sample> centre(nx * ny);
    for (std::size_t j = 0; j < ny; ++j)
      for (std::size_t i = 0; i < nx; ++i) {
        const Vec3 pos = g.index_to_lps({double(i), double(j), double(k)});
        centre[i + nx * j] = section->classify(pos.x, pos.y);
      }

    std::vector<TissueSignal> signal(nx * ny);
    for (std::size_t j = 0; j < ny; ++j)
      for (std::size_t i = 0; i < nx; ++i) {
        const Sample& c = centre[i + nx * j];
        bool pure = true;
        if (i > 0 && !same_class(c, centre[i - 1 + nx * j])) pure = false;
        if (i + 1 < nx && !same_class(c, centre[i + 1 + nx * j])) pure = false;
        if (j > 0 && !same_class(c, centre[i + nx * (j - 1)])) pure = false;
        if (j + 1 < ny && !same_class(c, centre[i + nx * (j + 1)])) pure = false;
        if (pure || n == 1) {
          signal[i + nx * j] = signal_of(c);
          continue;
        }
        TissueSignal sum;
        for (int b = 0; b < n; ++b)
          for (int a = 0; a < n; ++a) {
            const double di = (a + 0.5) / n - 0.5, dj = (b + 0.5) / n - 0.5;
            const Vec3 pos = g.index_to_lps({i + di, j + dj, double(k)});
            sum.add(signal_of(section->classify(pos.x, pos.y)));
          }
        const double w = 1.0 / (n * n);
        signal[i + nx * j] = {sum.ct_hu * w, sum.t1 * w, sum.water * w, sum.fat * w};
      }

    // Label map, true fat fraction, noise-free and noisy images.
    LabelId* labels = ph.labels.slice(k);
    float* ff = ph.fat_fraction.slice(k);
    std::vector<std::mt19937_64> rngs;
    for (std::size_t r = 0; r < ph.series.size(); ++r) rngs.push_back(noise_rng(p.seed, k, static_cast<int>(r)));
    std::normal_distribution<double> gauss(0, p.noise_sd > 0 ? p.noise_sd : 1);
    const double zn = nz > 1 ? 2.0 * k / (nz - 1) - 1 : 0;
    for (std::size_t j = 0; j < ny; ++j)
      for (std::size_t i = 0; i < nx; ++i) {
        const std::size_t o = i + nx * j;
        const TissueSignal& t = signal[o];
        labels[o] = centre[o].label;
        ff[o] = t.water + t.fat > 1e-6 ? static_cast<float>(t.fat / (t.water + t.fat)) : 0.0f;
        const double b = bias.at(nx > 1 ? 2.0 * i / (nx - 1) - 1 : 0, ny > 1 ? 2.0 * j / (ny - 1) - 1 : 0, zn);
        for (std::size_t r = 0; r < ph.series.size(); ++r) {
          PhantomSeries& s = ph.series[r];
          double clean = 0, noisy = 0;
          if (s.role == "ct") {
            clean = t.ct_hu;
            noisy = std::clamp(std::round(clean + (p.noise_sd > 0 ? gauss(rngs[r]) : 0.0)), -1024.0, 3071.0);
          } else if (s.role == "t1") {
            clean = b * t.t1;
            noisy = std::round(std::min(65535.0, rician(clean, p.noise_sd, rngs[r])));
          } else {
            const double w = b * t.water, f = b * t.fat;
            if (s.role == "water") clean = w;
            else if (s.role == "fat") clean = f;
            else if (s.role == "in_phase") clean = w + f;
            else clean = std::abs(w - f);
            noisy = std::round(std::min(65535.0, rician(clean, p.noise_sd, rngs[r])));
          }
          s.noise_free.slice(k)[o] = static_cast<float>(clean);
          s.image.slice(k)[o] = static_cast<float>(noisy);
        }
      }
    truths[k] = slice_truth(ph, k, z, section->bone_fraction, centre);
  };

  parallel_for(nz, progress, "synthesising slices", 1.0, [&](std::size_t k) {
    work_slice(k);
    return true;
  });

  ph.slices = std::move(truths);
  ph.level = source.level;
  ph.anatomy_source = source.truth;
  const double k_level = (ph.level.level_z_mm - g.origin_lps_mm.z) / g.spacing_mm[2];
  ph.level.nearest_slice =
      (ph.level.known && k_level > -0.5 && k_level < nz - 0.5) ? static_cast<int>(std::lround(k_level)) : -1;
  return ph;
}

namespace {
class AnalyticSection : public SectionClassifier {
 public:
  explicit AnalyticSection(SliceSection s) : section_(std::move(s)) { bone_fraction = section_.bone_fraction; }
  Sample classify(double x, double y) const override { return section_.classify(x, y); }

 private:
  SliceSection section_;
};
}  // namespace

AnatomySource analytic_source(const PhantomParams& p) {
  const BoneAxis axis = bone_axis(p.anatomy);
  const double level_z = axis.z_at(axis.level_fraction);
  const double dz = p.slice_spacing_mm;
  const std::size_t nx = p.columns, ny = p.rows, nz = p.slices;
  const double px = p.pixel_spacing_mm;
  AnatomySource source;
  source.geometry = make_axial_geometry({nx, ny, nz}, {px, px, dz},
                                        {-0.5 * (nx - 1) * px, -0.5 * (ny - 1) * px, level_z - 0.5 * (nz - 1) * dz});
  source.section_at = [p](double z) { return std::make_unique<AnalyticSection>(build_section(p, z)); };
  source.description = std::string(to_string(p.anatomy));
  source.level.name = p.anatomy == Anatomy::Thigh ? "femur_50pct" : "tibia_66pct_from_distal";
  source.level.bone_key = p.anatomy == Anatomy::Thigh ? "femur" : "tibia";
  source.level.bone_length_mm = axis.length_mm;
  source.level.bone_proximal_z_mm = axis.proximal_z_mm;
  source.level.bone_distal_z_mm = axis.z_at(1.0);
  source.level.level_z_mm = level_z;
  return source;
}

}  // namespace detail

Phantom make_phantom(const PhantomParams& params, Progress& progress) {
  if (!params.anatomy_from.empty()) {
    if (params.modality == PhantomModality::US)
      throw Error(ErrorCode::InvalidArgument, "--anatomy-from", "semi-real phantoms are CT or MR (ultrasound has its own model)");
    PhantomParams atlas_params = params;
    detail::AnatomySource source = detail::atlas_source(atlas_params);
    return detail::make_cross_sectional(atlas_params, std::move(source), progress);
  }
  const PhantomParams p = resolve_defaults(params);
  if (p.modality == PhantomModality::US) return detail::make_ultrasound(p, progress);
  return detail::make_cross_sectional(p, detail::analytic_source(p), progress);
}

}  // namespace musclecsa::phantom
