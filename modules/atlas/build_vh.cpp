// Visible Human atlases: the Denver lower-limb surfaces voxelised per leg and region, with the
// bones the upstream set lacks placed from the BMFToolkit female bones (docs/atlas.md).
//
// Frames: VHF is RAS (+x right, +y anterior, +z superior); VHM is RAS rotated 180 degrees about y
// (+x left, +z inferior). Both go to patient LPS here. BMFToolkit bones are in metres, each in its
// own frame.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "builder.h"
#include "mesh.h"
#include "musclecsa/core/error.h"
#include "slice_ops.h"

namespace musclecsa::atlas::detail {
namespace {

namespace fs = std::filesystem;

Vec3 normalized(const Vec3& v) {
  const double n = norm(v);
  return n > 0 ? (1.0 / n) * v : v;
}
/// v without its component along unit u.
Vec3 perpendicular(const Vec3& v, const Vec3& u) { return v - dot(v, u) * u; }

std::string format(const char* fmt, double a, double b = 0, double c = 0, double d = 0) {
  char text[256];
  std::snprintf(text, sizeof text, fmt, a, b, c, d);
  return text;
}

/// One leg of one subject, in LPS millimetres.
struct LegMeshes {
  std::string subject;
  Side side = Side::Right;
  std::map<std::string, Mesh> muscles;   ///< catalog key -> surface
  std::vector<Mesh> other_muscles;       ///< hip and knee muscles -> skeletal_muscle
  std::map<std::string, Mesh> bones;     ///< "tibia", "fibula", "femur" (patella is not used)
  std::map<std::string, std::string> bone_method;  ///< how each bone was obtained
  std::set<std::string> mirrored;                   ///< muscles copied from the other leg
  std::vector<std::string> notes;
};

std::string side_folder(Side side) { return side == Side::Right ? "Right" : "Left"; }

LegMeshes load_leg(const fs::path& folder, const std::string& subject, Side side, Vec3 (*to_lps)(const Vec3&),
                   std::vector<std::string>& log) {
  LegMeshes leg;
  leg.subject = subject;
  leg.side = side;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(folder))
    if (e.path().extension() == ".stl") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw Error(ErrorCode::InvalidInput, folder.string(), "holds no .stl surface");
  for (const auto& file : files) {
    const std::string key = catalog_key_for_mesh(file.filename().string());
    if (key.empty())
      throw Error(ErrorCode::InvalidInput, file.string(),
                  "unknown mesh name: not in the atlas name map (modules/atlas/names.cpp)");
    Mesh mesh = read_stl(file);
    if (mesh.open_edges > 0)
      log.push_back(file.filename().string() + ": " + std::to_string(mesh.open_edges) +
                    " open edges (voxelised by ray parity all the same)");
    transform(mesh, [to_lps](const Vec3& v) { return to_lps(v); });
    if (key == "skeletal_muscle") leg.other_muscles.push_back(std::move(mesh));
    else if (key == "tibia" || key == "fibula" || key == "femur") {
      leg.bone_method[key] = "Denver surface (" + file.filename().string() + ")";
      leg.bones[key] = std::move(mesh);
    } else if (key != "patella") leg.muscles[key] = std::move(mesh);
  }
  return leg;
}

Vec3 centroid_of(const Mesh& m) { return principal_axis(vertices_of(m)).centroid; }

/// Copies muscles one side lacks from the other side, mirrored across the mid-sagittal plane and
/// moved by the mean offset of the muscles both sides have in the same region.
void mirror_missing_muscles(LegMeshes& target, const LegMeshes& other) {
  const auto& catalog = LabelCatalog::standard();
  double mid_sum = 0;
  int mid_count = 0;
  for (const auto& [key, mesh] : target.muscles)
    if (auto it = other.muscles.find(key); it != other.muscles.end()) {
      mid_sum += 0.5 * (centroid_of(mesh).x + centroid_of(it->second).x);
      ++mid_count;
    }
  if (mid_count == 0) return;
  const double x_mid = mid_sum / mid_count;
  // Per 20 mm slab of height, a rigid in-plane fit (rotation and shift, least squares) of the
  // mirrored other leg's muscle centroids onto this leg's, over the muscles of the region both legs
  // have there: legs are not mirror images in posture (rotation about the femur especially).
  constexpr double kSlab = 20;
  struct Rigid2 {
    double c = 1, s = 0, tx = 0, ty = 0;
    Vec3 apply(const Vec3& v) const { return {c * v.x - s * v.y + tx, s * v.x + c * v.y + ty, v.z}; }
  };
  for (const auto& [key, mesh] : other.muscles) {
    if (target.muscles.count(key)) continue;
    const BodyRegion region = catalog.get(key).region;
    std::map<long, std::vector<std::pair<Vec3, Vec3>>> pairs;  // slab -> (mirrored other, target) centroids
    for (const auto& [k2, m2] : target.muscles) {
      const auto it = other.muscles.find(k2);
      if (it == other.muscles.end() || catalog.get(k2).region != region || target.mirrored.count(k2)) continue;
      std::map<long, std::pair<Vec3, int>> mine, theirs;
      for (const auto& v : vertices_of(m2)) {
        auto& e = mine[std::lround(std::floor(v.z / kSlab))];
        e.first = e.first + v, ++e.second;
      }
      for (const auto& v : vertices_of(it->second)) {
        auto& e = theirs[std::lround(std::floor(v.z / kSlab))];
        e.first = e.first + Vec3{2 * x_mid - v.x, v.y, v.z}, ++e.second;
      }
      for (const auto& [slab, sum] : mine)
        if (auto t = theirs.find(slab); t != theirs.end() && sum.second > 20 && t->second.second > 20)
          pairs[slab].push_back({(1.0 / t->second.second) * t->second.first, (1.0 / sum.second) * sum.first});
    }
    std::map<long, Rigid2> fits;
    double mean_angle = 0;
    for (const auto& [slab, ps] : pairs) {
      if (ps.size() < 3) continue;
      Vec3 ca, cb;
      for (const auto& [a2, b2] : ps) ca = ca + a2, cb = cb + b2;
      ca = (1.0 / ps.size()) * ca, cb = (1.0 / ps.size()) * cb;
      double sxx = 0, sxy = 0;
      for (const auto& [a2, b2] : ps) {
        const double ax = a2.x - ca.x, ay = a2.y - ca.y, bx = b2.x - cb.x, by = b2.y - cb.y;
        sxx += ax * bx + ay * by;
        sxy += ax * by - ay * bx;
      }
      const double angle = std::atan2(sxy, sxx);
      Rigid2 r{std::cos(angle), std::sin(angle), 0, 0};
      const Vec3 rc = r.apply(ca);
      r.tx = cb.x - rc.x, r.ty = cb.y - rc.y;
      fits[slab] = r;
      mean_angle += std::abs(angle);
    }
    if (!fits.empty()) mean_angle /= static_cast<double>(fits.size());
    auto fit_at = [&](double z) {
      if (fits.empty()) return Rigid2{};
      auto it = fits.lower_bound(std::lround(std::floor(z / kSlab)));
      if (it == fits.end()) --it;
      return it->second;
    };
    Mesh copy = mesh;
    transform(copy, [&](const Vec3& v) { return fit_at(v.z).apply(Vec3{2 * x_mid - v.x, v.y, v.z}); });
    target.muscles[key] = std::move(copy);
    target.mirrored.insert(key);
    target.notes.push_back(key + ": absent upstream on this side; mirrored from the other leg across the mid-sagittal plane (x = " +
                           format("%.1f mm LPS", x_mid) + "), then fitted per 20 mm of height by a rigid in-plane move of the "
                           "muscles both legs have there (mean rotation " + format("%.1f deg)", mean_angle * 180 / M_PI) +
                           "; it fills only what the segmented muscles leave free");
  }
}

/// A bone's long axis oriented proximally (+z in LPS), its proximal and distal ends along it.
struct BoneFrame {
  Vec3 centroid, axis;          ///< shaft centroid and unit axis pointing to the proximal end
  double t_min = 0, t_max = 0;  ///< vertex extent along the axis, relative to the centroid
};

BoneFrame shaft_frame(const std::vector<Vec3>& points) {
  const Axis whole = principal_axis(points);
  double lo = 1e300, hi = -1e300;
  for (const auto& p : points) {
    const double t = dot(p - whole.centroid, whole.direction);
    lo = std::min(lo, t), hi = std::max(hi, t);
  }
  std::vector<Vec3> shaft;
  for (const auto& p : points) {
    const double t = dot(p - whole.centroid, whole.direction);
    if (t > lo + 0.3 * (hi - lo) && t < lo + 0.7 * (hi - lo)) shaft.push_back(p);
  }
  const Axis mid = principal_axis(shaft.size() > 10 ? shaft : points);
  BoneFrame f;
  f.centroid = mid.centroid;
  f.axis = mid.direction;
  f.t_min = 1e300, f.t_max = -1e300;
  for (const auto& p : points) {
    const double t = dot(p - f.centroid, f.axis);
    f.t_min = std::min(f.t_min, t), f.t_max = std::max(f.t_max, t);
  }
  return f;
}

/// Radius of the vertices within `depth_mm` of one end around their own centroid, across the axis.
double end_radius(const std::vector<Vec3>& points, const BoneFrame& f, bool top, double depth_mm, Vec3* centre) {
  std::vector<Vec3> slab;
  for (const auto& p : points) {
    const double t = dot(p - f.centroid, f.axis);
    if (top ? t > f.t_max - depth_mm : t < f.t_min + depth_mm) slab.push_back(p);
  }
  const Vec3 c = principal_axis(slab).centroid;
  double r = 0;
  for (const auto& p : slab) r = std::max(r, norm(perpendicular(p - c, f.axis)));
  if (centre) *centre = c;
  return r;
}

/// 3x3 rotation as columns; apply to a vector.
struct Rotation {
  Vec3 c0{1, 0, 0}, c1{0, 1, 0}, c2{0, 0, 1};
  Vec3 operator()(const Vec3& v) const { return v.x * c0 + v.y * c1 + v.z * c2; }
};
/// Rotation taking the orthonormal frame (a0, a1, a0 x a1) to (b0, b1, b0 x b1).
Rotation frame_rotation(const Vec3& a0, const Vec3& a1, const Vec3& b0, const Vec3& b1) {
  const Vec3 a2 = cross(a0, a1), b2 = cross(b0, b1);
  // R = B * A^T: column n of R = sum_m A[n][m]... computed as R e_n.
  Rotation r;
  auto apply = [&](const Vec3& e) {
    return dot(e, a0) * b0 + dot(e, a1) * b1 + dot(e, a2) * b2;
  };
  r.c0 = apply({1, 0, 0});
  r.c1 = apply({0, 1, 0});
  r.c2 = apply({0, 0, 1});
  return r;
}

/// Line through the femoral cavity: the hole the thigh muscles enclose next to the vastus
/// intermedius, per 4 mm slice over the middle 30-70% of the vastus intermedius.
struct CavityLine {
  Vec3 point, direction;   ///< direction has +z
  double mean_area_mm2 = 0;
  int slices = 0;
};

CavityLine femoral_cavity(const LegMeshes& leg) {
  const auto& catalog = LabelCatalog::standard();
  Bounds b;
  for (const auto* m : catalog.muscles_of(BodyRegion::Thigh))
    if (auto it = leg.muscles.find(m->key); it != leg.muscles.end()) b.add(bounds_of(it->second));
  const auto vi = leg.muscles.find("vastus_intermedius");
  if (vi == leg.muscles.end() || b.empty())
    throw Error(ErrorCode::InvalidInput, leg.subject + " " + std::string(to_string(leg.side)) + " thigh",
                "no vastus intermedius surface: the femoral cavity cannot be found");
  const Bounds vb = bounds_of(vi->second);
  const double step = 2.0, dz = 4.0;
  Geometry g = make_axial_geometry(
      {static_cast<std::size_t>((b.max.x - b.min.x) / step) + 3, static_cast<std::size_t>((b.max.y - b.min.y) / step) + 3,
       static_cast<std::size_t>((vb.max.z - vb.min.z) / dz) + 1},
      {step, step, dz}, {b.min.x - step, b.min.y - step, vb.min.z});
  std::vector<std::uint8_t> muscle(g.voxel_count(), 0), vi_mask(g.voxel_count(), 0);
  for (const auto* m : catalog.muscles_of(BodyRegion::Thigh))
    if (auto it = leg.muscles.find(m->key); it != leg.muscles.end()) voxelize(it->second, g, muscle);
  voxelize(vi->second, g, vi_mask);
  const SliceShape shape{static_cast<int>(g.size[0]), static_cast<int>(g.size[1]), step, step};
  const std::size_t n = g.slice_voxel_count();
  std::vector<Vec3> centres;
  double area_sum = 0;
  for (std::size_t k = 0; k < g.size[2]; ++k) {
    const double z = g.origin_lps_mm.z + k * dz;
    if (z < vb.min.z + 0.3 * (vb.max.z - vb.min.z) || z > vb.min.z + 0.7 * (vb.max.z - vb.min.z)) continue;
    std::vector<std::uint8_t> m(muscle.begin() + k * n, muscle.begin() + (k + 1) * n),
        v(vi_mask.begin() + k * n, vi_mask.begin() + (k + 1) * n);
    const auto filled = close_and_fill(m, shape, 6.0);
    std::vector<std::uint8_t> cavity(n);
    for (std::size_t p = 0; p < n; ++p) cavity[p] = filled[p] && !m[p];
    std::vector<int> comp;
    const int count = connected_components(cavity, shape, comp);
    const auto near_vi = distance_to(v, shape);
    int best = 0;
    double best_area = 0;
    for (int c = 1; c <= count; ++c) {
      double area = 0;
      bool touches = false;
      for (std::size_t p = 0; p < n; ++p)
        if (comp[p] == c) area += step * step, touches = touches || near_vi[p] <= 4.0;
      if (touches && area >= 150 && area <= 2500 && area > best_area) best = c, best_area = area;
    }
    if (!best) continue;
    Vec3 c;
    double count_px = 0;
    for (std::size_t p = 0; p < n; ++p)
      if (comp[p] == best) c = c + Vec3{double(p % g.size[0]), double(p / g.size[0]), 0}, count_px += 1;
    c = (1.0 / count_px) * c;
    centres.push_back({g.origin_lps_mm.x + c.x * step, g.origin_lps_mm.y + c.y * step, z});
    area_sum += best_area;
  }
  if (centres.size() < 3)
    throw Error(ErrorCode::InvalidInput, leg.subject + " " + std::string(to_string(leg.side)) + " thigh",
                "the thigh muscles enclose a femoral cavity on only " + std::to_string(centres.size()) +
                    " mid-thigh slices; at least 3 are needed to place the femur");
  // Least-squares line x(z), y(z).
  double sz = 0, sx = 0, sy = 0, szz = 0, szx = 0, szy = 0;
  for (const auto& c : centres) sz += c.z, sx += c.x, sy += c.y, szz += c.z * c.z, szx += c.z * c.x, szy += c.z * c.y;
  const double m = static_cast<double>(centres.size());
  const double det = m * szz - sz * sz;
  const double bx = (m * szx - sz * sx) / det, by = (m * szy - sz * sy) / det;
  CavityLine line;
  line.point = {sx / m, sy / m, sz / m};
  line.direction = normalized({bx, by, 1});
  line.mean_area_mm2 = area_sum / m;
  line.slices = static_cast<int>(centres.size());
  return line;
}

/// Reads a BMFToolkit bone (metres, own frame) in millimetres.
Mesh read_bmf_bone(const fs::path& file) {
  Mesh mesh = read_stl(file);
  const Bounds b = bounds_of(mesh);
  const double extent = norm(b.max - b.min);
  const double scale = extent < 5 ? 1000.0 : 1.0;  // metres upstream; millimetres if already so
  transform(mesh, [scale](const Vec3& v) { return scale * v; });
  return mesh;
}

/// Places a femur surface in the leg: its shaft axis on the femoral cavity's line, its head turned
/// medially with 12 degrees of anteversion, its condyles `knee_z` high, scaled by `scale`.
Mesh place_femur(const Mesh& femur_source, const LegMeshes& leg, double scale, double knee_z,
                 std::vector<std::string>& log) {
  const auto points = vertices_of(femur_source);
  BoneFrame f = shaft_frame(points);
  // The proximal end is the femoral head: its last 8 mm are a small cap, the condyles' are wide.
  if (end_radius(points, f, true, 8, nullptr) > end_radius(points, f, false, 8, nullptr)) {
    f.axis = -1.0 * f.axis;
    std::swap(f.t_min, f.t_max);
    f.t_min = -f.t_min, f.t_max = -f.t_max;
  }
  Vec3 head;
  end_radius(points, f, true, 12, &head);
  const Vec3 head_dir = normalized(perpendicular(head - f.centroid, f.axis));
  const CavityLine cavity = femoral_cavity(leg);
  const Vec3 medial{leg.side == Side::Right ? 1.0 : -1.0, 0, 0}, anterior{0, -1, 0};
  const double anteversion = 12.0 * M_PI / 180.0;
  const Vec3 target_head = normalized(perpendicular(std::cos(anteversion) * medial + std::sin(anteversion) * anterior,
                                                    cavity.direction));
  const Rotation r = frame_rotation(f.axis, head_dir, cavity.direction, target_head);
  Mesh placed = femur_source;
  transform(placed, [&](const Vec3& v) { return cavity.point + scale * r(v - f.centroid); });
  const double lowest = bounds_of(placed).min.z;
  const double shift = (knee_z - lowest) / cavity.direction.z;
  transform(placed, [&](const Vec3& v) { return v + shift * cavity.direction; });
  log.push_back(leg.subject + " " + std::string(to_string(leg.side)) +
                format(" femur: cavity line over %.0f slices (mean cavity %.0f mm2), tilt %.1f deg from z, scale %.3f",
                       cavity.slices, cavity.mean_area_mm2,
                       std::acos(std::clamp(cavity.direction.z, -1.0, 1.0)) * 180 / M_PI, scale) +
                format(", condyles at z %.1f mm, head top at z %.1f mm", knee_z, bounds_of(placed).max.z));
  return placed;
}

/// The fibula's frame in a leg: head (top) point, axis up, and the in-plane direction towards the
/// tibialis anterior and posterior at mid-fibula. Used to carry the VHF tibia into VHM.
struct FibulaFrame {
  Vec3 top, axis, towards_tibia;
  double length_mm = 0;
};
FibulaFrame fibula_frame(const LegMeshes& leg) {
  const auto fib = leg.bones.find("fibula");
  const auto ta = leg.muscles.find("tibialis_anterior"), tp = leg.muscles.find("tibialis_posterior");
  const std::string what = leg.subject + " " + std::string(to_string(leg.side)) + " calf";
  if (fib == leg.bones.end() || ta == leg.muscles.end() || tp == leg.muscles.end())
    throw Error(ErrorCode::InvalidInput, what, "needs the fibula, tibialis anterior and posterior surfaces to place the tibia");
  const auto points = vertices_of(fib->second);
  BoneFrame f = shaft_frame(points);
  if (f.axis.z < 0) {
    f.axis = -1.0 * f.axis;
    std::swap(f.t_min, f.t_max);
    f.t_min = -f.t_min, f.t_max = -f.t_max;
  }
  FibulaFrame ff;
  ff.axis = f.axis;
  ff.top = f.centroid + f.t_max * f.axis;
  ff.length_mm = f.t_max - f.t_min;
  std::vector<Vec3> mid;
  for (const auto* m : {&ta->second, &tp->second})
    for (const auto& p : vertices_of(*m)) {
      const double t = dot(p - f.centroid, f.axis);
      if (t > f.t_min + 0.4 * ff.length_mm && t < f.t_min + 0.6 * ff.length_mm) mid.push_back(p);
    }
  if (mid.empty()) throw Error(ErrorCode::InvalidInput, what, "the tibial muscles do not reach mid-fibula");
  ff.towards_tibia = normalized(perpendicular(principal_axis(mid).centroid - f.centroid, f.axis));
  return ff;
}

double cortex_mm_at(const std::string& bone, double fraction) {
  const double shaft = bone == "femur" ? 5.5 : bone == "tibia" ? 5.0 : 2.0;
  const double end = 1.2;
  const double from_end = std::min(fraction, 1 - fraction);
  if (from_end <= 0.12) return end;
  if (from_end >= 0.25) return shaft;
  return end + (shaft - end) * (from_end - 0.12) / 0.13;
}

LegAtlas voxelize_leg(const LegMeshes& leg, BodyRegion region, const BuildOptions& options,
                      std::vector<std::string>& log) {
  const auto& catalog = LabelCatalog::standard();
  const std::string region_name(to_string(region));
  const std::string bone_key = region == BodyRegion::Thigh ? "femur" : "tibia";
  const Bounds bone_bounds = bounds_of(leg.bones.at(bone_key));
  // The reference bone with 30 mm beyond its knee end and 15 mm beyond its other end, so that a scan
  // of 108% of its length stays inside the atlas.
  const bool thigh = region == BodyRegion::Thigh;
  const double z_lo = bone_bounds.min.z - (thigh ? 30 : 20), z_hi = bone_bounds.max.z + (thigh ? 20 : 30);
  Bounds xy;
  auto add_in_range = [&](const Mesh& m) {
    for (const auto& t : m.triangles)
      for (const auto& v : t)
        if (v.z >= z_lo && v.z <= z_hi) xy.add(v);
  };
  for (const auto& [k, m] : leg.muscles) add_in_range(m);
  for (const auto& m : leg.other_muscles) add_in_range(m);
  for (const auto& [k, m] : leg.bones) add_in_range(m);
  const double sx = options.in_plane_spacing_mm, sz = options.slice_spacing_mm, margin = 10;
  const Vec3 origin{std::floor((xy.min.x - margin) / sx) * sx, std::floor((xy.min.y - margin) / sx) * sx,
                    std::floor(z_lo / sz) * sz};
  const Geometry g = make_axial_geometry(
      {static_cast<std::size_t>(std::ceil((xy.max.x + margin - origin.x) / sx)) + 1,
       static_cast<std::size_t>(std::ceil((xy.max.y + margin - origin.y) / sx)) + 1,
       static_cast<std::size_t>(std::ceil((z_hi - origin.z) / sz)) + 1},
      {sx, sx, sz}, origin);
  LegAtlas atlas;
  atlas.labels = LabelMap(g);
  auto& labels = atlas.labels.voxels;
  std::vector<std::uint8_t> mask(g.voxel_count());
  std::map<std::string, std::size_t> overlap;
  // Bones first; muscles then win over bones that were placed (not segmented with them).
  std::vector<LabelId> placed_bone_ids;
  // A thigh atlas holds the femur only and a calf atlas the tibia and fibula: a scan that runs past
  // the knee joins the femur and tibia into one bone column whose ends the analysis cannot tell.
  const std::vector<const char*> bone_keys = thigh ? std::vector<const char*>{"femur"} : std::vector<const char*>{"tibia", "fibula"};
  for (const char* key : bone_keys) {
    const auto it = leg.bones.find(key);
    if (it == leg.bones.end()) continue;
    std::fill(mask.begin(), mask.end(), 0);
    voxelize(it->second, g, mask);
    const LabelId id = catalog.label_id(key, leg.side);
    for (std::size_t p = 0; p < mask.size(); ++p)
      if (mask[p]) labels[p] = id;
    if (leg.bone_method.at(key).rfind("Denver", 0) != 0) placed_bone_ids.push_back(id);
  }
  auto is_placed_bone = [&](LabelId id) {
    return std::find(placed_bone_ids.begin(), placed_bone_ids.end(), id) != placed_bone_ids.end();
  };
  std::size_t bone_bitten = 0;
  // Segmented surfaces first, in catalog order; muscles mirrored from the other leg only fill what
  // the segmented ones leave free (an estimate never takes a real muscle's voxels).
  for (const bool mirrored_pass : {false, true})
    for (const auto& s : catalog.structures()) {
      if (s.kind != StructureKind::Muscle || leg.mirrored.count(s.key) != static_cast<std::size_t>(mirrored_pass)) continue;
      const auto it = leg.muscles.find(s.key);
      if (it == leg.muscles.end()) continue;
      std::fill(mask.begin(), mask.end(), 0);
      voxelize(it->second, g, mask);
      const LabelId id = catalog.label_id(s.key, leg.side);
      std::size_t inside = 0, kept = 0;
      for (std::size_t p = 0; p < mask.size(); ++p) {
        if (!mask[p]) continue;
        ++inside;
        if (labels[p] == 0) labels[p] = id, ++kept;
        else if (is_placed_bone(labels[p])) labels[p] = id, ++bone_bitten, ++kept;
        else ++overlap[s.key];
      }
      if (mirrored_pass && inside > 0)
        log.push_back(leg.subject + " " + std::string(to_string(leg.side)) + " " + std::string(to_string(region)) + ": mirrored " +
                      s.key + format(" keeps %.0f%% of its %.1f cm3 (the rest lies on segmented muscles)",
                                     inside ? 100.0 * kept / inside : 0.0, inside * g.voxel_volume_mm3() / 1000));
    }
  const LabelId other_id = catalog.label_id("skeletal_muscle", leg.side);
  for (const auto& m : leg.other_muscles) {
    std::fill(mask.begin(), mask.end(), 0);
    voxelize(m, g, mask);
    for (std::size_t p = 0; p < mask.size(); ++p)
      if (mask[p] && (labels[p] == 0 || is_placed_bone(labels[p]))) labels[p] = other_id;
  }
  std::map<std::string, Bounds> bone_extent;
  for (const char* key : bone_keys) bone_extent[key] = bounds_of(leg.bones.at(key));
  add_marrow(atlas.labels, leg.side, [&](const std::string& key, double z) {
    const Bounds& bb = bone_extent.at(key);
    return cortex_mm_at(key, (bb.max.z - z) / std::max(1.0, bb.max.z - bb.min.z));
  });
  fill_compartment(atlas.labels, leg.side, 6.0);

  AtlasEntry& e = atlas.entry;
  std::string subject_lower = leg.subject;
  for (auto& c : subject_lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  e.id = subject_lower + "-" + region_name + "-" + std::string(to_string(leg.side));
  e.subject = leg.subject;
  e.source = "denver-vh";
  e.region = region;
  e.side = leg.side;
  e.size = g.size;
  e.spacing_mm = g.spacing_mm;
  e.reference_bone = ReferenceBone{bone_key, bone_bounds.max.z, bone_bounds.min.z};
  e.structures = structures_present(atlas.labels, leg.side);
  if (region == BodyRegion::Calf) e.group_only = {"lateral_compartment_leg"};
  e.notes = leg.notes;
  for (const char* key : bone_keys) e.notes.push_back(std::string(key) + ": " + leg.bone_method.at(key));
  e.notes.push_back(thigh ? "tibia, fibula and patella: left out of the thigh atlas (a scan past the knee joins femur and tibia)"
                          : "femur and patella: left out of the calf atlas (a scan past the knee joins femur and tibia)");
  e.notes.push_back("peroneus_longus: the upstream peroneus longus surface holds both peroneals (score the lateral compartment as a group)");
  if (bone_bitten)
    log.push_back(e.id + format(": %.1f cm3 of placed bone given to muscles that overlap it", bone_bitten * g.voxel_volume_mm3() / 1000));
  for (const auto& [key, voxels] : overlap)
    if (voxels * g.voxel_volume_mm3() > 1000)
      log.push_back(e.id + ": " + key + format(" overlaps earlier muscles by %.1f cm3 (kept by the earlier one)",
                                               voxels * g.voxel_volume_mm3() / 1000));
  return atlas;
}

Vec3 vhf_to_lps(const Vec3& v) { return {-v.x, -v.y, v.z}; }
Vec3 vhm_to_lps(const Vec3& v) { return {v.x, -v.y, -v.z}; }

}  // namespace

SourceResult build_visible_human(const BuildOptions& options) {
  SourceResult result;
  const fs::path denver = options.shared_data_dir / "anatomy" / "denver-vh";
  const fs::path bmf = options.shared_data_dir / "anatomy" / "bmftoolkit-vhf";
  if (!fs::is_directory(denver)) {
    result.skipped.push_back(denver.string() + ": not found; Visible Human atlases not built");
    return result;
  }
  std::map<std::string, std::map<Side, LegMeshes>> legs;
  for (const auto& [subject, to_lps] : {std::pair{std::string("VHF"), &vhf_to_lps}, std::pair{std::string("VHM"), &vhm_to_lps}})
    for (Side side : {Side::Right, Side::Left}) {
      const fs::path folder = denver / subject / side_folder(side);
      if (!fs::is_directory(folder)) {
        result.skipped.push_back(folder.string() + ": not found; that leg is not built");
        continue;
      }
      legs[subject][side] = load_leg(folder, subject, side, to_lps, result.log);
    }
  for (auto& [subject, sides] : legs)
    if (sides.size() == 2) {
      LegMeshes right = sides.at(Side::Right), left = sides.at(Side::Left);
      mirror_missing_muscles(sides.at(Side::Right), left);
      mirror_missing_muscles(sides.at(Side::Left), right);
    }
  // Bones: VHF femur from BMFToolkit (same woman, CT), placed in the femoral cavity; VHM tibia carried
  // from VHF by the fibula frames; VHM femur = the VHF femur scaled by the vasti length ratio.
  auto vasti_length = [](const LegMeshes& leg) {
    Bounds b;
    for (const char* k : {"vastus_lateralis", "vastus_medialis", "vastus_intermedius"})
      if (auto it = leg.muscles.find(k); it != leg.muscles.end()) b.add(bounds_of(it->second));
    return b.empty() ? 0.0 : b.max.z - b.min.z;
  };
  for (Side side : {Side::Right, Side::Left}) {
    const std::string bmf_name = side == Side::Right ? "FemurR.stl" : "FemurL.stl";
    if (!legs.count("VHF") || !legs["VHF"].count(side)) continue;
    LegMeshes& vhf = legs["VHF"][side];
    if (!vhf.bones.count("tibia")) {
      result.skipped.push_back("VHF " + std::string(to_string(side)) + ": no tibia surface; its knee cannot be located");
      continue;
    }
    if (!fs::exists(bmf / bmf_name)) {
      result.skipped.push_back((bmf / bmf_name).string() + ": not found; no femur for the thighs");
      continue;
    }
    const Mesh femur_source = read_bmf_bone(bmf / bmf_name);
    // Condyles rest about 3 mm below the top of the tibial eminence (plateau + joint space).
    const double vhf_knee = bounds_of(vhf.bones.at("tibia")).max.z - 3;
    vhf.bones["femur"] = place_femur(femur_source, vhf, 1.0, vhf_knee, result.log);
    vhf.bone_method["femur"] = "BMFToolkit VHF femur (" + bmf_name +
                               ", the same woman's CT) placed rigidly: shaft on the muscles' femoral cavity line, head medial "
                               "with 12 deg anteversion, condyles 3 mm below the tibial eminence";
    if (!legs.count("VHM") || !legs["VHM"].count(side)) continue;
    LegMeshes& vhm = legs["VHM"][side];
    if (!vhm.bones.count("tibia")) {
      const FibulaFrame from = fibula_frame(vhf), to = fibula_frame(vhm);
      const double scale = to.length_mm / from.length_mm;
      const Rotation r = frame_rotation(from.axis, from.towards_tibia, to.axis, to.towards_tibia);
      Mesh tibia = vhf.bones.at("tibia");
      transform(tibia, [&](const Vec3& v) { return to.top + scale * r(v - from.top); });
      vhm.bones["tibia"] = std::move(tibia);
      vhm.bone_method["tibia"] = format("absent upstream: the VHF tibia carried by the fibula frames (head, axis, direction to the "
                                        "tibialis muscles), scaled by the fibula length ratio %.3f", scale);
      result.log.push_back("VHM " + std::string(to_string(side)) + format(" tibia: fibula %.0f mm vs VHF %.0f mm", to.length_mm, from.length_mm));
    }
    const double scale = vasti_length(vhm) / std::max(1.0, vasti_length(vhf));
    const double vhm_knee = bounds_of(vhm.bones.at("tibia")).max.z - 3 * scale;
    vhm.bones["femur"] = place_femur(femur_source, vhm, scale, vhm_knee, result.log);
    vhm.bone_method["femur"] = format("absent upstream: the BMFToolkit VHF femur scaled by the vasti length ratio %.3f, placed like "
                                      "the VHF femur (cavity line, head medial, condyles on the carried tibia)", scale);
  }
  for (auto& [subject, sides] : legs)
    for (auto& [side, leg] : sides)
      for (BodyRegion region : {BodyRegion::Thigh, BodyRegion::Calf}) {
        const std::string bone = region == BodyRegion::Thigh ? "femur" : "tibia";
        const std::string id = subject + " " + std::string(to_string(side)) + " " + std::string(to_string(region));
        if (!leg.bones.count(bone)) {
          result.skipped.push_back(id + ": no " + bone + " could be placed");
          continue;
        }
        std::string lower_id = subject + "-" + std::string(to_string(region)) + "-" + std::string(to_string(side));
        for (auto& c : lower_id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        bool wanted = options.only.empty();
        for (const auto& prefix : options.only) wanted = wanted || lower_id.rfind(prefix, 0) == 0;
        if (!wanted) continue;
        LegAtlas atlas = voxelize_leg(leg, region, options, result.log);
        atlas.entry.source_files = {"anatomy/denver-vh/" + subject + "/" + side_folder(side) + "/*.stl"};
        if (subject == "VHF" || subject == "VHM") atlas.entry.source_files.push_back("anatomy/bmftoolkit-vhf/Femur" +
                                                                                      std::string(side == Side::Right ? "R" : "L") + ".stl");
        result.atlases.push_back(std::move(atlas));
      }
  return result;
}

}  // namespace musclecsa::atlas::detail
