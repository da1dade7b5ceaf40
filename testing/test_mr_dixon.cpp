// Dixon MRI analysis against the phantom ground truth: muscle and group Dice, fat fraction, CSA,
// level; fat-water swaps detected (and corrected when a whole leg is inverted); bias field
// robustness; bad input refused with clear messages.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <algorithm>
#include <map>
#include <set>

#include "musclecsa/core/catalog.h"
#include "musclecsa/core/error.h"
#include "musclecsa/mri/mr_analysis.h"
#include "musclecsa/phantom/phantom.h"

using namespace musclecsa;

namespace {

phantom::PhantomParams dixon_params(phantom::Anatomy anatomy, std::uint64_t seed) {
  phantom::PhantomParams p;
  p.anatomy = anatomy;
  p.modality = phantom::PhantomModality::MrDixon;
  p.seed = seed;
  p.columns = 256;
  p.slices = anatomy == phantom::Anatomy::Thigh ? 24 : 20;
  p.slice_spacing_mm = 20;  // the whole reference bone in view: the level is found
  return p;
}

mri::DixonSeries dixon_of(const phantom::Phantom& ph) {
  mri::DixonSeries d;
  for (const auto& s : ph.series) {
    if (s.role == "water") d.water = s.image;
    if (s.role == "fat") d.fat = s.image;
    if (s.role == "in_phase") d.in_phase = s.image;
    if (s.role == "opposed_phase") d.opposed_phase = s.image;
  }
  return d;
}

std::set<LabelId> ids_of(const std::string& key, Side side) {
  const auto& catalog = LabelCatalog::standard();
  std::set<LabelId> ids;
  const auto members = catalog.members_of(key);
  if (members.empty()) ids.insert(catalog.label_id(key, side));
  for (const Structure* m : members) ids.insert(catalog.label_id(m->key, side));
  return ids;
}

double dice(const LabelMap& a, const LabelMap& b, std::size_t k, const std::set<LabelId>& ids) {
  const std::size_t n = a.geometry.slice_voxel_count();
  std::size_t na = 0, nb = 0, both = 0;
  for (std::size_t o = 0; o < n; ++o) {
    const bool x = ids.count(a.slice(k)[o]) > 0, y = ids.count(b.slice(k)[o]) > 0;
    na += x, nb += y, both += x && y;
  }
  return na + nb > 0 ? 2.0 * double(both) / double(na + nb) : 1.0;
}

const phantom::StructureTruth* truth_of(const phantom::SliceTruth& s, const std::string& key, Side side) {
  for (const auto& t : s.structures)
    if (t.structure_key == key && t.side == side) return &t;
  return nullptr;
}

/// Worst figures at the truth level slice over both legs. Muscles under 1 cm2 (where they start or
/// end) are not scored; FF is scored on muscles and groups of at least 3 cm2 (smaller ones are mostly
/// boundary pixels, where partial volume with the septa decides the mean; they stay within 3 points).
struct Scores {
  double min_group_dice = 1, min_muscle_dice = 1, max_ff_error = 0, max_small_ff_error = 0;
  double max_large_group_csa_error = 0, max_group_csa_error = 0;
  std::string worst_muscle, worst_ff, worst_group_csa;
  int scored = 0;
};

Scores score_level(const phantom::Phantom& ph, const mri::MrAnalysis& a, bool print = false) {
  Scores s;
  const int k = ph.level.nearest_slice;
  const auto& catalog = LabelCatalog::standard();
  const auto& truth = ph.slices[std::size_t(k)];
  for (const auto& side : a.slices[std::size_t(k)].sides) {
    for (const auto& m : side.structures) {
      const auto* t = truth_of(truth, m.structure_key, side.side);
      if (t == nullptr || t->area_mm2 < 100) continue;
      ++s.scored;
      const double d = dice(a.segmentation.labels, ph.labels, std::size_t(k), ids_of(m.structure_key, side.side));
      const double ff_error = std::abs(m.mean_ff - t->fat_fraction);
      const double csa_error = std::abs(m.area_mm2 / t->area_mm2 - 1);
      if (print)
        std::printf("  %-5s %-28s dice %.3f  FF %.4f truth %.4f  CSA %.2f truth %.2f cm2\n",
                    std::string(to_string(side.side)).c_str(), m.structure_key.c_str(), d, m.mean_ff, t->fat_fraction,
                    m.area_mm2 / 100, t->area_mm2 / 100);
      const bool reported_group = m.is_group || catalog.get(m.structure_key).group_key.empty();
      if (reported_group) {
        s.min_group_dice = std::min(s.min_group_dice, d);
        if (csa_error > s.max_group_csa_error) s.max_group_csa_error = csa_error, s.worst_group_csa = m.structure_key;
        if (t->area_mm2 >= 1000) s.max_large_group_csa_error = std::max(s.max_large_group_csa_error, csa_error);
      }
      if (!m.is_group && d < s.min_muscle_dice) s.min_muscle_dice = d, s.worst_muscle = m.structure_key;
      if (t->area_mm2 >= 300) {
        if (ff_error > s.max_ff_error) s.max_ff_error = ff_error, s.worst_ff = m.structure_key;
      } else {
        s.max_small_ff_error = std::max(s.max_small_ff_error, ff_error);
      }
    }
  }
  return s;
}

void print_scores(const std::string& what, const Scores& s) {
  std::printf("%s: group Dice min %.3f, muscle Dice min %.3f (%s), FF error max %.2f pp (%s; small muscles %.2f pp), "
              "group CSA error max %.1f%% (%s; groups >= 10 cm2 %.1f%%)\n",
              what.c_str(), s.min_group_dice, s.min_muscle_dice, s.worst_muscle.c_str(), 100 * s.max_ff_error,
              s.worst_ff.c_str(), 100 * s.max_small_ff_error, 100 * s.max_group_csa_error, s.worst_group_csa.c_str(),
              100 * s.max_large_group_csa_error);
}

/// Analytic phantoms are drawn from the muscle layout: split by the layout, their truth checks the
/// fat-fraction and area measures exactly (the atlas split on real anatomy: test_anatomy.cpp).
anatomy::MultiAtlasOptions layout_prior() {
  anatomy::MultiAtlasOptions options;
  options.prior = "layout";
  return options;
}

mri::MrAnalysis run(const phantom::Phantom& ph, const std::string& protocol) {
  NullProgress progress;
  return mri::analyze_dixon(dixon_of(ph), protocol, {}, progress, layout_prior());
}

bool has_flag(const std::vector<std::string>& flags, const std::string& flag) {
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

/// Exchanges water and fat where `inside(i, j, k)` holds: a fat-water swap.
phantom::Phantom swapped(phantom::Phantom ph, const std::function<bool(std::size_t, std::size_t, std::size_t)>& inside) {
  auto& water = ph.series[0].image;
  auto& fat = ph.series[1].image;
  EXPECT_EQ(ph.series[0].role, "water");
  EXPECT_EQ(ph.series[1].role, "fat");
  const Geometry& g = water.geometry;
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i)
        if (inside(i, j, k)) std::swap(water.at(i, j, k), fat.at(i, j, k));
  return ph;
}

}  // namespace

