// The K-step mixture loop on the CPU (docs/design.md, "The mixture loop in one kernel"): the
// steps planned from their rows of the coefficient table (the diffused mixture's table at its
// alpha and sigma, the coefficients, the noise key), then blocks of rows taken through the
// planned steps while they sit in the cache (gmm_step_cpu.cpp's run_gmm_steps, the one-step
// launcher's code).
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <vector>

#include "gmm_row_cpu.h"
#include "ops_cpu.h"

namespace fkc {
namespace cpu {

// Floats of planned mixture tables held at once: K steps are planned and run in chunks under it
// (16 M floats, 64 MB), so memory does not grow with K. Rows never meet within the loop and a
// chunk starts from the last one's x and w, so the chunks give the bits of one pass.
constexpr int64_t kPlanFloats = int64_t{1} << 24;

template <typename T>
void gmm_loop(const GmmArgs<T>& a, const float* coefs, int64_t n_steps) {
  const GmmTable bumps = gmm_table(a.centers, a.reward_variances, a.log_coefs, a.n_bumps, a.d,
                                   false, 0.0f, 0.0f, 0.0f);
  const int64_t per_step = std::max<int64_t>(1, a.n_mix * (2 * a.d + 1));
  const int64_t chunk = std::max<int64_t>(1, kPlanFloats / per_step);
  std::vector<GmmStepPlan> plans;
  for (int64_t first = 0; first < n_steps; first += chunk) {
    const int64_t count = std::min(chunk, n_steps - first);
    plans.resize(count);
    at::parallel_for(0, count, 1, [&](int64_t b, int64_t e) {
      for (int64_t j = b; j < e; ++j) {
        const int64_t i = first + j;
        const float* k = coefs + i * kGmmLoopCoefs;
        plans[j] = {gmm_table(a.means, a.variances, a.log_weights, a.n_mix, a.d, true, k[0],
                              k[1], k[2]),
                    loop_step_coefs(k, a.coefs.ratio),
                    make_philox_key(static_cast<uint64_t>(a.seeds[2 * i]),
                                    static_cast<uint64_t>(a.seeds[2 * i + 1]))};
      }
    });
    run_gmm_steps(a, bumps, plans.data(), count);  // in place: x_out == x, w_out == w
  }
}

template void gmm_loop<float>(const GmmArgs<float>&, const float*, int64_t);
template void gmm_loop<c10::Half>(const GmmArgs<c10::Half>&, const float*, int64_t);
template void gmm_loop<c10::BFloat16>(const GmmArgs<c10::BFloat16>&, const float*, int64_t);

}  // namespace cpu
}  // namespace fkc
