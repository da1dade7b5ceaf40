#pragma once
// Exact Euclidean distance transform of one 2-D slice (standard library only).

#include <cstdint>
#include <vector>

namespace musclecsa {

/// Distance (mm) from each pixel of an nx x ny slice (i-fastest, pixel spacing sx along i and sy
/// along j, mm) to the nearest pixel where `mask` is nonzero; 0 on those pixels.
std::vector<float> distance_to_nonzero(const std::vector<std::uint8_t>& mask, int nx, int ny, double sx, double sy);

}  // namespace musclecsa
