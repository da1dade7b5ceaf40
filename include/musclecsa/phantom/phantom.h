#pragma once
// Digital phantoms of the thigh and calf with known ground truth: the embedded default data of
// MuscleCSA and the backbone of its accuracy tests (docs/phantoms.md).

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <map>
#include <string>
#include <vector>

#include "musclecsa/core/catalog.h"
#include "musclecsa/core/image.h"
#include "musclecsa/core/progress.h"

namespace musclecsa::phantom {

enum class Anatomy { Thigh, Calf };
/// Image kind to synthesise. MrDixon produces water, fat, in-phase and opposed-phase series.
enum class PhantomModality { CT, MrT1, MrDixon, US };
/// How intramuscular fat is laid out: evenly in every voxel, as marbled streaks of pure fat, or half of each.
enum class FatPattern { Diffuse, Marbled, Mixed };
/// Which legs are in the field of view.
enum class Legs { Both, Right, Left };

std::string_view to_string(Anatomy);
std::string_view to_string(PhantomModality);   ///< "ct", "mr-t1", "mr-dixon", "us"
std::string_view to_string(FatPattern);
std::string_view to_string(Legs);
Anatomy anatomy_from_string(std::string_view);        ///< throws Error(InvalidArgument)
PhantomModality modality_from_string(std::string_view);
FatPattern fat_pattern_from_string(std::string_view);
Legs legs_from_string(std::string_view);

/// Intramuscular fat of one muscle: fraction of the muscle's area that is fat tissue (0..0.9).
struct Infiltration {
  double fraction = 0;
  FatPattern pattern = FatPattern::Diffuse;
};

/// Every parameter of a phantom. Zero for a size or spacing means "the anatomy's default".
struct PhantomParams {
  Anatomy anatomy = Anatomy::Thigh;
  PhantomModality modality = PhantomModality::CT;
  /// Semi-real phantom: draw the image models over real anatomy instead of the analytic layout. An
  /// atlas id or id prefix ("vhf-thigh" = both legs, "vhf-thigh-right" = one), or a label map file
  /// (.nii/.nii.gz: catalog labels, or the 11-muscle thigh scheme, told apart by its labels). The
  /// anatomy (thigh or calf) then comes from the atlas. Empty: the analytic phantom.
  std::string anatomy_from;
  std::string atlas_dir;            ///< atlas folder for anatomy_from ids; empty: atlas::default_atlas_dir()
  double septum_fat_fraction = 1.0; ///< semi-real: tissue fat fraction of the septa drawn between muscles
                                    ///< (>= 0.5: fat, labelled imat; below: muscle with that fat fraction)
  double atlas_leg_gap_mm = -1e9;   ///< semi-real: skin-to-skin gap to move the legs to; -1e9 keeps the subject's own
  std::uint64_t seed = 1;

  // Grid (CT and MR). Slices are axial; the scanned range is centred on the standard level.
  std::size_t columns = 0;          ///< 0: 512 for CT, 320 (thigh) / 256 (calf) for MR
  std::size_t rows = 0;             ///< 0: same as columns
  std::size_t slices = 0;           ///< 0: 48 for CT, 30 for MR
  double pixel_spacing_mm = 0;      ///< 0: field of view (400 mm thigh, 300 mm calf) / columns
  double slice_spacing_mm = 0;      ///< 0: cover 108% of the bone length (at most 20 mm apart); thickness = spacing

  // Anatomy.
  Legs legs = Legs::Both;
  double leg_gap_mm = 30;           ///< skin-to-skin gap between the legs; <= 0 makes them touch
  double sat_thickness_mm = 0;      ///< mean subcutaneous fat thickness; 0: 12 (thigh) / 8 (calf), US 8 / 6
  double skin_thickness_mm = 1.5;
  double muscle_area_scale = 1.0;   ///< atrophy: muscle compartment area factor (0.6 = 60% of normal)
  double septum_width_mm = 1.2;     ///< fat septum between muscles of one group
  double group_septum_width_mm = 1.8; ///< fat septum between groups (intermuscular septa)
  double fascia_thickness_mm = 0.6; ///< deep fascia membrane (CT 80 HU, dark on T1)
  double subfascial_fat_mm = 0.8;   ///< fat layer just inside the deep fascia
  double shape_variation = 1.0;     ///< 0: exact ellipses and fixed muscle seeds (analytic tests)
  std::map<std::string, Infiltration> infiltration;  ///< by muscle key; key "all" applies to every muscle

  // Image formation.
  double noise_sd = -1;             ///< -1: 20 HU (CT), 12 signal units (MR), speckle only (US)
  double bias_field_amplitude = -1; ///< MR: peak relative bias (0.3 = +-30%); -1: 0.2 for T1, 0 for Dixon
  int supersampling = 3;            ///< subsamples per pixel side for partial volume at edges (odd, 1..7)