// The accuracy targets at the standard level: Dice >= 0.95 per group and >= 0.90 per muscle,
// FF within 1.5 points, CSA within 2% (thigh groups >= 10 cm2), on infiltrated thighs (diffuse fat,
// one muscle at 30%) of three seeds. 256 x 256 pixels of 1.56 mm: the coarse end of thigh MRI.
// Seed 5 has a rectus femoris / vastus intermedius septum that these pixels blur (it used to go
// to the rectus femoris whole).
TEST(MrDixon, ThighMusclesGroupsFatFractionAndCsaMatchThePhantomTruth) {
  for (std::uint64_t seed : {3u, 11u, 5u}) {
    NullProgress progress;
    auto p = dixon_params(phantom::Anatomy::Thigh, seed);
    p.infiltration["all"] = {0.10, phantom::FatPattern::Diffuse};
    p.infiltration["vastus_lateralis"] = {0.30, phantom::FatPattern::Diffuse};
    const auto ph = phantom::make_phantom(p, progress);
    const auto a = run(ph, "thigh-mr");
    ASSERT_GE(ph.level.nearest_slice, 0);
    const Scores s = score_level(ph, a);
    print_scores("thigh seed " + std::to_string(seed), s);
    // IMAT (fat outside the muscle outlines) against the label truth (septa and the fat under the
    // fascia; no streaks here): thin septa are partial-volume voxels, so within 20%.
    const auto& level_slice = a.slices[std::size_t(ph.level.nearest_slice)];
    for (const auto& side : level_slice.sides)
      for (const auto& t : ph.slices[std::size_t(ph.level.nearest_slice)].sides)
        if (t.side == side.side) {
          std::printf("  %s IMAT %.2f cm2, truth %.2f cm2\n", std::string(to_string(side.side)).c_str(), side.imat_area_mm2 / 100,
                      (t.imat_area_mm2 - t.intramuscular_fat_area_mm2) / 100);
          EXPECT_NEAR(side.imat_area_mm2 / (t.imat_area_mm2 - t.intramuscular_fat_area_mm2), 1.0, 0.2) << "seed " << seed;
        }
    EXPECT_GE(s.scored, 30);
    EXPECT_GE(s.min_group_dice, 0.95) << "seed " << seed;
    EXPECT_GE(s.min_muscle_dice, 0.90) << "seed " << seed << " " << s.worst_muscle;
    EXPECT_LE(s.max_ff_error, 0.015) << "seed " << seed << " " << s.worst_ff;
    EXPECT_LE(s.max_small_ff_error, 0.03) << "seed " << seed;
    EXPECT_LE(s.max_large_group_csa_error, 0.02) << "seed " << seed;
    EXPECT_LE(s.max_group_csa_error, 0.05) << "seed " << seed << " " << s.worst_group_csa;
  }
}

