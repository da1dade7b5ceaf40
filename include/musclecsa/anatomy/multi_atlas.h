#pragma once
// The muscle prior from real anatomy: every real-anatomy atlas of the region (data/atlas/) is placed
// on each leg of a segmented scan (landmarks first, then a deformable registration of tissue maps
// that CT and MR share), the most similar ones are kept, and their muscles are fused by locally
// weighted voting (docs/methods.md, "Muscles and groups"). Modality-independent: it reads only the
// tissue labels (compartment, intermuscular fat, muscle tissue, bones) that the CT, T1 and Dixon
// pipelines produce.

#include <filesystem>
#include <string>
#include <vector>

#include "musclecsa/core/progress.h"
#include "musclecsa/segment/ct_muscles.h"
#include "musclecsa/segment/ct_tissue.h"
#include "musclecsa/segment/protocol.h"

namespace musclecsa::anatomy {

struct MultiAtlasOptions {
  std::filesystem::path atlas_dir;              ///< empty: atlas::default_atlas_dir()
  std::vector<std::string> exclude_subjects;    ///< leave-one-subject-out: never use these subjects' atlases
  std::string prior;                            ///< "atlas" or "layout" replaces the protocol's muscles.prior ("" keeps it);
                                                ///< MRI applies it to its protocol before the split
};                                              // how many atlases, how often, how hard: the protocol (muscles.atlas_*)

/// How the prior was made, for results.json ("anatomy_prior") and the notes.
struct PriorSummary {
  std::vector<std::string> atlases_available;   ///< ids of the region's atlases after the exclusions
  std::vector<std::string> atlases_used;        ///< ids kept for at least one slice
  int registrations = 0;                        ///< deformable registrations run
  std::string method;                           ///< one line
  double load_s = 0, register_s = 0, fuse_s = 0;  ///< wall time of loading, placement + registration, fusion
};

/// The fused muscle prior of every leg and slice of `segmentation` (made by segment_ct_tissues on a
/// volume of the same geometry). Throws Error(InputNotFound / InvalidInput) naming the atlas folder
/// or file when the atlases cannot be read, and Error(InvalidInput) when no atlas of the protocol's
/// region is left after the exclusions. Legs the atlases cannot be placed on get no prior (0
/// voxels) and a note.
segment::MusclePrior fuse_atlas_prior(const segment::TissueSegmentation& segmentation,
                                      const segment::CtProtocol& protocol, const MultiAtlasOptions& options,
                                      Progress& progress, PriorSummary* summary = nullptr);

/// The muscle split of a segmented leg scan as the protocol asks: with protocol.muscles.prior
/// "atlas", fuse_atlas_prior() then segment::segment_ct_muscles() with it; with "layout", the
/// layout alone. `volume` is what `segmentation` was made from (CT HU or MRI's pseudo-CT). Records
/// the prior used in segmentation.muscle_prior, muscle_prior_description, atlases_available/used.
void segment_muscles(const ScalarVolume& volume, const segment::CtProtocol& protocol,
                     segment::TissueSegmentation& segmentation, const MultiAtlasOptions& options, Progress& progress);

}  // namespace musclecsa::anatomy
