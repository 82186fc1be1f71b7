// Systematic resampling on the CPU, in float64 like reference.systematic_resample:
// W = softmax(logw) (NaN -> zero weight), cdf = cumsum(W) / cumsum(W)[-1], offspring i takes
// the first j with cdf[j] > (i + u) / N. Positions only grow, so one merge walk replaces N
// binary searches.
#include <algorithm>
#include <limits>
#include <vector>

#include "../core/select.h"
#include "ops_cpu.h"

namespace fkc {
namespace cpu {

void systematic_resample(const double* logw, int64_t n, double u, int64_t* out) {
  if (n <= 0) return;
  double max_lw = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    if (logw[i] > max_lw) max_lw = logw[i];  // NaN compares false: skipped, like -inf
  }
  std::vector<double> cdf(static_cast<size_t>(n));
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    cdf[i] = resample_weight(logw[i], max_lw);
    total += cdf[i];
  }
  // normalize, then prefix-sum, as softmax followed by cumsum does
  const double inv_total = 1.0 / total;
  double run = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    run += cdf[i] * inv_total;
    cdf[i] = run;
  }
  // dividing by the last element makes cdf[n-1] exactly 1 > every position: rounding can
  // never hand an offspring to a zero-weight particle at the end
  const double last = cdf[n - 1];
  for (int64_t i = 0; i < n; ++i) cdf[i] /= last;
  int64_t j = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double pos = systematic_position(i, u, n);
    while (j < n && !(cdf[j] > pos)) ++j;
    out[i] = std::min<int64_t>(j, n - 1);
  }
}

}  // namespace cpu
}  // namespace fkc
