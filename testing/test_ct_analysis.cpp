// CT tissue analysis against phantom ground truth: areas, HU, level; touching legs, one leg,
// calf, atrophy, infiltration; bad input gets flags or clear errors.

#include <gtest/gtest.h>

#include <cmath>

#include "musclecsa/core/error.h"
#include "musclecsa/phantom/phantom.h"
#include "musclecsa/quantify/ct_measures.h"
#include "musclecsa/segment/ct_muscles.h"
#include "musclecsa/segment/ct_tissue.h"

using namespace musclecsa;

namespace {

struct Analysis {
  phantom::Phantom ph;
  segment::TissueSegmentation seg;
  quantify::CtResults results;
};

phantom::PhantomParams thigh_ct(std::uint64_t seed) {
  phantom::PhantomParams p;
  p.anatomy = phantom::Anatomy::Thigh;
  p.modality = phantom::PhantomModality::CT;
  p.seed = seed;
  p.columns = 320;
  p.pixel_spacing_mm = 1.25;
  p.slices = 24;
  p.slice_spacing_mm = 20;  // 480 mm: the whole femur, head to condyles
  p.noise_sd = 20;
  return p;
}

Analysis analyse(const phantom::PhantomParams& p, const std::string& protocol = "thigh-ct") {
  NullProgress progress;
  Analysis r{phantom::make_phantom(p, progress), {}, {}};
  const auto prot = segment::builtin_ct_protocol(protocol);
  r.seg = segment::segment_ct_tissues(r.ph.series[0].image, prot, progress);
  r.results = quantify::measure_ct(r.ph.series[0].image, r.seg, prot, {});
  return r;
}

/// Truth under the measurement's own definition: the protocol's HU ranges applied to the
/// noise-free phantom inside the true compartment (bone and marrow excluded).
struct HuDefinedTruth {
  double muscle_mm2 = 0, imat_mm2 = 0, muscle_mean_hu = 0;
};
HuDefinedTruth hu_defined_truth(const phantom::Phantom& ph, std::size_t k, Side side) {
  const auto& catalog = LabelCatalog::standard();
  const auto& clean = ph.series[0].noise_free;
  const double px = clean.geometry.pixel_area_mm2();
  HuDefinedTruth t;
  double sum = 0;
  const LabelId* labels = ph.labels.slice(k);
  const float* hu = clean.slice(k);
  for (std::size_t o = 0; o < clean.geometry.slice_voxel_count(); ++o) {
    const auto d = catalog.decode(labels[o]);
    if (!d || d->side != side) continue;
    const std::string& key = d->structure->key;
    if (key == "skin" || key == "subcutaneous_fat" || key == "bone_marrow" || d->structure->kind == StructureKind::Bone) continue;
    if (hu[o] >= -190 && hu[o] <= -30) t.imat_mm2 += px;
    if (hu[o] >= -29 && hu[o] <= 150) {
      t.muscle_mm2 += px;
      sum += hu[o];
    }
  }
  t.muscle_mean_hu = t.muscle_mm2 > 0 ? sum * px / t.muscle_mm2 : 0;
  return t;
}

const phantom::SideSliceTruth* truth_side(const phantom::SliceTruth& s, Side side) {
  for (const auto& t : s.sides)
    if (t.side == side) return &t;
  return nullptr;
}

double truth_area(const phantom::SliceTruth& s, const std::string& key, Side side) {
  for (const auto& t : s.structures)
    if (t.structure_key == key && t.side == side) return t.area_mm2;
  return 0;
}

}  // namespace