// Calf: Dice, FF and CSA: every group within 2.0% on these seeds (2.03% at worst: the anterior
// compartment's outer rim under the deep fascia; docs/mri.md), so held to 2.5%.
TEST(MrDixon, CalfMusclesGroupsAndFatFractionMatchThePhantomTruth) {
  for (std::uint64_t seed : {3u, 5u}) {
    NullProgress progress;
    auto p = dixon_params(phantom::Anatomy::Calf, seed);
    p.infiltration["all"] = {0.10, phantom::FatPattern::Diffuse};
    const auto ph = phantom::make_phantom(p, progress);
    const auto a = run(ph, "auto");
    EXPECT_EQ(a.protocol.name, "calf-mr") << a.protocol_decision;
    const Scores s = score_level(ph, a);
    print_scores("calf seed " + std::to_string(seed), s);
    EXPECT_GE(s.scored, 24);
    EXPECT_GE(s.min_group_dice, 0.95) << "seed " << seed;
    EXPECT_GE(s.min_muscle_dice, 0.90) << "seed " << seed << " " << s.worst_muscle;
    EXPECT_LE(s.max_ff_error, 0.015) << "seed " << seed << " " << s.worst_ff;
    EXPECT_LE(s.max_small_ff_error, 0.03) << "seed " << seed;
    EXPECT_LE(s.max_large_group_csa_error, 0.025) << "seed " << seed;
    EXPECT_LE(s.max_group_csa_error, 0.025) << "seed " << seed << " " << s.worst_group_csa;
  }
}

TEST(MrDixon, StandardLevelIsWithinOneSliceOfTheTruthForThighAndCalf) {
  for (auto anatomy : {phantom::Anatomy::Thigh, phantom::Anatomy::Calf}) {
    NullProgress progress;
    auto p = dixon_params(anatomy, 7);
    if (anatomy == phantom::Anatomy::Calf) p.slices = 28;  // the scan is centred on the level, 66% from the ankle
    const auto ph = phantom::make_phantom(p, progress);
    const auto a = run(ph, "auto");
    ASSERT_EQ(a.compartments.levels.size(), 2u);
    for (const auto& level : a.compartments.levels) {
      ASSERT_TRUE(level.found) << level.reason;
      EXPECT_EQ(level.method, "segmented_bone");
      EXPECT_LE(std::abs(level.slice_index - ph.level.nearest_slice), 1);
      EXPECT_NEAR(level.bone_length_mm, ph.level.bone_length_mm, 2 * 20.0);
    }
  }
}

