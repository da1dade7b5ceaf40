#include "label_editing.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <utility>

namespace musclecsa::render::detail {

std::vector<std::size_t> stroke_pixels(const Geometry& g, PixelPoint from, PixelPoint to, double radius_mm) {
  std::vector<std::size_t> out;
  if (!(radius_mm > 0) || g.size[0] == 0 || g.size[1] == 0) return out;
  const double sx = g.spacing_mm[0], sy = g.spacing_mm[1];
  const double ri = radius_mm / sx, rj = radius_mm / sy;
  const long i0 = std::max(0L, long(std::floor(std::min(from.i, to.i) - ri)));
  const long i1 = std::min(long(g.size[0]) - 1, long(std::ceil(std::max(from.i, to.i) + ri)));
  const long j0 = std::max(0L, long(std::floor(std::min(from.j, to.j) - rj)));
  const long j1 = std::min(long(g.size[1]) - 1, long(std::ceil(std::max(from.j, to.j) + rj)));
  // Segment in mm.
  const double ax = from.i * sx, ay = from.j * sy, bx = to.i * sx, by = to.j * sy;
  const double dx = bx - ax, dy = by - ay, length2 = dx * dx + dy * dy;
  for (long j = j0; j <= j1; ++j)
    for (long i = i0; i <= i1; ++i) {
      const double px = double(i) * sx, py = double(j) * sy;
      double t = length2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / length2 : 0;
      t = std::clamp(t, 0.0, 1.0);
      const double cx = ax + t * dx - px, cy = ay + t * dy - py;
      if (cx * cx + cy * cy <= radius_mm * radius_mm) out.push_back(std::size_t(i) + g.size[0] * std::size_t(j));
    }
  return out;
}

std::vector<std::size_t> polygon_pixels(const Geometry& g, const std::vector<PixelPoint>& polygon) {
  std::vector<std::size_t> out;
  if (polygon.size() < 3) return out;
  double min_i = polygon[0].i, max_i = min_i, min_j = polygon[0].j, max_j = min_j;
  for (const auto& p : polygon) min_i = std::min(min_i, p.i), max_i = std::max(max_i, p.i), min_j = std::min(min_j, p.j), max_j = std::max(max_j, p.j);
  const long i0 = std::max(0L, long(std::floor(min_i))), i1 = std::min(long(g.size[0]) - 1, long(std::ceil(max_i)));
  const long j0 = std::max(0L, long(std::floor(min_j))), j1 = std::min(long(g.size[1]) - 1, long(std::ceil(max_j)));
  std::vector<double> crossings;
  for (long j = j0; j <= j1; ++j) {
    // Scanline through the voxel centres of row j: where the polygon's edges cross it.
    const double y = double(j);
    crossings.clear();
    for (std::size_t n = 0; n < polygon.size(); ++n) {
      const PixelPoint& a = polygon[n];
      const PixelPoint& b = polygon[(n + 1) % polygon.size()];
      if ((a.j <= y) == (b.j <= y)) continue;  // half-open rule: vertices on the line counted once
      crossings.push_back(a.i + (y - a.j) / (b.j - a.j) * (b.i - a.i));
    }
    std::sort(crossings.begin(), crossings.end());
    for (std::size_t n = 0; n + 1 < crossings.size(); n += 2)
      for (long i = std::max(i0, long(std::ceil(crossings[n]))); i <= i1 && double(i) < crossings[n + 1]; ++i)
        out.push_back(std::size_t(i) + g.size[0] * std::size_t(j));
  }
  return out;
}

std::vector<PixelPoint> largest_region_outline(const std::vector<char>& mask, std::size_t nx, std::size_t ny,
                                               std::size_t max_points) {
  // Largest 4-connected region.
  std::vector<int> component(nx * ny, -1);
  int best = -1;
  std::size_t best_size = 0;
  std::vector<std::size_t> stack;
  int next = 0;
  for (std::size_t start = 0; start < nx * ny; ++start) {
    if (!mask[start] || component[start] >= 0) continue;
    std::size_t size = 0;
    stack.assign(1, start);
    component[start] = next;
    while (!stack.empty()) {
      const std::size_t o = stack.back();
      stack.pop_back();
      ++size;
      const std::size_t i = o % nx, j = o / nx;
      auto visit = [&](std::size_t n) {
        if (mask[n] && component[n] < 0) component[n] = next, stack.push_back(n);
      };
      if (i > 0) visit(o - 1);
      if (i + 1 < nx) visit(o + 1);
      if (j > 0) visit(o - nx);
      if (j + 1 < ny) visit(o + nx);
    }
    if (size > best_size) best_size = size, best = next;
    ++next;
  }
  if (best < 0) return {};
  auto inside = [&](long i, long j) {
    return i >= 0 && j >= 0 && i < long(nx) && j < long(ny) && component[std::size_t(i) + nx * std::size_t(j)] == best;
  };
  // Directed boundary edges between voxel corners (corner (ci, cj) is at ci - 0.5, cj - 0.5),
  // clockwise around each voxel on screen (j downwards): outer boundaries run clockwise.
  using Corner = std::pair<long, long>;
  std::multimap<Corner, Corner> edges;
  for (long j = 0; j < long(ny); ++j)
    for (long i = 0; i < long(nx); ++i) {
      if (!inside(i, j)) continue;
      if (!inside(i, j - 1)) edges.emplace(Corner{i, j}, Corner{i + 1, j});
      if (!inside(i + 1, j)) edges.emplace(Corner{i + 1, j}, Corner{i + 1, j + 1});
      if (!inside(i, j + 1)) edges.emplace(Corner{i + 1, j + 1}, Corner{i, j + 1});
      if (!inside(i - 1, j)) edges.emplace(Corner{i, j + 1}, Corner{i, j});
    }
  std::vector<Corner> best_loop;
  double best_area = 0;
  while (!edges.empty()) {
    std::vector<Corner> loop;
    auto it = edges.begin();
    const Corner first = it->first;
    Corner at = it->first, to = it->second;
    edges.erase(it);
    loop.push_back(at);
    while (to != first) {
      const long di = to.first - at.first, dj = to.second - at.second;
      at = to;
      loop.push_back(at);
      // Where two edges leave one corner (regions touching diagonally), turn right first (towards
      // the interior of a clockwise loop), then straight on, then left.
      const Corner preferred[3] = {{at.first - dj, at.second + di}, {at.first + di, at.second + dj}, {at.first + dj, at.second - di}};
      auto range = edges.equal_range(at);
      auto chosen = edges.end();
      for (const Corner& want : preferred) {
        for (auto e = range.first; e != range.second; ++e)
          if (e->second == want) {
            chosen = e;
            break;
          }
        if (chosen != edges.end()) break;
      }
      if (chosen == edges.end()) break;  // cannot happen for a closed boundary
      to = chosen->second;
      edges.erase(chosen);
    }
    double area2 = 0;
    for (std::size_t n = 0; n < loop.size(); ++n) {
      const Corner& a = loop[n];
      const Corner& b = loop[(n + 1) % loop.size()];
      area2 += double(a.first) * double(b.second) - double(b.first) * double(a.second);
    }
    if (area2 > best_area) best_area = area2, best_loop = std::move(loop);
  }
  // Drop collinear points, then thin evenly.
  std::vector<PixelPoint> corners;
  const std::size_t n = best_loop.size();
  for (std::size_t m = 0; m < n; ++m) {
    const Corner& prev = best_loop[(m + n - 1) % n];
    const Corner& here = best_loop[m];
    const Corner& after = best_loop[(m + 1) % n];
    const long cross = (here.first - prev.first) * (after.second - here.second) - (here.second - prev.second) * (after.first - here.first);
    if (cross != 0) corners.push_back({double(here.first) - 0.5, double(here.second) - 0.5});
  }
  if (max_points >= 3 && corners.size() > max_points) {
    std::vector<PixelPoint> thinned;
    for (std::size_t m = 0; m < max_points; ++m) thinned.push_back(corners[m * corners.size() / max_points]);
    corners = std::move(thinned);
  }
  return corners;
}

}  // namespace musclecsa::render::detail
