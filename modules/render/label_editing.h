#pragma once
// Pixel operations behind the viewer's edits, on one slice of a label map: which voxels a brush
// stroke or a polygon covers, and the outline of a structure. Plain functions, no state.

#include <cstddef>
#include <vector>

#include "musclecsa/core/image.h"
#include "musclecsa/render/viewer.h"

namespace musclecsa::render::detail {

/// In-slice offsets (i + columns * j) of voxels whose centre lies within radius_mm of the segment
/// from -> to (continuous voxel coordinates; distances in mm from the in-plane spacing).
std::vector<std::size_t> stroke_pixels(const Geometry& geometry, PixelPoint from, PixelPoint to, double radius_mm);

/// In-slice offsets of voxels whose centre lies inside the polygon (even-odd rule).
std::vector<std::size_t> polygon_pixels(const Geometry& geometry, const std::vector<PixelPoint>& polygon);

/// The outer boundary (along voxel edges, in continuous voxel coordinates, clockwise on screen
/// with j downwards) of the largest 4-connected region where `mask` is true in a columns x rows
/// slice; collinear points removed, then evenly thinned to at most max_points. Empty if no region.
std::vector<PixelPoint> largest_region_outline(const std::vector<char>& mask, std::size_t columns, std::size_t rows,
                                               std::size_t max_points);

}  // namespace musclecsa::render::detail
