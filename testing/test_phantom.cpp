// Phantom ground truth against analytic shapes, label recounts and its own parameters.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>

#include <nlohmann/json.hpp>

#include "anatomy_model.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/phantom/phantom.h"
#include "test_support.h"

using namespace musclecsa;
using namespace musclecsa::phantom;
using musclecsa::testing::TempDir;

namespace {

PhantomParams small(Anatomy anatomy, PhantomModality modality, std::size_t slices = 3) {
  PhantomParams p;
  p.anatomy = anatomy;
  p.modality = modality;
  p.columns = 200;
  p.pixel_spacing_mm = 2.0;
  p.slices = slices;
  p.slice_spacing_mm = 10;
  return p;
}

Phantom make(const PhantomParams& p) {
  NullProgress progress;
  return make_phantom(p, progress);
}

/// Area (mm2) of all voxels of slice k whose label decodes to `side` and satisfies `pred`.
template <class Pred>
double recount(const Phantom& ph, std::size_t k, Side side, Pred pred) {
  const auto& catalog = LabelCatalog::standard();
  const LabelId* labels = ph.labels.slice(k);
  std::size_t n = 0;
  for (std::size_t o = 0; o < ph.labels.geometry.slice_voxel_count(); ++o) {
    const auto d = catalog.decode(labels[o]);
    if (d && d->side == side && pred(*d->structure)) ++n;
  }
  return n * ph.labels.geometry.pixel_area_mm2();
}

const StructureTruth* find_truth(const SliceTruth& slice, const std::string& key, Side side) {
  for (const auto& t : slice.structures)
    if (t.structure_key == key && t.side == side) return &t;
  return nullptr;
}

}  // namespace

TEST(Phantom, LimbAndBoneAreasMatchTheAnalyticShapesWithinPartialVolumeBounds) {
  for (Anatomy anatomy : {Anatomy::Thigh, Anatomy::Calf}) {
    PhantomParams p = small(anatomy, PhantomModality::CT, 1);
    p.columns = 400;
    p.pixel_spacing_mm = anatomy == Anatomy::Thigh ? 1.0 : 0.75;
    p.shape_variation = 0;  // exact ellipses
    p.noise_sd = 0;
    const Phantom ph = make(p);
    const PhantomParams resolved = resolve_defaults(p);
    const auto section = detail::build_section(resolved, ph.slices[0].z_mm);
    const double px = ph.labels.geometry.spacing_mm[0];
    for (const auto& leg : section.legs) {
      const auto analytic = detail::analytic_areas(leg);
      // With shape_variation 0 the skin outline is the ellipse pi*a*b.
      EXPECT_NEAR(analytic.limb_mm2, std::numbers::pi * leg.outer_a * leg.outer_b, 1e-6 * analytic.limb_mm2);
      const double limb = recount(ph, 0, leg.side, [](const Structure&) { return true; });
      // Centre sampling misclassifies at most a band of half a pixel diagonal along the perimeter.
      const double perimeter = 2 * std::numbers::pi * std::sqrt(0.5 * (leg.outer_a * leg.outer_a + leg.outer_b * leg.outer_b));
      const double bound = perimeter * px * std::numbers::sqrt2 / 2;
      EXPECT_NEAR(limb, analytic.limb_mm2, bound) << to_string(anatomy);
      // And in practice far tighter: errors cancel around the outline.
      EXPECT_NEAR(limb / analytic.limb_mm2, 1.0, 0.005) << to_string(anatomy);
      for (const auto& [bone_label, bone_area] : analytic.bones_mm2) {
        const auto* bone = LabelCatalog::standard().decode(bone_label)->structure;
        // Bone outline = cortex + its marrow: recount the cortex label plus marrow inside this bone.
        const detail::BoneSection* b = nullptr;
        for (const auto& candidate : leg.bones)
          if (candidate.label == bone_label) b = &candidate;
        ASSERT_NE(b, nullptr);
        const double cortex = recount(ph, 0, leg.side, [&](const Structure& s) { return s.key == bone->key; });
        const double marrow_bound = std::numbers::pi * (b->a - b->cortex_mm) * (b->b - b->cortex_mm);
        const double bone_perimeter = 2 * std::numbers::pi * std::max(b->a, b->b);
        const double marrow = recount(ph, 0, leg.side, [](const Structure& s) { return s.key == "bone_marrow"; });
        if (anatomy == Anatomy::Thigh) {
          EXPECT_NEAR(cortex + marrow, bone_area, bone_perimeter * px) << bone->key;
          EXPECT_NEAR(marrow, marrow_bound, 2 * std::numbers::pi * b->a * px) << bone->key;
        } else {
          EXPECT_NEAR(cortex, bone_area - marrow_bound, 2 * bone_perimeter * px) << bone->key;
        }
      }
    }
  }
}

