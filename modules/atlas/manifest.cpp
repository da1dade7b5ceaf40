// The atlas manifest (manifest.json): what each atlas is, where it came from, under which license;
// and the atlas build that writes the whole folder atomically.

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "builder.h"
#include "musclecsa/atlas/atlas.h"
#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/version.h"

namespace musclecsa::atlas {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<SourceLicense> source_licenses() {
  return {
      {"denver-vh", "Denver Visible Human lower-limb surfaces (University of Denver, Center for Orthopaedic Biomechanics)",
       "CC BY 4.0",
       "Andreassen TE, Hume DR, Hamilton LD, Walker KE, Higinbotham SE, Shelburne KB. Three dimensional lower extremity "
       "musculoskeletal geometry of the Visible Human Female and Male. Sci Data 10:34 (2023), doi:10.1038/s41597-022-01905-2; "
       "dataset doi:10.56902/COB.vh.2022.0"},
      {"bmftoolkit-vhf", "Bone Mesh Female Toolkit (Sreenivasa, Gonzalez Alvarado; Heidelberg University): VHF femur and tibia from CT",
       "zlib", "Copyright (c) 2017 Manish Sreenivasa, Daniel Gonzalez Alvarado, Heidelberg University"},
      {"thigh-11-muscles", "Thigh label maps, 11 muscles (model predictions)", "Apache-2.0",
       "see ../shared/data/labelmaps/thigh-11-muscles/LICENSE"},
      {"thigh-dixon-dystrophy", "IDEAL Dixon thighs with muscular dystrophy, reference labels (model predictions)",
       "Apache-2.0", "see ../shared/data/mri/thigh-dixon-dystrophy/LICENSE"},
  };
}

json entry_json(const AtlasEntry& e) {
  json j = {{"id", e.id},
            {"subject", e.subject},
            {"source", e.source},
            {"region", to_string(e.region)},
            {"side", to_string(e.side)},
            {"file", e.file},
            {"source_files", e.source_files},
            {"size", e.size},
            {"spacing_mm", e.spacing_mm},
            {"structures", e.structures},
            {"group_only", e.group_only},
            {"notes", e.notes}};
  if (e.reference_bone)
    j["reference_bone"] = {{"key", e.reference_bone->key},
                           {"proximal_z_mm", e.reference_bone->proximal_z_mm},
                           {"distal_z_mm", e.reference_bone->distal_z_mm},
                           {"length_mm", e.reference_bone->length_mm()}};
  else
    j["reference_bone"] = nullptr;
  return j;
}

BodyRegion region_from(const std::string& text, const std::string& where) {
  if (text == "thigh") return BodyRegion::Thigh;
  if (text == "calf") return BodyRegion::Calf;
  throw Error(ErrorCode::InvalidInput, where, "unknown region '" + text + "' (thigh or calf)");
}

std::string readme_text(const Manifest& m) {
  std::string t =
      "# Real-anatomy atlases (generated: do not edit)\n\n"
      "Written by `musclecsa atlas build` from `../shared/data` (docs/atlas.md says how, and how to rebuild them).\n"
      "Each atlas is one leg of one real subject, one region (thigh or calf), as a label volume in patient LPS\n"
      "(`labels/<id>.nii.gz`, catalog label ids: docs/catalog.md); `manifest.json` lists subject, leg, region,\n"
      "spacing, source files, how missing bones were filled in, and the license of each source.\n\n"
      "## Sources, licenses and attribution\n\n";
  for (const auto& s : m.sources) t += "- **" + s.name + "** (`" + s.key + "`), " + s.license + ". " + s.citation + ".\n";
  t += "\nThe Visible Human atlases are derived from the Denver surfaces and are shared under CC BY 4.0 with the\n"
       "attribution above; the changes made are voxelisation at 1 mm across and 2 mm along the leg, femora and the male\n"
       "tibiae placed from the BMFToolkit bones, absent right-side muscles mirrored from the left, marrow, and the\n"
       "intermuscular fat of the deep-fascia compartment. The label-map atlases keep their Apache-2.0 license.\n\n";
  t += "## Atlases (" + std::to_string(m.atlases.size()) + ")\n\n| id | subject | region | side | source |\n|---|---|---|---|---|\n";
  for (const auto& e : m.atlases)
    t += "| " + e.id + " | " + e.subject + " | " + std::string(to_string(e.region)) + " | " +
         std::string(to_string(e.side)) + " | " + e.source + " |\n";
  if (!m.skipped.empty()) {
    t += "\n## Skipped\n\n";
    for (const auto& s : m.skipped) t += "- " + s + "\n";
  }
  return t;
}

}  // namespace

