// The K-step mixture loop on the CPU (docs/design.md, "The mixture loop in one kernel"): every
// step planned from its row of the coefficient table (the diffused mixture's table at its alpha
// and sigma, its coefficients, its noise key), then blocks of rows taken through all K steps
// while they sit in the cache (gmm_step_cpu.cpp's run_gmm_steps, the one-step launcher's code).
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <vector>

#include "gmm_row_cpu.h"
#include "ops_cpu.h"

namespace fkc {
namespace cpu {

template <typename T>
void gmm_loop(const GmmArgs<T>& a, const float* coefs, int64_t n_steps) {
  const GmmTable bumps = gmm_table(a.centers, a.reward_variances, a.log_coefs, a.n_bumps, a.d,
                                   false, 0.0f, 0.0f, 0.0f);
  std::vector<GmmStepPlan> plans;
  plans.reserve(n_steps);
  for (int64_t i = 0; i < n_steps; ++i) {
    const float* k = coefs + i * kGmmLoopCoefs;
    plans.push_back({gmm_table(a.means, a.variances, a.log_weights, a.n_mix, a.d, true, k[0],
                               k[1], k[2]),
                     loop_step_coefs(k, a.coefs.ratio),
                     make_philox_key(static_cast<uint64_t>(a.seeds[2 * i]),
                                     static_cast<uint64_t>(a.seeds[2 * i + 1]))});
  }
  run_gmm_steps(a, bumps, plans.data(), n_steps);
}

template void gmm_loop<float>(const GmmArgs<float>&, const float*, int64_t);
template void gmm_loop<c10::Half>(const GmmArgs<c10::Half>&, const float*, int64_t);
template void gmm_loop<c10::BFloat16>(const GmmArgs<c10::BFloat16>&, const float*, int64_t);

}  // namespace cpu
}  // namespace fkc
