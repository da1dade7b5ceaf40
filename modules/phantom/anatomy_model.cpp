#include "anatomy_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <string>

#include "musclecsa/core/error.h"
#include "musclecsa/core/muscle_layout.h"

namespace musclecsa::phantom::detail {
namespace {

constexpr double kPi = std::numbers::pi;

double smoothstep(double e0, double e1, double x) {
  const double t = std::clamp((x - e0) / (e1 - e0), 0.0, 1.0);
  return t * t * (3 - 2 * t);
}
double lerp(double a, double b, double t) { return a + (b - a) * t; }

/// Piecewise-linear interpolation of keyframe values at fractions `at` (clamped at the ends).
template <std::size_t N>
double keyframes(const std::array<double, N>& at, const std::array<double, N>& value, double s) {
  if (s <= at[0]) return value[0];
  for (std::size_t n = 1; n < N; ++n)
    if (s <= at[n]) return lerp(value[n - 1], value[n], (s - at[n - 1]) / (at[n] - at[n - 1]));
  return value[N - 1];
}

constexpr double kFemurLength = 440, kTibiaLength = 370;

/// Deterministic per-purpose random generator.
std::mt19937_64 rng_for(std::uint64_t seed, std::uint64_t purpose) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(purpose), static_cast<std::uint32_t>(purpose >> 32)};
  return std::mt19937_64(seq);
}

/// Skin ellipse semi-axes (mm) before atrophy, along the reference bone.
void outer_axes(Anatomy anatomy, double s, double& a, double& b) {
  if (anatomy == Anatomy::Thigh) {
    a = keyframes<3>({0.0, 0.5, 1.0}, {95, 80, 58}, s);
    b = keyframes<3>({0.0, 0.5, 1.0}, {85, 72, 52}, s);
  } else {
    a = keyframes<4>({0.0, 0.3, 0.6, 1.0}, {55, 62, 48, 32}, s);
    b = keyframes<4>({0.0, 0.3, 0.6, 1.0}, {52, 58, 42, 30}, s);
  }
}

/// Bone semi-axes scaled down to zero over `cap_mm` at the ends of a bone of `length`,
/// as a spherical cap: distance d from the proximal end.
double end_cap(double d, double length, double cap_proximal_mm, double cap_distal_mm) {
  if (d < 0 || d > length) return 0;
  double f = 1;
  if (d < cap_proximal_mm) f = std::sqrt(std::max(0.0, 1 - std::pow((cap_proximal_mm - d) / cap_proximal_mm, 2)));
  if (length - d < cap_distal_mm)
    f = std::min(f, std::sqrt(std::max(0.0, 1 - std::pow((cap_distal_mm - (length - d)) / cap_distal_mm, 2))));
  return f;
}

BoneSection femur_section(double d, double fascia_a, double fascia_b, double variation) {
  const double L = kFemurLength;
  const double s = d / L;
  BoneSection bone;
  bone.label = LabelCatalog::standard().label_id("femur", Side::Right);
  // Head (medial, large), shaft, condyles (wide): blend with smoothsteps.
  const double head = 1 - smoothstep(0.05, 0.2, s);
  const double condyle = smoothstep(0.75, 0.93, s);
  double a = lerp(lerp(14, 23, head), 38, condyle);
  double b = lerp(lerp(14, 23, head), 30, condyle);
  const double cap = end_cap(d, L, 23, 20);
  bone.a = a * cap;
  bone.b = b * cap;
  bone.cortex_mm = std::min(lerp(lerp(6, 2.5, head), 2.5, condyle), 0.45 * std::min(bone.a, bone.b));
  const double nx = lerp(lerp(0.1, -0.3, head), 0.0, condyle);
  const double ny = lerp(-0.05, 0.05, condyle);
  bone.cx = nx * fascia_a * (0.9 + 0.1 * variation);
  bone.cy = ny * fascia_b;
  bone.epiphysis = static_cast<float>(std::max(head, condyle));
  return bone;
}

