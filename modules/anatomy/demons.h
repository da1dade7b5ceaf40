#pragma once
// Deformable 2-D registration of two tissue maps on one grid (ITK's diffeomorphic demons, three
// resolutions), behind a header without ITK.

#include <vector>

namespace musclecsa::anatomy {

/// A displacement per grid point (mm): the moving image at x + (ux, uy) matches the fixed image at x.
struct DisplacementField {
  std::vector<float> ux, uy;
};

/// Registers `moving` onto `fixed` (both nx x ny, i-fastest, grid spacing h_mm). `iterations` at the
/// finest level, twice that at the coarsest. Runs on the calling thread only.
DisplacementField register_demons(const std::vector<float>& fixed, const std::vector<float>& moving, int nx, int ny,
                                  double h_mm, int iterations);

/// While alive, ITK filters made on any thread use one thread each (registrations run side by
/// side on parallel_for's threads instead; ITK's own threads on grids this small cost more than they
/// give). Restores ITK's default on destruction.
class ItkOneThreadPerFilter {
 public:
  ItkOneThreadPerFilter();
  ~ItkOneThreadPerFilter();
  ItkOneThreadPerFilter(const ItkOneThreadPerFilter&) = delete;
  ItkOneThreadPerFilter& operator=(const ItkOneThreadPerFilter&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace musclecsa::anatomy
