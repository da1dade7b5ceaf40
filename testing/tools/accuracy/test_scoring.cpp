// The accuracy scorer (musclecsa_score, docs/accuracy.md): analytic answers on label maps built in
// memory, the side split of reference labels through the affine, and clear errors on bad input.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "musclecsa/core/catalog.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/io/text_file.h"
#include "scoring.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace musclecsa;
using namespace musclecsa::accuracy;
using musclecsa::testing::quoted;
using musclecsa::testing::run_command;
using musclecsa::testing::TempDir;

namespace {

// 40 x 20 x 4 voxels of 2 x 2 x 10 mm, x from -40 to +38 mm: the right leg (negative LPS x) in
// columns 2-15, the left leg in columns 24-37, nothing in columns 16-23.
Geometry grid() { return make_axial_geometry({40, 20, 4}, {2, 2, 10}, {-40, 0, 0}); }

void fill_box(LabelMap& labels, LabelId id, std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1) {
  for (std::size_t k = 0; k < labels.geometry.size[2]; ++k)
    for (std::size_t j = j0; j < j1; ++j)
      for (std::size_t i = i0; i < i1; ++i) labels.at(i, j, k) = id;
}

// Both legs: rectus femoris 10 x 5 voxels (i 3-12, j 2-6), vastus lateralis 10 x 5 (j 10-14), per side.
LabelMap two_legs(int rf_shift_i = 0) {
  const LabelCatalog& cat = LabelCatalog::standard();
  LabelMap labels(grid(), 0);
  for (Side side : kSides) {
    const std::size_t base = side == Side::Right ? 3 : 25;
    const std::size_t shift = side == Side::Right ? std::size_t(rf_shift_i) : 0;
    fill_box(labels, cat.label_id("rectus_femoris", side), base + shift, base + shift + 10, 2, 7);
    fill_box(labels, cat.label_id("vastus_lateralis", side), base, base + 10, 10, 15);
  }
  return labels;
}

// Level at slice 2 with the areas of the label map there.
SideLevel level_of(const LabelMap& labels, Side side, std::string field) {
  const LabelCatalog& cat = LabelCatalog::standard();
  SideLevel level;
  level.found = true;
  level.slice = 2;
  level.z_mm = 20;
  level.field = std::move(field);
  const double pixel_cm2 = labels.geometry.pixel_area_mm2() / 100;
  for (const char* key : {"rectus_femoris", "vastus_lateralis"}) {
    const LabelId id = cat.label_id(key, side);
    const auto* s = labels.slice(2);
    level.area_cm2[key] = double(std::count(s, s + labels.geometry.slice_voxel_count(), id)) * pixel_cm2;
  }
  level.area_cm2["quadriceps"] = level.area_cm2["rectus_femoris"] + level.area_cm2["vastus_lateralis"];
  level.area_cm2["muscle"] = level.area_cm2["quadriceps"];
  return level;
}

Truth phantom_truth(const LabelMap& labels, float ff) {
  Truth truth;
  truth.source = "memory truth";
  truth.form = "phantom";
  truth.labels = labels;
  truth.fat_fraction = Image<float>(labels.geometry, ff);
  for (Side side : kSides) truth.level[side == Side::Left] = level_of(labels, side, "area_cm2");
  return truth;
}

Result dixon_result(const LabelMap& labels, float ff) {
  Result result;
  result.source = "memory result";
  result.modality = "mr-dixon";
  result.labels = labels;
  result.fat_fraction = Image<float>(labels.geometry, ff);
  for (Side side : kSides) result.level[side == Side::Left] = level_of(labels, side, "csa_cm2");
  return result;
}

const Record& find(const std::vector<Record>& records, Side side, const std::string& key) {
  for (const auto& r : records)
    if (r.side == side && r.structure == key) return r;
  throw std::runtime_error("no record for " + key);
}

}  // namespace

