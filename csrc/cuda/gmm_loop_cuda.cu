// The K-step mixture loop on the GPU in one launch (docs/design.md, "The mixture loop in one
// kernel"). Rows do not meet within a loop without resampling, so each block loads its rows
// once, runs all K steps on them in registers (gmm_row_cuda.h, the one-step kernel's device
// functions in the same order) and stores x and w once. The bumps' table is filled once, the
// diffused mixture's table once a step (it moves with alpha and sigma). Each step rounds x to
// the particles' dtype as a store would, so the loop has the bits of K one-step launches.
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include "gmm_row_cuda.h"
#include "gmm_step_cuda.h"

namespace fkc {
namespace cuda {
namespace {

using namespace gmm_row;

// 2 blocks an SM as the step kernel, except with 16 elements a thread (rows of 257-512): the
// loop's extra state (w, the step's coefficients) spilled at 128 registers there
template <typename T, int kRowThreads, int kPer, bool kAligned, bool kRatio>
__global__ void __launch_bounds__(kBlock, kPer >= 16 ? 1 : 2)
    gmm_loop_kernel(const GmmArgs<T> a, const float* coefs, int64_t n_steps) {
  constexpr int kRowsPerBlock = kBlock / kRowThreads;
  const int t = threadIdx.x % kRowThreads;
  const int64_t n = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kRowThreads;
  const bool live = n < a.n;  // dead rows still join every shuffle and barrier, with zeros
  const int64_t d = a.d;
  float x[kPer];
  load_row<T, kRowThreads, kPer, kAligned>(live ? a.x + n * a.stride_x : nullptr, t, d, x);
  // every lane of a row keeps its own w; lane 0's is the one-step kernel's (it stores it)
  float w = live ? a.w[n * a.stride_w] : 0.0f;
  extern __shared__ float tables[];
  Table mix, bumps;
  layout_tables(tables, d, a.n_mix, a.n_bumps, mix, bumps);
  fill_table<false>(a.centers, a.reward_variances, a.log_coefs, a.n_bumps, d, 0.0f, 0.0f, 0.0f,
                    bumps);
  for (int64_t i = 0; i < n_steps; ++i) {
    const float* k = coefs + i * kGmmLoopCoefs;
    const StepCoefs c = loop_step_coefs(k, kRatio);
    if (i > 0) __syncthreads();  // every row is done with the last step's mixture table
    fill_table<true>(a.means, a.variances, a.log_weights, a.n_mix, d, k[0], k[1], k[2], mix);
    __syncthreads();
    float z[kPer];
#pragma unroll
    for (int e = 0; e < kPer; ++e) z[e] = 0.0f;
    if (live) row_noise<kRowThreads, kPer, kAligned>(a.seeds + 2 * i, n, t, d, z);
    float out[kPer], r, dot_a, dot_b;
    row_step<kRowThreads, kPer, kAligned, kRatio>(x, z, t, d, mix, a.n_mix, bumps, a.n_bumps,
                                                  a.log_reward, c, out, r, dot_a, dot_b);
    w = step_w<kRatio>(w, r, dot_a, dot_b, nullptr, c);
    // what a store and the next step's load make of x': rounded to T, zeros past D and in dead
    // rows, as load_row leaves them
#pragma unroll
    for (int e = 0; e < kPer; ++e) {
      const bool in_row = live && column<kRowThreads, kAligned>(t, e) < d;
      x[e] = in_row ? static_cast<float>(static_cast<T>(out[e])) : 0.0f;
    }
  }
  if (live) store_row<T, kRowThreads, kPer, kAligned>(a.x_out + n * a.stride_x_out, t, d, x);
  if (live && t == 0) a.w_out[n * a.stride_w_out] = w;
}

template <typename T, bool kRatio>
cudaError_t launch_width(const GmmArgs<T>& a, const float* coefs, int64_t n_steps,
                         cudaStream_t stream) {
  const size_t smem = sizeof(float) * gmm_table_floats(a.d, a.n_mix, a.n_bumps);
  const bool aligned = a.d % 4 == 0 && aligned4(a.x, a.stride_x) &&
                       aligned4<T>(a.x_out, a.stride_x_out);
  return by_row_width(a.d, [&](auto threads, auto per) {
    constexpr int kRowThreads = decltype(threads)::value, kPer = decltype(per)::value;
    const int64_t blocks = (a.n + kBlock / kRowThreads - 1) / (kBlock / kRowThreads);
    if (aligned) {
      gmm_loop_kernel<T, kRowThreads, kPer, true, kRatio>
          <<<blocks, kBlock, smem, stream>>>(a, coefs, n_steps);
    } else {
      gmm_loop_kernel<T, kRowThreads, kPer, false, kRatio>
          <<<blocks, kBlock, smem, stream>>>(a, coefs, n_steps);
    }
    return cudaGetLastError();
  });
}

}  // namespace

template <typename T>
cudaError_t launch_gmm_loop(const GmmArgs<T>& a, const float* coefs, int64_t n_steps,
                            cudaStream_t stream) {
  if (a.n == 0 || n_steps == 0) return cudaSuccess;
  if (a.d > kGmmMaxD || gmm_table_floats(a.d, a.n_mix, a.n_bumps) > kGmmMaxTableFloats ||
      a.noise != nullptr || a.extra_dw != nullptr) {
    return cudaErrorInvalidValue;
  }
  return a.coefs.ratio ? launch_width<T, true>(a, coefs, n_steps, stream)
                       : launch_width<T, false>(a, coefs, n_steps, stream);
}

template cudaError_t launch_gmm_loop<float>(const GmmArgs<float>&, const float*, int64_t,
                                            cudaStream_t);
template cudaError_t launch_gmm_loop<c10::Half>(const GmmArgs<c10::Half>&, const float*, int64_t,
                                                cudaStream_t);
template cudaError_t launch_gmm_loop<c10::BFloat16>(const GmmArgs<c10::BFloat16>&, const float*,
                                                    int64_t, cudaStream_t);

}  // namespace cuda
}  // namespace fkc
