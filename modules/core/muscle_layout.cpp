#include "musclecsa/core/muscle_layout.h"

#include <array>
#include <iterator>

#include "musclecsa/core/error.h"

namespace musclecsa {
namespace {

/// A muscle's seed at three keyframe fractions along the reference bone.
struct SeedKeyframes {
  std::string_view key;
  std::array<double, 3> x, y, weight;
};

// Thigh, keyframes at 15%, 50% and 85% of femur length (from the femoral head). Positions follow
// cross-sectional anatomy atlases of the thigh (quadriceps anterior, hamstrings posterior,
// adductors medial-posterior, sartorius crossing from lateral-anterior to medial).
constexpr std::array<double, 3> kThighKeys{0.15, 0.5, 0.85};
constexpr SeedKeyframes kThigh[] = {
    {"rectus_femoris", {0.05, 0.0, 0.0}, {-0.78, -0.75, -0.72}, {0.75, 0.8, 0.5}},
    {"vastus_intermedius", {0.15, 0.12, 0.1}, {-0.35, -0.38, -0.35}, {0.8, 0.95, 0.9}},
    {"vastus_lateralis", {0.68, 0.65, 0.6}, {-0.2, -0.22, -0.3}, {1.0, 1.15, 1.0}},
    {"vastus_medialis", {-0.35, -0.45, -0.5}, {-0.55, -0.5, -0.45}, {0.5, 0.85, 1.2}},
    {"sartorius", {0.35, -0.66, -0.78}, {-0.84, -0.45, 0.15}, {0.5, 0.58, 0.55}},
    {"gracilis", {-0.85, -0.88, -0.82}, {0.1, 0.3, 0.45}, {0.4, 0.38, 0.35}},
    {"adductor_longus", {-0.5, -0.45, -0.45}, {-0.15, 0.0, 0.0}, {0.8, 0.55, 0.0}},
    {"adductor_brevis", {-0.35, -0.38, -0.35}, {0.1, 0.18, 0.15}, {0.6, 0.38, 0.0}},
    {"adductor_magnus", {-0.35, -0.35, -0.4}, {0.45, 0.45, 0.35}, {1.0, 1.0, 0.55}},
    {"semimembranosus", {-0.25, -0.4, -0.45}, {0.75, 0.72, 0.62}, {0.55, 0.85, 0.95}},
    {"semitendinosus", {-0.05, -0.1, -0.3}, {0.85, 0.86, 0.82}, {0.6, 0.68, 0.5}},
    {"biceps_femoris_long_head", {0.25, 0.25, 0.35}, {0.78, 0.75, 0.7}, {0.6, 0.7, 0.75}},
    {"biceps_femoris_short_head", {0.4, 0.38, 0.42}, {0.45, 0.42, 0.4}, {0.0, 0.4, 0.7}},
};

// Calf, keyframes at 15%, 40% and 75% of tibia length (from the tibial plateau).
constexpr std::array<double, 3> kCalfKeys{0.15, 0.4, 0.75};
constexpr SeedKeyframes kCalf[] = {
    {"tibialis_anterior", {0.05, 0.05, 0.05}, {-0.72, -0.7, -0.72}, {0.8, 0.8, 0.45}},
    {"extensor_digitorum_longus", {0.35, 0.35, 0.35}, {-0.6, -0.55, -0.55}, {0.55, 0.55, 0.5}},
    {"extensor_hallucis_longus", {0.2, 0.2, 0.2}, {-0.45, -0.45, -0.5}, {0.0, 0.35, 0.5}},
    {"peroneus_longus", {0.78, 0.78, 0.75}, {-0.15, -0.15, -0.1}, {0.6, 0.6, 0.3}},
    {"peroneus_brevis", {0.75, 0.72, 0.7}, {0.05, 0.1, 0.1}, {0.0, 0.4, 0.55}},
    {"tibialis_posterior", {0.1, 0.1, 0.0}, {-0.15, -0.1, -0.1}, {0.5, 0.55, 0.45}},
    {"flexor_digitorum_longus", {-0.35, -0.35, -0.35}, {-0.1, -0.1, -0.05}, {0.25, 0.45, 0.5}},
    {"flexor_hallucis_longus", {0.4, 0.35, 0.3}, {0.15, 0.15, 0.15}, {0.2, 0.5, 0.6}},
    {"soleus", {0.0, 0.0, 0.0}, {0.35, 0.35, 0.3}, {0.7, 1.0, 0.9}},
    {"gastrocnemius_medial", {-0.4, -0.35, -0.3}, {0.7, 0.72, 0.8}, {1.0, 0.9, 0.0}},
    {"gastrocnemius_lateral", {0.35, 0.35, 0.3}, {0.72, 0.75, 0.8}, {0.8, 0.7, 0.0}},
};

/// Piecewise-linear interpolation between the keyframes, constant beyond them.
double interpolate(const std::array<double, 3>& at, const std::array<double, 3>& value, double s) {
  if (s <= at[0]) return value[0];
  for (std::size_t n = 1; n < at.size(); ++n)
    if (s <= at[n]) return value[n - 1] + (value[n] - value[n - 1]) * (s - at[n - 1]) / (at[n] - at[n - 1]);
  return value[2];
}

}  // namespace

std::vector<MuscleLayoutSeed> muscle_layout(BodyRegion region, double s) {
  if (region == BodyRegion::Any) throw Error(ErrorCode::InvalidArgument, "muscle layout", "needs a body region (thigh or calf)");
  const bool thigh = region == BodyRegion::Thigh;
  const SeedKeyframes* begin = thigh ? std::begin(kThigh) : std::begin(kCalf);
  const SeedKeyframes* end = thigh ? std::end(kThigh) : std::end(kCalf);
  const auto& keys = thigh ? kThighKeys : kCalfKeys;
  std::vector<MuscleLayoutSeed> out;
  for (const SeedKeyframes* m = begin; m != end; ++m) {
    out.push_back({m->key, interpolate(keys, m->x, s), interpolate(keys, m->y, s), interpolate(keys, m->weight, s)});
  }
  return out;
}

}  // namespace musclecsa