TEST(Accuracy, ResultIdenticalToTheTruthScoresDiceOneAndNoError) {
  const LabelMap labels = two_legs();
  const auto records = score(phantom_truth(labels, 0.2f), dixon_result(labels, 0.2f));
  // Per side: 2 muscles, the thigh's 3 groups (adductors and hamstrings are empty: not in the truth),
  // all muscle.
  ASSERT_FALSE(records.empty());
  for (const auto& r : records) {
    if (r.truth_voxels == 0) continue;  // groups of the region absent from this truth
    SCOPED_TRACE(r.structure);
    ASSERT_TRUE(r.dice.has_value());
    EXPECT_DOUBLE_EQ(*r.dice, 1.0);
    ASSERT_TRUE(r.csa_level_error_pct.has_value()) << r.csa_level_note;
    EXPECT_DOUBLE_EQ(*r.csa_level_error_pct, 0.0);
    ASSERT_TRUE(r.csa_slices_mean_abs_error_pct.has_value());
    EXPECT_DOUBLE_EQ(*r.csa_slices_mean_abs_error_pct, 0.0);
    EXPECT_DOUBLE_EQ(*r.csa_slices_worst_abs_error_pct, 0.0);
    EXPECT_EQ(r.csa_slices_count, 4);
    ASSERT_TRUE(r.ff_error_points.has_value());
    EXPECT_NEAR(*r.ff_error_points, 0.0, 1e-5);
    EXPECT_NEAR(*r.ff_truth_pct, 20.0, 1e-4);
  }
  EXPECT_EQ(find(records, Side::Left, "quadriceps").kind, "group");
  EXPECT_EQ(find(records, Side::Left, "muscle").kind, "tissue");
  EXPECT_EQ(find(records, Side::Right, "rectus_femoris").truth_voxels, 10u * 5u * 4u);
}

TEST(Accuracy, MuscleShiftedByFourVoxelsGivesTheAnalyticDice) {
  // The right rectus femoris moved 4 of its 10 columns sideways: overlap 6/10, Dice 0.6; its area
  // is unchanged, so the CSA errors stay 0. The quadriceps (rectus 200 + lateralis 200 voxels)
  // loses 80 voxels of overlap: Dice 2 x 320 / 800 = 0.8. The left side is untouched.
  const auto records = score(phantom_truth(two_legs(), 0.f), dixon_result(two_legs(4), 0.f));
  EXPECT_NEAR(*find(records, Side::Right, "rectus_femoris").dice, 0.6, 1e-12);
  EXPECT_NEAR(*find(records, Side::Right, "quadriceps").dice, 0.8, 1e-12);
  EXPECT_NEAR(*find(records, Side::Right, "vastus_lateralis").dice, 1.0, 1e-12);
  EXPECT_NEAR(*find(records, Side::Left, "rectus_femoris").dice, 1.0, 1e-12);
  EXPECT_NEAR(find(records, Side::Right, "rectus_femoris").csa_slices_mean_abs_error_pct.value(), 0.0, 1e-12);
  EXPECT_NEAR(*find(records, Side::Right, "rectus_femoris").csa_level_error_pct, 0.0, 1e-12);
}

TEST(Accuracy, AreaAndFatFractionErrorsHaveTheirAnalyticValues) {
  // The result's right vastus lateralis is 8 columns wide instead of 10 (-20% in every slice) and
  // reads 35% fat where the truth holds 30%.
  const LabelCatalog& cat = LabelCatalog::standard();
  LabelMap narrow = two_legs();
  fill_box(narrow, 0, 11, 13, 10, 15);
  Result result = dixon_result(narrow, 0.35f);
  const auto records = score(phantom_truth(two_legs(), 0.30f), result);
  const Record& vl = find(records, Side::Right, "vastus_lateralis");
  EXPECT_NEAR(*vl.csa_level_error_pct, -20.0, 1e-9);
  EXPECT_NEAR(*vl.csa_at_truth_level_error_pct, -20.0, 1e-9);
  EXPECT_NEAR(*vl.csa_slices_mean_abs_error_pct, 20.0, 1e-9);
  EXPECT_NEAR(*vl.csa_slices_worst_abs_error_pct, 20.0, 1e-9);
  EXPECT_NEAR(*vl.dice, 2.0 * 160 / 360, 1e-12);
  EXPECT_NEAR(*vl.ff_error_points, 5.0, 1e-4);
  EXPECT_NEAR(*vl.csa_level_truth_cm2, 10 * 5 * 0.04, 1e-12);
  EXPECT_NEAR(*vl.csa_level_result_cm2, 8 * 5 * 0.04, 1e-12);
  EXPECT_EQ(cat.label_id("vastus_lateralis", Side::Right), 2);
}