TEST(MrDixon, NoiseSdIsEstimatedFromTheBackground) {
  NullProgress progress;
  for (double sd : {6.0, 12.0, 30.0}) {
    auto p = dixon_params(phantom::Anatomy::Calf, 2);
    p.slices = 4;
    p.noise_sd = sd;
    const auto ph = phantom::make_phantom(p, progress);
    EXPECT_NEAR(mri::estimate_noise_sd(ph.series[0].image) / sd, 1.0, 0.05) << "sd " << sd;
    EXPECT_NEAR(mri::estimate_noise_sd(ph.series[1].image) / sd, 1.0, 0.05) << "sd " << sd;
  }
  ScalarVolume masked(make_axial_geometry({64, 64, 2}, {1, 1, 1}, {0, 0, 0}), 0.0f);
  for (std::size_t o = 0; o < 1000; ++o) masked.voxels[o] = 500;
  EXPECT_EQ(mri::estimate_noise_sd(masked), 0.0);  // background masked to zero by the scanner
}

// Muscle FF near 0% and fat near 100% are where magnitude noise biases F/(F+W); the noise-floor
// correction keeps pure tissue within half a point at SNR 80.
TEST(MrDixon, NoiseFloorCorrectionRemovesTheMagnitudeBiasOfPureTissue) {
  NullProgress progress;
  const auto ph = phantom::make_phantom(dixon_params(phantom::Anatomy::Thigh, 3), progress);
  const auto a = run(ph, "thigh-mr");
  const auto& catalog = LabelCatalog::standard();
  const LabelId vl = catalog.label_id("vastus_lateralis", Side::Right), sat = catalog.label_id("subcutaneous_fat", Side::Right);
  double muscle = 0, fat = 0, naive_muscle = 0;
  std::size_t nm = 0, nf = 0;
  for (std::size_t o = 0; o < ph.labels.voxels.size(); ++o) {
    if (ph.fat_fraction.voxels[o] == 0.0f && ph.labels.voxels[o] == vl) {
      muscle += a.ff.ff.voxels[o], ++nm;
      const double w = ph.series[0].image.voxels[o], f = ph.series[1].image.voxels[o];
      naive_muscle += f / (w + f);
    }
    if (ph.fat_fraction.voxels[o] == 1.0f && ph.labels.voxels[o] == sat) fat += a.ff.ff.voxels[o], ++nf;
  }
  ASSERT_GT(nm, 1000u);
  ASSERT_GT(nf, 1000u);
  EXPECT_GT(naive_muscle / double(nm), 0.01);  // without the correction: over a point too high
  EXPECT_NEAR(muscle / double(nm), 0.0, 0.005);
  EXPECT_NEAR(fat / double(nf), 1.0, 0.005);
}

// A whole leg inverted in some slices (a classic swap) is flagged and corrected; the level's FF is
// then as accurate as without the swap.
TEST(MrDixon, WholeLegSwapIsFlaggedAndCorrected) {
  for (std::uint64_t seed : {3u, 8u}) {
    NullProgress progress;
    auto p = dixon_params(phantom::Anatomy::Thigh, seed);
    p.infiltration["all"] = {0.10, phantom::FatPattern::Diffuse};
    const auto clean = phantom::make_phantom(p, progress);
    const std::size_t level = std::size_t(clean.level.nearest_slice), nx = clean.labels.geometry.size[0];
    // The right leg lies at negative LPS x: the left half of the columns.
    const auto ph = swapped(clean, [&](std::size_t i, std::size_t, std::size_t k) {
      return i < nx / 2 && k + 2 >= level && k <= level + 2;
    });
    const auto a = run(ph, "thigh-mr");
    EXPECT_TRUE(has_flag(a.qc_flags, "fat_water_swap_corrected")) << "seed " << seed;
    int corrected = 0;
    for (const auto& f : a.swaps) {
      EXPECT_EQ(f.side, Side::Right) << f.description;
      EXPECT_GE(f.slice_index + 2, int(level));
      EXPECT_LE(f.slice_index, int(level) + 2);
      corrected += f.corrected;
    }
    EXPECT_EQ(corrected, 5) << "seed " << seed;
    // The corrected level reads as the unswapped phantom does.
    const auto reference = run(clean, "thigh-mr");
    const auto& x = a.slices[level].sides, & y = reference.slices[level].sides;
    ASSERT_EQ(x.size(), y.size());
    for (std::size_t side = 0; side < x.size(); ++side) {
      ASSERT_EQ(x[side].structures.size(), y[side].structures.size());
      EXPECT_NEAR(x[side].muscle_area_mm2 / y[side].muscle_area_mm2, 1.0, 0.005);
      for (std::size_t m = 0; m < x[side].structures.size(); ++m) {
        EXPECT_NEAR(x[side].structures[m].mean_ff, y[side].structures[m].mean_ff, 0.002) << x[side].structures[m].structure_key;
        EXPECT_NEAR(x[side].structures[m].area_mm2, y[side].structures[m].area_mm2, 0.01 * y[side].structures[m].area_mm2 + 5);
      }
    }
  }
}