TEST(CtAnalysis, TissueAreasAtEveryMidThighSliceMatchThePhantomTruth) {
  for (std::uint64_t seed : {3u, 11u}) {
    const Analysis r = analyse(thigh_ct(seed));
    std::size_t checked = 0;
    for (const auto& s : r.results.slices) {
      const auto& truth = r.ph.slices[std::size_t(s.slice_index)];
      if (truth.bone_fraction < 0.25 || truth.bone_fraction > 0.75) continue;  // mid-thigh
      ASSERT_EQ(s.sides.size(), 2u) << "slice " << s.slice_index;
      for (const auto& m : s.sides) {
        const auto* t = truth_side(truth, m.side);
        ASSERT_NE(t, nullptr);
        // Muscle tissue = muscle outlines minus the fat inside them; IMAT = septa + streaks + subfascial fat.
        const double muscle_truth = t->muscle_area_mm2 - t->intramuscular_fat_area_mm2;
        EXPECT_NEAR(m.muscle_area_mm2 / muscle_truth, 1.0, 0.03) << "seed " << seed << " slice " << s.slice_index;
        // Against the label truth IMAT is lower: thin septa are partial-volume voxels above -30 HU.
        EXPECT_NEAR(m.imat_area_mm2 / t->imat_area_mm2, 0.9, 0.15) << "seed " << seed << " slice " << s.slice_index;
        EXPECT_NEAR(m.limb_area_mm2 / t->limb_area_mm2, 1.0, 0.02);
        EXPECT_NEAR(m.subcutaneous_fat_area_mm2 / truth_area(truth, "subcutaneous_fat", m.side), 1.0, 0.06);
        const double bone_truth = truth_area(truth, "femur", m.side) + truth_area(truth, "bone_marrow", m.side);
        EXPECT_NEAR(m.bone_area_mm2 / bone_truth, 1.0, 0.08);
        // The HU-defined truth (same thresholds on the noise-free image): the targets.
        const HuDefinedTruth d = hu_defined_truth(r.ph, std::size_t(s.slice_index), m.side);
        EXPECT_NEAR(m.muscle_area_mm2 / d.muscle_mm2, 1.0, 0.02) << "slice " << s.slice_index;
        EXPECT_NEAR(m.imat_area_mm2 / d.imat_mm2, 1.0, 0.10) << "slice " << s.slice_index;
        EXPECT_NEAR(m.muscle_mean_hu, d.muscle_mean_hu, 2.0) << "slice " << s.slice_index;
        ++checked;
      }
    }
    EXPECT_GE(checked, 10u);
  }
}

TEST(CtAnalysis, StandardLevelIsWithinOneSliceOf50PercentFemurLength) {
  const Analysis r = analyse(thigh_ct(5));
  ASSERT_EQ(r.results.levels.size(), 2u);
  for (const auto& level : r.results.levels) {
    ASSERT_TRUE(level.found) << level.reason;
    EXPECT_EQ(level.method, "segmented_bone");
    EXPECT_LE(std::abs(level.slice_index - r.ph.level.nearest_slice), 1);
    EXPECT_NEAR(level.bone_length_mm, r.ph.level.bone_length_mm, 2 * 20.0);  // slice-limited extent
  }
}

TEST(CtAnalysis, LevelIsNotGuessedWhenTheFemurLeavesTheScan) {
  phantom::PhantomParams p = thigh_ct(5);
  p.slices = 8;  // 160 mm around mid-femur: neither end in view
  NullProgress progress;
  const auto ph = phantom::make_phantom(p, progress);
  const auto prot = segment::builtin_ct_protocol("thigh-ct");
  const auto seg = segment::segment_ct_tissues(ph.series[0].image, prot, progress);
  const auto results = quantify::measure_ct(ph.series[0].image, seg, prot, {});
  for (const auto& level : results.levels) {
    EXPECT_FALSE(level.found);
    EXPECT_NE(level.reason.find("--level-z-mm"), std::string::npos) << level.reason;
  }
  quantify::LevelOptions user;
  user.level_slice = 3;
  const auto given = quantify::measure_ct(ph.series[0].image, seg, prot, user);
  for (const auto& level : given.levels) {
    EXPECT_TRUE(level.found);
    EXPECT_EQ(level.method, "user_slice");
    EXPECT_EQ(level.slice_index, 3);
  }
  user.level_slice = 99;
  EXPECT_THROW(quantify::measure_ct(ph.series[0].image, seg, prot, user), Error);
}

TEST(CtAnalysis, TouchingLegsAreSplitAndKeepTheirSize) {
  phantom::PhantomParams p = thigh_ct(7);
  p.slices = 6;
  p.slice_spacing_mm = 30;
  const Analysis apart = analyse(p);
  p.leg_gap_mm = -10;
  const Analysis touching = analyse(p);
  std::size_t split = 0;
  for (std::size_t k = 0; k < touching.results.slices.size(); ++k) {
    const auto& s = touching.results.slices[k];
    if (std::find(s.qc_flags.begin(), s.qc_flags.end(), "legs_touching_split") != s.qc_flags.end()) ++split;
    ASSERT_EQ(s.sides.size(), 2u) << "slice " << k;
    for (const auto& m : s.sides) {
      const auto* t = truth_side(touching.ph.slices[k], m.side);
      ASSERT_NE(t, nullptr);
      EXPECT_NEAR(m.limb_area_mm2 / t->limb_area_mm2, 1.0, 0.05) << "slice " << k;
    }
  }
  EXPECT_GT(split, 0u);
}