BoneSection tibia_section(double d, double fascia_a, double fascia_b) {
  const double L = kTibiaLength;
  const double s = d / L;
  BoneSection bone;
  bone.label = LabelCatalog::standard().label_id("tibia", Side::Right);
  const double plateau = 1 - smoothstep(0.06, 0.2, s);
  const double distal = smoothstep(0.8, 0.95, s);
  bone.a = lerp(lerp(13, 38, plateau), 22, distal) * end_cap(d, L, 6, 10);
  bone.b = lerp(lerp(11, 28, plateau), 20, distal) * end_cap(d, L, 6, 10);
  bone.cortex_mm = std::min(lerp(lerp(5, 2, plateau), 2, distal), 0.45 * std::min(bone.a, bone.b));
  bone.cx = lerp(-0.3, -0.1, plateau) * fascia_a;
  bone.cy = lerp(-0.6, -0.3, plateau) * fascia_b;
  bone.epiphysis = static_cast<float>(std::max(plateau, distal));
  return bone;
}

BoneSection fibula_section(double d, double fascia_a, double fascia_b) {
  // The fibula starts 15 mm below the plateau and ends 10 mm below the tibia (lateral malleolus).
  const double start = 15, length = kTibiaLength - start + 10;
  const double df = d - start;
  const double s = df / length;
  BoneSection bone;
  bone.label = LabelCatalog::standard().label_id("fibula", Side::Right);
  const double head = 1 - smoothstep(0.0, 0.08, s);
  const double malleolus = smoothstep(0.85, 0.97, s);
  const double r = lerp(lerp(7, 12, head), 10, malleolus) * end_cap(df, length, 8, 8);
  bone.a = r;
  bone.b = r * 0.9;
  bone.cortex_mm = std::min(3.0, 0.45 * r);
  bone.cx = 0.55 * fascia_a;
  bone.cy = lerp(0.0, -0.1, malleolus) * fascia_b;
  bone.epiphysis = static_cast<float>(std::max(head, malleolus));
  return bone;
}

double ellipse_radius(double a, double b, double theta) {
  const double c = std::cos(theta), s = std::sin(theta);
  return a * b / std::sqrt(b * b * c * c + a * a * s * s);
}

/// Infiltration of a muscle from the params (its own key first, then "all").
}  // namespace

MuscleFat muscle_fat(const PhantomParams& p, const std::string& key) {
  Infiltration inf;
  if (auto it = p.infiltration.find(key); it != p.infiltration.end()) inf = it->second;
  else if (auto all = p.infiltration.find("all"); all != p.infiltration.end()) inf = all->second;
  MuscleFat fat;
  switch (inf.pattern) {
    case FatPattern::Diffuse: fat.diffuse = inf.fraction; break;
    case FatPattern::Marbled: fat.marbled = inf.fraction; break;
    case FatPattern::Mixed:
      fat.marbled = 0.5 * inf.fraction;
      fat.diffuse = (inf.fraction - fat.marbled) / (1 - fat.marbled);
      break;
  }
  return fat;
}

StreakField marbled_streaks(double marbled, double angle, double phase, double warp_phase) {
  StreakField f;
  f.ux = std::cos(angle);
  f.uy = std::sin(angle);
  f.period_mm = 8;
  f.phase = phase;
  f.warp_phase = warp_phase;
  // Dashes cover a fraction `duty` of each stripe; sin(phase) > cos(pi f) on a fraction f of
  // a uniformly distributed phase, so stripes of fraction marbled / duty give `marbled`.
  f.dash_duty = marbled <= 0.6 ? 0.7 : 1.0;
  f.threshold = std::cos(kPi * marbled / f.dash_duty);
  return f;
}

bool StreakField::is_fat(double x, double y) const {
  if (threshold >= 1) return false;
  const double along = -uy * x + ux * y;
  const double phase_here = 2 * kPi * (ux * x + uy * y) / period_mm + phase +
                            warp_amplitude * std::sin(2 * kPi * along / warp_period_mm + warp_phase);
  if (std::sin(phase_here) <= threshold) return false;
  if (dash_duty >= 1) return true;
  // Each stripe (one period of the phase) has its own dash offset, so gaps do not line up.
  const double stripe = std::floor(phase_here / (2 * kPi));
  const double t = along / dash_period_mm + 0.618034 * stripe;
  return t - std::floor(t) < dash_duty;
}

