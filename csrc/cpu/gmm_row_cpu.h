// The mixture step on the CPU (docs/design.md, "The mixture step"): what the one-step launcher
// (gmm_step_cpu.cpp) and the K-step loop (gmm_loop_cpu.cpp) share. A step is planned once for
// every row: the diffused mixture's table at its (alpha, sigma), its coefficients and its noise
// key; run_steps then takes blocks of rows through all the planned steps while they sit in the
// cache, so K steps are the bits of K one-step calls.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "../core/gmm.h"
#include "../core/philox.h"

namespace fkc {
namespace cpu {

// A model's per-step table, as the CUDA kernels' shared tables: centre[j*d + col] (alpha mu, or
// the bump's c), inv = 1 / V (V = alpha^2 v + sigma^2, or the bump's u) and lw[j] (log w_j -
// (1/2) sum_d log V_jd for the diffused mixture, log kappa_j for the bumps).
struct GmmTable {
  std::vector<float> centre, inv, lw;
  int64_t n = 0;
};

inline GmmTable gmm_table(const float* centres, const float* vars, const float* lw, int64_t n,
                          int64_t d, bool diffused, float alpha, float alpha2, float sigma2) {
  GmmTable t;
  t.n = n;
  t.centre.resize(n * d);
  t.inv.resize(n * d);
  t.lw.resize(n);
  for (int64_t j = 0; j < n; ++j) {
    float logdet = 0.0f;
    for (int64_t i = j * d; i < (j + 1) * d; ++i) {
      const float v = diffused ? alpha2 * vars[i] + sigma2 : vars[i];
      t.centre[i] = diffused ? alpha * centres[i] : centres[i];
      t.inv[i] = 1.0f / v;
      if (diffused) logdet += std::log(v);
    }
    t.lw[j] = diffused ? lw[j] - 0.5f * logdet : lw[j];
  }
  return t;
}

// One step of the plan: the diffused mixture's table, the coefficients, the noise key.
struct GmmStepPlan {
  GmmTable mix;
  StepCoefs coefs;
  PhiloxKey key;
};

// The planned steps over every row of a (x -> x_out, w -> w_out; extra_dw and explicit noise
// only with one step), rows in parallel; x_out holds each step's x' rounded to T, as a store.
template <typename T>
void run_gmm_steps(const GmmArgs<T>& a, const GmmTable& bumps, const GmmStepPlan* plans,
                   int64_t n_steps);

}  // namespace cpu
}  // namespace fkc