fs::path default_atlas_dir() {
  if (const char* env = std::getenv("MUSCLECSA_ATLAS_DIR"); env && *env) return env;
  return fs::path(MUSCLECSA_ATLAS_SOURCE_DIR);
}

fs::path default_shared_data_dir() {
  if (const char* env = std::getenv("MUSCLECSA_SHARED_DATA"); env && *env) return env;
  return (fs::path(MUSCLECSA_ATLAS_SOURCE_DIR) / ".." / ".." / ".." / "shared" / "data").lexically_normal();
}

Manifest read_manifest(const fs::path& atlas_dir) {
  const fs::path file = atlas_dir / "manifest.json";
  if (!fs::exists(file))
    throw Error(ErrorCode::InputNotFound, file.string(),
                "no atlas manifest (build the atlases with `musclecsa atlas build`, or set MUSCLECSA_ATLAS_DIR)");
  json j;
  try {
    j = json::parse(io::read_text(file));
  } catch (const json::exception& e) {
    throw Error(ErrorCode::InvalidInput, file.string(), std::string("not valid JSON: ") + e.what());
  }
  Manifest m;
  try {
    m.format = j.at("format").get<std::string>();
    if (m.format != kManifestFormat)
      throw Error(ErrorCode::InvalidInput, file.string(),
                  "manifest format '" + m.format + "' is not the one this version reads (" + kManifestFormat + ")");
    m.built_by = j.value("built_by", "");
    for (const auto& s : j.at("sources"))
      m.sources.push_back({s.at("key"), s.at("name"), s.at("license"), s.at("citation")});
    for (const auto& a : j.at("atlases")) {
      AtlasEntry e;
      e.id = a.at("id");
      e.subject = a.at("subject");
      e.source = a.at("source");
      e.region = region_from(a.at("region"), file.string() + " (" + e.id + ")");
      e.side = side_from_string(a.at("side").get<std::string>());
      e.file = a.at("file");
      e.source_files = a.at("source_files").get<std::vector<std::string>>();
      e.size = a.at("size").get<std::array<std::size_t, 3>>();
      e.spacing_mm = a.at("spacing_mm").get<std::array<double, 3>>();
      e.structures = a.at("structures").get<std::vector<std::string>>();
      e.group_only = a.at("group_only").get<std::vector<std::string>>();
      e.notes = a.at("notes").get<std::vector<std::string>>();
      if (!a.at("reference_bone").is_null()) {
        const auto& b = a.at("reference_bone");
        e.reference_bone = ReferenceBone{b.at("key"), b.at("proximal_z_mm"), b.at("distal_z_mm")};
      }
      m.atlases.push_back(std::move(e));
    }
    m.skipped = j.value("skipped", std::vector<std::string>{});
  } catch (const json::exception& e) {
    throw Error(ErrorCode::InvalidInput, file.string(), std::string("malformed atlas manifest: ") + e.what());
  }
  return m;
}

const AtlasEntry& find_atlas(const Manifest& manifest, const std::string& id) {
  for (const auto& e : manifest.atlases)
    if (e.id == id) return e;
  throw Error(ErrorCode::InvalidArgument, id, "no such atlas (`musclecsa atlas list` shows the " +
                                                  std::to_string(manifest.atlases.size()) + " atlases)");
}

std::vector<const AtlasEntry*> select_atlases(const Manifest& manifest, const std::string& selector) {
  std::vector<const AtlasEntry*> out;
  for (const auto& e : manifest.atlases)
    if (e.id == selector || e.id.rfind(selector + "-", 0) == 0) out.push_back(&e);
  if (out.empty())
    throw Error(ErrorCode::InvalidArgument, selector,
                "no atlas has this id or id prefix (`musclecsa atlas list` shows the " +
                    std::to_string(manifest.atlases.size()) + " atlases)");
  return out;
}

LabelMap load_atlas_labels(const fs::path& atlas_dir, const AtlasEntry& entry) {
  const fs::path file = atlas_dir / entry.file;
  LabelMap labels = io::read_label_map(file);
  if (labels.geometry.size != entry.size)
    throw Error(ErrorCode::InvalidInput, file.string(), "its size disagrees with the atlas manifest (" + entry.id + ")");
  for (int a = 0; a < 3; ++a)
    if (std::abs(labels.geometry.spacing_mm[a] - entry.spacing_mm[a]) > 1e-3)
      throw Error(ErrorCode::InvalidInput, file.string(), "its spacing disagrees with the atlas manifest (" + entry.id + ")");
  const auto& catalog = LabelCatalog::standard();
  std::set<LabelId> ids(labels.voxels.begin(), labels.voxels.end());
  for (LabelId id : ids)
    if (id != 0 && !catalog.decode(id))
      throw Error(ErrorCode::InvalidInput, file.string(), "label " + std::to_string(id) + " is not in the catalog");
  return labels;
}