double LegSection::outer_radius(double theta) const {
  double r = ellipse_radius(outer_a, outer_b, theta);
  double m = 1;
  for (int k = 0; k < 3; ++k) m += harmonic_amplitude[k] * std::cos((k + 2) * theta + harmonic_phase[k]);
  return r * m;
}

double LegSection::sat_thickness(double theta) const {
  return sat_mean_mm * (1 + sat_variation * std::cos(theta - sat_thick_angle));
}

double LegSection::relative_radius(double x_lps, double y_lps) const {
  const double xl = lateral_sign * (x_lps - centre_x_lps);
  const double y = y_lps - centre_y_lps;
  return std::hypot(xl, y) / outer_radius(std::atan2(y, xl));
}

Sample LegSection::classify(double x_lps, double y_lps) const {
  const double x = lateral_sign * (x_lps - centre_x_lps);
  const double y = y_lps - centre_y_lps;
  const double rho = std::hypot(x, y);
  const double theta = std::atan2(y, x);
  const double r_out = outer_radius(theta);
  if (rho > r_out) return {};
  if (rho > r_out - skin_mm) return {skin_label, Tissue::Skin, 0.05f};
  const double r_fascia = r_out - skin_mm - sat_thickness(theta);
  if (rho > r_fascia) return {sat_label, Tissue::SubcutaneousFat, 1.0f};

  for (const auto& bone : bones) {
    if (bone.a <= 0) continue;
    const double u = (x - bone.cx) / bone.a, v = (y - bone.cy) / bone.b;
    if (u * u + v * v > 1) continue;
    const double ia = bone.a - bone.cortex_mm, ib = bone.b - bone.cortex_mm;
    const double ui = (x - bone.cx) / ia, vi = (y - bone.cy) / ib;
    if (ia > 0 && ib > 0 && ui * ui + vi * vi <= 1) {
      Sample s{marrow_label, Tissue::Marrow, static_cast<float>(0.8 - 0.4 * bone.epiphysis)};
      s.marrow_epiphysis = bone.epiphysis;
      return s;
    }
    return {bone.label, Tissue::Cortex, 0.0f};
  }

  if (rho > r_fascia - fascia_mm) return {muscle_tissue_label, Tissue::Fascia, 0.05f};
  if (rho > r_fascia - fascia_mm - subfascial_fat_mm) return {imat_label, Tissue::Fat, 1.0f};
  if (seeds.empty()) return {muscle_tissue_label, Tissue::Muscle, 0.0f};

  // Weighted Voronoi: nearest and second-nearest seeds by |p - c| / size.
  double d1 = std::numeric_limits<double>::max(), d2 = d1;
  const MuscleSeed* n1 = nullptr;
  const MuscleSeed* n2 = nullptr;
  for (const auto& seed : seeds) {
    const double d = std::hypot(x - seed.cx, y - seed.cy) / seed.size;
    if (d < d1) {
      d2 = d1;
      n2 = n1;
      d1 = d;
      n1 = &seed;
    } else if (d < d2) {
      d2 = d;
      n2 = &seed;
    }
  }
  if (n2 != nullptr) {
    // First-order distance (mm) to the boundary d1 == d2: (d2 - d1) / |grad(d2 - d1)|.
    const double r1 = std::max(1e-9, std::hypot(x - n1->cx, y - n1->cy));
    const double r2 = std::max(1e-9, std::hypot(x - n2->cx, y - n2->cy));
    const double gx = (x - n2->cx) / (r2 * n2->size) - (x - n1->cx) / (r1 * n1->size);
    const double gy = (y - n2->cy) / (r2 * n2->size) - (y - n1->cy) / (r1 * n1->size);
    const double distance_mm = (d2 - d1) / std::max(1e-9, std::hypot(gx, gy));
    const double width = n1->group == n2->group ? septum_mm : group_septum_mm;
    if (distance_mm < 0.5 * width) return {imat_label, Tissue::Fat, 1.0f};
  }
  if (n1->streaks.is_fat(x, y)) return {n1->label, Tissue::Fat, 1.0f};
  return {n1->label, Tissue::Muscle, n1->diffuse_fat};
}

