// Real-anatomy atlases: surfaces read and voxelised with known volumes, the upstream name map, the
// committed atlases rebuilt voxel for voxel from ../shared/data, legs told apart by the affine, and
// bad inputs refused with their names and no half-written atlas.

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include "mesh.h"
#include "musclecsa/atlas/atlas.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "slice_ops.h"
#include "test_support.h"

using namespace musclecsa;
using namespace musclecsa::atlas;
using musclecsa::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const fs::path kShared = SHARED_DATA_DIR;
const fs::path kCommitted = fs::path(MUSCLECSA_SOURCE_DIR) / "data" / "atlas";

class Quiet final : public Progress {
 public:
  void report(double, std::string_view) override {}
  bool cancelled() const override { return false; }
};

/// Writes a closed box [lo, hi] as a binary STL (12 triangles).
void write_box_stl(const fs::path& path, Vec3 lo, Vec3 hi) {
  const Vec3 c[8] = {{lo.x, lo.y, lo.z}, {hi.x, lo.y, lo.z}, {hi.x, hi.y, lo.z}, {lo.x, hi.y, lo.z},
                     {lo.x, lo.y, hi.z}, {hi.x, lo.y, hi.z}, {hi.x, hi.y, hi.z}, {lo.x, hi.y, hi.z}};
  const int faces[12][3] = {{0, 2, 1}, {0, 3, 2}, {4, 5, 6}, {4, 6, 7}, {0, 1, 5}, {0, 5, 4},
                            {1, 2, 6}, {1, 6, 5}, {2, 3, 7}, {2, 7, 6}, {3, 0, 4}, {3, 4, 7}};
  std::ofstream out(path, std::ios::binary);
  char header[80] = {};
  out.write(header, 80);
  const std::uint32_t n = 12;
  out.write(reinterpret_cast<const char*>(&n), 4);
  for (const auto& f : faces) {
    float v[12] = {};
    for (int k = 0; k < 3; ++k) {
      v[3 + 3 * k] = static_cast<float>(c[f[k]].x);
      v[4 + 3 * k] = static_cast<float>(c[f[k]].y);
      v[5 + 3 * k] = static_cast<float>(c[f[k]].z);
    }
    out.write(reinterpret_cast<const char*>(v), sizeof v);
    const std::uint16_t attr = 0;
    out.write(reinterpret_cast<const char*>(&attr), 2);
  }
}

/// An 11-label thigh pair on an axial grid: a vastus intermedius ring (r 15-30 mm) around an empty
/// femur hole and a rectus femoris in front of it, per thigh; the thigh at patient-left (+x LPS) is
/// larger. `flip_x` stores the columns in reverse order with a negative x axis (same anatomy).
LabelMap synthetic_thigh_pair(bool flip_x) {
  const std::size_t nx = 300, ny = 160, nz = 5;
  Geometry g = make_axial_geometry({nx, ny, nz}, {1, 1, 20}, {-150, -80, 0});
  if (flip_x) {
    g.direction = {-1, 0, 0, 0, 1, 0, 0, 0, 1};
    g.origin_lps_mm.x = 149;
  }
  LabelMap m(g);
  for (std::size_t k = 0; k < nz; ++k)
    for (std::size_t j = 0; j < ny; ++j)
      for (std::size_t i = 0; i < nx; ++i) {
        const Vec3 p = g.index_to_lps({double(i), double(j), double(k)});
        for (const auto& [cx, scale] : {std::pair{-70.0, 1.0}, std::pair{70.0, 1.25}}) {
          const double r = std::hypot(p.x - cx, p.y) / scale;
          if (r >= 15 && r < 30) m.at(i, j, k) = 4;                                      // vastus intermedius
          if (std::hypot(p.x - cx, p.y + 40 * scale) < 10 * scale) m.at(i, j, k) = 2;     // rectus femoris
          if (r >= 30 && r < 45 && p.y > 0) m.at(i, j, k) = 6;                           // adductors
        }
      }
  return m;
}

/// Rewrites a .nii.gz with its qform and sform codes set to 0 (no affine).
void strip_affine(const fs::path& file) {
  gzFile in = gzopen(file.string().c_str(), "rb");
  std::string bytes;
  char buffer[1 << 16];
  for (int n; (n = gzread(in, buffer, sizeof buffer)) > 0;) bytes.append(buffer, static_cast<std::size_t>(n));
  gzclose(in);
  std::memset(bytes.data() + 252, 0, 4);
  gzFile out = gzopen(file.string().c_str(), "wb");
  gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(out);
}

std::map<LabelId, std::size_t> counts(const LabelMap& m) {
  std::map<LabelId, std::size_t> c;
  for (LabelId v : m.voxels) ++c[v];
  return c;
}

}  // namespace

