// The ground truth at the standard level as text (phantom.h, print_truth_at_level).

#include <cstdio>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "musclecsa/core/catalog.h"
#include "musclecsa/phantom/phantom.h"

namespace musclecsa::phantom {

void print_truth_at_level(const Phantom& ph, std::ostream& out) {
  const auto& catalog = LabelCatalog::standard();
  if (ph.params.modality == PhantomModality::US) {
    const auto& u = ph.ultrasound;
    char line[256];
    std::snprintf(line, sizeof line,
                  "Ultrasound truth (%s): ACSA %.2f cm2, thickness %.2f cm, fat %.2f cm, echo intensity %.1f\n",
                  catalog.get(u.muscle_key).name.c_str(), u.acsa_mm2 / 100, u.muscle_thickness_mm / 10,
                  u.sat_thickness_mm / 10, u.echo_intensity);
    out << line;
    return;
  }
  const auto& level = ph.level;
  if (!level.known) {
    out << "No standard level (" << level.name << "): the anatomy (" << ph.anatomy_source.anatomy_from
        << ") does not reach both ends of the " << level.bone_key << ".\n";
    return;
  }
  if (level.nearest_slice < 0) {
    out << "The standard level (" << level.name << ") is outside the scanned range.\n";
    return;
  }
  const auto& slice = ph.slices[level.nearest_slice];
  char line[256];
  std::snprintf(line, sizeof line, "Ground truth at %s: slice %d (z = %.1f mm, %.1f%% of %s length from its proximal end)\n",
                level.name.c_str(), slice.slice_index, slice.z_mm, 100 * slice.bone_fraction, level.bone_key.c_str());
  out << line;
  std::snprintf(line, sizeof line, "  %-44s %12s %12s %8s\n", "structure", "right cm2", "left cm2", "fat %");
  out << line;
  std::map<std::string, std::map<Side, const StructureTruth*>> rows;
  for (const auto& t : slice.structures) rows[t.structure_key][t.side] = &t;
  const auto region = ph.params.anatomy == Anatomy::Thigh ? BodyRegion::Thigh : BodyRegion::Calf;
  std::vector<const Structure*> order;
  for (const Structure* g : catalog.reporting_groups_of(region)) {
    order.push_back(g);
    for (const Structure* m : catalog.members_of(g->key)) order.push_back(m);
  }
  for (const char* tissue : {"imat", "subcutaneous_fat", "femur", "tibia", "fibula", "bone_marrow"})
    order.push_back(&catalog.get(tissue));
  for (const Structure* s : order) {
    auto it = rows.find(s->key);
    if (it == rows.end()) continue;
    auto area = [&](Side side) { return it->second.count(side) ? it->second.at(side)->area_mm2 / 100 : 0.0; };
    double ff_sum = 0, area_sum = 0;
    for (const auto& [side, t] : it->second) {
      ff_sum += t->fat_fraction * t->area_mm2;
      area_sum += t->area_mm2;
    }
    const bool member = s->kind == StructureKind::Muscle && !s->group_key.empty();
    std::snprintf(line, sizeof line, "  %-44s %12.2f %12.2f %8.1f\n",
                  ((member ? "  " : "") + s->name).c_str(), area(Side::Right), area(Side::Left),
                  area_sum > 0 ? 100 * ff_sum / area_sum : 0.0);
    out << line;
  }
  for (const auto& side : slice.sides) {
    std::snprintf(line, sizeof line, "  %s leg: limb %.2f cm2, muscle %.2f cm2, IMAT %.2f cm2\n",
                  std::string(to_string(side.side)).c_str(), side.limb_area_mm2 / 100, side.muscle_area_mm2 / 100,
                  side.imat_area_mm2 / 100);
    out << line;
  }
}

}  // namespace musclecsa::phantom