Sample SliceSection::classify(double x_lps, double y_lps) const {
  if (legs.size() == 1) return legs[0].classify(x_lps, y_lps);
  // Touching legs: each point belongs to the leg it lies deeper inside.
  const LegSection* best = nullptr;
  double best_r = std::numeric_limits<double>::max();
  for (const auto& leg : legs) {
    const double r = leg.relative_radius(x_lps, y_lps);
    if (r < best_r) {
      best_r = r;
      best = &leg;
    }
  }
  return best->classify(x_lps, y_lps);
}

BoneAxis bone_axis(Anatomy anatomy) {
  BoneAxis axis;
  if (anatomy == Anatomy::Thigh) {
    axis.length_mm = kFemurLength;
    axis.proximal_z_mm = 0;
    axis.level_fraction = 0.5;
  } else {
    axis.length_mm = kTibiaLength;
    axis.proximal_z_mm = 0;
    axis.level_fraction = 1 - 0.66;  // 66% of tibia length measured from its distal end
  }
  return axis;
}

SliceSection build_section(const PhantomParams& p, double z_mm) {
  const BoneAxis axis = bone_axis(p.anatomy);
  SliceSection section;
  section.z_mm = z_mm;
  const double s = axis.fraction_at(z_mm);
  section.bone_fraction = s;
  const double d = s * axis.length_mm;
  const auto& catalog = LabelCatalog::standard();
  const double variation = p.shape_variation;

  std::vector<Side> sides;
  if (p.legs != Legs::Left) sides.push_back(Side::Right);
  if (p.legs != Legs::Right) sides.push_back(Side::Left);

  for (Side side : sides) {
    LegSection leg;
    leg.side = side;
    leg.lateral_sign = side == Side::Right ? -1 : 1;
    auto rng = rng_for(p.seed, side == Side::Right ? 101 : 202);
    std::uniform_real_distribution<double> uni(-1, 1);

    double a = 0, b = 0;
    outer_axes(p.anatomy, std::clamp(s, 0.0, 1.0), a, b);
    // Subject-level size (+-6%) and shape (+-4%), shared by both legs; +-2% per leg; slowly
    // drifting boundary harmonics.
    auto subject = rng_for(p.seed, 7);
    std::uniform_real_distribution<double> su(-1, 1);
    const double subject_size = 1 + 0.06 * variation * su(subject);
    const double subject_aspect = 1 + 0.04 * variation * su(subject);
    const double size_factor = subject_size * (1 + 0.02 * variation * uni(rng));
    a *= size_factor;
    b *= size_factor * subject_aspect;
    for (int k = 0; k < 3; ++k) {
      leg.harmonic_amplitude[k] = variation * (0.015 + 0.01 * uni(rng)) / (k + 1);
      leg.harmonic_phase[k] = kPi * uni(rng) + variation * 2.0 * s * uni(rng);
    }
    leg.skin_mm = p.skin_thickness_mm;
    leg.sat_mean_mm = p.sat_thickness_mm * (1 + 0.1 * variation * uni(rng));
    leg.sat_variation = 0.35 * (variation > 0 ? 1 : 0);
    leg.sat_thick_angle = (p.anatomy == Anatomy::Thigh ? 0.75 * kPi : 0.5 * kPi) + 0.3 * variation * uni(rng);
    leg.subfascial_fat_mm = p.subfascial_fat_mm;
    leg.fascia_mm = p.fascia_thickness_mm;
    leg.septum_mm = p.septum_width_mm;
    leg.group_septum_mm = p.group_septum_width_mm;

    // Fascia semi-axes before atrophy, then scaled so the compartment minus bone scales by
    // muscle_area_scale; the fat and skin layers keep their thickness.
    const double layers = leg.skin_mm + leg.sat_mean_mm;
    double fa = std::max(10.0, a - layers), fb = std::max(10.0, b - layers);

    // Bones at nominal fascia size (their size does not change with atrophy).
    if (p.anatomy == Anatomy::Thigh) {
      leg.bones.push_back(femur_section(d, fa, fb, variation));
    } else {
      leg.bones.push_back(tibia_section(d, fa, fb));
      leg.bones.push_back(fibula_section(d, fa, fb));
    }
    if (p.muscle_area_scale != 1.0) {
      double bone_area = 0;
      for (const auto& bone : leg.bones) bone_area += kPi * bone.a * bone.b;
      const double fascia_area = kPi * fa * fb;
      const double target = p.muscle_area_scale * (fascia_area - bone_area) + bone_area;
      const double k = std::sqrt(std::max(0.05, target / fascia_area));
      fa *= k;
      fb *= k;
    }
    leg.outer_a = fa + layers;
    leg.outer_b = fb + layers;

    // Leg centres: the skin surfaces are leg_gap_mm apart at the widest point.
    const double half_gap = 0.5 * p.leg_gap_mm;
    const double max_a = leg.outer_a * (1 + leg.harmonic_amplitude[0] + leg.harmonic_amplitude[1] + leg.harmonic_amplitude[2]);
    leg.centre_x_lps = (side == Side::Right ? -1 : 1) * (half_gap + max_a);
    leg.centre_y_lps = 0;

    leg.skin_label = catalog.label_id("skin", side);
    leg.sat_label = catalog.label_id("subcutaneous_fat", side);
    leg.imat_label = catalog.label_id("imat", side);
    leg.marrow_label = catalog.label_id("bone_marrow", side);
    leg.muscle_tissue_label = catalog.label_id("skeletal_muscle", side);
    for (auto& bone : leg.bones) bone.label = static_cast<LabelId>(bone.label + (side == Side::Left ? LabelCatalog::kLeftLabelOffset : 0));

    // Muscle seeds: the anatomical layout (core/muscle_layout.h), jittered per subject.
    const auto layout = muscle_layout(p.anatomy == Anatomy::Thigh ? BodyRegion::Thigh : BodyRegion::Calf, s);
    std::vector<std::string> groups;
    for (std::size_t m = 0; m < layout.size(); ++m) {
      const MuscleLayoutSeed& l = layout[m];
      auto mrng = rng_for(p.seed, 1000 + m + (side == Side::Right ? 0 : 500));
      std::uniform_real_distribution<double> mu(-1, 1);
      const double jx = 0.04 * variation * mu(mrng), jy = 0.04 * variation * mu(mrng);
      const double js = 1 + 0.08 * variation * mu(mrng);
      const double size = l.weight * js;
      if (size < kAbsentMuscleWeight) continue;
      MuscleSeed seed;
      const Structure& muscle = catalog.get(l.key);
      seed.label = catalog.label_id(l.key, side);
      const std::string group = muscle.group_key.empty() ? muscle.key : muscle.group_key;
      auto it = std::find(groups.begin(), groups.end(), group);
      seed.group = static_cast<int>(it - groups.begin());
      if (it == groups.end()) groups.push_back(group);
      seed.cx = (l.x_lat + jx) * fa;
      seed.cy = (l.y + jy) * fb;
      seed.size = size;

      const MuscleFat fat = muscle_fat(p, std::string(l.key));
      seed.diffuse_fat = static_cast<float>(fat.diffuse);
      if (fat.marbled > 0) {
        const double angle = kPi * mu(mrng);
        const double phase = kPi * mu(mrng) + 2 * kPi * z_mm / 40.0;
        const double warp_phase = kPi * mu(mrng);
        seed.streaks = marbled_streaks(fat.marbled, angle, phase, warp_phase);
      }
      leg.seeds.push_back(seed);
    }
    section.legs.push_back(std::move(leg));
  }
  return section;
}

AnalyticAreas analytic_areas(const LegSection& leg) {
  AnalyticAreas areas;
  const int steps = 7200;
  double limb = 0, fascia = 0;
  for (int n = 0; n < steps; ++n) {
    const double theta = 2 * kPi * (n + 0.5) / steps;
    const double r = leg.outer_radius(theta);
    const double f = leg.fascia_radius(theta);
    limb += 0.5 * r * r;
    fascia += 0.5 * f * f;
  }
  areas.limb_mm2 = limb * 2 * kPi / steps;
  areas.fascia_mm2 = fascia * 2 * kPi / steps;
  for (const auto& bone : leg.bones) areas.bones_mm2.emplace_back(bone.label, kPi * bone.a * bone.b);
  return areas;
}

}  // namespace musclecsa::phantom::detail
