// Automatic and assisted segmentation of the target muscle.
//
// Automatic: the image is flattened under the skin line (each column shifted so that the top of
// the field of view is row 0: layers parallel to the skin become horizontal). A ridge filter
// (bright line between darker rows above and below, smoothed along the layers) marks fascia and
// aponeuroses. Each column keeps its strongest ridge candidates; dynamic programming over the
// columns picks one (superficial, deep) ridge pair per column for one contiguous run of columns,
// scoring ridge strength, penalising ridges skipped between the two (another muscle's
// aponeurosis), depth (the target is the first muscle under the fascia), jumps between columns,
// and thickness at the run's ends (muscles taper; only the field's edge may cut one). The pair's
// inner half-maximum edges give the outline, closed at the ends (vl-us: where no end epimysium
// closes it, traced along both aponeuroses to where they meet), then an active contour snaps it
// to the fascia's inner edge.

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <numbers>

#include <opencv2/imgproc.hpp>

#include "musclecsa/core/error.h"
#include "us_internal.h"

namespace musclecsa::ultrasound {

namespace {

struct Candidate {
  int u = 0;         // flattened row
  double s = 0;      // normalised ridge strength
  double s_long = 0; // the same averaged along the layer (long lines keep it)
  double len_mm = 0; // extent of the ridge line it lies on, traced across the columns
};

struct Pair {
  int a = 0, b = 0;  // candidate indices (a above b)
  double score = 0;
};

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

}  // namespace

namespace {
UsSegmentation segment_between_fasciae(const GreyImage& image, const FieldOfView& fov, const UsProtocol& protocol,
                                       const std::vector<Point2>& inside, bool may_lower_deep_boundary);
}  // namespace

UsSegmentation segment_automatic(const GreyImage& image, const FieldOfView& fov, const UsProtocol& protocol,
                                 const std::vector<Point2>& inside) {
  // Should a lowered deep boundary give no plausible outline, the outline on the chosen lines is kept.
  try {
    return segment_between_fasciae(image, fov, protocol, inside, true);
  } catch (const Error&) {
    return segment_between_fasciae(image, fov, protocol, inside, false);
  }
}

namespace {
UsSegmentation segment_between_fasciae(const GreyImage& image, const FieldOfView& fov, const UsProtocol& protocol,
                                       const std::vector<Point2>& inside, bool may_lower_deep_boundary) {
  const int w = image.width, h = image.height;
  const double px_mm = detail::working_pixel_mm(image, fov);
  const double px_w = image.calibrated ? image.pixel_width_mm : px_mm;
  const double px_h = image.calibrated ? image.pixel_height_mm : px_mm;
  // Skin line: the first field-of-view row of each column, median-smoothed over +-4 mm (marks at
  // the edge of the region leave notches). Rows above the region replicate its first row.
  std::vector<int> top(w, -1), depth(w, 0), first_row(w, -1), last_row(w, -1);
  for (int i = 0; i < w; ++i) {
    for (int j = fov.min_y; j <= fov.max_y; ++j)
      if (fov.mask.at(i, j)) {
        if (first_row[i] < 0) first_row[i] = j;
        last_row[i] = j;
      }
    if (first_row[i] >= 0 && (last_row[i] - first_row[i] + 1) * px_h >= 10) top[i] = first_row[i];
  }
  {
    const int r = std::max(2, int(std::lround(4.0 / px_w)));
    std::vector<int> smoothed = top;
    for (int i = 0; i < w; ++i) {
      if (top[i] < 0) continue;
      std::vector<double> v;
      for (int d = -r; d <= r; d += 2)
        if (i + d >= 0 && i + d < w && top[i + d] >= 0) v.push_back(top[i + d]);
      smoothed[i] = int(std::lround(median_of(v)));
    }
    for (int i = 0; i < w; ++i)
      if (top[i] >= 0) {
        top[i] = smoothed[i];
        depth[i] = last_row[i] - top[i] + 1;
        if (depth[i] * px_h < 10) top[i] = -1, depth[i] = 0;
      }
  }
  int hf = 0;
  for (int i = 0; i < w; ++i) hf = std::max(hf, depth[i]);
  if (hf == 0) throw Error(ErrorCode::InvalidInput, "image", "the field of view is less than 10 mm deep: nothing to segment");
  cv::Mat flat(hf, w, CV_32FC1, cv::Scalar(0));
  for (int i = 0; i < w; ++i) {
    if (top[i] < 0) continue;
    for (int u = 0; u < hf; ++u) {
      const int y = std::clamp(top[i] + u, first_row[i], last_row[i]);
      flat.at<float>(u, i) = image.at(i, y);
    }
  }
  // Columns outside the field: copy the nearest valid column so that blurs do not see an edge.
  {
    std::vector<int> nearest(w, -1);
    int last_valid = -1;
    for (int i = 0; i < w; ++i) {
      if (top[i] >= 0) last_valid = i;
      nearest[i] = last_valid;
    }
    int next_valid = -1;
    for (int i = w - 1; i >= 0; --i) {
      if (top[i] >= 0) next_valid = i;
      if (nearest[i] < 0 || (next_valid >= 0 && next_valid - i < i - nearest[i])) nearest[i] = next_valid;
    }
    for (int i = 0; i < w; ++i)
      if (top[i] < 0 && nearest[i] >= 0) flat.col(nearest[i]).copyTo(flat.col(i));
  }
  // Ridge filter: Hessian of the Gaussian-smoothed image (scale 0.3 mm); a bright line has one
  // strongly negative eigenvalue across it and none along it (blobs such as speckle or
  // connective-tissue dots have two, and are suppressed). Smoothed again to integrate along lines.
  cv::Mat along, fine, hxx, hyy, hxy;
  const double sigma = std::max(1.0, 0.3 / px_h);
  cv::GaussianBlur(flat, along, cv::Size(0, 0), std::max(1.0, 1.0 / px_w), std::max(0.7, 0.25 / px_h), cv::BORDER_REPLICATE);
  cv::GaussianBlur(flat, fine, cv::Size(0, 0), std::max(1.0, 0.6 / px_w), std::max(0.7, 0.12 / px_h), cv::BORDER_REPLICATE);
  {
    cv::Mat gs;
    cv::GaussianBlur(flat, gs, cv::Size(0, 0), sigma, sigma, cv::BORDER_REPLICATE);
    cv::Sobel(gs, hxx, CV_32F, 2, 0, 3);
    cv::Sobel(gs, hyy, CV_32F, 0, 2, 3);
    cv::Sobel(gs, hxy, CV_32F, 1, 1, 3, 0.25);
  }
  const int d = std::max(2, int(std::lround(1.0 / px_h)));
  cv::Mat ridge(hf, w, CV_32FC1, cv::Scalar(0));
  for (int u = 0; u < hf; ++u) {
    const float* a = hxx.ptr<float>(u);
    const float* b = hyy.ptr<float>(u);
    const float* c = hxy.ptr<float>(u);
    float* r = ridge.ptr<float>(u);
    for (int i = 0; i < w; ++i) {
      if (top[i] < 0 || u >= depth[i]) continue;
      const float mean = 0.5f * (a[i] + b[i]), dev = std::sqrt(0.25f * (a[i] - b[i]) * (a[i] - b[i]) + c[i] * c[i]);
      const float l1 = mean - dev, l2 = mean + dev;  // l1 <= l2
      if (l1 < 0) r[i] = -l1 - std::max(0.0f, -l2);
    }
  }
  cv::GaussianBlur(ridge, ridge, cv::Size(0, 0), std::max(1.0, 0.3 / px_w), std::max(1.0, 0.3 / px_h), cv::BORDER_REPLICATE);
  // Long ridges (fascia, aponeuroses) against short ones (septa inside a muscle, dots): the ridge
  // strength averaged over +-6 mm along the line, at the best of nine slopes.
  const int half_length = std::max(3, int(std::lround(6.0 / px_w)));
  auto long_strength = [&](int u, int i) {
    double best = 0;
    for (double m : {-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0}) {
      double sum = 0;
      int n = 0;
      for (int k = -half_length; k <= half_length; k += 2) {
        const int x = i + k, y = int(std::lround(u + m * k));
        if (x < 0 || x >= w || y < 0 || y >= hf || top[x] < 0) continue;
        sum += ridge.at<float>(y, x), ++n;
      }
      if (n > half_length / 2) best = std::max(best, sum / n);
    }
    return best;
  };
  std::vector<float> positive;
  for (int i = 0; i < w; ++i) {
    if (top[i] < 0) continue;
    for (int u = 0; u < depth[i]; u += 2) {
      const float r = ridge.at<float>(u, i);
      if (r > 0) positive.push_back(r);
    }
  }
  if (positive.size() < 100) throw Error(ErrorCode::InvalidInput, "image", "no fascia or aponeurosis visible (the image is flat)");
  std::nth_element(positive.begin(), positive.begin() + positive.size() * 98 / 100, positive.end());
  const double scale = std::max(1e-3, double(positive[positive.size() * 98 / 100]));

  // Ridge candidates per column: local maxima across the layers, ranked by the stronger of their
  // own strength and their strength along the line (a line through a speckle dropout keeps it);
  // a long line of the previous column without a candidate nearby is continued through the gap.
  const int K = 12;
  const int local = std::max(1, int(std::lround(0.3 / px_h)));
  const int u_min = std::max(d, int(std::lround(0.5 / px_h)));
  const int near_rows = std::max(2, int(std::lround(0.3 / px_h)));
  std::vector<std::vector<Candidate>> cand(w);
  for (int i = 0; i < w; ++i) {
    if (top[i] < 0) continue;
    std::vector<Candidate> c;
    for (int u = u_min; u + d < depth[i]; ++u) {
      const float v = ridge.at<float>(u, i);
      if (v / scale < 0.1) continue;
      bool peak = true;
      for (int q = -local; q <= local && peak; ++q)
        if (q != 0 && u + q >= 0 && u + q < hf && ridge.at<float>(u + q, i) > v) peak = false;
      if (peak) c.push_back({u, std::min(2.0, v / scale), 0.0});
    }
    std::sort(c.begin(), c.end(), [](const Candidate& x, const Candidate& y) { return x.s > y.s; });
    if (c.size() > std::size_t(2 * K)) c.resize(2 * K);
    for (auto& q : c) q.s_long = std::min(2.0, long_strength(q.u, i) / scale);
    std::sort(c.begin(), c.end(), [](const Candidate& x, const Candidate& y) { return x.u < y.u; });
    cand[i] = std::move(c);
  }
  // Length of each candidate's ridge line: candidates are linked to the nearest one of the previous
  // columns (within 0.3 mm per column, over gaps of up to 1 mm) and the linked chain's extent is
  // measured both ways. Fascia and aponeuroses run across much of the image; intramuscular
  // striations (perimysium between fascicles) are short and oblique.
  const double rll = protocol.ridge_line_length_mm;
  const bool use_length = rll > 0;
  if (use_length) {
    const int gap_cols = std::max(1, int(std::lround(1.0 / px_w)));
    auto link = [&](int i, int dir, std::vector<std::vector<double>>& ext) {
      for (std::size_t k = 0; k < cand[i].size(); ++k) {
        ext[i][k] = px_w;
        for (int g = 1; g <= gap_cols; ++g) {
          const int n = i - dir * g;
          if (n < 0 || n >= w || top[n] < 0) break;
          int best = -1, best_d = near_rows + 1;
          for (std::size_t q = 0; q < cand[n].size(); ++q) {
            const int dd = std::abs(cand[n][q].u - cand[i][k].u);
            if (dd < best_d) best_d = dd, best = int(q);
          }
          if (best >= 0) {
            ext[i][k] = ext[n][best] + std::hypot(g * px_w, (cand[n][best].u - cand[i][k].u) * px_h);
            break;
          }
        }
      }
    };
    std::vector<std::vector<double>> left(w), right(w);
    for (int i = 0; i < w; ++i) left[i].assign(cand[i].size(), 0), right[i].assign(cand[i].size(), 0);
    for (int i = 0; i < w; ++i) link(i, +1, left);
    for (int i = w - 1; i >= 0; --i) link(i, -1, right);
    for (int i = 0; i < w; ++i)
      for (std::size_t k = 0; k < cand[i].size(); ++k) cand[i][k].len_mm = left[i][k] + right[i][k] - px_w;
  }
  // Which candidates a column keeps (the K strongest): their strength, weighed down when their line
  // is shorter than the protocol's ridge_line_length_mm, so that in a striated muscle the long
  // aponeuroses are not crowded out by the many short bright striations around them.
  auto length_factor = [&](const Candidate& q) {
    return use_length ? std::clamp(q.len_mm / rll, 0.25, 1.0) : 1.0;
  };
  auto strength = [&](const Candidate& q) { return std::max(q.s, q.s_long) * length_factor(q); };
  for (int i = 0; i < w; ++i) {
    if (top[i] < 0) continue;
    auto& c = cand[i];
    std::sort(c.begin(), c.end(), [&](const Candidate& x, const Candidate& y) { return strength(x) > strength(y); });
    if (c.size() > std::size_t(K)) c.resize(K);
    if (i > 0 && top[i - 1] >= 0)
      for (const auto& prev : cand[i - 1]) {
        if (prev.s_long < 0.5 || prev.u + d >= depth[i]) continue;
        const bool continued = std::any_of(c.begin(), c.end(), [&](const Candidate& q) { return std::abs(q.u - prev.u) <= near_rows; });
        if (!continued) c.push_back({prev.u, std::min(2.0, ridge.at<float>(prev.u, i) / scale), std::min(2.0, long_strength(prev.u, i) / scale), prev.len_mm});
      }
    std::sort(c.begin(), c.end(), [](const Candidate& x, const Candidate& y) { return x.u < y.u; });
  }

  // Seeds (assisted with points inside): the run must contain their columns, the pair enclose them.
  int seed_min = w, seed_max = -1;
  std::vector<std::pair<int, double>> seed_rows;  // column, flattened row
  for (const auto& p : inside) {
    const int i = int(std::lround(p.x));
    if (i < 0 || i >= w || top[i] < 0)
      throw Error(ErrorCode::InvalidArgument, "--points", "a point lies outside the imaged region");
    seed_min = std::min(seed_min, i), seed_max = std::max(seed_max, i);
    seed_rows.push_back({i, p.y - top[i]});
  }

  // Passes: first strict about long lines skipped between the two boundaries (another muscle's
  // aponeurosis) and about width (twice the protocol's minimum, or half the imaged width); when that
  // finds no muscle as wide, the next passes tolerate more bright lines inside the muscle (real
  // muscles have intramuscular septa and aponeuroses); failing all, the widest run of at least the
  // protocol's minimum width is taken.
  auto edge_column = [&](int i, int dir) { const int n = i + dir; return n < 0 || n >= w || top[n] < 0; };
  int fov_columns = 0;
  for (int i = 0; i < w; ++i) fov_columns += top[i] >= 0 ? 1 : 0;
  std::vector<std::vector<Pair>> pairs;
  std::vector<std::pair<int, int>> run;  // column, state
  std::string failure;
  bool found = false;
  struct Pass {
    double long_line, w_between;
    bool strict_width;
  };
  const Pass passes[] = {{0.4, 1.5, true}, {0.6, 0.75, true}, {0.8, 0.3, true}};
  std::vector<std::vector<Pair>> widest_pairs;
  std::vector<std::pair<int, int>> widest_run;
  for (int pass = 0; pass < 3 && !found; ++pass) {
    const double long_line = passes[pass].long_line;
    const double wanted_width_mm = passes[pass].strict_width
                                       ? std::max(protocol.min_width_mm, 0.5 * fov_columns * px_w)
                                       : protocol.min_width_mm;
    // Column scores of the candidate pairs.
    const double c0 = 1.0, w_between = protocol.layer_to_bone ? 0.3 : passes[pass].w_between, w_depth = protocol.layer_to_bone ? 0.0 : 0.05, w_thick = -0.02;
    const double w_jump = 0.03, w_end = 0.5;
    // Ridges split where a muscle's boundary leaves the fascia: allow a jump of 1.5 mm, at a price.
    const int easy_jump = std::max(2, int(std::lround(0.3 / px_h)));
    const int max_jump = std::max(easy_jump + 2, int(std::lround(1.5 / px_h)));
    auto jump_cost = [&](int j) { return w_jump * j + 0.06 * std::max(0, j - easy_jump); };
    pairs.assign(w, {});
    for (int i = 0; i < w; ++i) {
      const auto& c = cand[i];
      for (int a = 0; a < int(c.size()); ++a)
        for (int b = a + 1; b < int(c.size()); ++b) {
          if (c[a].u * px_h < 2.0) continue;  // the skin line is never the muscle's top
          const double t_mm = (c[b].u - c[a].u) * px_h;
          if (t_mm < protocol.min_thickness_mm * 0.5 || t_mm > protocol.max_thickness_mm) continue;
          bool ok = true;
          for (const auto& [col, row] : seed_rows)
            if (col == i && !(row > c[a].u && row < c[b].u)) ok = false;
          if (!ok) continue;
          double between = 0;
          const int gap = std::max(2, int(std::lround(0.7 / px_h)));
          for (int k = a + 1; k < b; ++k)
            if (std::max(c[k].s, c[k].s_long) > 0.45 && c[k].s_long > long_line && c[k].u - c[a].u > gap && c[b].u - c[k].u > gap) between += std::max(c[k].s, c[k].s_long);
          // Both boundaries must be real ridges: the weaker one counts twice.
          const double sa = std::max(c[a].s, c[a].s_long), sb = std::max(c[b].s, c[b].s_long);
          const double weaker = std::min({sa, sb, 1.5}), stronger = std::min(std::max(sa, sb), 1.5);
          double score = 2 * weaker + 0.2 * (stronger - weaker) - c0 - w_between * between - w_depth * c[a].u * px_h / 10.0 - w_thick * t_mm;
          // Thinner than the protocol's minimum: only a tapering end (or a fat layer between septa).
          if (t_mm < protocol.min_thickness_mm) score -= 4.0 * (protocol.min_thickness_mm - t_mm) / protocol.min_thickness_mm;
          if (protocol.layer_to_bone) {
            // The bone surface: bright with an acoustic shadow under it.
            double above = 0, below = 0;
            int na = 0, nb = 0;
            for (int u = c[a].u + d; u < c[b].u - d; ++u) above += along.at<float>(u, i), ++na;
            for (int u = c[b].u + 2 * d; u < std::min(depth[i], c[b].u + 6 * d); ++u) below += along.at<float>(u, i), ++nb;
            if (na > 0 && nb > 0) score += 1.0 * std::clamp(1.0 - (below / nb) / std::max(1.0, above / na), 0.0, 1.0);
          }
          pairs[i].push_back({a, b, score});
        }
    }
    // Dynamic programming: before -> run of pairs -> after.
    const double neg = -std::numeric_limits<double>::infinity();
    // States: a pair and the phases of its two boundaries. Going right from the muscle's left end,
    // the superficial boundary rises to its shallowest point and then descends (phase 0, then 1);
    // the deep boundary descends, then rises. Moves against the phase are small and paid for: a
    // boundary does not climb back onto the fascia (the lens shape of RF, VL and gastrocnemius).
    const bool shaped = !protocol.layer_to_bone;
    const double w_against = 1.0;
    const int against_limit = std::max(1, int(std::lround(0.1 / px_h)));  // jitter only
    std::vector<std::vector<double>> acc(w);
    std::vector<std::vector<int>> from(w);  // state index in the previous column, -1 = entry
    std::vector<double> after(w + 1, neg);
    std::vector<std::pair<int, int>> after_from(w + 1, {-2, -1});  // (-2: stayed after) or (column, state)
    auto thickness_mm = [&](int i, const Pair& p) { return (cand[i][p.b].u - cand[i][p.a].u) * px_h; };
    // Cost of a boundary move `delta` (flattened rows, positive = deeper) given the expected direction
    // (+1 deeper, -1 shallower); infinity when not allowed.
    auto move_cost = [&](int delta, int expected) {
      const int j = std::abs(delta);
      if (j > max_jump) return std::numeric_limits<double>::infinity();
      double c = jump_cost(j);
      if (shaped && delta * expected < 0) {
        if (j > against_limit) return std::numeric_limits<double>::infinity();
        c += w_against * j;
      }
      return c;
    };
    std::vector<std::vector<int>> near_prev;
    std::vector<int> pair_index_prev;
    for (int i = 0; i < w; ++i) {
      if (i > 0) {
        // Candidates of the previous column within a jump of each candidate, and its pairs by (a, b).
        const auto& cp = cand[i - 1];
        near_prev.assign(cand[i].size(), {});
        for (std::size_t k = 0; k < cand[i].size(); ++k)
          for (std::size_t q = 0; q < cp.size(); ++q)
            if (std::abs(cand[i][k].u - cp[q].u) <= max_jump) near_prev[k].push_back(int(q));
        pair_index_prev.assign(cp.size() * cp.size(), -1);
        for (std::size_t q = 0; q < pairs[i - 1].size(); ++q)
          pair_index_prev[std::size_t(pairs[i - 1][q].a) * cp.size() + pairs[i - 1][q].b] = int(q);
      }
      acc[i].assign(pairs[i].size() * 4, neg);
      from[i].assign(pairs[i].size() * 4, -1);
      // After state at i: stayed, or a run ended at i-1.
      if (i > 0) {
        after[i] = after[i - 1];
        after_from[i] = {-2, -1};
        if (i - 1 >= seed_max)
          for (std::size_t q = 0; q < acc[i - 1].size(); ++q) {
            if (acc[i - 1][q] == neg) continue;
            const double v = acc[i - 1][q] - (edge_column(i - 1, +1) ? 0.0 : w_end * thickness_mm(i - 1, pairs[i - 1][q / 4]));
            if (v > after[i]) after[i] = v, after_from[i] = {i - 1, int(q)};
          }
      }
      for (std::size_t st = 0; st < acc[i].size(); ++st) {
        const Pair& pr = pairs[i][st / 4];
        const int phase_top = int(st & 1), phase_bottom = int((st >> 1) & 1);
        double best = neg;
        int arg = -1;
        // A run starts in phase 0 of both boundaries.
        if ((i <= seed_min || seed_max < 0) && (st & 3) == 0) best = edge_column(i, -1) ? 0.0 : -w_end * thickness_mm(i, pr);
        if (i > 0 && top[i - 1] >= 0) {
          const auto& cp = cand[i - 1];
          const auto& cc = cand[i];
          for (int qa : near_prev[pr.a])
            for (int qb : near_prev[pr.b]) {
              const int q_pair = pair_index_prev[std::size_t(qa) * cp.size() + qb];
              if (q_pair < 0) continue;
              const double ca = move_cost(cc[pr.a].u - cp[qa].u, phase_top == 0 ? -1 : +1);
              const double cb = move_cost(cc[pr.b].u - cp[qb].u, phase_bottom == 0 ? +1 : -1);
              if (!std::isfinite(ca) || !std::isfinite(cb)) continue;
              for (int ph = 0; ph < 4; ++ph) {
                if ((ph & 1) > phase_top || ((ph >> 1) & 1) > phase_bottom) continue;  // phases only advance
                const std::size_t q = std::size_t(q_pair) * 4 + ph;
                if (acc[i - 1][q] == neg) continue;
                const double v = acc[i - 1][q] - ca - cb;
                if (v > best) best = v, arg = int(q);
              }
            }
        }
        if (best == neg) continue;
        acc[i][st] = best + pr.score;
        from[i][st] = arg;
      }
    }
    // Final: the after state at w (runs that ended at the last column included).
    after[w] = after[w - 1];
    after_from[w] = {-2, -1};
    if (w - 1 >= seed_max)
      for (std::size_t q = 0; q < acc[w - 1].size(); ++q)
        if (acc[w - 1][q] != neg && acc[w - 1][q] > after[w]) after[w] = acc[w - 1][q], after_from[w] = {w - 1, int(q)};
    const double final_best = after[w];
    std::pair<int, int> end = {-1, -1};
    {
      int i = w;
      while (i > 0 && after_from[i].first == -2) --i;
      if (i > 0) end = after_from[i];
    }
    if (end.first < 0 || !(final_best > 0)) {
      failure = "automatic segmentation found no " + protocol.structure_key +
                " (no pair of fascia lines enclosing a muscle of plausible thickness); give --points or an outline";
      continue;
    }
    // Trace the run back.
    run.clear();
    for (int i = end.first, p = end.second; i >= 0 && p >= 0;) {
      run.push_back({i, p});
      const int q = from[i][p];
      if (q < 0) break;
      --i, p = q;
    }
    std::reverse(run.begin(), run.end());
    const double width_mm = run.size() * px_w;
    if (width_mm < wanted_width_mm) {
      failure = "automatic segmentation found only a " + std::to_string(int(std::lround(width_mm))) + " mm wide " +
                protocol.structure_key + " (at least " + std::to_string(int(protocol.min_width_mm)) +
                " mm expected); give --points or an outline";
      if (width_mm >= protocol.min_width_mm && run.size() > widest_run.size()) widest_run = run, widest_pairs = pairs;
      continue;
    }
    found = true;
  }
  if (!found && !widest_run.empty()) {
    // No pass found a muscle as wide as expected: the widest of the plausible ones.
    run = std::move(widest_run);
    pairs = std::move(widest_pairs);
    found = true;
  }
  if (!found) throw Error(ErrorCode::InvalidInput, "image", failure);

  const std::size_t m = run.size();
  std::vector<int> top_rows(m), bottom_rows(m);  // flattened rows of the chosen ridges
  bool deep_boundary_lowered = false;
  for (std::size_t k = 0; k < m; ++k) {
    const Pair& pr = pairs[run[k].first][run[k].second / 4];
    top_rows[k] = cand[run[k].first][pr.a].u, bottom_rows[k] = cand[run[k].first][pr.b].u;
  }
  // A deep boundary inside the muscle (vl-us): in a striated VL a strong intramuscular line can win
  // over a faint deep aponeurosis (SUB02_img2: ridge strength 0.9-1.1 against 0.3-0.5), and the run
  // then holds only the muscle's upper part. The sign is the texture under the chosen deep line: the
  // band 1-5 mm below it is at least as striated (mean ridge strength) as the muscle between the two
  // lines. Below a deep aponeurosis lies the less striated vastus intermedius (0.3-0.65 of the
  // muscle's on the other panoramas, 0.93 on SUB01_img2). Then the deep boundary is lowered to the
  // best continuous line path below it (dynamic programming over the ridge map, as for the traced
  // ends: each column earns its ridge strength less 0.2, a step of j rows costs 0.5 j + 0.05 j^2,
  // at most 45 degrees), within the protocol's maximum thickness, when under that path the texture
  // does drop (the band below it less than half as striated as the muscle above it).
  if (may_lower_deep_boundary && use_length && protocol.ends_at_aponeurosis_junction) {
    const int rows_1mm = std::max(1, int(std::lround(1.0 / px_h))), rows_5mm = std::max(2, int(std::lround(5.0 / px_h)));
    auto striation_density = [&](const std::vector<int>& upper, int upper_offset, const std::vector<int>& lower, int lower_offset) {
      double sum = 0;
      int n = 0;
      for (std::size_t k = 0; k < m; ++k) {
        const int i = run[k].first;
        for (int u = std::max(0, upper[k] + upper_offset); u < std::min(depth[i], lower[k] + lower_offset); ++u)
          sum += ridge.at<float>(u, i) / scale, ++n;
      }
      return n ? sum / n : 0.0;
    };
    const double muscle_density = striation_density(top_rows, 2 * d, bottom_rows, -2 * d);
    const double below_density = striation_density(bottom_rows, rows_1mm, bottom_rows, rows_5mm);
    if (muscle_density > 0 && below_density >= muscle_density) {
      const int max_rows = int(std::lround(protocol.max_thickness_mm / px_h));
      const int max_step = std::max(1, int(std::lround(px_w / px_h)));
      auto step_cost = [](int j) { return 0.5 * std::abs(j) + 0.05 * j * j; };
      const double neg = -std::numeric_limits<double>::infinity();
      std::vector<double> value(hf, neg), next(hf);
      std::vector<std::vector<int>> back(m, std::vector<int>(hf, -1));
      for (std::size_t k = 0; k < m; ++k) {
        const int i = run[k].first;
        const int lowest = std::min(depth[i] - d, top_rows[k] + max_rows);
        std::fill(next.begin(), next.end(), neg);
        for (int u = bottom_rows[k] + 2 * rows_1mm; u < lowest; ++u) {
          double best = k == 0 ? 0.0 : neg;
          int arg = -1;
          for (int q = std::max(0, u - max_step); k > 0 && q <= std::min(hf - 1, u + max_step); ++q)
            if (value[q] != neg && value[q] - step_cost(u - q) > best) best = value[q] - step_cost(u - q), arg = q;
          if (best == neg) continue;
          next[u] = best + std::min(1.5, double(ridge.at<float>(u, i)) / scale) - 0.2;
          back[k][u] = arg;
        }
        value.swap(next);
      }
      int u = int(std::max_element(value.begin(), value.end()) - value.begin());
      if (value[u] != neg && value[u] > 0) {
        std::vector<int> lowered(m);
        for (std::size_t k = m; k-- > 0;) lowered[k] = u, u = back[k][u];
        const double lowered_muscle = striation_density(top_rows, 2 * d, lowered, -2 * d);
        const double lowered_below = striation_density(lowered, rows_1mm, lowered, rows_5mm);
        if (lowered_below < 0.5 * lowered_muscle) {
          bottom_rows = lowered;
          deep_boundary_lowered = true;
        }
      }
    }
  }
  // Inner half-maximum edges of the two ridges in each column.
  std::vector<double> top_edge(m), bottom_edge(m);
  for (std::size_t k = 0; k < m; ++k) {
    const int i = run[k].first;
    const int ua = top_rows[k], ub = bottom_rows[k];
    std::vector<double> mid;
    for (int u = ua + (ub - ua) / 4; u <= ub - (ub - ua) / 4; ++u) mid.push_back(fine.at<float>(u, i));
    const double interior = median_of(mid);
    auto peak_near = [&](int u0) {
      int best = u0;
      for (int u = std::max(0, u0 - d / 2); u <= std::min(hf - 1, u0 + d / 2); ++u)
        if (fine.at<float>(u, i) > fine.at<float>(best, i)) best = u;
      return best;
    };
    const int pa = peak_near(ua), pb = peak_near(ub);
    const double half_a = 0.5 * (fine.at<float>(pa, i) + interior), half_b = 0.5 * (fine.at<float>(pb, i) + interior);
    double ea = pa + 0.5, eb = pb - 0.5;
    for (int u = pa; u < pb; ++u)
      if (fine.at<float>(u + 1, i) < half_a) {
        const double f0 = fine.at<float>(u, i), f1 = fine.at<float>(u + 1, i);
        ea = u + (f0 - half_a) / std::max(1e-6, f0 - f1);
        break;
      }
    for (int u = pb; u > pa; --u)
      if (fine.at<float>(u - 1, i) < half_b) {
        const double f0 = fine.at<float>(u, i), f1 = fine.at<float>(u - 1, i);
        eb = u - (f0 - half_b) / std::max(1e-6, f0 - f1);
        break;
      }
    if (eb < ea) eb = ea = 0.5 * (ea + eb);
    top_edge[k] = top[i] + ea;
    bottom_edge[k] = top[i] + eb;
  }
  // Both edges are median- and then mean-filtered over +-1.5 mm (between the two, vl-us removes
  // steps).
  const int smooth_radius = std::max(2, int(std::lround(1.5 / px_w)));
  auto median_filter = [&](std::vector<double>& v) {
    std::vector<double> med(v.size());
    for (std::size_t k = 0; k < v.size(); ++k) {
      std::vector<double> win;
      for (int q = -smooth_radius; q <= smooth_radius; ++q)
        if (int(k) + q >= 0 && int(k) + q < int(v.size())) win.push_back(v[k + q]);
      med[k] = median_of(win);
    }
    v = std::move(med);
  };
  auto mean_filter = [&](std::vector<double>& v) {
    std::vector<double> mean(v.size());
    for (std::size_t k = 0; k < v.size(); ++k) {
      double s = 0;
      int n = 0;
      for (int q = -smooth_radius; q <= smooth_radius; ++q)
        if (int(k) + q >= 0 && int(k) + q < int(v.size())) s += v[k + q], ++n;
      mean[k] = s / n;
    }
    v = std::move(mean);
  };
  median_filter(top_edge);
  median_filter(bottom_edge);
  // Steps (vl-us): a boundary that leaves the fascia's inner edge in a vertical step and comes back
  // a few mm further on has followed another line in between (the thin fascia above a thick
  // superficial aponeurosis, a striation). Each boundary's inner edge (median-filtered: a one-column
  // glitch does not count) is cut into pieces where it jumps more than 0.6 mm between neighbouring
  // columns; a group of consecutive pieces at most 25 mm long lying wholly on one side of the
  // straight line between the pieces either side of it, on average more than 0.6 mm from it, is
  // such an excursion and is replaced by that straight line (the active contour then snaps it to
  // the edge); the longest first, until none is left. Left alone: a staircase (it crosses that
  // line, as at a tapering end), the run's first and last pieces, and a deep boundary stepping down
  // and back up over more than 10 mm (the lens's deepest part: SUB01_img2's deep aponeurosis
  // descends in steps and rises again over the femur, over 19 mm).
  if (protocol.ends_at_aponeurosis_junction && m > 2) {
    const double jump_rows = 0.6 / px_h;
    const double excursion_max_mm = 25.0, outward_max_mm = 10.0;
    auto remove_steps = [&](std::vector<double> rows, bool keep_outward) {
      for (int repeat = 0; repeat < 20; ++repeat) {
        std::vector<std::pair<std::size_t, std::size_t>> pieces;  // [first, last] run indices
        std::size_t first = 0;
        for (std::size_t k = 1; k <= m; ++k)
          if (k == m || std::abs(rows[k] - rows[k - 1]) > jump_rows) pieces.push_back({first, k - 1}), first = k;
        // The longest group of pieces wholly on one side of the line joining its neighbours.
        std::size_t best_first = 0, best_last = 0;
        for (std::size_t p = 1; p + 1 < pieces.size(); ++p)
          for (std::size_t q = p; q + 1 < pieces.size(); ++q) {
            const std::size_t k_first = pieces[p].first, k_last = pieces[q].second;
            if ((k_last - k_first + 1) * px_w > excursion_max_mm) break;
            if (k_last - k_first <= best_last - best_first && best_last > 0) continue;
            const std::size_t k0 = k_first - 1, k1 = k_last + 1;  // the neighbours' facing ends
            double above = 0, below = 0;
            for (std::size_t k = k_first; k <= k_last; ++k) {
              const double deviation = rows[k] - (rows[k0] + (rows[k1] - rows[k0]) * double(k - k0) / double(k1 - k0));
              (deviation < 0 ? above : below) += std::abs(deviation) / double(k_last - k_first + 1);
            }
            const bool one_side = (above == 0) != (below == 0);
            if (!one_side || above + below <= jump_rows) continue;
            if (keep_outward && below > 0 && (k_last - k_first + 1) * px_w > outward_max_mm) continue;  // the lens's deepest part
            best_first = k_first, best_last = k_last;
          }
        const bool changed = best_last > 0;
        if (changed) {
          const std::size_t k0 = best_first - 1, k1 = best_last + 1;
          for (std::size_t k = best_first; k <= best_last; ++k)
            rows[k] = rows[k0] + (rows[k1] - rows[k0]) * double(k - k0) / double(k1 - k0);
        }
        if (!changed) break;
      }
      return rows;
    };
    const std::vector<double> top_steady = remove_steps(top_edge, false), bottom_steady = remove_steps(bottom_edge, true);
    bool plausible = true;
    for (std::size_t k = 0; k < m; ++k)
      if ((bottom_steady[k] - top_steady[k]) * px_h < 0.5 * protocol.min_thickness_mm) plausible = false;
    if (plausible) top_edge = top_steady, bottom_edge = bottom_steady;
  }
  mean_filter(top_edge);
  mean_filter(bottom_edge);
  // Ends: where the muscle's end is steep, the column pairs stop before it. Along the mid-line
  // beyond the last column, the first ridge (the end's epimysium, seen side-on) closes the muscle
  // with a half-ellipse cap; without one, the end is closed straight.
  auto cap = [&](int x_end, double y_t, double y_b, int dir, std::vector<Point2>& out) {
    const double thick = y_b - y_t;
    if (thick < 2) return;
    const int u_mid = int(std::lround(0.5 * (y_t + y_b))) - top[x_end];
    const int max_len = int(std::min(1.5 * thick * px_h / px_w, 15.0 / px_w));
    double length = 0;
    for (int k = 2; k <= max_len; ++k) {
      const int x = x_end + dir * k;
      if (x < 1 || x >= w - 1 || top[x] < 0 || u_mid < 0 || u_mid >= depth[x]) break;
      const float v = ridge.at<float>(u_mid, x);
      if (v / scale >= 0.35 && v >= ridge.at<float>(u_mid, x - 1) && v >= ridge.at<float>(u_mid, x + 1)) {
        length = k - 0.35 / px_w;
        break;
      }
    }
    if (length <= 1) return;
    const double y_mid = 0.5 * (y_t + y_b);
    for (int n = 1; n < 24; ++n) {
      const double t = -std::numbers::pi / 2 + std::numbers::pi * n / 24;
      out.push_back({x_end + dir * length * std::cos(t), y_mid + dir * 0.5 * thick * std::sin(t)});
    }
  };
  // Ends of a lens-shaped muscle in a panorama (protocol's ends_at_aponeurosis_junction: vl-us): the
  // muscle ends where its superficial and deep aponeuroses meet. Beyond the run's end column both
  // lines are traced outwards by dynamic programming over the ridge map: the superficial line may
  // only descend, the deep line only rise (they converge), each column earning its ridge strength
  // less a threshold (a line through dark muscle or speckle loses), until the deep line comes
  // within half the protocol's minimum thickness of the superficial one. The trace is kept when
  // they meet within the reach (4 end thicknesses, 20-60 mm, inside the field of view).
  struct EndTrace {
    std::vector<double> x, top_y, bottom_y;  // image coordinates, from the run's end outwards
    Point2 tip;
  };
  const double trace_threshold = 0.2;  // ridge strength (of the 98th percentile) a traced column must exceed to gain
  auto trace_end = [&](int dir) -> std::optional<EndTrace> {
    const int i_end = (dir > 0 ? run.back() : run.front()).first;
    if (edge_column(i_end, dir)) return std::nullopt;
    const int ua0 = dir > 0 ? top_rows.back() : top_rows.front(), ub0 = dir > 0 ? bottom_rows.back() : bottom_rows.front();
    const double thick_mm = (ub0 - ua0) * px_h;
    const double reach_mm = std::clamp(4.0 * thick_mm, 20.0, 60.0);
    std::vector<int> cols;
    for (int k = 1; k * px_w <= reach_mm; ++k) {
      const int x = i_end + dir * k;
      if (x < 0 || x >= w || top[x] < 0 || depth[x] <= ua0 + 2 * d) break;  // the fan's slanted edge
      cols.push_back(x);
    }
    const int n = int(cols.size());
    if (n < 3) return std::nullopt;
    const int step_top = std::max(1, int(std::lround(px_w / px_h)));         // up to 45 degrees
    const int step_bottom = std::max(2, int(std::lround(2.0 * px_w / px_h)));  // up to 63 degrees
    // Lines closer than half the protocol's minimum thickness have met: the tip is closed there (a
    // fascia is often a double line, and the deep line must not run on along its second layer).
    const int meet_rows = std::max(2, int(std::lround(0.5 * protocol.min_thickness_mm / px_h)));
    // A step of j rows costs w_step j^2: a line rising gradually is cheaper than one climbing in
    // stairs from one striation to the next.
    const double w_step = 0.05;
    const double neg = -std::numeric_limits<double>::infinity();
    auto gain = [&](int u, int x) { return std::min(1.5, double(ridge.at<float>(u, x)) / scale) - trace_threshold; };
    // Superficial line: rows may only grow outwards.
    std::vector<int> top_row(n);
    {
      std::vector<double> value(hf, neg), next(hf);
      std::vector<std::vector<int>> back(n, std::vector<int>(hf, -1));
      value[ua0] = 0;
      for (int k = 0; k < n; ++k) {
        const int x = cols[k];
        std::fill(next.begin(), next.end(), neg);
        for (int u = 0; u < depth[x]; ++u)
          for (int q = std::max(0, u - step_top); q <= u; ++q)
            if (value[q] != neg && value[q] - w_step * (u - q) * (u - q) > next[u]) next[u] = value[q] - w_step * (u - q) * (u - q), back[k][u] = q;
        for (int u = 0; u < depth[x]; ++u)
          if (next[u] != neg) next[u] += gain(u, x);
        value.swap(next);
      }
      int u = int(std::max_element(value.begin(), value.end()) - value.begin());
      if (value[u] == neg) return std::nullopt;
      for (int k = n - 1; k >= 0; --k) top_row[k] = u, u = back[k][u];
    }
    // Deep line: rows may only shrink outwards, staying more than meet_rows below the superficial
    // line; it ends where a step brings it within meet_rows (state `met`, which earns nothing more).
    std::vector<int> bottom_row(n, -1);
    int met_at = -1;
    {
      std::vector<double> value(hf, neg), next(hf);
      double met = neg, next_met = neg;
      std::vector<std::vector<int>> back(n, std::vector<int>(hf, -1));
      std::vector<int> met_from(n, -2);  // -2: already met before this column; else the row it met from
      value[ub0] = 0;
      for (int k = 0; k < n; ++k) {
        const int x = cols[k];
        std::fill(next.begin(), next.end(), neg);
        next_met = met;
        met_from[k] = -2;
        // Met: a step up brings the deep line within meet_rows of the superficial one.
        for (int q = 0; q < hf; ++q)
          if (value[q] != neg && q - step_bottom <= top_row[k] + meet_rows && value[q] > next_met) next_met = value[q], met_from[k] = q;
        for (int u = top_row[k] + meet_rows + 1; u < depth[x]; ++u)
          for (int q = u; q <= std::min(hf - 1, u + step_bottom); ++q)
            if (value[q] != neg && value[q] - w_step * (q - u) * (q - u) > next[u]) next[u] = value[q] - w_step * (q - u) * (q - u), back[k][u] = q;
        for (int u = top_row[k] + meet_rows + 1; u < depth[x]; ++u)
          if (next[u] != neg) next[u] += gain(u, x);
        value.swap(next);
        met = next_met;
      }
      if (met == neg) return std::nullopt;
      int k = n - 1;
      while (k > 0 && met_from[k] == -2) --k;
      if (met_from[k] == -2) return std::nullopt;
      met_at = k;
      int u = met_from[k];
      for (int j = k - 1; j >= 0; --j) bottom_row[j] = u, u = back[j][u];
    }
    if (met_at < 2) return std::nullopt;
    // Traced rows, mean-smoothed over +-2 mm (a line climbing from one striation to the next runs in
    // stairs); both stay monotonic.
    auto smoothed = [&](const std::vector<int>& rows) {
      const int r = std::max(1, int(std::lround(2.0 / px_w)));
      std::vector<double> out(met_at);
      for (int k = 0; k < met_at; ++k) {
        double sum = 0;
        int count = 0;
        for (int q = std::max(0, k - r); q <= std::min(met_at - 1, k + r); ++q) sum += rows[q], ++count;
        out[k] = sum / count;
      }
      return out;
    };
    const std::vector<double> top_smooth = smoothed(top_row), bottom_smooth = smoothed(bottom_row);
    // A tail where the two lines run on parallel and closer than the protocol's minimum thickness is
    // a layer between two fasciae beyond the muscle's end, not the muscle: the tip is where the lines
    // stop converging (less than 1 mm over 5 mm).
    {
      const int window = std::max(2, int(std::lround(5.0 / px_w)));
      auto thickness_mm = [&](int k) { return (bottom_smooth[k] - top_smooth[k]) * px_h; };
      for (int k = 1; k + window < met_at; ++k)
        if (thickness_mm(k) < protocol.min_thickness_mm && thickness_mm(k) - thickness_mm(k + window) < 1.0) {
          met_at = k + 1;
          break;
        }
    }
    // The run's boundaries are the lines' inner edges: the same offsets at the run's end, tapering
    // to nothing at the tip.
    const double top_offset = (dir > 0 ? top_edge.back() : top_edge.front()) - (top[i_end] + ua0);
    const double bottom_offset = (dir > 0 ? bottom_edge.back() : bottom_edge.front()) - (top[i_end] + ub0);
    EndTrace t;
    for (int k = 0; k < met_at; ++k) {
      const double f = 1.0 - double(k + 1) / (met_at + 1);
      t.x.push_back(cols[k]);
      t.top_y.push_back(top[cols[k]] + top_smooth[k] + f * top_offset);
      t.bottom_y.push_back(top[cols[k]] + bottom_smooth[k] + f * bottom_offset);
    }
    const int xt = cols[met_at];
    t.tip = {double(xt), top[xt] + 0.5 * (top_smooth[met_at - 1] + bottom_smooth[met_at - 1])};
    return t;
  };
  // Each end, with the protocol's ends_at_aponeurosis_junction: the lines traced to where they meet,
  // unless a cap (an end epimysium seen side-on) closes the muscle first: the cap is kept when the
  // traced tip lies less than one end thickness beyond it (in a striated muscle a striation can pass
  // for an end epimysium, with the aponeuroses running on far past it). Otherwise the cap, or straight.
  std::vector<Point2> right_cap, left_cap;
  cap(run.back().first, top_edge.back(), bottom_edge.back(), +1, right_cap);
  cap(run.front().first, top_edge.front(), bottom_edge.front(), -1, left_cap);  // from the bottom up
  auto choose_trace = [&](int dir, const std::vector<Point2>& end_cap) -> std::optional<EndTrace> {
    if (!protocol.ends_at_aponeurosis_junction) return std::nullopt;
    auto traced = trace_end(dir);
    if (!traced || end_cap.empty()) return traced;
    const double x_end = dir > 0 ? run.back().first : run.front().first;
    const double thickness_px = (dir > 0 ? bottom_edge.back() - top_edge.back() : bottom_edge.front() - top_edge.front()) * px_h / px_w;
    double cap_length_px = 0;
    for (const auto& q : end_cap) cap_length_px = std::max(cap_length_px, std::abs(q.x - x_end));
    if (std::abs(traced->tip.x - x_end) > cap_length_px + thickness_px) return traced;
    return std::nullopt;
  };
  const auto right_end = choose_trace(+1, right_cap), left_end = choose_trace(-1, left_cap);
  std::vector<Point2> contour;
  const double x_first = run.front().first - 0.5, x_last = run.back().first + 0.5;
  if (left_end) {
    for (std::size_t k = left_end->x.size(); k-- > 0;) contour.push_back({left_end->x[k], left_end->top_y[k]});
  } else {
    contour.push_back({x_first, top_edge.front()});
  }
  for (std::size_t k = 0; k < m; ++k) contour.push_back({double(run[k].first), top_edge[k]});
  if (right_end) {
    for (std::size_t k = 0; k < right_end->x.size(); ++k) contour.push_back({right_end->x[k], right_end->top_y[k]});
    contour.push_back(right_end->tip);
    for (std::size_t k = right_end->x.size(); k-- > 0;) contour.push_back({right_end->x[k], right_end->bottom_y[k]});
  } else {
    contour.push_back({x_last, top_edge.back()});
    contour.insert(contour.end(), right_cap.begin(), right_cap.end());
    contour.push_back({x_last, bottom_edge.back()});
  }
  for (std::size_t k = m; k-- > 0;) contour.push_back({double(run[k].first), bottom_edge[k]});
  if (left_end) {
    for (std::size_t k = 0; k < left_end->x.size(); ++k) contour.push_back({left_end->x[k], left_end->bottom_y[k]});
    contour.push_back(left_end->tip);
  } else {
    contour.push_back({x_first, bottom_edge.front()});
    contour.insert(contour.end(), left_cap.begin(), left_cap.end());
  }

  UsSegmentation s;
  s.method = SegmentationMethod::Automatic;
  const bool cut_left = edge_column(run.front().first, -1), cut_right = edge_column(run.back().first, +1);
  // Snap to the fascia's inner edge (a short range: the ridge pair is already close).
  contour = detail::snap_contour(image, fov, contour, 0.8, 2);
  s.contour = contour;
  s.mask = rasterize_polygon(contour, w, h);
  const std::size_t enclosed = s.mask.count();
  for (std::size_t n = 0; n < s.mask.on.size(); ++n) s.mask.on[n] &= fov.mask.on[n];
  // A muscle mostly outside the imaged region, or smaller than the protocol's smallest plausible
  // muscle, is not reported as one.
  const double area_mm2 = double(s.mask.count()) * px_w * px_h;
  if (s.mask.count() * 2 < enclosed || area_mm2 < 0.5 * protocol.min_thickness_mm * protocol.min_width_mm)
    throw Error(ErrorCode::InvalidInput, "image",
                "automatic segmentation found no plausible " + protocol.structure_key + " (the best outline holds " +
                    std::to_string(int(std::lround(area_mm2))) + " mm2" + (image.calibrated ? "" : " at a nominal pixel size") +
                    "); give --points or an outline");
  s.source = "ridge filter on the image flattened under the skin line, fascia pairs traced by dynamic programming, "
             "active contour to the fascia's inner edge";
  if (deep_boundary_lowered)
    s.notes.push_back("the first deep boundary found had muscle texture under it (an intramuscular line): the deep boundary was "
                      "lowered to the line under which the texture ends");
  if (!image.calibrated)
    s.notes.push_back("no calibration: the automatic segmentation's size limits assumed a 45 mm imaged depth");
  if (cut_left || cut_right) {
    s.qc_flags.push_back("muscle_cut_by_field_of_view");
    s.notes.push_back("the muscle reaches the edge of the imaged region on the " + std::string(cut_left && cut_right ? "both sides" : cut_left ? "left" : "right") +
                      ": the ACSA is the part in view");
  }
  return s;
}

}  // namespace

UsSegmentation segment_assisted(const GreyImage& image, const FieldOfView& fov, const UsProtocol& protocol,
                                const std::vector<Point2>& points) {
  if (points.empty()) throw Error(ErrorCode::InvalidArgument, "--points", "no point given");
  for (const auto& p : points) {
    const int i = int(std::lround(p.x)), j = int(std::lround(p.y));
    if (i < 0 || j < 0 || i >= image.width || j >= image.height)
      throw Error(ErrorCode::InvalidArgument, "--points",
                  "point " + std::to_string(p.x) + "," + std::to_string(p.y) + " lies outside the image (" + std::to_string(image.width) +
                      "x" + std::to_string(image.height) + " pixels)");
  }
  UsSegmentation s;
  const double px_mm = detail::working_pixel_mm(image, fov);
  if (points.size() < 3) {
    s = segment_automatic(image, fov, protocol, points);
    s.source = "automatic segmentation constrained to contain the given point(s): " + s.source;
  } else {
    // Points on the border: the automatic method constrained to contain their centroid is taken
    // when its outline passes within 1.5 mm of every point (it follows pointed ends better);
    // otherwise a closed spline through the points. Either is then snapped to the fascia with
    // the points pinned.
    Point2 centre;
    for (const auto& p : points) centre.x += p.x / double(points.size()), centre.y += p.y / double(points.size());
    std::optional<std::vector<Point2>> automatic;
    try {
      UsSegmentation a = segment_automatic(image, fov, protocol, {centre});
      const auto dense = detail::resample_closed(a.contour, 0.5);
      bool near_all = true;
      for (const auto& p : points) {
        double best = std::numeric_limits<double>::max();
        for (const auto& q : dense) best = std::min(best, std::hypot(p.x - q.x, p.y - q.y));
        if (best * px_mm > 1.5) near_all = false;
      }
      if (near_all) automatic = a.contour;
    } catch (const Error&) {
      // no automatic outline near the points: the spline is used
    }
    if (automatic) {
      s.contour = detail::snap_contour(image, fov, *automatic, 1.0, 2, points, 0.3);
      s.source = "automatic outline containing the points' centroid (it passed within 1.5 mm of every point), "
                 "active contour to the fascia's inner edge with the points pinned";
    } else {
      const std::vector<Point2> initial = detail::closed_spline(points, 24);
      s.contour = detail::snap_contour(image, fov, initial, 3.0, 4, points, 0.3);
      s.source = "closed spline through the points (angular order), active contour to the fascia's inner edge (+-3 mm) "
                 "with the points pinned";
    }
    s.mask = rasterize_polygon(s.contour, image.width, image.height);
    for (std::size_t n = 0; n < s.mask.on.size(); ++n) s.mask.on[n] &= fov.mask.on[n];
    if (s.mask.count() == 0) throw Error(ErrorCode::InvalidArgument, "--points", "the points enclose no pixel of the imaged region");
  }
  s.method = SegmentationMethod::Assisted;
  s.user_points = points;
  return s;
}

}  // namespace musclecsa::ultrasound