  // Ultrasound (single muscle region, B-mode).
  std::string us_muscle = "rectus_femoris";  ///< target muscle (rectus_femoris, vastus_lateralis, gastrocnemius_medial)
  double us_pixel_spacing_mm = 0.1;
  double us_depth_mm = 0;               ///< 0: 50 mm (45 mm for gastrocnemius)
  double us_width_mm = 0;               ///< 0: 60 mm (rectus femoris), 100 (vastus lateralis), 80 (gastrocnemius)
  double us_muscle_width_mm = 0;        ///< 0: the muscle's typical width
  double us_muscle_thickness_mm = 0;    ///< 0: the muscle's typical thickness
  double us_echogenicity_gain = 1.0;    ///< overall brightness factor
};

/// Fills the zero/-1 defaults of `params` for its anatomy and modality and checks every value;
/// throws Error(InvalidArgument, "<parameter>", ...) for out-of-range values.
PhantomParams resolve_defaults(PhantomParams params);

/// Reads a phantom preset (JSON object whose keys are PhantomParams field names) over `base`.
PhantomParams load_preset(const std::filesystem::path& preset_file, PhantomParams base);

/// Ground truth of one structure on one side in one slice.
struct StructureTruth {
  std::string structure_key;
  Side side = Side::None;
  std::size_t voxel_count = 0;
  double area_mm2 = 0;             ///< voxel_count x pixel area (the label map recount)
  double fat_fraction = 0;         ///< mean true tissue fat fraction over the structure's voxels (0..1)
  double mean_value = 0;           ///< mean noise-free image value (HU, MR signal, grey) over its voxels
};

/// Per-slice, per-side summary values that are not a single label.
struct SideSliceTruth {
  Side side = Side::None;
  double limb_area_mm2 = 0;                 ///< everything inside the skin
  double compartment_area_mm2 = 0;          ///< inside the deep fascia, bones included
  double imat_area_mm2 = 0;                 ///< fat inside the fascia, marrow excluded (septa + streaks)
  double intramuscular_fat_area_mm2 = 0;    ///< fat streak voxels inside muscle outlines
  double muscle_area_mm2 = 0;               ///< all muscle labels (outlines, streaks included)
};

struct SliceTruth {
  int slice_index = 0;
  double z_mm = 0;                          ///< LPS z of the slice centre
  double bone_fraction = 0;                 ///< position along the reference bone (0 proximal end, 1 distal end)
  std::vector<StructureTruth> structures;   ///< muscles, tissues and groups (sums of members)
  std::vector<SideSliceTruth> sides;
};

/// The standard trial level and the reference bone's extent.
struct LevelTruth {
  std::string name;                ///< "femur_50pct" or "tibia_66pct_from_distal"
  std::string bone_key;            ///< "femur" or "tibia"
  double bone_length_mm = 0;
  double bone_proximal_z_mm = 0;   ///< top of the femoral head / tibial plateau
  double bone_distal_z_mm = 0;     ///< bottom of the condyles / distal tibia
  double level_z_mm = 0;
  int nearest_slice = -1;          ///< -1 when the level is outside the scanned range
  bool known = true;               ///< false when the anatomy does not reach both bone ends (label-map atlases)
};

/// Where a semi-real phantom's anatomy came from.
struct AnatomySourceTruth {
  std::string anatomy_from;                 ///< as given (atlas id, prefix or file)
  std::vector<std::string> atlas_ids;       ///< one per leg drawn
  std::vector<std::string> subjects;        ///< subject of each leg (leave-one-subject-out)
  std::vector<std::string> group_only;      ///< groups whose members the source does not separate (score the group)
  std::vector<std::string> notes;           ///< the atlases' notes (how gaps were filled)
};

/// Ground truth of the ultrasound phantom (one image, target muscle).
struct UltrasoundTruth {
  std::string muscle_key;
  double acsa_mm2 = 0;                 ///< area of the target muscle's label
  double muscle_thickness_mm = 0;      ///< label extent along the centre column of the muscle
  double sat_thickness_mm = 0;         ///< skin/fat interface to the muscle's superficial fascia, at the centre column
  double echo_intensity = 0;           ///< mean grey (0-255) of the image inside the label
  int centre_column = 0;               ///< pixel column of the muscle centre
  int region_min_x = 0, region_min_y = 0, region_max_x = 0, region_max_y = 0;  ///< imaged region (pixels)
};

/// One image series of the phantom.
struct PhantomSeries {
  std::string role;                ///< "ct", "t1", "water", "fat", "in_phase", "opposed_phase", "us"
  std::string description;         ///< DICOM Series Description
  std::vector<std::string> image_type;  ///< DICOM Image Type values
  ScalarVolume image;              ///< with noise, as written to DICOM
  ScalarVolume noise_free;         ///< the same without noise (ground truth for mean values)
};

struct Phantom {
  PhantomParams params;            ///< resolved parameters
  std::vector<PhantomSeries> series;
  LabelMap labels;                 ///< label at each voxel centre (LabelCatalog ids)
  Image<float> fat_fraction;       ///< true tissue fat fraction per voxel (0..1), with partial volume
  std::vector<SliceTruth> slices;
  LevelTruth level;                ///< CT/MR only
  UltrasoundTruth ultrasound;      ///< US only
  AnatomySourceTruth anatomy_source; ///< semi-real phantoms only (anatomy_from set)
};

/// Synthesises a phantom. Deterministic: the same params (seed included) give identical voxels.
Phantom make_phantom(const PhantomParams& params, Progress& progress);

/// Writes a phantom to `out_dir`: dicom/<role>/ (one DICOM file per slice), truth/labels.nii.gz,
/// truth/fat_fraction.nii.gz, truth/labels.json, truth/truth.json and phantom.json (parameters).
/// Every file is written under a temporary name and renamed when complete.
void write_phantom(const Phantom& phantom, const std::filesystem::path& out_dir, Progress& progress);

/// Prints the ground truth at the standard level, as `musclecsa phantom` shows it: per structure
/// (groups, their members, tissues) the right and left areas (cm2) and fat %, and each leg's limb,
/// muscle and IMAT; an ultrasound phantom's muscle truth; or why there is no standard level.
void print_truth_at_level(const Phantom& phantom, std::ostream& out);

}  // namespace musclecsa::phantom