TEST(AtlasMesh, VoxelisedBoxHasItsVolumeInBinaryAndAsciiStl) {
  TempDir dir;
  write_box_stl(dir / "box.stl", {10.2, -5.3, 3.1}, {30.2, 14.7, 23.1});  // 20 x 20 x 20 mm
  const detail::Mesh mesh = detail::read_stl(dir / "box.stl");
  EXPECT_EQ(mesh.triangles.size(), 12u);
  EXPECT_EQ(mesh.open_edges, 0u);
  const Geometry g = make_axial_geometry({50, 50, 50}, {1, 1, 1}, {0, -20, -10});
  std::vector<std::uint8_t> mask(g.voxel_count(), 0);
  detail::voxelize(mesh, g, mask);
  std::size_t n = 0;
  for (auto v : mask) n += v;
  EXPECT_EQ(n, 8000u);  // voxel centres inside a 20 mm cube not aligned with them: exactly 20^3

  // The same box as ASCII STL gives the same triangles.
  std::ofstream ascii(dir / "box_ascii.stl");
  ascii << "solid box\n";
  for (const auto& t : mesh.triangles) {
    ascii << "facet normal 0 0 0\n outer loop\n";
    for (const auto& v : t) ascii << "  vertex " << v.x << " " << v.y << " " << v.z << "\n";
    ascii << " endloop\nendfacet\n";
  }
  ascii << "endsolid box\n";
  ascii.close();
  const detail::Mesh again = detail::read_stl(dir / "box_ascii.stl");
  ASSERT_EQ(again.triangles.size(), 12u);
  std::vector<std::uint8_t> mask2(g.voxel_count(), 0);
  detail::voxelize(again, g, mask2);
  EXPECT_EQ(mask2, mask);
}

TEST(AtlasMesh, MissingTruncatedAndNonFiniteSurfacesAreNamedErrors) {
  TempDir dir;
  try {
    detail::read_stl(dir / "absent.stl");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InputNotFound);
    EXPECT_NE(std::string(e.what()).find("absent.stl"), std::string::npos);
  }
  write_box_stl(dir / "box.stl", {0, 0, 0}, {1, 1, 1});
  fs::resize_file(dir / "box.stl", 84 + 50 * 5);  // header still says 12 triangles
  try {
    detail::read_stl(dir / "box.stl");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "nan.stl") << "solid x\nfacet normal 0 0 0\nouter loop\nvertex nan 0 0\nvertex 1 0 0\nvertex 0 1 0\n"
                                    "endloop\nendfacet\nendsolid x\n";
  EXPECT_THROW(detail::read_stl(dir / "nan.stl"), Error);
}

TEST(AtlasSlice, DistanceTransformIsEuclideanWithAnisotropicPixels) {
  detail::SliceShape shape{41, 21, 0.5, 2.0};
  std::vector<std::uint8_t> mask(41 * 21, 0);
  mask[20 + 41 * 10] = 1;
  const auto d = detail::distance_to(mask, shape);
  EXPECT_FLOAT_EQ(d[20 + 41 * 10], 0.0f);
  EXPECT_NEAR(d[30 + 41 * 10], 5.0, 1e-5);                       // 10 columns of 0.5 mm
  EXPECT_NEAR(d[20 + 41 * 13], 6.0, 1e-5);                       // 3 rows of 2 mm
  EXPECT_NEAR(d[28 + 41 * 12], std::hypot(4.0, 4.0), 1e-5);
}

TEST(AtlasNames, EveryUpstreamMeshNameIsMappedIncludingTheMisspellings) {
  EXPECT_EQ(catalog_key_for_mesh("VHM_Left_Muscle_Semitendonosus.stl"), "semitendinosus");
  EXPECT_EQ(catalog_key_for_mesh("VHF_Right_Muscle_Semitendinosus.stl"), "semitendinosus");
  EXPECT_EQ(catalog_key_for_mesh("VHM_Left_Muscle_BicepsFemorisLongus.stl"), "biceps_femoris_long_head");
  EXPECT_EQ(catalog_key_for_mesh("VHF_Left_Muscle_BicepsFemorisLong.stl"), "biceps_femoris_long_head");
  EXPECT_EQ(catalog_key_for_mesh("VHM_Left_Muscle_ExtensorHallicusLongus.stl"), "extensor_hallucis_longus");
  EXPECT_EQ(catalog_key_for_mesh("VHF_Right_Muscle_QuadratisFemoris.stl"), "skeletal_muscle");
  EXPECT_EQ(catalog_key_for_mesh("VHF_Left_Muscle_Illiacus.stl"), "skeletal_muscle");
  EXPECT_EQ(catalog_key_for_mesh("VHF_Left_Bone_Tibia.stl"), "tibia");
  EXPECT_EQ(catalog_key_for_mesh("VHF_Left_Muscle_Deltoid.stl"), "");
  // Every surface in the shared data is known.
  std::size_t seen = 0;
  for (const auto& e : fs::recursive_directory_iterator(kShared / "anatomy" / "denver-vh"))
    if (e.path().extension() == ".stl") {
      ++seen;
      EXPECT_NE(catalog_key_for_mesh(e.path().filename().string()), "") << e.path();
    }
  EXPECT_GT(seen, 150u);
}

