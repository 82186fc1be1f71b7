// The mixture step's arguments (docs/design.md, "The mixture step"), once for every device:
// torch-free, so the CPU and CUDA launchers and their registrations share them.
#pragma once

#include <cstdint>

#include "fkc_hd.h"
#include "step.h"

namespace fkc {

// x, noise, x_out: (N, D) rows with inner stride 1. seeds, the int64 [S, O] (device memory on
// CUDA, host memory on the CPU): non-null means in-kernel Philox noise, null means explicit
// noise (whose data pointer is null when D = 0). w, extra_dw (nullptr: none), w_out: float32
// (N,). The mixture (means, variances: (n_mix, D); log_weights: (n_mix,)) and the bumps
// (centers, reward_variances: (n_bumps, D); log_coefs: (n_bumps,)) are contiguous float32.
template <typename T>
struct GmmArgs {
  const T* x;
  const T* noise;
  T* x_out;
  int64_t stride_x, stride_noise, stride_x_out;
  const float* w;
  const float* extra_dw;
  float* w_out;
  int64_t stride_w, stride_extra_dw, stride_w_out;
  const float* means;
  const float* variances;
  const float* log_weights;
  const float* centers;
  const float* reward_variances;
  const float* log_coefs;
  int64_t n_mix, n_bumps;
  int64_t n, d;
  const int64_t* seeds;
  float alpha, alpha2, sigma2;  // the score's alpha(tau), alpha^2 and sigma(tau)^2
  bool log_reward;              // r = log sum of bumps (true) or the sum
  StepCoefs coefs;
};

// Floats of a step in the K-step loop's table: alpha, alpha^2, sigma^2, then StepCoefs' floats
// in their order (fkc_kernels/ops/_gmm_args.py KERNEL_SCALARS).
constexpr int64_t kGmmLoopCoefs = 16;

// Row k of the loop's table as the step's coefficients.
FKC_HD StepCoefs loop_step_coefs(const float* k, bool ratio) {
  return StepCoefs{k[3],  k[4],  k[5],  k[6],  k[7],  k[8],  k[9],
                   k[10], k[11], k[12], k[13], k[14], k[15], ratio};
}

}  // namespace fkc
