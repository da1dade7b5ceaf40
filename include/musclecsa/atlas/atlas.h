#pragma once
// Real-anatomy atlases of the thigh and calf: label volumes of real subjects' legs (every catalog
// muscle, femur / tibia / fibula with marrow, intermuscular fat filling the deep-fascia compartment),
// built reproducibly from public data (Visible Human surfaces, real thigh label maps) by
// `musclecsa atlas build` and kept compact under data/atlas/ with a manifest (docs/atlas.md).

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "musclecsa/core/catalog.h"
#include "musclecsa/core/image.h"
#include "musclecsa/core/progress.h"

namespace musclecsa::atlas {

/// Manifest format written by this version; read_manifest refuses other formats.
inline constexpr const char* kManifestFormat = "musclecsa-atlas/1";

/// The reference bone of an atlas and where its ends lie (patient LPS z, mm), when known.
struct ReferenceBone {
  std::string key;                    ///< "femur" (thigh) or "tibia" (calf)
  double proximal_z_mm = 0;           ///< top of the femoral head / tibial plateau
  double distal_z_mm = 0;             ///< bottom of the femoral condyles / distal tibia
  double length_mm() const { return proximal_z_mm - distal_z_mm; }
};

/// One atlas: one leg of one subject, one region, as a label volume in patient LPS.
struct AtlasEntry {
  std::string id;                     ///< e.g. "vhf-thigh-right", "thigh11-training-water-thigh_026-left"
  std::string subject;                ///< subject identity for leave-one-subject-out ("VHF", "THIGH_026", ...)
  std::string source;                 ///< source data set key ("denver-vh", "thigh-11-muscles", "thigh-dixon-dystrophy")
  BodyRegion region = BodyRegion::Thigh;
  Side side = Side::Right;
  std::string file;                   ///< label volume, relative to the atlas folder (.nii.gz)
  std::vector<std::string> source_files;  ///< inputs, relative to the shared data folder
  std::array<std::size_t, 3> size{};  ///< voxels
  std::array<double, 3> spacing_mm{}; ///< voxel spacing
  std::optional<ReferenceBone> reference_bone;  ///< absent when the source does not reach both bone ends
  std::vector<std::string> structures;          ///< catalog keys present in the label volume
  std::vector<std::string> group_only;          ///< groups whose members the source does not separate
  std::vector<std::string> notes;               ///< how gaps were filled (bones, mirrored muscles, ...)
};

/// A source data set with its license and the citation its license requires.
struct SourceLicense {
  std::string key, name, license, citation;
};

struct Manifest {
  std::string format;
  std::string built_by;               ///< "musclecsa <version> atlas build"
  std::vector<SourceLicense> sources;
  std::vector<AtlasEntry> atlases;
  std::vector<std::string> skipped;   ///< "<input>: <reason>" for every source left out
};

/// The atlas folder the product uses: $MUSCLECSA_ATLAS_DIR when set, else the data/atlas folder of
/// the source tree the binary was built from.
std::filesystem::path default_atlas_dir();
/// The shared real-data folder: $MUSCLECSA_SHARED_DATA when set, else ../shared/data beside the source tree.
std::filesystem::path default_shared_data_dir();

/// Reads `atlas_dir`/manifest.json. Throws Error(InputNotFound / InvalidInput, file, ...).
Manifest read_manifest(const std::filesystem::path& atlas_dir);
/// The entry with this id; throws Error(InvalidArgument, id, "no such atlas ...") naming the known ids.
const AtlasEntry& find_atlas(const Manifest& manifest, const std::string& id);
/// Entries whose id equals `selector` or starts with `selector` + "-" (e.g. "vhf-thigh" gives both
/// legs); throws Error(InvalidArgument) when none matches.
std::vector<const AtlasEntry*> select_atlases(const Manifest& manifest, const std::string& selector);
/// Loads an entry's label volume and checks it against the manifest (size, spacing, labels).
LabelMap load_atlas_labels(const std::filesystem::path& atlas_dir, const AtlasEntry& entry);
/// Entries of `manifest` minus those of the given subjects (leave-one-subject-out).
std::vector<const AtlasEntry*> atlases_excluding(const Manifest& manifest,
                                                 const std::vector<std::string>& excluded_subjects);

struct BuildOptions {
  std::filesystem::path shared_data_dir;   ///< the folder holding anatomy/, labelmaps/, mri/
  std::filesystem::path out_dir;           ///< written as a whole: a temporary folder renamed at the end
  double in_plane_spacing_mm = 1.0;        ///< atlas voxel size across (<= 1 mm)
  double slice_spacing_mm = 2.0;           ///< atlas voxel size along z for mesh sources
  std::vector<std::string> only;           ///< build only atlases whose id starts with one of these
};

struct BuildReport {
  Manifest manifest;
  std::vector<std::string> log;            ///< what was done per atlas (bone placement figures, overlaps)
};

/// Builds every atlas from the shared data and writes `out_dir` (manifest.json, README.md,
/// labels/*.nii.gz) atomically. Sources that cannot be used are skipped with the reason (listed in
/// the manifest); an unreadable or corrupt file of a source that is used, an unknown mesh name or a
/// label map without a usable affine throws Error naming the file. Deterministic.
BuildReport build_atlases(const BuildOptions& options, Progress& progress);

/// An atlas entry with its label volume in memory.
struct LoadedAtlas {
  AtlasEntry entry;
  LabelMap labels;
};
/// Both thighs of a label map in the 11-muscle scheme (1 sartorius, 2 rectus femoris, 3 vastus
/// lateralis, 4 vastus intermedius, 5 vastus medialis, 6 adductors, 7 gracilis, 8 biceps femoris long
/// head, 9 semitendinosus, 10 semimembranosus, 11 biceps femoris short head) as atlases, the way
/// `atlas build` makes them (legs by LPS x, femur disc, marrow, compartment). Subject = file stem.
/// Throws Error naming the file for a missing affine, unknown labels or a map with no thigh.
std::vector<LoadedAtlas> atlases_from_label_map(const std::filesystem::path& file, const BuildOptions& options);

/// Maps an upstream Denver Visible Human mesh name ("VHF_Left_Muscle_Semitendonosus.stl") to a
/// catalog key, "skeletal_muscle" for muscles the catalog does not report, "patella", or "" when
/// the name is not known. Exposed for tests.
std::string catalog_key_for_mesh(const std::string& file_name);

}  // namespace musclecsa::atlas
