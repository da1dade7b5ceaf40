#pragma once
// Internal steps of `atlas build`: one leg's label volume from meshes or from a label map.

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "musclecsa/atlas/atlas.h"
#include "musclecsa/core/catalog.h"

namespace musclecsa::atlas::detail {

/// A finished atlas in memory.
struct LegAtlas {
  AtlasEntry entry;
  LabelMap labels;
};

/// Everything built from one source, plus what was skipped and the build log.
struct SourceResult {
  std::vector<LegAtlas> atlases;
  std::vector<std::string> skipped;
  std::vector<std::string> log;
};

/// Visible Human Female and Male (Denver surfaces + BMFToolkit bones): thigh and calf of both legs.
SourceResult build_visible_human(const BuildOptions& options);
/// The thigh-11-muscles label maps and the reference labels of the two Dixon dystrophy thighs.
SourceResult build_from_label_maps(const BuildOptions& options);

/// Marrow inside each bone label of one side: voxels of a bone farther than the local cortical
/// thickness `cortex_mm(bone_key, z_mm)` from anything that is not that bone become marrow.
void add_marrow(LabelMap& labels, Side side, const std::function<double(const std::string&, double)>& cortex_mm);
/// The deep-fascia compartment of each slice: the union of the side's labels closed (radius mm) and
/// hole-filled; its unlabelled voxels become intermuscular adipose tissue (imat).
void fill_compartment(LabelMap& labels, Side side, double closing_radius_mm);
/// Catalog keys present in a label volume (sorted by catalog order) for one side.
std::vector<std::string> structures_present(const LabelMap& labels, Side side);

}  // namespace musclecsa::atlas::detail
