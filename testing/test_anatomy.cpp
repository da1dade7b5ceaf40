// The multi-atlas muscle prior (modules/anatomy): on a semi-real phantom of a subject whose atlases
// are left out, the fused atlases place the groups where the real anatomy has them (and better than
// the hand-made layout); confidence is carried to the measurements and withholds untrusted level
// values; bad atlas folders and exclusions are named errors.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "musclecsa/anatomy/multi_atlas.h"
#include "musclecsa/atlas/atlas.h"
#include "musclecsa/core/error.h"
#include "musclecsa/phantom/phantom.h"
#include "musclecsa/quantify/ct_measures.h"
#include "musclecsa/segment/ct_tissue.h"
#include "test_support.h"

using namespace musclecsa;
using musclecsa::testing::TempDir;

namespace {

class Quiet final : public Progress {
 public:
  void report(double, std::string_view) override {}
};

/// A semi-real CT of both legs of an atlas subject around the middle of its anatomy.
phantom::Phantom semi_real_ct(const std::string& anatomy_from, std::size_t columns, int slices, double spacing_mm) {
  phantom::PhantomParams p;
  p.anatomy_from = anatomy_from;
  p.modality = phantom::PhantomModality::CT;
  p.columns = columns;
  p.pixel_spacing_mm = 0.9;
  p.slices = slices;
  p.slice_spacing_mm = spacing_mm;
  p.noise_sd = 15;
  Quiet quiet;
  return phantom::make_phantom(p, quiet);
}

/// Both Visible Human male thighs around mid-femur (his atlases are left out).
const phantom::Phantom& vhm_thighs() {
  static const phantom::Phantom ph = semi_real_ct("vhm-thigh", 512, 5, 25);
  return ph;
}

/// Dice of a group (all its members' labels) on one side between two label maps on one grid.
double group_dice(const LabelMap& truth, const LabelMap& result, const std::string& group, Side side) {
  const auto& catalog = LabelCatalog::standard();
  std::vector<LabelId> ids;
  for (const Structure* m : catalog.members_of(group)) ids.push_back(catalog.label_id(m->key, side));
  const auto in = [&](LabelId l) { return std::find(ids.begin(), ids.end(), l) != ids.end(); };
  std::size_t t = 0, r = 0, both = 0;
  for (std::size_t n = 0; n < truth.voxels.size(); ++n) {
    const bool a = in(truth.voxels[n]), b = in(result.voxels[n]);
    t += a, r += b, both += a && b;
  }
  return t + r == 0 ? 0 : 2.0 * double(both) / double(t + r);
}

segment::TissueSegmentation split(const phantom::Phantom& ph, const std::string& prior,
                                  const std::vector<std::string>& excluded, segment::CtProtocol protocol) {
  Quiet quiet;
  protocol.muscles.prior = prior;
  auto seg = segment::segment_ct_tissues(ph.series[0].image, protocol, quiet);
  anatomy::MultiAtlasOptions options;
  options.exclude_subjects = excluded;
  anatomy::segment_muscles(ph.series[0].image, protocol, seg, options, quiet);
  return seg;
}

}  // namespace

TEST(MultiAtlas, LeftOutSubjectsGroupsFollowTheRealAnatomyBetterThanTheLayout) {
  const auto& ph = vhm_thighs();
  const auto protocol = segment::builtin_ct_protocol("thigh-ct");
  const auto atlas = split(ph, "atlas", {"VHM"}, protocol);
  const auto layout = split(ph, "layout", {"VHM"}, protocol);
  EXPECT_EQ(atlas.muscle_prior, "atlas");
  EXPECT_FALSE(atlas.atlases_used.empty());
  for (const auto& id : atlas.atlases_used) EXPECT_EQ(id.rfind("vhm-", 0), std::string::npos) << id << " is the subject itself";
  for (Side side : {Side::Right, Side::Left})
    for (const char* group : {"quadriceps", "hamstrings", "adductors"}) {
      SCOPED_TRACE(std::string(group) + " " + std::string(to_string(side)));
      const double a = group_dice(ph.labels, atlas.labels, group, side);
      const double l = group_dice(ph.labels, layout.labels, group, side);
      std::cout << "  " << group << " " << to_string(side) << ": atlas Dice " << a << ", layout Dice " << l << "\n";
      EXPECT_GE(a, 0.90);
    }
  double atlas_mean = 0, layout_mean = 0;
  for (Side side : {Side::Right, Side::Left})
    for (const char* group : {"quadriceps", "hamstrings", "adductors"}) {
      atlas_mean += group_dice(ph.labels, atlas.labels, group, side) / 6;
      layout_mean += group_dice(ph.labels, layout.labels, group, side) / 6;
    }
  EXPECT_GE(atlas_mean, 0.93);
  EXPECT_GE(atlas_mean, layout_mean + 0.3);
  // Every muscle of every leg and slice has a confidence; the prior's notes say how it was made.
  EXPECT_FALSE(atlas.muscle_confidence.empty());
  for (const auto& c : atlas.muscle_confidence) {
    EXPECT_GE(c.agreement, 0.0);
    EXPECT_LE(c.agreement, 1.0);
    if (c.low_confidence) {
      EXPECT_FALSE(c.reason.empty());
    }
  }
  EXPECT_NE(std::find_if(atlas.notes.begin(), atlas.notes.end(), [](const std::string& n) { return n.rfind("multi-atlas", 0) == 0; }),
            atlas.notes.end());
}

