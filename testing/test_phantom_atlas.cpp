// Semi-real phantoms: the image models drawn over real anatomy keep the atlas' muscles, put fat and
// skin around them, draw septa as asked, move legs together, and say when there is no level.

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "musclecsa/atlas/atlas.h"
#include "musclecsa/core/error.h"
#include "musclecsa/phantom/phantom.h"
#include "test_support.h"

using namespace musclecsa;
using namespace musclecsa::phantom;
using musclecsa::testing::quoted;
using musclecsa::testing::run_command;
using musclecsa::testing::TempDir;

namespace {

class Quiet final : public Progress {
 public:
  void report(double, std::string_view) override {}
  bool cancelled() const override { return false; }
};

PhantomParams semi_real(const std::string& from, PhantomModality modality) {
  PhantomParams p;
  p.anatomy_from = from;
  p.modality = modality;
  p.columns = 400;
  p.pixel_spacing_mm = 1.0;
  p.slices = 5;
  p.slice_spacing_mm = 10;
  p.noise_sd = 0;
  return p;
}

double truth_area(const Phantom& ph, int slice, const std::string& key, Side side) {
  for (const auto& s : ph.slices[static_cast<std::size_t>(slice)].structures)
    if (s.structure_key == key && s.side == side) return s.area_mm2;
  return 0;
}

/// Area (mm2) of a catalog structure in the atlas slice nearest z.
double atlas_area(const LabelMap& atlas, double z, const std::string& key, Side side) {
  const Geometry& g = atlas.geometry;
  const auto k = static_cast<std::size_t>(std::lround((z - g.origin_lps_mm.z) / g.spacing_mm[2]));
  const LabelId id = LabelCatalog::standard().label_id(key, side);
  std::size_t n = 0;
  for (std::size_t p = 0; p < g.slice_voxel_count(); ++p) n += atlas.slice(k)[p] == id;
  return n * g.pixel_area_mm2();
}

}  // namespace

TEST(SemiRealPhantom, MusclesKeepTheAtlasAreasAndTheLevelSitsAtHalfTheFemur) {
  PhantomParams p = semi_real("vhf-thigh-right", PhantomModality::CT);
  p.septum_width_mm = 0;  // no septa: every muscle voxel of the atlas stays muscle
  p.slices = 0;
  p.slice_spacing_mm = 0;
  Quiet quiet;
  const Phantom ph = make_phantom(p, quiet);
  ASSERT_TRUE(ph.level.known);
  ASSERT_GE(ph.level.nearest_slice, 0);
  EXPECT_NEAR(ph.level.bone_length_mm, 423, 25);  // the VHF femur
  const double level_fraction = (ph.level.bone_proximal_z_mm - ph.level.level_z_mm) / ph.level.bone_length_mm;
  EXPECT_NEAR(level_fraction, 0.5, 1e-9);
  EXPECT_EQ(ph.anatomy_source.subjects, std::vector<std::string>{"VHF"});
  const auto dir = atlas::default_atlas_dir();
  const auto m = atlas::read_manifest(dir);
  const LabelMap atlas = atlas::load_atlas_labels(dir, atlas::find_atlas(m, "vhf-thigh-right"));
  const int k = ph.level.nearest_slice;
  const double z = ph.slices[static_cast<std::size_t>(k)].z_mm;
  for (const char* key : {"vastus_lateralis", "rectus_femoris", "adductor_magnus", "semimembranosus"}) {
    SCOPED_TRACE(key);
    const double expected = atlas_area(atlas, z, key, Side::Right);
    ASSERT_GT(expected, 100);
    EXPECT_NEAR(truth_area(ph, k, key, Side::Right), expected, 0.04 * expected);
  }
  // Fat and skin around the compartment, about as thick as asked (12 mm mean on the thigh).
  const double sat = truth_area(ph, k, "subcutaneous_fat", Side::Right);
  double limb = 0;
  for (const auto& s : ph.slices[static_cast<std::size_t>(k)].sides) limb = s.limb_area_mm2;
  const double r_limb = std::sqrt(limb / M_PI);
  const double r_inner = std::sqrt((limb - sat - truth_area(ph, k, "skin", Side::Right)) / M_PI);
  EXPECT_NEAR(r_limb - r_inner, 12 + 1.5 + 0.6, 3.0);
}

TEST(SemiRealPhantom, VisibleSeptaAreFatAndFaintSeptaStayMuscleWithTheirFatFraction) {
  Quiet quiet;
  PhantomParams visible = semi_real("vhm-thigh-left", PhantomModality::MrDixon);
  visible.septum_width_mm = visible.group_septum_width_mm = 1.5;
  visible.septum_fat_fraction = 0.9;
  PhantomParams faint = visible;
  faint.septum_width_mm = faint.group_septum_width_mm = 0.6;
  faint.septum_fat_fraction = 0.35;
  PhantomParams none = visible;
  none.septum_width_mm = none.group_septum_width_mm = 0;
  const Phantom a = make_phantom(visible, quiet), b = make_phantom(faint, quiet), c = make_phantom(none, quiet);
  const int k = 2;
  const double imat_visible = truth_area(a, k, "imat", Side::Left), imat_faint = truth_area(b, k, "imat", Side::Left);
  EXPECT_GT(imat_visible, imat_faint + 300) << "visible septa add fat between the muscles";
  const double q_visible = truth_area(a, k, "quadriceps", Side::Left), q_faint = truth_area(b, k, "quadriceps", Side::Left);
  EXPECT_GT(q_faint, q_visible) << "faint septa stay in the muscle label";
  // Faint septa leave a little fat inside the muscles (against no septa at all).
  auto quadriceps_ff = [k](const Phantom& ph) {
    for (const auto& s : ph.slices[k].structures)
      if (s.structure_key == "quadriceps" && s.side == Side::Left) return s.fat_fraction;
    return -1.0;
  };
  EXPECT_GT(quadriceps_ff(b), quadriceps_ff(c) + 0.001);
  EXPECT_LT(quadriceps_ff(b), 0.1);
  EXPECT_NEAR(truth_area(c, k, "quadriceps", Side::Left), q_faint, 0.02 * q_faint) << "faint septa take no muscle area";
}