TEST(CtAnalysis, OneLegInViewIsMeasuredOnItsSide) {
  phantom::PhantomParams p = thigh_ct(2);
  p.slices = 4;
  p.legs = phantom::Legs::Left;
  const Analysis r = analyse(p);
  for (const auto& s : r.results.slices) {
    ASSERT_EQ(s.sides.size(), 1u);
    EXPECT_EQ(s.sides[0].side, Side::Left);
  }
}

TEST(CtAnalysis, CalfHasTibiaAndFibulaAndItsLevelAt66PercentFromDistal) {
  phantom::PhantomParams p;
  p.anatomy = phantom::Anatomy::Calf;
  p.modality = phantom::PhantomModality::CT;
  p.columns = 256;
  p.pixel_spacing_mm = 1.0;
  p.slices = 29;  // 560 mm: the whole tibia, plateau to distal end
  p.slice_spacing_mm = 20;
  const Analysis r = analyse(p, "calf-ct");
  for (const auto& level : r.results.levels) {
    ASSERT_TRUE(level.found) << level.reason;
    EXPECT_LE(std::abs(level.slice_index - r.ph.level.nearest_slice), 1);
  }
  std::size_t two_bones = 0;
  for (const auto& s : r.seg.slices)
    for (const auto& leg : s.legs) two_bones += leg.bone_count == 2;
  EXPECT_GT(two_bones, 20u);
}

TEST(CtAnalysis, AtrophyAndInfiltrationAreMeasured) {
  phantom::PhantomParams p = thigh_ct(9);
  p.slices = 5;
  p.slice_spacing_mm = 15;
  p.muscle_area_scale = 0.6;
  p.infiltration["all"] = {0.3, phantom::FatPattern::Mixed};
  const Analysis r = analyse(p);
  for (const auto& s : r.results.slices)
    for (const auto& m : s.sides) {
      const HuDefinedTruth d = hu_defined_truth(r.ph, std::size_t(s.slice_index), m.side);
      EXPECT_NEAR(m.muscle_area_mm2 / d.muscle_mm2, 1.0, 0.03) << "slice " << s.slice_index;
      EXPECT_NEAR(m.imat_area_mm2 / d.imat_mm2, 1.0, 0.10) << "slice " << s.slice_index;
      EXPECT_NEAR(m.muscle_mean_hu, d.muscle_mean_hu, 2.0) << "slice " << s.slice_index;
      // 15% diffuse fat lowers muscle HU: 50*(1-f) - 100*f = 27.5 HU at f = 0.15.
      EXPECT_LT(m.muscle_mean_hu, 40);
      EXPECT_GT(m.low_attenuation_muscle_area_mm2, 0.3 * m.muscle_area_mm2);
    }
}

TEST(CtAnalysis, NonLegAndMetalInputsGetFlagsNotNumbers) {
  // A water cylinder far smaller than a leg, in air: nothing to measure.
  ScalarVolume empty(make_axial_geometry({128, 128, 3}, {1, 1, 5}, {-64, -64, 0}), -1000.0f);
  empty.modality = Modality::CT;
  for (std::size_t k = 0; k < 3; ++k)
    for (std::size_t j = 60; j < 70; ++j)
      for (std::size_t i = 60; i < 70; ++i) empty.at(i, j, k) = 0;
  NullProgress progress;
  const auto prot = segment::builtin_ct_protocol("thigh-ct");
  const auto seg = segment::segment_ct_tissues(empty, prot, progress);
  EXPECT_NE(std::find(seg.qc_flags.begin(), seg.qc_flags.end(), "no_legs_found"), seg.qc_flags.end());
  const auto results = quantify::measure_ct(empty, seg, prot, {});
  EXPECT_TRUE(results.levels.empty());

  phantom::PhantomParams p = thigh_ct(4);
  p.slices = 3;
  p.slice_spacing_mm = 10;
  auto ph = phantom::make_phantom(p, progress);
  ph.series[0].image.at(100, 160, 1) = 3000;  // a metal implant voxel
  const auto metal = segment::segment_ct_tissues(ph.series[0].image, prot, progress);
  EXPECT_NE(std::find(metal.qc_flags.begin(), metal.qc_flags.end(), "metal"), metal.qc_flags.end());

  ScalarVolume mr = ph.series[0].image;
  mr.modality = Modality::MR;
  EXPECT_THROW(segment::segment_ct_tissues(mr, prot, progress), Error);
}