TEST(Phantom, TruthAreasEqualARecountOfTheLabelMap) {
  const Phantom ph = make(small(Anatomy::Thigh, PhantomModality::CT, 4));
  const double pixel = ph.labels.geometry.pixel_area_mm2();
  const auto& catalog = LabelCatalog::standard();
  for (const auto& slice : ph.slices) {
    std::map<LabelId, std::size_t> counts;
    const LabelId* labels = ph.labels.slice(slice.slice_index);
    for (std::size_t o = 0; o < ph.labels.geometry.slice_voxel_count(); ++o) ++counts[labels[o]];
    for (const auto& t : slice.structures) {
      const Structure& s = catalog.get(t.structure_key);
      double expected = 0;
      if (s.kind == StructureKind::MuscleGroup) {
        for (const auto* m : catalog.members_of(s.key)) expected += counts[catalog.label_id(m->key, t.side)] * pixel;
      } else {
        expected = counts[catalog.label_id(t.structure_key, t.side)] * pixel;
      }
      EXPECT_DOUBLE_EQ(t.area_mm2, expected) << t.structure_key;
      EXPECT_GT(t.area_mm2, 0) << t.structure_key;
    }
  }
}

TEST(Phantom, WrittenLabelMapAndTruthJsonAgreeWithEachOther) {
  TempDir dir;
  NullProgress progress;
  const Phantom ph = make(small(Anatomy::Calf, PhantomModality::CT, 3));
  write_phantom(ph, dir.path(), progress);
  const LabelMap labels = io::read_label_map(dir / "truth/labels.nii.gz");
  ASSERT_TRUE(labels.geometry.same_grid_as(ph.labels.geometry, 1e-3));
  const auto truth = nlohmann::json::parse(io::read_text(dir / "truth/truth.json"));
  const auto& catalog = LabelCatalog::standard();
  const double pixel_cm2 = labels.geometry.pixel_area_mm2() / 100;
  std::size_t checked = 0;
  for (const auto& slice : truth.at("slices")) {
    const int k = slice.at("slice");
    for (const auto& s : slice.at("structures")) {
      const Structure& st = catalog.get(s.at("structure").get<std::string>());
      if (st.kind == StructureKind::MuscleGroup) continue;
      const LabelId id = catalog.label_id(st.key, side_from_string(s.at("side").get<std::string>()));
      const auto n = std::count(labels.slice(k), labels.slice(k) + labels.geometry.slice_voxel_count(), id);
      EXPECT_NEAR(s.at("area_cm2").get<double>(), n * pixel_cm2, 1e-9) << st.key;
      ++checked;
    }
  }
  EXPECT_GT(checked, 50u);
  const auto label_names = nlohmann::json::parse(io::read_text(dir / "truth/labels.json"));
  EXPECT_EQ(label_names.at("labels").size(), 2 * (catalog.structures().size() - 7));  // groups are not voxel labels
}

TEST(Phantom, SameSeedGivesIdenticalVoxelsAndAnotherSeedDoesNot) {
  PhantomParams p = small(Anatomy::Thigh, PhantomModality::CT, 2);
  p.seed = 11;
  const Phantom a = make(p), b = make(p);
  EXPECT_EQ(a.labels.voxels, b.labels.voxels);
  EXPECT_EQ(a.series[0].image.voxels, b.series[0].image.voxels);
  p.seed = 12;
  const Phantom c = make(p);
  EXPECT_NE(a.labels.voxels, c.labels.voxels);
  EXPECT_NE(a.series[0].image.voxels, c.series[0].image.voxels);
}

