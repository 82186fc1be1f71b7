// The mixture step on the GPU (docs/design.md, "The mixture step"): torch-free arguments and
// launchers. One kernel computes a row's mixture score, bump reward and FKC step; another runs
// K such steps on its rows in one launch.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "../core/step.h"

namespace fkc {
namespace cuda {

// Longest row the fused kernel takes (a row's elements live in its threads' registers), and the
// largest per-block tables (shared memory: 32 KB, two blocks an SM at least).
constexpr int64_t kGmmMaxD = 512;
constexpr int64_t kGmmMaxTableFloats = 8192;

// Floats of a block's shared tables: per component, its centre and inverse variance (2 d) and
// its log weight, for the mixture's n_mix and the bumps' n_bumps components.
inline int64_t gmm_table_floats(int64_t d, int64_t n_mix, int64_t n_bumps) {
  return (n_mix + n_bumps) * (2 * d + 1);
}

// x, noise, x_out: (N, D) rows with inner stride 1 (noise nullptr: in-kernel Philox noise from
// seeds, the int64 [S, O] in device memory). w, extra_dw (nullptr: none), w_out: float32 (N,).
// The mixture (means, variances: (n_mix, D); log_weights: (n_mix,)) and the bumps (centers,
// reward_variances: (n_bumps, D); log_coefs: (n_bumps,)) are contiguous float32.
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
  int64_t n, d;  // d <= kGmmMaxD
  const int64_t* seeds;
  float alpha, alpha2, sigma2;  // the score's alpha(tau), alpha^2 and sigma(tau)^2
  bool log_reward;              // r = log sum of bumps (true) or the sum
  StepCoefs coefs;
};

template <typename T>
cudaError_t launch_gmm_step(const GmmArgs<T>& args, cudaStream_t stream);

// Floats of a step in the K-step loop's table: alpha, alpha^2, sigma^2, then StepCoefs' floats
// in their order (fkc_kernels/ops/_gmm_args.py KERNEL_SCALARS).
constexpr int64_t kGmmLoopCoefs = 16;

// K = n_steps mixture steps in one launch (gmm_loop_cuda.cu): args.x and args.w are updated in
// place (x_out == x and w_out == w, contiguous; noise and extra_dw nullptr; alpha, sigma and
// coefs unread); step i reads row i of coefs, float32 (K, kGmmLoopCoefs) in device memory, and
// its seeds at args.seeds + 2 i.
template <typename T>
cudaError_t launch_gmm_loop(const GmmArgs<T>& args, const float* coefs, int64_t n_steps,
                            cudaStream_t stream);

}  // namespace cuda
}  // namespace fkc
