// The mixture step on the GPU (docs/design.md, "The mixture step"): torch-free launchers (the
// arguments are core/gmm.h's). One kernel computes a row's mixture score, bump reward and FKC
// step; another runs K such steps on its rows in one launch.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "../core/gmm.h"

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

template <typename T>
cudaError_t launch_gmm_step(const GmmArgs<T>& args, cudaStream_t stream);

// K = n_steps mixture steps in one launch (gmm_loop_cuda.cu): args.x and args.w are updated in
// place (x_out == x and w_out == w, contiguous; noise and extra_dw nullptr; alpha, sigma and
// coefs unread); step i reads row i of coefs, float32 (K, kGmmLoopCoefs) in device memory, and
// its seeds at args.seeds + 2 i.
template <typename T>
cudaError_t launch_gmm_loop(const GmmArgs<T>& args, const float* coefs, int64_t n_steps,
                            cudaStream_t stream);

}  // namespace cuda
}  // namespace fkc