TEST(Accuracy, MissingLevelGivesNullWithTheReason) {
  Result result = dixon_result(two_legs(), 0.f);
  result.level[0] = SideLevel{};
  result.level[0].reason = "analyze found no standard level: the femur reaches the end of the scanned range";
  const auto records = score(phantom_truth(two_legs(), 0.f), result);
  const Record& rf = find(records, Side::Right, "rectus_femoris");
  EXPECT_FALSE(rf.csa_level_error_pct.has_value());
  EXPECT_FALSE(rf.csa_level_result_cm2.has_value());
  EXPECT_TRUE(rf.csa_level_truth_cm2.has_value());
  EXPECT_NE(rf.csa_level_note.find("result: analyze found no standard level"), std::string::npos) << rf.csa_level_note;
  EXPECT_TRUE(find(records, Side::Left, "rectus_femoris").csa_level_error_pct.has_value());
}

TEST(Accuracy, OnlyTheTruthRegionsStructuresAreScoredAndGroupOnlyMembersAreNot) {
  // A thigh truth holding a gastrocnemius head above the knee: scored in "muscle" only, not as a
  // calf muscle or compartment. Hamstrings marked group-only: the group, not its members.
  const LabelCatalog& cat = LabelCatalog::standard();
  LabelMap labels = two_legs();
  fill_box(labels, cat.label_id("gastrocnemius_medial", Side::Right), 3, 13, 16, 18);
  fill_box(labels, cat.label_id("semitendinosus", Side::Right), 3, 13, 18, 20);
  Truth truth = phantom_truth(labels, 0.f);
  truth.region = BodyRegion::Thigh;
  truth.group_only = {"hamstrings"};
  const auto records = score(truth, dixon_result(two_legs(), 0.f));
  for (const auto& r : records) {
    EXPECT_NE(r.structure, "gastrocnemius_medial");
    EXPECT_NE(r.structure, "superficial_posterior_compartment_leg");
    EXPECT_NE(r.structure, "semitendinosus");
  }
  EXPECT_DOUBLE_EQ(*find(records, Side::Right, "hamstrings").dice, 0.0);
  const Record& all = find(records, Side::Right, "muscle");
  EXPECT_EQ(all.truth_voxels, 400u + 80u + 80u);
  EXPECT_NEAR(*all.dice, 2.0 * 400 / (560 + 400), 1e-12);
}

TEST(Accuracy, CtResultHasNoFatFractionError) {
  Result result = dixon_result(two_legs(), 0.f);
  result.modality = "ct";
  result.fat_fraction.reset();
  result.ff_note = "CT: no fat-fraction map";
  const auto records = score(phantom_truth(two_legs(), 0.1f), result);
  const Record& rf = find(records, Side::Right, "rectus_femoris");
  EXPECT_FALSE(rf.ff_error_points.has_value());
  EXPECT_NEAR(*rf.ff_truth_pct, 10.0, 1e-4);
  EXPECT_EQ(rf.ff_note, "CT: no fat-fraction map");
}

namespace {

// The two legs in the 11-label reference scheme: 2 rectus femoris, 3 vastus lateralis, 6 adductors
// (group). The right leg's rectus is 10 wide, the left's 6: the sides differ.
LabelMap reference_two_legs() {
  LabelMap ref(grid(), 0);
  fill_box(ref, 2, 3, 13, 2, 7);     // right rectus femoris (x -34..-16 mm)
  fill_box(ref, 3, 3, 13, 10, 15);   // right vastus lateralis
  fill_box(ref, 6, 3, 8, 16, 19);    // right adductors
  fill_box(ref, 2, 27, 33, 2, 7);    // left rectus femoris (x 14..24 mm)
  fill_box(ref, 3, 25, 35, 10, 15);  // left vastus lateralis
  return ref;
}

// The same voxels in patient space, stored with the columns in reverse order and an affine whose
// x axis points the other way.
LabelMap flipped(const LabelMap& in) {
  LabelMap out = in;
  const Geometry& g = in.geometry;
  out.geometry.direction[0] = -1;  // column 0 of the direction matrix: axis i now points to -x
  out.geometry.origin_lps_mm = g.index_to_lps({double(g.size[0] - 1), 0, 0});
  for (std::size_t k = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i) out.at(g.size[0] - 1 - i, j, k) = in.at(i, j, k);
  return out;
}

}  // namespace