TEST(SemiRealPhantom, LegsMovedTogetherTouchAndInfiltrationAndAtrophyShowInTheTruth) {
  Quiet quiet;
  PhantomParams p = semi_real("vhf-calf", PhantomModality::CT);
  p.atlas_leg_gap_mm = 0;
  const Phantom touching = make_phantom(p, quiet);
  // Some row has a right-leg voxel next to a left-leg voxel.
  const auto& catalog = LabelCatalog::standard();
  const Geometry& g = touching.labels.geometry;
  bool adjacent = false;
  for (std::size_t k = 0; k < g.size[2] && !adjacent; ++k)
    for (std::size_t j = 0; j < g.size[1] && !adjacent; ++j)
      for (std::size_t i = 0; i + 2 < g.size[0]; ++i) {
        const auto a = catalog.decode(touching.labels.at(i, j, k)), b = catalog.decode(touching.labels.at(i + 2, j, k));
        if (a && b && a->side != b->side) {
          adjacent = true;
          break;
        }
      }
  EXPECT_TRUE(adjacent);

  PhantomParams fat = semi_real("vhf-calf-right", PhantomModality::MrDixon);
  fat.infiltration["all"] = {0.3, FatPattern::Diffuse};
  const Phantom infiltrated = make_phantom(fat, quiet);
  bool soleus_seen = false;
  for (const auto& s : infiltrated.slices[2].structures) {
    if (s.structure_key != "soleus") continue;
    soleus_seen = true;
    EXPECT_NEAR(s.fat_fraction, 0.3, 0.03);
  }
  EXPECT_TRUE(soleus_seen);
  PhantomParams thin = semi_real("vhf-calf-right", PhantomModality::CT);
  thin.muscle_area_scale = 0.6;
  PhantomParams full = thin;
  full.muscle_area_scale = 1;
  const Phantom atrophic = make_phantom(thin, quiet), normal = make_phantom(full, quiet);
  const double ratio = truth_area(atrophic, 2, "soleus", Side::Right) / truth_area(normal, 2, "soleus", Side::Right);
  EXPECT_NEAR(ratio, 0.6, 0.1);
}

TEST(SemiRealPhantom, LabelMapAnatomyHasNoLevelAndSaysSo) {
  Quiet quiet;
  PhantomParams p = semi_real("thigh11-training-water-thigh_026", PhantomModality::CT);
  p.slices = 0;
  p.slice_spacing_mm = 0;
  const Phantom ph = make_phantom(p, quiet);
  EXPECT_FALSE(ph.level.known);
  EXPECT_EQ(ph.level.nearest_slice, -1);
  EXPECT_EQ(ph.anatomy_source.group_only, std::vector<std::string>{"adductors"});
  EXPECT_NEAR(ph.labels.geometry.spacing_mm[2], 24, 1.0) << "on the source's own slices";
}

TEST(SemiRealPhantomCli, UnknownAtlasAndMissingLabelMapAreNamedErrors) {
  TempDir dir;
  const std::string bin = MUSCLECSA_BINARY;
  const auto unknown = run_command(bin + " phantom --anatomy-from nobody-thigh --modality ct --out " + quoted(dir / "a"));
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("nobody-thigh"), std::string::npos) << unknown.output;
  const auto missing = run_command(bin + " phantom --anatomy-from " + quoted(dir / "none.nii.gz") + " --modality ct --out " +
                                   quoted(dir / "b"));
  EXPECT_EQ(missing.exit_code, 3) << missing.output;
  EXPECT_NE(missing.output.find("none.nii.gz"), std::string::npos) << missing.output;
  const auto us = run_command(bin + " phantom --anatomy-from vhf-thigh --modality us --out " + quoted(dir / "c"));
  EXPECT_EQ(us.exit_code, 2) << us.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "a"));
}

TEST(SemiRealPhantom, EveryCommittedAtlasMakesAPhantomWithMuscleInItsMiddleSlice) {
  const auto dir = atlas::default_atlas_dir();
  const auto manifest = atlas::read_manifest(dir);
  ASSERT_GE(manifest.atlases.size(), 78u);
  Quiet quiet;
  for (const auto& e : manifest.atlases) {
    SCOPED_TRACE(e.id);
    PhantomParams p;
    p.anatomy_from = e.id;
    p.modality = PhantomModality::CT;
    p.columns = 96;
    p.pixel_spacing_mm = 3;
    p.slices = 3;
    p.slice_spacing_mm = 0;  // the atlas' own spacing (label maps) or 108% of the bone / 3
    p.supersampling = 1;
    const Phantom ph = make_phantom(p, quiet);
    ASSERT_EQ(ph.slices.size(), 3u);
    double muscle = 0;
    for (const auto& s : ph.slices[1].sides) muscle += s.muscle_area_mm2;
    EXPECT_GT(muscle, 1000) << "no muscle in the middle slice";
    EXPECT_EQ(ph.level.known, e.reference_bone.has_value());
  }
}
