// The mixture step on the GPU: a row's closed-form score and reward, then the FKC step, in one
// kernel (docs/design.md, "The mixture step"; the spec is fkc_kernels/reference/gmm_step.py).
// The row's work is gmm_row_cuda.h's, which the K-step loop kernel (gmm_loop_cuda.cu) shares.
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include "gmm_row_cuda.h"
#include "gmm_step_cuda.h"

namespace fkc {
namespace cuda {
namespace {

using namespace gmm_row;

// 2 blocks of 256 threads per SM at least: kPer = 16 holds ~50 floats a thread
template <typename T, int kRowThreads, int kPer, bool kAligned, bool kRatio>
__global__ void __launch_bounds__(kBlock, 2) gmm_step_kernel(const GmmArgs<T> a) {
  constexpr int kRowsPerBlock = kBlock / kRowThreads;
  const int t = threadIdx.x % kRowThreads;
  const int64_t n = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kRowThreads;
  const bool live = n < a.n;  // dead rows still join every shuffle, with zeros
  const int64_t d = a.d;
  float x[kPer], z[kPer];
  load_row<T, kRowThreads, kPer, kAligned>(live ? a.x + n * a.stride_x : nullptr, t, d, x);
  load_row<T, kRowThreads, kPer, kAligned>(
      live && a.noise ? a.noise + n * a.stride_noise : nullptr, t, d, z);
  // seeds, not noise, says which: an empty explicit noise tensor has a null data pointer
  if (live && a.seeds != nullptr) row_noise<kRowThreads, kPer, kAligned>(a.seeds, n, t, d, z);
  extern __shared__ float tables[];
  Table mix, bumps;
  layout_tables(tables, d, a.n_mix, a.n_bumps, mix, bumps);
  fill_table<true>(a.means, a.variances, a.log_weights, a.n_mix, d, a.alpha, a.alpha2, a.sigma2,
                   mix);
  fill_table<false>(a.centers, a.reward_variances, a.log_coefs, a.n_bumps, d, 0.0f, 0.0f, 0.0f,
                    bumps);
  __syncthreads();
  float out[kPer], r, dot_a, dot_b;
  row_step<kRowThreads, kPer, kAligned, kRatio>(x, z, t, d, mix, a.n_mix, bumps, a.n_bumps,
                                                a.log_reward, a.coefs, out, r, dot_a, dot_b);
  if (live) store_row<T, kRowThreads, kPer, kAligned>(a.x_out + n * a.stride_x_out, t, d, out);
  if (live && t == 0) {
    const float extra = a.extra_dw ? a.extra_dw[n * a.stride_extra_dw] : 0.0f;
    a.w_out[n * a.stride_w_out] = step_w<kRatio>(a.w[n * a.stride_w], r, dot_a, dot_b,
                                                 a.extra_dw ? &extra : nullptr, a.coefs);
  }
}

template <typename T, bool kRatio>
cudaError_t launch_width(const GmmArgs<T>& a, cudaStream_t stream) {
  const size_t smem = sizeof(float) * gmm_table_floats(a.d, a.n_mix, a.n_bumps);
  const bool aligned = a.d % 4 == 0 && aligned4(a.x, a.stride_x) &&
                       aligned4(a.noise, a.stride_noise) && aligned4<T>(a.x_out, a.stride_x_out);
  return by_row_width(a.d, [&](auto threads, auto per) {
    constexpr int kRowThreads = decltype(threads)::value, kPer = decltype(per)::value;
    const int64_t blocks = (a.n + kBlock / kRowThreads - 1) / (kBlock / kRowThreads);
    if (aligned) {
      gmm_step_kernel<T, kRowThreads, kPer, true, kRatio><<<blocks, kBlock, smem, stream>>>(a);
    } else {
      gmm_step_kernel<T, kRowThreads, kPer, false, kRatio><<<blocks, kBlock, smem, stream>>>(a);
    }
    return cudaGetLastError();
  });
}

}  // namespace

template <typename T>
cudaError_t launch_gmm_step(const GmmArgs<T>& a, cudaStream_t stream) {
  if (a.n == 0) return cudaSuccess;
  if (a.d > kGmmMaxD || gmm_table_floats(a.d, a.n_mix, a.n_bumps) > kGmmMaxTableFloats) {
    return cudaErrorInvalidValue;
  }
  return a.coefs.ratio ? launch_width<T, true>(a, stream) : launch_width<T, false>(a, stream);
}

template cudaError_t launch_gmm_step<float>(const GmmArgs<float>&, cudaStream_t);
template cudaError_t launch_gmm_step<c10::Half>(const GmmArgs<c10::Half>&, cudaStream_t);
template cudaError_t launch_gmm_step<c10::BFloat16>(const GmmArgs<c10::BFloat16>&, cudaStream_t);

}  // namespace cuda
}  // namespace fkc