// A swap in part of a leg (a region at the edge of the field) cannot be undone safely: it is flagged
// every time, for several seeds and positions, and never silently corrected.
TEST(MrDixon, RegionalSwapIsFlaggedEveryTime) {
  int cases = 0;
  for (std::uint64_t seed : {3u, 5u, 9u}) {
    NullProgress progress;
    auto p = dixon_params(phantom::Anatomy::Thigh, seed);
    p.slices = 8;  // around mid-thigh
    const auto clean = phantom::make_phantom(p, progress);
    const std::size_t nx = clean.labels.geometry.size[0], ny = clean.labels.geometry.size[1];
    for (int quadrant = 0; quadrant < 2; ++quadrant) {
      // A box over the anterior-lateral (or posterior-medial) quarter of the left leg, slices 2-4.
      const auto ph = swapped(clean, [&](std::size_t i, std::size_t j, std::size_t k) {
        const bool rows = quadrant == 0 ? j < ny / 2 : j >= ny / 2;
        const bool columns = quadrant == 0 ? i >= 3 * nx / 4 : (i >= nx / 2 && i < 3 * nx / 4);
        return rows && columns && k >= 2 && k <= 4;
      });
      const auto a = run(ph, "thigh-mr");
      ++cases;
      EXPECT_TRUE(has_flag(a.qc_flags, "fat_water_swap_suspected")) << "seed " << seed << " quadrant " << quadrant;
      EXPECT_FALSE(has_flag(a.qc_flags, "fat_water_swap_corrected")) << "seed " << seed << " quadrant " << quadrant;
      std::set<int> slices;
      for (const auto& f : a.swaps) {
        EXPECT_FALSE(f.corrected) << f.description;
        if (f.check == "subcutaneous_fat") slices.insert(f.slice_index);
        EXPECT_EQ(f.side, Side::Left) << f.description;
      }
      EXPECT_EQ(slices, (std::set<int>{2, 3, 4})) << "seed " << seed << " quadrant " << quadrant;
    }
  }
  EXPECT_EQ(cases, 6);
}

TEST(MrDixon, UnswappedPhantomsRaiseNoSwapFlag) {
  for (auto anatomy : {phantom::Anatomy::Thigh, phantom::Anatomy::Calf}) {
    NullProgress progress;
    auto p = dixon_params(anatomy, 4);
    p.muscle_area_scale = 0.6;
    p.infiltration["all"] = {0.3, phantom::FatPattern::Mixed};
    const auto a = run(phantom::make_phantom(p, progress), "auto");
    EXPECT_TRUE(a.swaps.empty()) << a.swaps.front().description;
    EXPECT_FALSE(has_flag(a.qc_flags, "fat_water_swap_suspected"));
  }
}

// A muscle at 70% fat keeps its group's CSA and FF (the pseudo-CT rescales infiltrated blocks to
// muscle); the split around it is flagged uncertain. An end-stage muscle (90% fat) reads as fat
// and is flagged, never lost silently.
TEST(MrDixon, HeavilyInfiltratedMuscleKeepsItsGroupAndIsFlagged) {
  NullProgress progress;
  auto p = dixon_params(phantom::Anatomy::Thigh, 3);
  p.slices = 6;
  p.infiltration["vastus_lateralis"] = {0.7, phantom::FatPattern::Diffuse};
  const auto ph = phantom::make_phantom(p, progress);
  const auto a = run(ph, "thigh-mr");
  EXPECT_TRUE(has_flag(a.qc_flags, "infiltrated_muscle_split_uncertain"));
  int checked = 0;
  for (std::size_t k = 1; k + 1 < a.slices.size(); ++k) {
    EXPECT_TRUE(has_flag(a.slices[k].qc_flags, "infiltrated_muscle_split_uncertain")) << "slice " << k;
    for (const auto& side : a.slices[k].sides)
      for (const auto& m : side.structures)
        if (m.structure_key == "quadriceps") {
          const auto* t = truth_of(ph.slices[k], "quadriceps", side.side);
          ASSERT_NE(t, nullptr);
          EXPECT_NEAR(m.area_mm2 / t->area_mm2, 1.0, 0.06) << "slice " << k;
          EXPECT_NEAR(m.mean_ff, t->fat_fraction, 0.03) << "slice " << k;
          ++checked;
        }
  }
  EXPECT_EQ(checked, 8);
  p.infiltration["vastus_lateralis"] = {0.9, phantom::FatPattern::Diffuse};
  const auto end_stage = run(phantom::make_phantom(p, progress), "thigh-mr");
  EXPECT_TRUE(has_flag(end_stage.qc_flags, "fatty_muscle_counted_as_fat"));
  p.infiltration["vastus_lateralis"] = {0.25, phantom::FatPattern::Diffuse};
  const auto mild = run(phantom::make_phantom(p, progress), "thigh-mr");
  EXPECT_FALSE(has_flag(mild.qc_flags, "fatty_muscle_counted_as_fat"));
  EXPECT_FALSE(has_flag(mild.qc_flags, "infiltrated_muscle_split_uncertain"));
}