TEST(Phantom, CtValuesOfPureTissuesAreTheModelHounsfieldUnits) {
  PhantomParams p = small(Anatomy::Thigh, PhantomModality::CT, 1);
  p.noise_sd = 0;
  const Phantom ph = make(p);
  const auto& catalog = LabelCatalog::standard();
  std::map<std::string, std::vector<float>> values;
  for (std::size_t o = 0; o < ph.labels.voxels.size(); ++o) {
    const auto d = catalog.decode(ph.labels.voxels[o]);
    values[d ? d->structure->key : "air"].push_back(ph.series[0].image.voxels[o]);
  }
  auto median = [](std::vector<float> v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  EXPECT_EQ(median(values["air"]), -1000);
  EXPECT_EQ(median(values["subcutaneous_fat"]), -100);
  EXPECT_EQ(median(values["vastus_lateralis"]), 50);
  EXPECT_EQ(median(values["femur"]), 1250);
}

TEST(Phantom, NoiseHasTheRequestedStandardDeviation) {
  PhantomParams p = small(Anatomy::Thigh, PhantomModality::CT, 1);
  p.noise_sd = 25;
  const Phantom ph = make(p);
  // Pure subcutaneous fat (-100 HU, far from the stored range's ends, so nothing is clamped).
  double sum = 0, sum2 = 0;
  std::size_t n = 0;
  for (std::size_t o = 0; o < ph.labels.voxels.size(); ++o) {
    if (ph.series[0].noise_free.voxels[o] != -100.0f) continue;
    const double d = ph.series[0].image.voxels[o] - ph.series[0].noise_free.voxels[o];
    sum += d;
    sum2 += d * d;
    ++n;
  }
  ASSERT_GT(n, 1000u);
  const double mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean);
  EXPECT_NEAR(mean, 0, 2.0);
  EXPECT_NEAR(sd, 25, 1.5);
}

TEST(Phantom, MarbledInfiltrationReachesTheRequestedFatFraction) {
  PhantomParams p = small(Anatomy::Thigh, PhantomModality::CT, 3);
  p.columns = 400;
  p.pixel_spacing_mm = 1.0;
  p.infiltration["all"] = {0.3, FatPattern::Marbled};
  const Phantom ph = make(p);
  double muscle = 0, streaks = 0;
  for (const auto& slice : ph.slices)
    for (const auto& side : slice.sides) {
      muscle += side.muscle_area_mm2;
      streaks += side.intramuscular_fat_area_mm2;
    }
  EXPECT_NEAR(streaks / muscle, 0.3, 0.04);
}

TEST(Phantom, DiffuseInfiltrationSetsTheMuscleFatFraction) {
  PhantomParams p = small(Anatomy::Calf, PhantomModality::MrDixon, 2);
  p.infiltration["soleus"] = {0.25, FatPattern::Diffuse};
  const Phantom ph = make(p);
  for (const auto& slice : ph.slices) {
    const auto* soleus = find_truth(slice, "soleus", Side::Right);
    const auto* ta = find_truth(slice, "tibialis_anterior", Side::Right);
    ASSERT_NE(soleus, nullptr);
    ASSERT_NE(ta, nullptr);
    // Edge voxels mix with septum fat, so the mean sits slightly above the interior value.
    EXPECT_GE(soleus->fat_fraction, 0.25);
    EXPECT_LE(soleus->fat_fraction, 0.32);
    EXPECT_LE(ta->fat_fraction, 0.08);
  }
}

TEST(Phantom, AtrophyScalesTheMuscleAreaByTheRequestedFactor) {
  PhantomParams p = small(Anatomy::Thigh, PhantomModality::CT, 1);
  p.columns = 400;
  p.pixel_spacing_mm = 1.0;
  p.shape_variation = 0;
  const Phantom normal = make(p);
  p.muscle_area_scale = 0.6;
  const Phantom atrophied = make(p);
  const double a = normal.slices[0].sides[0].muscle_area_mm2 + normal.slices[0].sides[0].imat_area_mm2;
  const double b = atrophied.slices[0].sides[0].muscle_area_mm2 + atrophied.slices[0].sides[0].imat_area_mm2;
  EXPECT_NEAR(b / a, 0.6, 0.03);
}