std::vector<const AtlasEntry*> atlases_excluding(const Manifest& manifest, const std::vector<std::string>& excluded) {
  std::vector<const AtlasEntry*> out;
  for (const auto& e : manifest.atlases)
    if (std::find(excluded.begin(), excluded.end(), e.subject) == excluded.end()) out.push_back(&e);
  return out;
}

BuildReport build_atlases(const BuildOptions& options, Progress& progress) {
  if (options.in_plane_spacing_mm <= 0 || options.in_plane_spacing_mm > 1.0)
    throw Error(ErrorCode::InvalidArgument, "in-plane spacing", "must be above 0 and at most 1 mm");
  if (options.slice_spacing_mm <= 0 || options.slice_spacing_mm > 10)
    throw Error(ErrorCode::InvalidArgument, "slice spacing", "must be above 0 and at most 10 mm");
  if (!fs::is_directory(options.shared_data_dir))
    throw Error(ErrorCode::InputNotFound, options.shared_data_dir.string(), "the shared data folder does not exist");
  BuildReport report;
  Manifest& m = report.manifest;
  m.format = kManifestFormat;
  m.built_by = std::string("musclecsa ") + MUSCLECSA_VERSION_STRING + " atlas build";
  m.sources = source_licenses();
  progress.report(0.0, "building Visible Human atlases");
  detail::SourceResult vh = detail::build_visible_human(options);
  if (progress.cancelled()) throw Error(ErrorCode::Cancelled, "atlas build", "cancelled");
  progress.report(0.5, "building label-map atlases");
  detail::SourceResult maps = detail::build_from_label_maps(options);
  std::vector<detail::LegAtlas> atlases;
  for (auto* r : {&vh, &maps}) {
    for (auto& a : r->atlases) atlases.push_back(std::move(a));
    m.skipped.insert(m.skipped.end(), r->skipped.begin(), r->skipped.end());
    report.log.insert(report.log.end(), r->log.begin(), r->log.end());
  }
  std::set<std::string> ids;
  for (const auto& a : atlases)
    if (!ids.insert(a.entry.id).second)
      throw Error(ErrorCode::Internal, a.entry.id, "two atlases would share this id");
  if (atlases.empty()) throw Error(ErrorCode::InvalidInput, options.shared_data_dir.string(), "no atlas could be built from it");

  // Everything goes to a temporary folder beside the target, renamed over it at the end.
  const fs::path target = fs::absolute(options.out_dir).lexically_normal();
  const fs::path parent = target.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  const fs::path temp = parent / (".atlas-build-" + std::to_string(::getpid()));
  fs::remove_all(temp, ec);
  try {
    fs::create_directories(temp / "labels");
    std::size_t done = 0;
    for (auto& a : atlases) {
      a.entry.file = "labels/" + a.entry.id + ".nii.gz";
      io::write_image(a.labels, temp / a.entry.file);
      m.atlases.push_back(a.entry);
      progress.report(0.6 + 0.4 * static_cast<double>(++done) / atlases.size(), "writing atlases");
    }
    json j = {{"format", m.format}, {"built_by", m.built_by}, {"atlases", json::array()}, {"skipped", m.skipped}};
    j["sources"] = json::array();
    for (const auto& s : m.sources)
      j["sources"].push_back({{"key", s.key}, {"name", s.name}, {"license", s.license}, {"citation", s.citation}});
    for (const auto& e : m.atlases) j["atlases"].push_back(entry_json(e));
    io::write_text_atomically(temp / "manifest.json", j.dump(1) + "\n");
    io::write_text_atomically(temp / "README.md", readme_text(m));
    const fs::path old = parent / (".atlas-old-" + std::to_string(::getpid()));
    const bool replacing = fs::exists(target);
    if (replacing) fs::rename(target, old);
    try {
      fs::rename(temp, target);
    } catch (const fs::filesystem_error&) {
      if (replacing) fs::rename(old, target, ec);  // put the previous atlas back
      throw;
    }
    fs::remove_all(old, ec);
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(temp, ec);
    throw Error(ErrorCode::OutputFailed, target.string(), e.code().message());
  } catch (...) {
    fs::remove_all(temp, ec);
    throw;
  }
  return report;
}

}  // namespace musclecsa::atlas