// Uniform or bone-free volumes look like a leg to thresholds alone (0 HU is in the muscle range):
// they must get flags and no numbers, and a leg cut by the field of view must say so.
TEST(CtAnalysis, UniformBoneFreeAndCutOffSectionsAreFlaggedNotMeasured) {
  NullProgress progress;
  const auto prot = segment::builtin_ct_protocol("thigh-ct");
  auto flagged = [](const std::vector<std::string>& flags, const std::string& flag) {
    return std::find(flags.begin(), flags.end(), flag) != flags.end();
  };
  // A blank volume of 0 HU (e.g. a masked or failed reconstruction) fills the field of view.
  ScalarVolume blank(make_axial_geometry({96, 96, 3}, {1, 1, 5}, {-48, -48, 0}), 0.0f);
  blank.modality = Modality::CT;
  const auto blank_seg = segment::segment_ct_tissues(blank, prot, progress);
  EXPECT_TRUE(flagged(blank_seg.slices[1].qc_flags, "section_fills_field_of_view"));
  EXPECT_TRUE(flagged(blank_seg.qc_flags, "no_legs_found"));
  EXPECT_TRUE(blank_seg.slices[1].legs.empty());

  // Two leg-sized soft-tissue ellipses with a fat rim but no bone: no femur, no leg CT.
  ScalarVolume no_bone(make_axial_geometry({256, 256, 4}, {1.2, 1.2, 5}, {-154, -154, 0}), -1000.0f);
  no_bone.modality = Modality::CT;
  for (std::size_t k = 0; k < 4; ++k)
    for (std::size_t j = 0; j < 256; ++j)
      for (std::size_t i = 0; i < 256; ++i)
        for (double cx : {80.0, 176.0}) {
          const double r2 = std::pow((double(i) - cx) / 60, 2) + std::pow((double(j) - 128) / 70, 2);
          if (r2 < 1) no_bone.at(i, j, k) = r2 > 0.8 ? -100.0f : 40.0f;
        }
  const auto no_bone_seg = segment::segment_ct_tissues(no_bone, prot, progress);
  EXPECT_TRUE(flagged(no_bone_seg.qc_flags, "no_bone_found"));
  for (const auto& note : segment::segment_ct_tissues(no_bone, prot, progress, segment::TissueValues::PseudoCtFromMr).notes)
    EXPECT_EQ(note.find("HU"), std::string::npos) << note;  // an MRI's pseudo-CT: MR terms
  for (const auto& s : no_bone_seg.slices) EXPECT_TRUE(s.legs.empty());
  EXPECT_TRUE(std::all_of(no_bone_seg.labels.voxels.begin(), no_bone_seg.labels.voxels.end(), [](LabelId l) { return l == 0; }));
  EXPECT_TRUE(quantify::measure_ct(no_bone, no_bone_seg, prot, {}).levels.empty());
  // The same sections lying on the image's edge: no bone is what matters (nothing is measured), so
  // there is no edge flag or note on top of it.
  ScalarVolume no_bone_at_edge = no_bone;
  for (std::size_t k = 0; k < 4; ++k)
    for (std::size_t j = 0; j < 256; ++j)
      for (std::size_t i = 0; i < 256; ++i) no_bone_at_edge.at(i, j, k) = i + 40 < 256 ? no_bone.at(i + 40, j, k) : -1000.0f;
  const auto edge_seg = segment::segment_ct_tissues(no_bone_at_edge, prot, progress);
  EXPECT_TRUE(flagged(edge_seg.qc_flags, "no_bone_found"));
  EXPECT_FALSE(flagged(edge_seg.qc_flags, "limb_cut_by_field_of_view"));
  for (const auto& s : edge_seg.slices) EXPECT_FALSE(flagged(s.qc_flags, "limb_cut_by_field_of_view"));
  for (const auto& note : edge_seg.notes) EXPECT_EQ(note.find("edge of the field of view"), std::string::npos) << note;

  // A thigh phantom shifted so that one leg runs off the image's side.
  phantom::PhantomParams p = thigh_ct(4);
  p.slices = 3;
  p.slice_spacing_mm = 10;
  auto ph = phantom::make_phantom(p, progress);
  ScalarVolume& ct = ph.series[0].image;
  const std::size_t nx = ct.geometry.size[0], shift = nx / 8;
  for (std::size_t k = 0; k < ct.geometry.size[2]; ++k)
    for (std::size_t j = 0; j < ct.geometry.size[1]; ++j)
      for (std::size_t i = 0; i < nx; ++i) ct.at(i, j, k) = i + shift < nx ? ct.at(i + shift, j, k) : -1000.0f;
  const auto whole = segment::segment_ct_tissues(ph.series[0].image, prot, progress);
  EXPECT_FALSE(flagged(segment::segment_ct_tissues(phantom::make_phantom(p, progress).series[0].image, prot, progress).qc_flags,
                       "limb_cut_by_field_of_view"));
  EXPECT_TRUE(flagged(whole.qc_flags, "limb_cut_by_field_of_view"));
  EXPECT_TRUE(flagged(whole.slices[1].qc_flags, "limb_cut_by_field_of_view"));
  EXPECT_FALSE(flagged(whole.qc_flags, "no_bone_found"));
}