TEST(Accuracy, ReferenceSideSplitFollowsTheAffineNotTheArrayOrder) {
  const LabelCatalog& cat = LabelCatalog::standard();
  const LabelMap ref = reference_two_legs();
  const LabelMap ref_flipped = flipped(ref);
  EXPECT_NEAR(midline_x_mm(ref, "ref"), midline_x_mm(ref_flipped, "flipped"), 1.0);
  const LabelMap a = reference_to_catalog(ref, "ref");
  const LabelMap b = reference_to_catalog(ref_flipped, "flipped");
  // Negative LPS x is the patient's right.
  EXPECT_EQ(a.at(5, 4, 0), cat.label_id("rectus_femoris", Side::Right));
  EXPECT_EQ(a.at(30, 4, 0), cat.label_id("rectus_femoris", Side::Left));
  EXPECT_EQ(a.at(5, 17, 0), cat.label_id("adductors", Side::Right));
  // Flipped storage: the same structure at the same patient position.
  for (std::size_t k = 0; k < 4; ++k)
    for (std::size_t j = 0; j < 20; ++j)
      for (std::size_t i = 0; i < 40; ++i) ASSERT_EQ(a.at(i, j, k), b.at(39 - i, j, k)) << i << "," << j << "," << k;

  // Written as NIfTI (the flipped one with its flipped affine), read back and scored against the
  // same result (on the unflipped grid): the same records.
  TempDir dir;
  io::write_image(ref, dir / "ref.nii.gz");
  io::write_image(ref_flipped, dir / "ref_flipped.nii.gz");
  const Truth ta = read_reference_truth(dir / "ref.nii.gz");
  const Truth tb = read_reference_truth(dir / "ref_flipped.nii.gz");
  EXPECT_FALSE(tb.labels.geometry.same_grid_as(ta.labels.geometry));
  LabelMap result_labels = a;
  fill_box(result_labels, cat.label_id("adductor_longus", Side::Right), 3, 8, 16, 19);  // members of the group
  Result result = dixon_result(result_labels, 0.25f);
  const auto ra = score(ta, result), rb = score(tb, result);
  ASSERT_EQ(ra.size(), rb.size());
  for (std::size_t n = 0; n < ra.size(); ++n) {
    EXPECT_EQ(ra[n].structure, rb[n].structure);
    EXPECT_EQ(ra[n].side, rb[n].side);
    EXPECT_EQ(ra[n].dice, rb[n].dice) << ra[n].structure;
    EXPECT_EQ(ra[n].csa_slices_mean_abs_error_pct, rb[n].csa_slices_mean_abs_error_pct);
  }
  // The left rectus is 6 wide in the truth and 6 wide in the result: Dice 1 on both.
  EXPECT_DOUBLE_EQ(*find(ra, Side::Left, "rectus_femoris").dice, 1.0);
  // Adductors: scored as a group only (the reference has no members), and the result's member
  // counts towards it.
  EXPECT_DOUBLE_EQ(*find(ra, Side::Right, "adductors").dice, 1.0);
  EXPECT_EQ(std::count_if(ra.begin(), ra.end(), [](const Record& r) { return r.structure == "adductor_longus"; }), 0);
  // No truth FF map: the reference FF is the result's map over the reference voxels.
  EXPECT_NEAR(*find(ra, Side::Right, "rectus_femoris").ff_error_points, 0.0, 1e-4);
  EXPECT_NE(find(ra, Side::Right, "rectus_femoris").ff_note.find("reference FF"), std::string::npos);
  // No level in a reference label map.
  EXPECT_NE(find(ra, Side::Right, "quadriceps").csa_level_note.find("no standard level"), std::string::npos);
}

TEST(Accuracy, ReferenceWithOneLegOnlyIsRefusedNamingTheFile) {
  LabelMap ref(grid(), 0);
  fill_box(ref, 2, 3, 13, 2, 7);
  try {
    reference_to_catalog(ref, "one_leg.nii.gz");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_EQ(e.input(), "one_leg.nii.gz");
  }
}

TEST(Accuracy, ResultOnAnotherGridIsResampledThroughPatientCoordinates) {
  // The result stored with its columns reversed (flipped affine): same patient positions, Dice 1.
  const LabelMap labels = two_legs();
  Result result = dixon_result(flipped(labels), 0.f);
  result.fat_fraction->geometry = result.labels.geometry;
  const auto records = score(phantom_truth(labels, 0.f), result);
  for (const auto& r : records) {
    if (r.truth_voxels == 0) continue;
    EXPECT_DOUBLE_EQ(*r.dice, 1.0) << r.structure;
  }
}