// A coil bias field of +-30% moves no group CSA by more than 2% (the body and bone thresholds are
// relative to the local tissue level, and FF is a ratio).
TEST(MrDixon, BiasFieldOf30PercentMovesCsaByLessThan2Percent) {
  NullProgress progress;
  auto p = dixon_params(phantom::Anatomy::Thigh, 3);
  p.infiltration["all"] = {0.10, phantom::FatPattern::Diffuse};
  p.bias_field_amplitude = 0;
  const auto flat = run(phantom::make_phantom(p, progress), "thigh-mr");
  p.bias_field_amplitude = 0.3;
  const auto biased = run(phantom::make_phantom(p, progress), "thigh-mr");
  const int k = flat.compartments.levels.front().slice_index;
  ASSERT_EQ(biased.compartments.levels.front().slice_index, k);
  std::size_t compared = 0;
  for (std::size_t s = 0; s < flat.slices[std::size_t(k)].sides.size(); ++s) {
    const auto& a = flat.slices[std::size_t(k)].sides[s];
    const auto& b = biased.slices[std::size_t(k)].sides[s];
    EXPECT_NEAR(b.muscle_area_mm2 / a.muscle_area_mm2, 1.0, 0.02);
    EXPECT_NEAR(b.muscle_mean_ff, a.muscle_mean_ff, 0.005);
    for (const auto& x : a.structures)
      for (const auto& y : b.structures)
        if (x.structure_key == y.structure_key && x.is_group && x.area_mm2 > 500) {
          EXPECT_NEAR(y.area_mm2 / x.area_mm2, 1.0, 0.02) << x.structure_key;
          ++compared;
        }
  }
  EXPECT_GE(compared, 6u);
}

// A scanner FF map (here in percent) is used for the fat fraction when present.
TEST(MrDixon, VendorFatFractionMapIsUsedWhenPresent) {
  NullProgress progress;
  auto p = dixon_params(phantom::Anatomy::Calf, 3);
  p.slices = 6;
  p.infiltration["soleus"] = {0.4, phantom::FatPattern::Diffuse};
  const auto ph = phantom::make_phantom(p, progress);
  mri::DixonSeries d = dixon_of(ph);
  ScalarVolume vendor = d.water;
  for (std::size_t o = 0; o < vendor.voxels.size(); ++o) vendor.voxels[o] = std::round(100 * ph.fat_fraction.voxels[o]);
  vendor.source.series_description = "t1_dixon_tra_FF";
  d.vendor_fat_fraction = vendor;
  const auto a = mri::analyze_dixon(d, "calf-mr", {}, progress, layout_prior());
  EXPECT_EQ(a.ff.method, "vendor_map");
  EXPECT_EQ(a.ff.vendor_scale, "percent");
  // Mid-calf slice: the soleus reads its 40% within a point (the map is the truth, rounded).
  const auto& s = a.slices[3];
  bool found = false;
  for (const auto& side : s.sides)
    for (const auto& m : side.structures)
      if (m.structure_key == "soleus") {
        const auto* t = truth_of(ph.slices[3], "soleus", side.side);
        ASSERT_NE(t, nullptr);
        EXPECT_NEAR(m.mean_ff, t->fat_fraction, 0.015);
        EXPECT_EQ(m.mercuri, "2b");
        found = true;
      }
  EXPECT_TRUE(found);
}