TEST(CtProtocol, HashChangesWithAnyThresholdAndFilesAreValidated) {
  auto p = segment::builtin_ct_protocol("thigh-ct");
  const std::string h = p.hash();
  EXPECT_EQ(h.size(), 16u);
  EXPECT_EQ(h, segment::builtin_ct_protocol("thigh-ct").hash());
  p.muscle.low_hu = -30;
  EXPECT_NE(p.hash(), h);
  EXPECT_NE(segment::builtin_ct_protocol("calf-ct").hash(), h);
  EXPECT_THROW(segment::builtin_ct_protocol("abdomen-ct"), Error);
}

// Muscle HU statistics are counted per whole HU when a slice holds whole HU values (CT as stored)
// and gathered otherwise: both give the same numbers. The same phantom shifted by half a HU (with
// every range shifted alike) classifies every voxel the same way and moves means and medians by
// exactly 0.5 HU; the median is also checked against the voxels themselves.
TEST(CtAnalysis, WholeAndFractionalHuGiveTheSameStatistics) {
  phantom::PhantomParams p = thigh_ct(4);
  p.slices = 3;
  p.slice_spacing_mm = 60;
  NullProgress progress;
  const auto ph = phantom::make_phantom(p, progress);
  const ScalarVolume& ct = ph.series[0].image;
  auto prot = segment::builtin_ct_protocol("thigh-ct");
  auto seg = segment::segment_ct_tissues(ct, prot, progress);
  segment::segment_ct_muscles(ct, prot, seg, progress);
  const auto whole = quantify::measure_ct(ct, seg, prot, {});

  ScalarVolume shifted = ct;
  for (float& v : shifted.voxels) v += 0.5f;
  auto shifted_prot = prot;
  for (segment::HuRange* r : {&shifted_prot.muscle, &shifted_prot.adipose, &shifted_prot.low_attenuation_muscle,
                              &shifted_prot.normal_attenuation_muscle})
    r->low_hu += 0.5, r->high_hu += 0.5;
  for (auto& bin : shifted_prot.hu_bins) bin.range.low_hu += 0.5, bin.range.high_hu += 0.5;
  const auto fractional = quantify::measure_ct(shifted, seg, shifted_prot, {});

  ASSERT_EQ(whole.slices.size(), fractional.slices.size());
  std::size_t structures = 0;
  for (std::size_t k = 0; k < whole.slices.size(); ++k) {
    ASSERT_EQ(whole.slices[k].sides.size(), fractional.slices[k].sides.size());
    for (std::size_t n = 0; n < whole.slices[k].sides.size(); ++n) {
      const auto& a = whole.slices[k].sides[n];
      const auto& b = fractional.slices[k].sides[n];
      EXPECT_EQ(a.muscle_area_mm2, b.muscle_area_mm2);
      EXPECT_NEAR(a.muscle_mean_hu + 0.5, b.muscle_mean_hu, 1e-9);
      EXPECT_EQ(a.muscle_median_hu + 0.5, b.muscle_median_hu);
      EXPECT_NEAR(a.muscle_sd_hu, b.muscle_sd_hu, 1e-6);
      ASSERT_EQ(a.structures.size(), b.structures.size());
      for (std::size_t s = 0; s < a.structures.size(); ++s, ++structures) {
        EXPECT_EQ(a.structures[s].muscle_area_mm2, b.structures[s].muscle_area_mm2) << a.structures[s].structure_key;
        EXPECT_NEAR(a.structures[s].mean_hu + 0.5, b.structures[s].mean_hu, 1e-9) << a.structures[s].structure_key;
        EXPECT_EQ(a.structures[s].median_hu + 0.5, b.structures[s].median_hu) << a.structures[s].structure_key;
        EXPECT_NEAR(a.structures[s].sd_hu, b.structures[s].sd_hu, 1e-6) << a.structures[s].structure_key;
      }
      // The side's median from its voxels: muscle-range HU inside the fascia (bone excluded).
      const auto& catalog = LabelCatalog::standard();
      std::vector<float> values;
      const LabelId* l = seg.labels.slice(k);
      const float* hu = ct.slice(k);
      for (std::size_t o = 0; o < ct.geometry.slice_voxel_count(); ++o) {
        const auto d = catalog.decode(l[o]);
        if (!d || d->side != a.side || !prot.muscle.contains(hu[o])) continue;
        const std::string& key = d->structure->key;
        if (key == "skin" || key == "subcutaneous_fat" || key == "bone_marrow" || d->structure->kind == StructureKind::Bone) continue;
        values.push_back(hu[o]);
      }
      ASSERT_FALSE(values.empty());
      std::nth_element(values.begin(), values.begin() + long(values.size() / 2), values.end());
      EXPECT_EQ(a.muscle_median_hu, values[values.size() / 2]);
    }
  }
  EXPECT_GT(structures, 20u);  // muscles and groups were compared, not only the sides
}

