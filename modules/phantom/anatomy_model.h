#pragma once
// Analytic cross-section model of one or two legs at a given z (internal to the phantom module).
// Leg-local coordinates: x_lat (mm, + towards the leg's lateral side), y (mm, + posterior), origin
// at the limb centre. Muscles tile the deep-fascia region as a multiplicatively weighted Voronoi
// diagram of anatomically placed seeds, with fat septa along the cell boundaries.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "musclecsa/core/catalog.h"
#include "musclecsa/phantom/phantom.h"

namespace musclecsa::phantom::detail {

enum class Tissue : std::uint8_t { Air, Skin, SubcutaneousFat, Fascia, Fat, Muscle, Cortex, Marrow };

/// What lies at one point: label id, tissue, and tissue fat fraction (0..1).
struct Sample {
  LabelId label = 0;
  Tissue tissue = Tissue::Air;
  float fat_fraction = 0;
  float marrow_epiphysis = 0;  ///< 0 in yellow diaphyseal marrow, 1 in cancellous epiphyseal bone
};

struct BoneSection {
  LabelId label = 0;           ///< cortex label (femur, tibia or fibula)
  double cx = 0, cy = 0;       ///< centre (leg-local mm)
  double a = 0, b = 0;         ///< outer semi-axes (mm): a along x_lat, b along y
  double cortex_mm = 0;
  float epiphysis = 0;         ///< 0..1, cancellous share of the marrow space
};

/// Wavy stripe field for marbled fat: fat where sin(phase(p)) > threshold, broken along each stripe
/// into dashes (a fraction dash_duty of the stripe's length), as intramuscular fat streaks are in
/// real scans: they do not cut a muscle into separate strips.
struct StreakField {
  double ux = 1, uy = 0;       ///< stripe normal
  double period_mm = 8;
  double phase = 0;
  double warp_amplitude = 1.5, warp_period_mm = 23, warp_phase = 0;
  double threshold = 2;        ///< > 1 means no streaks
  double dash_period_mm = 14;  ///< length of one dash + gap along a stripe
  double dash_duty = 1;        ///< fraction of a stripe that is fat (1: unbroken)
  bool is_fat(double x, double y) const;
};

/// Intramuscular fat of one muscle as the two parts the image model draws.
struct MuscleFat {
  double diffuse = 0;          ///< fat fraction of every non-streak muscle voxel
  double marbled = 0;          ///< share of the muscle's area in pure-fat streaks
};
/// The infiltration `p` gives a muscle (its own entry, else "all"), split into diffuse and marbled parts.
MuscleFat muscle_fat(const PhantomParams& p, const std::string& muscle_key);
/// Streaks covering a share `marbled` (> 0) of the area, stripes normal to `angle` (rad).
StreakField marbled_streaks(double marbled, double angle, double phase, double warp_phase);

struct MuscleSeed {
  LabelId label = 0;
  int group = 0;               ///< index of the muscle's group (septum width between groups differs)
  double cx = 0, cy = 0;       ///< leg-local mm
  double size = 1;             ///< territory weight (relative)
  float diffuse_fat = 0;       ///< fat fraction of non-streak muscle voxels
  StreakField streaks;
};

/// One leg's cross-section at one z.
struct LegSection {
  Side side = Side::Right;
  double centre_x_lps = 0, centre_y_lps = 0;
  double lateral_sign = -1;    ///< LPS x direction of lateral (-1 right leg, +1 left leg)
  double outer_a = 0, outer_b = 0;                 ///< skin ellipse semi-axes (mm)
  std::array<double, 3> harmonic_amplitude{};      ///< relative, for k = 2, 3, 4
  std::array<double, 3> harmonic_phase{};
  double skin_mm = 1.5;
  double sat_mean_mm = 10;
  double sat_variation = 0.35; ///< relative modulation of fat thickness around the limb
  double sat_thick_angle = 0;  ///< angle (rad, leg-local) where the fat is thickest
  double fascia_mm = 0.6;      ///< deep fascia membrane (dense connective tissue)
  double subfascial_fat_mm = 0.8;
  double septum_mm = 1.2, group_septum_mm = 1.8;
  std::vector<BoneSection> bones;
  std::vector<MuscleSeed> seeds;
  LabelId skin_label = 0, sat_label = 0, imat_label = 0, marrow_label = 0, muscle_tissue_label = 0;

  /// Skin surface radius (mm) at leg-local angle theta (atan2(y, x_lat)).
  double outer_radius(double theta) const;
  /// Subcutaneous fat thickness (mm) at angle theta.
  double sat_thickness(double theta) const;
  /// Deep fascia radius (mm) at angle theta.
  double fascia_radius(double theta) const { return outer_radius(theta) - skin_mm - sat_thickness(theta); }
  /// Radius relative to the skin surface at this angle (<1 inside the leg).
  double relative_radius(double x_lps, double y_lps) const;
  /// Classifies a point given in LPS mm.
  Sample classify(double x_lps, double y_lps) const;
};

/// Both legs (or one) at one z.
struct SliceSection {
  double z_mm = 0;
  double bone_fraction = 0;    ///< along the reference bone: 0 proximal end, 1 distal end
  std::vector<LegSection> legs;
  Sample classify(double x_lps, double y_lps) const;
};

/// Reference-bone geometry of an anatomy: length and the z of its proximal end.
struct BoneAxis {
  double length_mm = 0;
  double proximal_z_mm = 0;
  double level_fraction = 0;   ///< standard level as a fraction from the proximal end
  double z_at(double fraction) const { return proximal_z_mm - fraction * length_mm; }
  double fraction_at(double z) const { return (proximal_z_mm - z) / length_mm; }
};
BoneAxis bone_axis(Anatomy anatomy);

/// Builds the cross-section model at `z_mm` for resolved parameters.
SliceSection build_section(const PhantomParams& params, double z_mm);

/// Analytic areas of one leg at z (mm2): inside the skin, inside the fascia, and each bone's outer
/// ellipse (cortex + marrow), keyed by bone label. Used by tests to check the label maps.
struct AnalyticAreas {
  double limb_mm2 = 0;
  double fascia_mm2 = 0;
  std::vector<std::pair<LabelId, double>> bones_mm2;
};
AnalyticAreas analytic_areas(const LegSection& leg);

}  // namespace musclecsa::phantom::detail