TEST(AtlasBuild, CommittedVisibleHumanAtlasIsRebuiltVoxelForVoxel) {
  TempDir dir;
  BuildOptions o;
  o.shared_data_dir = kShared;
  o.out_dir = dir / "atlas";
  o.only = {"vhf-thigh-right", "vhm-calf-left"};
  Quiet quiet;
  const BuildReport report = build_atlases(o, quiet);
  ASSERT_EQ(report.manifest.atlases.size(), 2u);
  const Manifest committed = read_manifest(kCommitted);
  for (const auto& built : report.manifest.atlases) {
    SCOPED_TRACE(built.id);
    const AtlasEntry& ref = find_atlas(committed, built.id);
    EXPECT_EQ(built.size, ref.size);
    EXPECT_EQ(built.structures, ref.structures);
    EXPECT_EQ(built.notes, ref.notes);
    ASSERT_TRUE(built.reference_bone && ref.reference_bone);
    EXPECT_NEAR(built.reference_bone->length_mm(), ref.reference_bone->length_mm(), 1e-6);
    const LabelMap a = load_atlas_labels(o.out_dir, built), b = load_atlas_labels(kCommitted, ref);
    EXPECT_TRUE(a.geometry.same_grid_as(b.geometry));
    EXPECT_EQ(a.voxels, b.voxels) << "data/atlas is stale: rebuild it with `musclecsa atlas build`";
  }
}

TEST(AtlasBuild, CommittedAtlasesCoverTheRequiredSubjectsWithPlausibleAnatomy) {
  const Manifest m = read_manifest(kCommitted);
  std::map<std::string, int> per_region_vh;
  std::size_t label_map_thighs = 0;
  for (const auto& e : m.atlases) {
    if (e.source == "denver-vh") ++per_region_vh[std::string(to_string(e.region))];
    if (e.source == "thigh-11-muscles") ++label_map_thighs;
  }
  EXPECT_GE(per_region_vh["thigh"], 4);
  EXPECT_GE(per_region_vh["calf"], 4);
  EXPECT_EQ(label_map_thighs, 66u);  // 33 maps, both thighs each
  // The Visible Human femora are 38-50 cm long and every VH thigh holds every thigh muscle.
  const auto& catalog = LabelCatalog::standard();
  for (const auto& e : m.atlases) {
    if (e.source != "denver-vh") continue;
    SCOPED_TRACE(e.id);
    ASSERT_TRUE(e.reference_bone.has_value());
    EXPECT_GT(e.reference_bone->length_mm(), e.region == BodyRegion::Thigh ? 380 : 320);
    EXPECT_LT(e.reference_bone->length_mm(), e.region == BodyRegion::Thigh ? 500 : 450);
    for (const Structure* s : catalog.muscles_of(e.region)) {
      if (s->key == "peroneus_brevis") continue;  // upstream holds both peroneals in one surface
      EXPECT_NE(std::find(e.structures.begin(), e.structures.end(), s->key), e.structures.end()) << s->key;
    }
  }
  // Licenses and the CC BY citation travel with the atlases.
  std::ifstream readme_file(kCommitted / "README.md");
  const std::string readme((std::istreambuf_iterator<char>(readme_file)), std::istreambuf_iterator<char>());
  EXPECT_NE(readme.find("CC BY 4.0"), std::string::npos);
  EXPECT_NE(readme.find("10.1038/s41597-022-01905-2"), std::string::npos);
}

TEST(AtlasBuild, LegsAreToldApartByTheAffineNotTheArrayOrder) {
  for (bool flip : {false, true}) {
    SCOPED_TRACE(flip ? "x axis reversed" : "identity");
    TempDir dir;
    const fs::path file = dir / "Training__T1__THIGH_900_0002.nii.gz";
    io::write_image(synthetic_thigh_pair(flip), file);
    const auto legs = atlases_from_label_map(file, BuildOptions{});
    ASSERT_EQ(legs.size(), 2u);
    std::map<Side, std::size_t> vi;
    const auto& catalog = LabelCatalog::standard();
    for (const auto& leg : legs) vi[leg.entry.side] = counts(leg.labels)[catalog.label_id("vastus_intermedius", leg.entry.side)];
    EXPECT_GT(vi[Side::Left], vi[Side::Right] * 3 / 2);  // the larger thigh lies at +x LPS: the patient's left
    for (const auto& leg : legs) {
      auto c = counts(leg.labels);
      EXPECT_GT(c[catalog.label_id("femur", leg.entry.side)] + c[catalog.label_id("bone_marrow", leg.entry.side)], 2000u)
          << "the femur disc fills the hole inside the vastus intermedius";
      EXPECT_EQ(leg.entry.group_only, std::vector<std::string>{"adductors"});
    }
  }
}

