// musclecsa atlas build | list: the real-anatomy atlases (docs/atlas.md).

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "console_progress.h"
#include "musclecsa/atlas/atlas.h"
#include "musclecsa/core/error.h"

namespace musclecsa::app {
namespace {

struct AtlasOptions {
  std::string shared_data, out, atlas_dir;
  double in_plane_mm = 1.0, slice_mm = 2.0;
  std::vector<std::string> only;
  bool json = false, quiet = false;
};

int run_build(const AtlasOptions& o) {
  atlas::BuildOptions b;
  b.shared_data_dir = o.shared_data.empty() ? atlas::default_shared_data_dir() : std::filesystem::path(o.shared_data);
  b.out_dir = o.out.empty() ? atlas::default_atlas_dir() : std::filesystem::path(o.out);
  b.in_plane_spacing_mm = o.in_plane_mm;
  b.slice_spacing_mm = o.slice_mm;
  b.only = o.only;
  ConsoleProgress progress(!o.quiet);
  const atlas::BuildReport report = atlas::build_atlases(b, progress);
  if (o.quiet) return 0;
  for (const auto& line : report.log) std::cout << "  " << line << "\n";
  std::cout << "Wrote " << report.manifest.atlases.size() << " atlases to " << b.out_dir.string() << "\n";
  for (const auto& s : report.manifest.skipped) std::cout << "  skipped: " << s << "\n";
  return 0;
}

int run_list(const AtlasOptions& o) {
  const auto dir = o.atlas_dir.empty() ? atlas::default_atlas_dir() : std::filesystem::path(o.atlas_dir);
  const atlas::Manifest m = atlas::read_manifest(dir);
  if (o.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& e : m.atlases)
      j.push_back({{"id", e.id}, {"subject", e.subject}, {"region", to_string(e.region)}, {"side", to_string(e.side)},
                   {"source", e.source}, {"file", (dir / e.file).string()}, {"has_reference_bone", e.reference_bone.has_value()},
                   {"group_only", e.group_only}});
    std::cout << j.dump(1) << "\n";
    return 0;
  }
  std::cout << m.atlases.size() << " atlases in " << dir.string() << "\n";
  for (const auto& e : m.atlases)
    std::cout << "  " << e.id << "  (" << e.subject << ", " << to_string(e.region) << ", " << to_string(e.side) << ", "
              << e.source << (e.reference_bone ? "" : ", no bone ends") << ")\n";
  std::cout << "Sources and licenses:\n";
  for (const auto& s : m.sources) std::cout << "  " << s.key << ": " << s.license << ". " << s.citation << "\n";
  return 0;
}

}  // namespace

Command add_atlas_command(CLI::App& app) {
  auto options = std::make_shared<AtlasOptions>();
  auto& o = *options;
  CLI::App* cmd = app.add_subcommand("atlas", "Real-anatomy atlases: build them from ../shared/data, or list them");
  cmd->require_subcommand(1);
  CLI::App* build = cmd->add_subcommand("build", "Build the atlases (written atomically; data/atlas by default)");
  build->add_option("--shared-data", o.shared_data, "folder holding anatomy/, labelmaps/, mri/ (default ../shared/data)");
  build->add_option("--out", o.out, "atlas folder to write (default: data/atlas of the source tree)");
  build->add_option("--in-plane-mm", o.in_plane_mm, "voxel size across the leg (<= 1 mm)");
  build->add_option("--slice-mm", o.slice_mm, "voxel size along the leg for surface sources");
  build->add_option("--only", o.only, "build only atlases whose id starts with one of these (e.g. vhf-thigh-right)");
  build->add_flag("--quiet", o.quiet, "print nothing on success");
  CLI::App* list = cmd->add_subcommand("list", "List the atlases with subject, region, side and source");
  list->add_option("--atlas-dir", o.atlas_dir, "atlas folder (default: $MUSCLECSA_ATLAS_DIR or data/atlas)");
  list->add_flag("--json", o.json, "JSON array instead of text");
  return {cmd, [options, build] { return build->parsed() ? run_build(*options) : run_list(*options); }};
}

}  // namespace musclecsa::app