TEST(MultiAtlas, LowConfidenceIsFlaggedOnEverySliceAndWithheldAtTheLevel) {
  const auto& ph = vhm_thighs();
  auto protocol = segment::builtin_ct_protocol("thigh-ct");
  protocol.muscles.min_atlas_agreement = 1.0;  // nothing is that sure: every muscle is low-confidence
  const auto seg = split(ph, "atlas", {"VHM"}, protocol);
  quantify::LevelOptions level;
  level.level_slice = 2;
  auto used = protocol;
  used.muscles.prior = "atlas";
  const auto results = quantify::measure_ct(ph.series[0].image, seg, used, level);
  const auto records = quantify::to_measurements(results, used);
  int withheld = 0, flagged_slice_values = 0, muscle_level_values = 0;
  for (const auto& m : records) {
    const Structure* s = LabelCatalog::standard().find(m.structure_key);
    const bool muscle = s != nullptr && (s->kind == StructureKind::Muscle || s->kind == StructureKind::MuscleGroup);
    if (!muscle) {
      EXPECT_FALSE(m.withheld) << m.structure_key << " " << m.quantity << ": tissue-level values stay";
      continue;
    }
    if (!m.level.empty()) {
      ++muscle_level_values;
      EXPECT_TRUE(m.withheld) << m.structure_key << " " << m.quantity;
      EXPECT_EQ(m.withheld_reason.rfind("muscle_low_confidence:", 0), 0u) << m.withheld_reason;
      withheld += m.withheld;
    } else {
      flagged_slice_values += std::count(m.qc_flags.begin(), m.qc_flags.end(), "muscle_low_confidence") > 0;
      EXPECT_FALSE(m.withheld);
    }
  }
  EXPECT_GT(muscle_level_values, 20);
  EXPECT_EQ(withheld, muscle_level_values);
  EXPECT_GT(flagged_slice_values, 100);
  for (const auto& s : results.slices)
    if (!s.sides.empty()) {
      EXPECT_NE(std::find(s.qc_flags.begin(), s.qc_flags.end(), "muscle_low_confidence"), s.qc_flags.end());
    }
}

TEST(MultiAtlas, DefaultConfidenceWithholdsOnlySomeAndKeepsTheRestTrusted) {
  const auto& ph = vhm_thighs();
  const auto protocol = segment::builtin_ct_protocol("thigh-ct");
  const auto seg = split(ph, "atlas", {"VHM"}, protocol);
  std::size_t low = 0;
  for (const auto& c : seg.muscle_confidence) low += c.low_confidence;
  // Mid-thigh of a subject the atlases resemble: most muscles trusted, not all (a test that
  // withheld everything or nothing would tell nothing).
  EXPECT_LT(double(low), 0.5 * double(seg.muscle_confidence.size()));
}

TEST(MultiAtlas, ExcludingEverySubjectOrABrokenAtlasFolderIsANamedError) {
  const auto& ph = vhm_thighs();
  Quiet quiet;
  const auto protocol = segment::builtin_ct_protocol("thigh-ct");
  auto seg = segment::segment_ct_tissues(ph.series[0].image, protocol, quiet);
  anatomy::MultiAtlasOptions all;
  const auto manifest = atlas::read_manifest(atlas::default_atlas_dir());
  for (const auto& e : manifest.atlases) all.exclude_subjects.push_back(e.subject);
  try {
    anatomy::fuse_atlas_prior(seg, protocol, all, quiet);
    FAIL() << "no atlas left must be an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_NE(std::string(e.what()).find("no thigh atlas is left"), std::string::npos) << e.what();
  }
  TempDir dir;
  anatomy::MultiAtlasOptions broken;
  broken.atlas_dir = dir.path();
  {
    std::ofstream(dir.path() / "manifest.json") << "{ not json";
  }
  try {
    anatomy::fuse_atlas_prior(seg, protocol, broken, quiet);
    FAIL() << "a corrupt manifest must be an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("manifest.json"), std::string::npos) << e.what();
  }
  std::filesystem::remove(dir.path() / "manifest.json");
  try {
    anatomy::fuse_atlas_prior(seg, protocol, broken, quiet);
    FAIL() << "a missing atlas folder content must be an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InputNotFound);
  }
}

TEST(MultiAtlas, CalfWithTheAtlasesOfOneSubjectLeftIsNeverTrusted) {
  // Four calf atlases of two subjects: with one left out, the other's two legs cannot say how far
  // real calves vary, so no calf muscle or compartment is trusted (tissue values stay).
  const auto ph = semi_real_ct("vhf-calf", 400, 3, 30);
  const auto seg = split(ph, "atlas", {"VHF"}, segment::builtin_ct_protocol("calf-ct"));
  ASSERT_FALSE(seg.muscle_confidence.empty());
  for (const auto& c : seg.muscle_confidence) {
    if (c.area_mm2 < 100 && c.atlas_mean_area_mm2 < 100) continue;  // not judged
    EXPECT_TRUE(c.low_confidence);
    EXPECT_EQ(c.reason, "few_atlas_subjects");
    EXPECT_LE(c.atlas_subjects, 1);  // 0: a muscle no atlas put here (the fill)
  }
}