TEST(Phantom, OneLegInViewHasNoLabelsOfTheOtherSide) {
  PhantomParams p = small(Anatomy::Thigh, PhantomModality::CT, 1);
  p.legs = Legs::Left;
  const Phantom ph = make(p);
  const auto& catalog = LabelCatalog::standard();
  std::size_t left = 0;
  for (LabelId l : ph.labels.voxels) {
    if (l == 0) continue;
    ASSERT_EQ(catalog.decode(l)->side, Side::Left);
    ++left;
  }
  EXPECT_GT(left, 1000u);
}

TEST(Phantom, TouchingLegsKeepBothLimbsAtTheirSize) {
  PhantomParams p = small(Anatomy::Thigh, PhantomModality::CT, 1);
  const Phantom apart = make(p);
  p.leg_gap_mm = -12;  // overlapping outlines: each point goes to the leg it is deeper inside
  const Phantom touching = make(p);
  ASSERT_EQ(touching.slices[0].sides.size(), 2u);
  for (std::size_t s = 0; s < 2; ++s) {
    const double ratio = touching.slices[0].sides[s].limb_area_mm2 / apart.slices[0].sides[s].limb_area_mm2;
    EXPECT_GT(ratio, 0.93);
    EXPECT_LT(ratio, 1.0);
  }
}

TEST(Phantom, StandardLevelIsTheNearestSliceTo50PercentOfFemurLength) {
  PhantomParams p = small(Anatomy::Thigh, PhantomModality::CT, 9);
  p.slice_spacing_mm = 7;
  const Phantom ph = make(p);
  ASSERT_GE(ph.level.nearest_slice, 0);
  EXPECT_NEAR(ph.level.level_z_mm, ph.level.bone_proximal_z_mm - 0.5 * ph.level.bone_length_mm, 1e-9);
  const auto& slice = ph.slices[ph.level.nearest_slice];
  EXPECT_LE(std::abs(slice.z_mm - ph.level.level_z_mm), 3.5 + 1e-9);
  EXPECT_NEAR(slice.bone_fraction, 0.5, 3.5 / 440 + 1e-9);
  // The femur is in every slice of the mid-thigh and absent 2 cm above the femoral head.
  for (const auto& s : ph.slices) EXPECT_NE(find_truth(s, "femur", Side::Right), nullptr);
  const Phantom calf = make(small(Anatomy::Calf, PhantomModality::CT, 5));
  EXPECT_EQ(calf.level.name, "tibia_66pct_from_distal");
  EXPECT_NEAR(calf.level.level_z_mm, calf.level.bone_distal_z_mm + 0.66 * calf.level.bone_length_mm, 1e-9);
}

TEST(Phantom, FemurAppearsBelowTheHeadTopAndEndsAtTheCondyles) {
  // 5 mm slices across the whole femur: the femur's first and last slices bracket its length.
  PhantomParams p = small(Anatomy::Thigh, PhantomModality::CT, 100);
  p.columns = 100;
  p.pixel_spacing_mm = 4;
  p.slice_spacing_mm = 5;
  p.supersampling = 1;
  const Phantom ph = make(p);
  double top = -1e9, bottom = 1e9;
  for (const auto& s : ph.slices)
    if (find_truth(s, "femur", Side::Right) != nullptr || find_truth(s, "bone_marrow", Side::Right) != nullptr) {
      top = std::max(top, s.z_mm);
      bottom = std::min(bottom, s.z_mm);
    }
  EXPECT_NEAR(top, ph.level.bone_proximal_z_mm, 7.5);
  EXPECT_NEAR(bottom, ph.level.bone_distal_z_mm, 7.5);
}