// ------------------------------------------------------------------------------------------------
// Files and the command line

namespace {
const fs::path kScore = MUSCLECSA_SCORE_BINARY;
const fs::path kMusclecsa = MUSCLECSA_BINARY;
const fs::path kShared = SHARED_DATA_DIR;
}  // namespace

TEST(Accuracy, PhantomAndItsAnalysisScoreThroughTheFiles) {
  TempDir dir;
  const fs::path phantom = dir / "phantom", result = dir / "result", out = dir / "score.json";
  ASSERT_EQ(run_command(quoted(kMusclecsa) + " phantom --anatomy thigh --modality mr-dixon --columns 128 --slices 24 "
                        "--slice-spacing-mm 20 --seed 3 --quiet --out " + quoted(phantom)).exit_code, 0);
  // The analytic phantom is drawn from the layout: split by it (plumbing; the atlas split is scored on real anatomy).
  ASSERT_EQ(run_command(quoted(kMusclecsa) + " analyze " + quoted(phantom / "dicom") + " --muscle-prior layout --quiet --out " + quoted(result)).exit_code, 0);
  const auto run = run_command(quoted(kScore) + " --result " + quoted(result) + " --truth-phantom " + quoted(phantom) +
                               " --case-id c1 --subject analytic-thigh --tag noise_sd=12 --tag septa=visible --out " + quoted(out));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto doc = nlohmann::json::parse(io::read_text(out));
  ASSERT_TRUE(doc.is_array());
  ASSERT_GE(doc.size(), 2u * (13 + 3 + 1));
  bool saw_group = false;
  for (const auto& r : doc) {
    EXPECT_EQ(r["case_id"], "c1");
    EXPECT_EQ(r["modality"], "mr-dixon");
    EXPECT_EQ(r["tags"]["septa"], "visible");
    EXPECT_EQ(r["result_grid"], "same_as_truth");
    EXPECT_EQ(r["result_protocol"], "thigh-mr");
    EXPECT_TRUE(r["dice"].is_number());
    if (r["kind"] == "group") {
      saw_group = true;
      EXPECT_GT(r["dice"].get<double>(), 0.8) << r["structure"];  // a sanity floor for plumbing, not an accuracy target
      EXPECT_TRUE(r["csa_level_error_pct"].is_number()) << r["csa_level_note"];
      EXPECT_TRUE(r["ff_error_points"].is_number());
      EXPECT_EQ(r["csa_level_truth_slice"], 12);
    }
  }
  EXPECT_TRUE(saw_group);
}

TEST(Accuracy, PhantomTruthWithoutALevelIsReadWithTheReason) {
  // A phantom whose anatomy does not reach both ends of its bone: truth.json without a level.
  TempDir dir;
  const LabelMap labels = two_legs();
  io::write_image(labels, dir / "p/truth/labels.nii.gz");
  io::write_image(Image<float>(labels.geometry, 0.1f), dir / "p/truth/fat_fraction.nii.gz");
  nlohmann::json truth = {{"format", "musclecsa-phantom-truth"}, {"slices", nlohmann::json::array()}};
  for (int k = 0; k < 4; ++k)
    truth["slices"].push_back({{"slice", k}, {"z_mm", 10.0 * k}, {"structures", nlohmann::json::array()}, {"sides", nlohmann::json::array()}});
  io::write_text_atomically(dir / "p/truth/truth.json", truth.dump());
  Truth t = read_phantom_truth(dir / "p");
  EXPECT_FALSE(t.level[0].found);
  EXPECT_EQ(t.level[1].reason, "truth.json gives no standard level");
  // As semi-real phantoms write it: nearest_slice -1, nulls and the reason.
  truth["level"] = {{"name", "femur_50pct"}, {"nearest_slice", -1}, {"level_z_mm", nullptr},
                    {"unknown_because", "the anatomy does not reach both ends of the femur"}};
  io::write_text_atomically(dir / "p/truth/truth.json", truth.dump());
  EXPECT_EQ(read_phantom_truth(dir / "p").level[0].reason,
            "the phantom has no femur_50pct: the anatomy does not reach both ends of the femur");
  truth.erase("level");
  io::write_text_atomically(dir / "p/truth/truth.json", truth.dump());
  t = read_phantom_truth(dir / "p");
  const auto records = score(t, dixon_result(labels, 0.1f));
  EXPECT_NE(find(records, Side::Left, "quadriceps").csa_level_note.find("truth: truth.json gives no standard level"), std::string::npos);
  EXPECT_DOUBLE_EQ(*find(records, Side::Left, "quadriceps").dice, 1.0);

  // A truth.json of the wrong shape is refused as corrupt, naming it (not an internal error).
  truth["slices"][2]["z_mm"] = nullptr;
  truth["level"] = {{"name", "femur_50pct"}, {"nearest_slice", 2}};
  io::write_text_atomically(dir / "p/truth/truth.json", truth.dump());
  try {
    read_phantom_truth(dir / "p");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_NE(e.input().find("truth.json"), std::string::npos) << e.what();
  }
  // A truth.json whose slices do not match labels.nii.gz is refused, naming it.
  truth["slices"].erase(3);
  io::write_text_atomically(dir / "p/truth/truth.json", truth.dump());
  try {
    read_phantom_truth(dir / "p");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_NE(e.input().find("truth.json"), std::string::npos) << e.what();
  }
}