TEST(MrDixon, MismatchedOrNonAxialSeriesAreRefusedWithTheProblemNamed) {
  NullProgress progress;
  auto p = dixon_params(phantom::Anatomy::Calf, 3);
  p.slices = 3;
  const auto ph = phantom::make_phantom(p, progress);
  mri::DixonSeries d = dixon_of(ph);
  d.fat.geometry.origin_lps_mm.z += 5;
  d.fat.source.path = "fat-folder";
  try {
    mri::analyze_dixon(d, "calf-mr", {}, progress, layout_prior());
    FAIL() << "mismatched grids accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_EQ(e.input(), "fat-folder");
    EXPECT_NE(e.problem().find("not on the water series' grid"), std::string::npos) << e.what();
  }
  d = dixon_of(ph);
  for (auto* v : {&d.water, &d.fat}) v->geometry.direction = {1, 0, 0, 0, 0, 1, 0, -1, 0};  // coronal
  d.water.source.path = "water-folder";
  try {
    mri::analyze_dixon(d, "calf-mr", {}, progress, layout_prior());
    FAIL() << "coronal series accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.input(), "water-folder");
    EXPECT_NE(e.problem().find("not axial"), std::string::npos) << e.what();
  }
  EXPECT_THROW(mri::analyze_dixon(dixon_of(ph), "thigh-ct", {}, progress), Error);
}

// Strong noise is a QC flag, not a crash and not a silent number.
TEST(MrDixon, StrongNoiseIsFlagged) {
  NullProgress progress;
  auto p = dixon_params(phantom::Anatomy::Calf, 3);
  p.slices = 6;
  p.noise_sd = 150;  // SNR about 7
  const auto a = run(phantom::make_phantom(p, progress), "calf-mr");
  EXPECT_TRUE(has_flag(a.qc_flags, "low_snr"));
  EXPECT_LT(a.snr, 8.0);
  EXPECT_NEAR(a.ff.noise_sd_water, 150, 25);  // at SNR 7 the background tail is short: within 17%
}

// Legs running off the image: the MR edge check flags them once (tissue_at_field_of_view_edge);
// the compartment logic's own edge flag and note, which say the same, are not added a second time.
TEST(MrDixon, LegsCutByTheFieldOfViewAreFlaggedOnce) {
  NullProgress progress;
  auto p = dixon_params(phantom::Anatomy::Thigh, 3);
  p.slices = 4;
  p.pixel_spacing_mm = 1.1;  // a 282 mm field of view: both thighs run off its sides
  const auto a = run(phantom::make_phantom(p, progress), "thigh-mr");
  EXPECT_TRUE(has_flag(a.qc_flags, "tissue_at_field_of_view_edge"));
  EXPECT_FALSE(has_flag(a.qc_flags, "limb_cut_by_field_of_view"));
  for (const auto& note : a.notes) EXPECT_EQ(note.find("edge of the field of view (5 mm"), std::string::npos) << note;
  // The compartment logic does see the cut legs on the pseudo-CT.
  EXPECT_TRUE(has_flag(a.segmentation.qc_flags, "limb_cut_by_field_of_view"));
}

TEST(MrProtocol, MercuriSuggestionFollowsTheDocumentedMapping) {
  const auto p = mri::builtin_mr_protocol("thigh-mr");
  EXPECT_EQ(p.mercuri.grade_for(0.05), "0-1");
  EXPECT_EQ(p.mercuri.grade_for(0.10), "2a");
  EXPECT_EQ(p.mercuri.grade_for(0.29), "2a");
  EXPECT_EQ(p.mercuri.grade_for(0.30), "2b");
  EXPECT_EQ(p.mercuri.grade_for(0.59), "2b");
  EXPECT_EQ(p.mercuri.grade_for(0.60), "3");
  EXPECT_EQ(p.mercuri.grade_for(0.85), "4");
  EXPECT_EQ(p.mercuri.ordinal_for(0.85), 4);
  EXPECT_EQ(p.compartments.region, BodyRegion::Thigh);
  EXPECT_EQ(mri::builtin_mr_protocol("calf-mr").compartments.level.bone_key, "tibia");
  EXPECT_NE(p.hash(), mri::builtin_mr_protocol("calf-mr").hash());
  EXPECT_EQ(p.hash().size(), 16u);
  EXPECT_THROW(mri::builtin_mr_protocol("thigh-ct"), Error);
}