TEST(Phantom, DixonImagesEncodeTheTrueFatFraction) {
  PhantomParams p = small(Anatomy::Thigh, PhantomModality::MrDixon, 1);
  p.infiltration["all"] = {0.2, FatPattern::Mixed};
  const Phantom ph = make(p);
  ASSERT_EQ(ph.series.size(), 4u);
  const auto& water = ph.series[0].noise_free.voxels;
  const auto& fat = ph.series[1].noise_free.voxels;
  const auto& in_phase = ph.series[2].noise_free.voxels;
  const auto& opposed = ph.series[3].noise_free.voxels;
  EXPECT_EQ(ph.series[0].image_type.back(), "WATER");
  EXPECT_EQ(ph.series[3].image_type.back(), "OUT_PHASE");
  for (std::size_t o = 0; o < water.size(); o += 7) {
    const float sum = water[o] + fat[o];
    EXPECT_NEAR(in_phase[o], sum, 1e-2);
    EXPECT_NEAR(opposed[o], std::abs(water[o] - fat[o]), 1e-2);
    if (sum > 50) {
      EXPECT_NEAR(fat[o] / sum, ph.fat_fraction.voxels[o], 1e-4);
    }
  }
}

TEST(Phantom, T1BiasFieldReachesItsPeakAmplitude) {
  PhantomParams p = small(Anatomy::Thigh, PhantomModality::MrT1, 3);
  p.bias_field_amplitude = 0;
  const Phantom flat = make(p);
  p.bias_field_amplitude = 0.3;
  const Phantom biased = make(p);
  double lo = 10, hi = 0;
  for (std::size_t o = 0; o < flat.labels.voxels.size(); ++o) {
    const float f = flat.series[0].noise_free.voxels[o];
    if (f < 100) continue;
    const double ratio = biased.series[0].noise_free.voxels[o] / f;
    lo = std::min(lo, ratio);
    hi = std::max(hi, ratio);
  }
  EXPECT_GE(lo, 0.7 - 1e-6);
  EXPECT_LE(hi, 1.3 + 1e-6);
  EXPECT_GT(std::max(hi - 1, 1 - lo), 0.15);  // the legs cover a good part of the field
}

TEST(PhantomParams, OutOfRangeValuesAreRejectedNamingTheParameter) {
  PhantomParams p;
  p.muscle_area_scale = 0.1;
  try {
    resolve_defaults(p);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_EQ(e.input(), "muscle-area-scale");
  }
  p = {};
  p.infiltration["femur"] = {0.2, FatPattern::Diffuse};
  EXPECT_THROW(resolve_defaults(p), Error);
  p = {};
  p.supersampling = 4;
  EXPECT_THROW(resolve_defaults(p), Error);
}

TEST(PhantomParams, PresetFilesAreReadAndBadOnesNamed) {
  TempDir dir;
  io::write_text_atomically(dir / "ok.json",
                            R"({"anatomy": "calf", "modality": "mr-t1", "seed": 5, "slices": 7,
                                "infiltration": {"soleus": {"fraction": 0.2, "pattern": "marbled"}}})");
  const PhantomParams p = load_preset(dir / "ok.json", {});
  EXPECT_EQ(p.anatomy, Anatomy::Calf);
  EXPECT_EQ(p.modality, PhantomModality::MrT1);
  EXPECT_EQ(p.slices, 7u);
  EXPECT_EQ(p.infiltration.at("soleus").pattern, FatPattern::Marbled);

  io::write_text_atomically(dir / "typo.json", R"({"anatomy": "thigh", "slicez": 7})");
  io::write_text_atomically(dir / "broken.json", R"({"anatomy": )");
  io::write_text_atomically(dir / "wrong_type.json", R"({"slices": "many"})");
  for (const char* name : {"typo.json", "broken.json", "wrong_type.json"}) {
    try {
      load_preset(dir / name, {});
      FAIL() << name;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidInput) << name;
      EXPECT_NE(e.input().find(name), std::string::npos) << e.what();
    }
  }
}

TEST(PhantomParams, ShippedPresetsLoadAndResolve) {
  for (const char* name : {"thigh-ct.json", "calf-ct.json", "thigh-mr-dixon.json", "rf-us.json"}) {
    const auto path = std::filesystem::path(MUSCLECSA_SOURCE_DIR) / "data/phantoms" / name;
    EXPECT_NO_THROW(resolve_defaults(load_preset(path, {}))) << name;
  }
}
