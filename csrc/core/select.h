// Selection and resampling helpers shared by the CPU and CUDA launchers.
#pragma once

#include <cmath>
#include <cstdint>

#include "fkc_hd.h"

namespace fkc {

// Order-preserving signed key of a weight: a < b (as reals) <=> key(a) < key(b), with NaN
// below -inf and -0.0 == +0.0 (they tie, like torch.sort). The weight is widened to double
// first, as reference.select_particles ranks in float64, so no two distinct inputs collide.
// Sorting keys descending and stably (lower index first among equal keys) gives the
// reference's top order exactly.
FKC_HD int64_t weight_rank_key(double w) {
  if (w != w) return INT64_MIN;  // NaN: lowest of all
  if (w == 0.0) w = 0.0;         // fold -0.0 onto +0.0
  const uint64_t b = double_as_u64(w);
  // positive floats: bits grow with value; negative: bits grow as the value falls -> flip them
  const uint64_t u = (b >> 63) ? ~b : (b | 0x8000000000000000ull);
  // unsigned order -> signed order; -inf maps above INT64_MIN, so NaN stays strictly lowest
  return static_cast<int64_t>(u ^ 0x8000000000000000ull);
}

// Key that excludes a particle from the random part: above every random_key (< 2**62).
constexpr int64_t kExcludedRandomKey = int64_t(1) << 62;

// log-weight -> unnormalised resampling weight exp(lw - max); NaN counts as zero weight.
FKC_HD double resample_weight(double lw, double max_lw) {
  return (lw != lw) ? 0.0 : exp(lw - max_lw);
}

// Systematic position of offspring i of n: (i + u) / n, in double like the reference.
FKC_HD double systematic_position(int64_t i, double u, int64_t n) {
  return (static_cast<double>(i) + u) / static_cast<double>(n);
}

// First index j in [lo, hi) with cdf[j] > pos (searchsorted right=True), hi if none.
FKC_HD int64_t upper_bound(const double* cdf, int64_t lo, int64_t hi, double pos) {
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (cdf[mid] > pos) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

}  // namespace fkc