TEST(Accuracy, MissingOrCorruptInputIsNamedAndNothingIsWritten) {
  TempDir dir;
  const fs::path result = dir / "result", out = dir / "score.json";
  fs::create_directories(result);
  io::write_text_atomically(result / "results.json", "{ this is not json");
  const fs::path truth_labels = kShared / "mri/thigh-dixon-dystrophy/thigh001_labels_nnunet.nii.gz";
  auto run = run_command(quoted(kScore) + " --result " + quoted(result) + " --truth-labels " + quoted(truth_labels) +
                         " --out " + quoted(out));
  EXPECT_EQ(run.exit_code, 4) << run.output;
  EXPECT_NE(run.output.find("results.json"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(out));

  run = run_command(quoted(kScore) + " --result " + quoted(dir / "nowhere") + " --truth-labels " + quoted(truth_labels) +
                    " --out " + quoted(out));
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_NE(run.output.find("nowhere"), std::string::npos) << run.output;

  run = run_command(quoted(kScore) + " --result " + quoted(result) + " --out " + quoted(out));
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_FALSE(fs::exists(out));
  for (const auto& entry : fs::directory_iterator(dir.path())) EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos);
}

TEST(Accuracy, RealDixonThighScoresBothSidesAgainstItsReferenceLabels) {
  // thigh001 of mri/thigh-dixon-dystrophy: analyze with --water/--fat, scored against the nnU-Net
  // labels (a model's prediction, the reference here). A plumbing test: every group is scored on
  // both sides and the scores are numbers.
  TempDir dir;
  const fs::path data = kShared / "mri/thigh-dixon-dystrophy";
  const fs::path water = data / "thigh001_water.nii.gz", result = dir / "result", out = dir / "score.json";
  ASSERT_EQ(run_command(quoted(kMusclecsa) + " analyze " + quoted(water) + " --water " + quoted(water) + " --fat " +
                        quoted(data / "thigh001_fat.nii.gz") + " --protocol thigh-mr --quiet --out " + quoted(result)).exit_code, 0);
  const auto run = run_command(quoted(kScore) + " --result " + quoted(result) + " --truth-labels " +
                               quoted(data / "thigh001_labels_nnunet.nii.gz") + " --subject thigh001 --out " + quoted(out));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto doc = nlohmann::json::parse(io::read_text(out));
  for (const char* side : {"right", "left"})
    for (const char* group : {"quadriceps", "hamstrings", "adductors", "sartorius", "gracilis", "muscle"}) {
      const auto it = std::find_if(doc.begin(), doc.end(), [&](const auto& r) { return r["side"] == side && r["structure"] == group; });
      ASSERT_NE(it, doc.end()) << side << " " << group;
      EXPECT_TRUE((*it)["dice"].is_number());
      EXPECT_TRUE((*it)["ff_error_points"].is_number());
      EXPECT_EQ((*it)["truth_form"], "reference_labels");
    }
  EXPECT_EQ(std::count_if(doc.begin(), doc.end(), [](const auto& r) { return r["structure"] == "adductor_magnus"; }), 0);
}