// Bone components beyond the femur (the pelvis, the patella, calcifications) are summed up in one
// note naming the slices, not one line per component and slice.
TEST(CtAnalysis, ExtraBoneComponentsGetOneNoteNamingTheSlices) {
  NullProgress progress;
  const auto prot = segment::builtin_ct_protocol("thigh-ct");
  ScalarVolume ct(make_axial_geometry({256, 256, 5}, {1.2, 1.2, 5}, {-154, -154, 0}), -1000.0f);
  ct.modality = Modality::CT;
  for (std::size_t k = 0; k < 5; ++k)
    for (std::size_t j = 0; j < 256; ++j)
      for (std::size_t i = 0; i < 256; ++i)
        for (double cx : {70.0, 186.0}) {
          const double r2 = std::pow((double(i) - cx) / 55, 2) + std::pow((double(j) - 128) / 65, 2);
          if (r2 >= 1) continue;
          ct.at(i, j, k) = r2 > 0.8 ? -100.0f : 40.0f;
          if (std::hypot(double(i) - cx, double(j) - 128) < 10) ct.at(i, j, k) = 1200.0f;  // femur
          // Two small extra bones in slices 1-2 and one in slice 4, in one leg only.
          const bool extra_slice = k == 1 || k == 2 || k == 4;
          if (cx < 128 && extra_slice && std::hypot(double(i) - cx - 25, double(j) - 128) < 5) ct.at(i, j, k) = 1200.0f;
          if (cx < 128 && (k == 1 || k == 2) && std::hypot(double(i) - cx + 25, double(j) - 110) < 5) ct.at(i, j, k) = 1200.0f;
        }
  const auto seg = segment::segment_ct_tissues(ct, prot, progress);
  std::vector<std::string> extra;
  for (const auto& note : seg.notes)
    if (note.find("extra bone") != std::string::npos) extra.push_back(note);
  ASSERT_EQ(extra.size(), 1u);
  EXPECT_NE(extra[0].find("5 extra bone component(s)"), std::string::npos) << extra[0];
  EXPECT_NE(extra[0].find("in 3 slice(s): 1-2, 4 "), std::string::npos) << extra[0];
  EXPECT_NE(extra[0].find("HU"), std::string::npos) << extra[0];
  // The same values as the pseudo-CT of an MRI (the MRI pipeline): the notes speak of MR signal.
  const auto from_mr = segment::segment_ct_tissues(ct, prot, progress, segment::TissueValues::PseudoCtFromMr);
  ASSERT_EQ(from_mr.notes.size(), seg.notes.size());
  int mr_extra = 0;
  for (const auto& note : from_mr.notes) {
    EXPECT_EQ(note.find("HU"), std::string::npos) << note;
    if (note.find("extra bone") != std::string::npos) mr_extra += note.find("signal void") != std::string::npos;
  }
  EXPECT_EQ(mr_extra, 1);
}
