// Fused FKC step on the GPU: one pass over the particles, row dot products by warp shuffles.
//
// kRowThreads threads own one row (32: a warp per row for short rows; 256: a block per row).
// Each thread walks the row's Philox groups (4 consecutive flat elements) with stride
// kRowThreads: one philox call per group, and when the row is 4-aligned (D % 4 == 0 and all
// pointers/strides aligned) one 16-byte (fp32) or 8-byte (fp16/bf16) load per tensor per group.
// Seeds are read from device memory: no host sync, safe under CUDA graph capture. The increment
// (core/step.h: FKC or ratio) is a template argument: each has its own kernels, the FKC ones
// unchanged by the ratio's.
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include "../core/philox.h"
#include "../core/step.h"
#include "ops_cuda.h"
#include "vec4_cuda.h"

namespace fkc {
namespace cuda {
namespace {

constexpr int kBlock = 256;

// Sum over the kRowThreads threads of a row; the result is valid in the row's first thread.
// Rows of 8 or 16 threads are aligned sub-groups of a warp: xor offsets below the width stay in
// the row.
template <int kRowThreads>
__device__ __forceinline__ float row_sum(float v, float* smem) {
  constexpr int kWidth = kRowThreads < 32 ? kRowThreads : 32;
#pragma unroll
  for (int o = kWidth / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if constexpr (kRowThreads > 32) {
    // one row per block: combine the block's warps through shared memory
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();  // smem may still be read from a previous call
    if (lane == 0) smem[warp] = v;
    __syncthreads();
    v = 0.0f;
    if (threadIdx.x < kRowThreads / 32) v = smem[threadIdx.x];
    if (warp == 0) {
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    }
  }
  return v;
}

// The row's two sums (core/step.h row_term_a/b) and its new x, when d % 4 == 0: group q of the
// row is elements 4q..4q+3 and global Philox group e_row/4 + q. Thread t of the row takes groups
// t, t + kRowThreads, ...
template <typename T, int kRowThreads, bool kRatio>
__device__ __forceinline__ void walk_row_aligned(const StepRow<T>& row, int64_t d,
                                                 const PhiloxKey& key, const StepCoefs& c, int t,
                                                 float& dot_a, float& dot_b) {
  const int64_t groups = d / 4;
  for (int64_t q = t; q < groups; q += kRowThreads) {
    const int64_t d0 = 4 * q;
    float xv[4], sv[4], gv[4], fv[4], zv[4], ov[4];
    load4(row.x + d0, xv);
    load4(row.score + d0, sv);
    load4(row.reward_grad + d0, gv);
    if (row.f) {
      load4(row.f + d0, fv);
    } else {
#pragma unroll
      for (int l = 0; l < 4; ++l) fv[l] = c.f_coef * xv[l];
    }
    if (row.noise) {
      load4(row.noise + d0, zv);
    } else {
      normal4(key, row.e0 / 4 + static_cast<uint64_t>(q), zv[0], zv[1], zv[2], zv[3]);
    }
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      dot_a += row_term_a<kRatio>(gv[l], fv[l]);
      dot_b += row_term_b<kRatio>(gv[l], sv[l], zv[l]);
      ov[l] = step_x(xv[l], sv[l], gv[l], fv[l], zv[l], c);
    }
    store4(row.x_out + d0, ov);
  }
}

// The same for any d > 0: walk the global Philox groups that overlap the row, elementwise inside
// a group (a group may start in the row before).
template <typename T, int kRowThreads, bool kRatio>
__device__ __forceinline__ void walk_row_any(const StepRow<T>& row, int64_t d,
                                             const PhiloxKey& key, const StepCoefs& c, int t,
                                             float& dot_a, float& dot_b) {
  const uint64_t e_row = row.e0;
  const uint64_t g_first = e_row / 4, g_last = (e_row + d - 1) / 4;
  for (uint64_t g = g_first + t; g <= g_last; g += kRowThreads) {
    float z[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (!row.noise) normal4(key, g, z[0], z[1], z[2], z[3]);
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      const uint64_t e = 4 * g + l;
      if (e < e_row || e >= e_row + d) continue;
      const int64_t j = static_cast<int64_t>(e - e_row);
      const float xv = static_cast<float>(row.x[j]);
      const float sv = static_cast<float>(row.score[j]);
      const float gv = static_cast<float>(row.reward_grad[j]);
      const float fv = row.f ? static_cast<float>(row.f[j]) : c.f_coef * xv;
      const float zv = row.noise ? static_cast<float>(row.noise[j]) : z[l];
      dot_a += row_term_a<kRatio>(gv, fv);
      dot_b += row_term_b<kRatio>(gv, sv, zv);
      row.x_out[j] = static_cast<T>(step_x(xv, sv, gv, fv, zv, c));
    }
  }
}

// 4 blocks of 256 threads per SM: at most 64 registers a thread (checked without spills by
// bench/kernel_resources.py)
template <typename T, int kRowThreads, bool kAligned, bool kRatio>
__global__ void __launch_bounds__(kBlock, 4) fkc_step_kernel(const StepArgs<T> a) {
  __shared__ float smem[2][kBlock / 32];
  constexpr int kRowsPerBlock = kBlock / kRowThreads;
  const int t = threadIdx.x % kRowThreads;
  const int64_t n = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kRowThreads;
  const StepCoefs c = a.coefs;
  // the row's per-particle scalars, loaded first so their latency hides behind the row's work
  // (w_out may alias w: it is read here, before any write)
  float w_row = 0.0f, r_row = 0.0f, extra_row = 0.0f;
  if (n < a.n && t == 0) {
    w_row = a.w[n * a.stride_w];
    r_row = a.reward[n * a.stride_reward];
    if (a.extra_dw) extra_row = a.extra_dw[n * a.stride_extra_dw];
  }
  float dot_a = 0.0f, dot_b = 0.0f;  // the row's two sums (core/step.h row_term_a/b)
  if (n < a.n) {  // no early return: every thread must reach the reductions
    PhiloxKey key{};
    if (a.noise == nullptr) {
      key = make_philox_key(static_cast<uint64_t>(a.seeds[0]), static_cast<uint64_t>(a.seeds[1]));
    }
    const StepRow<T> row = step_row(a, n);
    if constexpr (kAligned) {
      walk_row_aligned<T, kRowThreads, kRatio>(row, a.d, key, c, t, dot_a, dot_b);
    } else if (a.d > 0) {
      walk_row_any<T, kRowThreads, kRatio>(row, a.d, key, c, t, dot_a, dot_b);
    }
  }
  dot_a = row_sum<kRowThreads>(dot_a, smem[0]);
  dot_b = row_sum<kRowThreads>(dot_b, smem[1]);
  if (n < a.n && t == 0) {
    a.w_out[n * a.stride_w_out] =
        step_w<kRatio>(w_row, r_row, dot_a, dot_b, a.extra_dw ? &extra_row : nullptr, c);
  }
}

template <typename T>
bool aligned4(const T* p, int64_t row_stride) {
  return p == nullptr ||
         (reinterpret_cast<uintptr_t>(p) % (4 * sizeof(T)) == 0 && row_stride % 4 == 0);
}

template <typename T, int kRowThreads, bool kRatio>
cudaError_t launch_rows(const StepArgs<T>& a, cudaStream_t stream) {
  constexpr int kRowsPerBlock = kBlock / kRowThreads;
  const int64_t blocks = (a.n + kRowsPerBlock - 1) / kRowsPerBlock;
  const bool aligned = a.d % 4 == 0 && aligned4(a.x, a.stride_x) &&
                       aligned4(a.score, a.stride_score) && aligned4(a.reward_grad, a.stride_grad) &&
                       aligned4(a.f, a.stride_f) && aligned4(a.noise, a.stride_noise) &&
                       aligned4<T>(a.x_out, a.stride_x_out);
  if (aligned) {
    fkc_step_kernel<T, kRowThreads, true, kRatio><<<blocks, kBlock, 0, stream>>>(a);
  } else {
    fkc_step_kernel<T, kRowThreads, false, kRatio><<<blocks, kBlock, 0, stream>>>(a);
  }
  return cudaGetLastError();
}

template <typename T, bool kRatio>
cudaError_t launch_width(const StepArgs<T>& a, cudaStream_t stream) {
  // a row's threads: one per Philox group up to a warp (8 or 16 for D <= 32 or 64), a warp up
  // to 256 groups, a block of 256 threads beyond
  if (a.d <= 32) return launch_rows<T, 8, kRatio>(a, stream);
  if (a.d <= 64) return launch_rows<T, 16, kRatio>(a, stream);
  if (a.d <= 1024) return launch_rows<T, 32, kRatio>(a, stream);
  return launch_rows<T, kBlock, kRatio>(a, stream);
}

}  // namespace

template <typename T>
cudaError_t launch_fkc_step(const StepArgs<T>& a, cudaStream_t stream) {
  if (a.n == 0) return cudaSuccess;
  return a.coefs.ratio ? launch_width<T, true>(a, stream) : launch_width<T, false>(a, stream);
}

template cudaError_t launch_fkc_step<float>(const StepArgs<float>&, cudaStream_t);
template cudaError_t launch_fkc_step<c10::Half>(const StepArgs<c10::Half>&, cudaStream_t);
template cudaError_t launch_fkc_step<c10::BFloat16>(const StepArgs<c10::BFloat16>&,
                                                    cudaStream_t);

}  // namespace cuda
}  // namespace fkc