TEST(AtlasBuild, BadLabelMapsAreRefusedByNameAndNoHalfAtlasIsLeft) {
  TempDir dir;
  const fs::path shared = dir / "shared";
  const fs::path maps = shared / "labelmaps" / "thigh-11-muscles";
  fs::create_directories(maps);
  const fs::path good = maps / "Training__T1__THIGH_900_0002.nii.gz";
  io::write_image(synthetic_thigh_pair(false), good);
  BuildOptions o;
  o.shared_data_dir = shared;
  o.out_dir = dir / "atlas";
  Quiet quiet;

  // A usable source: two atlases, and every missing source is listed as skipped with its reason.
  const BuildReport report = build_atlases(o, quiet);
  EXPECT_EQ(report.manifest.atlases.size(), 2u);
  bool skipped_vh = false;
  for (const auto& s : report.manifest.skipped) skipped_vh = skipped_vh || s.find("denver-vh") != std::string::npos;
  EXPECT_TRUE(skipped_vh);
  const Manifest back = read_manifest(o.out_dir);
  EXPECT_EQ(back.atlases.size(), 2u);
  EXPECT_EQ(back.atlases[0].subject, "THIGH_900");

  // A map without an affine: the error names it, and the atlas written before is untouched.
  const fs::path bad = maps / "Training__T2__THIGH_901_0003.nii.gz";
  io::write_image(synthetic_thigh_pair(false), bad);
  strip_affine(bad);
  try {
    build_atlases(o, quiet);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_NE(std::string(e.what()).find("THIGH_901"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("affine"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_manifest(o.out_dir).atlases.size(), 2u);
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".atlas-"), std::string::npos) << "temporary folder left: " << e.path();

  // An unknown label is named.
  LabelMap twelve = synthetic_thigh_pair(false);
  twelve.voxels[twelve.voxels.size() / 2] = 12;
  io::write_image(twelve, bad);
  try {
    build_atlases(o, quiet);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown label 12"), std::string::npos) << e.what();
  }
}

TEST(AtlasBuild, UnknownMeshNameAndBrokenSurfaceAreNamed) {
  TempDir dir;
  const fs::path leg = dir / "shared" / "anatomy" / "denver-vh" / "VHF" / "Left";
  fs::create_directories(leg);
  write_box_stl(leg / "VHF_Left_Muscle_Deltoid.stl", {0, 0, 0}, {1, 1, 1});
  BuildOptions o;
  o.shared_data_dir = dir / "shared";
  o.out_dir = dir / "atlas";
  Quiet quiet;
  try {
    build_atlases(o, quiet);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("VHF_Left_Muscle_Deltoid.stl"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("unknown mesh name"), std::string::npos) << e.what();
  }
  fs::remove(leg / "VHF_Left_Muscle_Deltoid.stl");
  std::ofstream(leg / "VHF_Left_Muscle_Soleus.stl") << "not a surface";
  try {
    build_atlases(o, quiet);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("VHF_Left_Muscle_Soleus.stl"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(o.out_dir));
}

TEST(AtlasManifest, MissingOrMalformedManifestAndUnknownIdsAreNamedErrors) {
  TempDir dir;
  try {
    read_manifest(dir.path());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InputNotFound);
    EXPECT_NE(std::string(e.what()).find("atlas build"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "manifest.json") << "{\"format\": \"musclecsa-atlas/1\", \"atlases\": [";
  EXPECT_THROW(read_manifest(dir.path()), Error);
  const Manifest m = read_manifest(kCommitted);
  EXPECT_EQ(select_atlases(m, "vhf-thigh").size(), 2u);
  EXPECT_EQ(select_atlases(m, "vhf-thigh-left").size(), 1u);
  EXPECT_THROW(select_atlases(m, "vhf-thi"), Error);  // prefixes end at a '-'
  EXPECT_THROW(find_atlas(m, "nobody-thigh-right"), Error);
  // Leave-one-subject-out drops every atlas of the subject, and only those.
  const auto without = atlases_excluding(m, {"VHF"});
  EXPECT_EQ(without.size() + 4, m.atlases.size());
  for (const auto* e : without) EXPECT_NE(e->subject, "VHF");
}
