// The mixture step on the GPU: a row's closed-form score and reward, then the FKC step, in one
// kernel (docs/design.md, "The mixture step"; the spec is fkc_kernels/reference/gmm_step.py).
//
// kRowThreads threads own a row and kPer of its elements each, in registers: with a 4-aligned
// row (D % 4 == 0, aligned pointers and strides) thread t holds the Philox groups t,
// t + kRowThreads, ... (16-byte loads, one normal4 a group, as in fkc_step_cuda.cu), otherwise
// elements t, t + kRowThreads, ... (one normal4 an element). The block first writes both models'
// per-step tables to shared memory (centres, inverse variances, log weights with the diffused
// mixture's log-determinant); the mixture's components, then the reward's bumps, go by once
// with an online softmax: every thread of the row gets each component's logit from an
// xor-shuffle sum and rescales its running pull. The step itself is
// core/step.h's, so the move, the weight and the noise are those of fkc_step.
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cmath>

#include "../core/philox.h"
#include "../core/step.h"
#include "gmm_step_cuda.h"
#include "vec4_cuda.h"

namespace fkc {
namespace cuda {
namespace {

constexpr int kBlock = 256;

// Sum over the row's kRowThreads (<= 32, an aligned sub-group of a warp), valid in every lane.
template <int kRowThreads>
__device__ __forceinline__ float row_allsum(float v) {
#pragma unroll
  for (int o = kRowThreads / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Column of the thread's k-th element (aligned: groups of 4; else one element a stride).
template <int kRowThreads, bool kAligned>
__device__ __forceinline__ int64_t column(int t, int k) {
  return kAligned ? 4 * (t + (k / 4) * kRowThreads) + k % 4 : t + k * kRowThreads;
}

// A model's per-block tables in shared memory: centre[j*d + col] (alpha mu, or the bump's c),
// inv[j*d + col] = 1 / V (V = alpha^2 v + sigma^2, or the bump's u) and lw[j] (log w_j -
// (1/2) sum_d log V_jd for the diffused mixture, log kappa_j for the bumps). Every row of the
// block reads them: the block computes each division and log once instead of once a row.
template <bool kDiffused>
__device__ void fill_tables(const float* centres, const float* vars, const float* lw,
                            int64_t n_comp, int64_t d, float alpha, float alpha2, float sigma2,
                            float* t_centre, float* t_inv, float* t_lw) {
  for (int64_t i = threadIdx.x; i < n_comp * d; i += blockDim.x) {
    const float v = kDiffused ? alpha2 * vars[i] + sigma2 : vars[i];
    t_centre[i] = kDiffused ? alpha * centres[i] : centres[i];
    t_inv[i] = 1.0f / v;
  }
  // one warp a component for the log-determinant
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int64_t j = warp; j < n_comp; j += blockDim.x / 32) {
    float logdet = 0.0f;
    if (kDiffused) {
      for (int64_t col = lane; col < d; col += 32) {
        logdet += logf(alpha2 * vars[j * d + col] + sigma2);
      }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) logdet += __shfl_xor_sync(0xffffffffu, logdet, o);
    if (lane == 0) t_lw[j] = kDiffused ? lw[j] - 0.5f * logdet : lw[j];
  }
}

// Running (max, sum, pull) of an online softmax over the table's components j with logits
// lw_j - (1/2) sum_d (x_d - c_jd)^2 / V_jd and pulls (c_jd - x_d) / V_jd.
template <int kRowThreads, int kPer, bool kAligned>
__device__ __forceinline__ void online_mixture(const float (&x)[kPer], int t, int64_t d,
                                               const float* t_centre, const float* t_inv,
                                               const float* t_lw, int64_t n_comp,
                                               float& run_max, float& run_sum,
                                               float (&acc)[kPer]) {
  run_max = -INFINITY;
  run_sum = 0.0f;
#pragma unroll
  for (int k = 0; k < kPer; ++k) acc[k] = 0.0f;
  for (int64_t j = 0; j < n_comp; ++j) {
    float pull[kPer];
    float q = 0.0f;
#pragma unroll
    for (int k = 0; k < kPer; ++k) {
      const int64_t col = column<kRowThreads, kAligned>(t, k);
      pull[k] = 0.0f;
      if (col >= d) continue;
      const float diff = t_centre[j * d + col] - x[k];
      pull[k] = diff * t_inv[j * d + col];
      q += diff * pull[k];
    }
    const float logit = t_lw[j] - 0.5f * row_allsum<kRowThreads>(q);
    const float new_max = fmaxf(run_max, logit);
    const float safe = new_max == -INFINITY ? 0.0f : new_max;  // all -inf so far: no NaN
    const float rescale = expf(run_max - safe);
    const float p = expf(logit - safe);
    run_sum = run_sum * rescale + p;
#pragma unroll
    for (int k = 0; k < kPer; ++k) acc[k] = acc[k] * rescale + p * pull[k];
    run_max = new_max;
  }
}

// 2 blocks of 256 threads per SM at least: kPer = 16 holds ~50 floats a thread
template <typename T, int kRowThreads, int kPer, bool kAligned, bool kRatio>
__global__ void __launch_bounds__(kBlock, 2) gmm_step_kernel(const GmmArgs<T> a) {
  constexpr int kRowsPerBlock = kBlock / kRowThreads;
  const int t = threadIdx.x % kRowThreads;
  const int64_t n = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kRowThreads;
  const bool live = n < a.n;  // dead rows still join every shuffle, with zeros
  const StepCoefs c = a.coefs;
  const int64_t d = a.d;
  float x[kPer], z[kPer];
  // zeroed before any load: an aligned load4 at k fills k..k+3, which a later k must not reset
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    x[k] = 0.0f;
    z[k] = 0.0f;
  }
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int64_t col = column<kRowThreads, kAligned>(t, k);
    if (!live || col >= d) continue;
    if (kAligned && k % 4 == 0) {
      load4(a.x + n * a.stride_x + col, &x[k]);
      if (a.noise) load4(a.noise + n * a.stride_noise + col, &z[k]);
    } else if (!kAligned) {
      x[k] = static_cast<float>(a.x[n * a.stride_x + col]);
      if (a.noise) z[k] = static_cast<float>(a.noise[n * a.stride_noise + col]);
    }
  }
  if (live && a.noise == nullptr) {
    const PhiloxKey key =
        make_philox_key(static_cast<uint64_t>(a.seeds[0]), static_cast<uint64_t>(a.seeds[1]));
    const uint64_t e_row = static_cast<uint64_t>(n) * static_cast<uint64_t>(d);
#pragma unroll
    for (int k = 0; k < kPer; ++k) {
      const int64_t col = column<kRowThreads, kAligned>(t, k);
      if (col >= d) continue;
      if (kAligned && k % 4 == 0) {
        normal4(key, (e_row + col) / 4, z[k], z[k + 1], z[k + 2], z[k + 3]);
      } else if (!kAligned) {
        const uint64_t e = e_row + static_cast<uint64_t>(col);
        float q[4];
        normal4(key, e / 4, q[0], q[1], q[2], q[3]);
        z[k] = q[e % 4];
      }
    }
  }
  // the tables (gmm_table_floats): mixture centres, inverses, lw; then the bumps'
  extern __shared__ float tables[];
  float* mix_lw = tables + 2 * a.n_mix * d;
  float* bump_centre = mix_lw + a.n_mix;
  float* bump_lw = bump_centre + 2 * a.n_bumps * d;
  fill_tables<true>(a.means, a.variances, a.log_weights, a.n_mix, d, a.alpha, a.alpha2, a.sigma2,
                    tables, tables + a.n_mix * d, mix_lw);
  fill_tables<false>(a.centers, a.reward_variances, a.log_coefs, a.n_bumps, d, 0.0f, 0.0f, 0.0f,
                     bump_centre, bump_centre + a.n_bumps * d, bump_lw);
  __syncthreads();
  float s_max, s_sum, s[kPer], r_max, r_sum, gr[kPer];
  online_mixture<kRowThreads, kPer, kAligned>(x, t, d, tables, tables + a.n_mix * d, mix_lw,
                                              a.n_mix, s_max, s_sum, s);
  online_mixture<kRowThreads, kPer, kAligned>(x, t, d, bump_centre,
                                              bump_centre + a.n_bumps * d, bump_lw, a.n_bumps,
                                              r_max, r_sum, gr);
  const float r_scale = expf(r_max == -INFINITY ? 0.0f : r_max);
  const float r = a.log_reward ? r_max + logf(r_sum) : r_scale * r_sum;
  float dot_a = 0.0f, dot_b = 0.0f, out[kPer];
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    s[k] = s[k] / s_sum;
    gr[k] = a.log_reward ? gr[k] / r_sum : r_scale * gr[k];
    const float fx = c.f_coef * x[k];
    out[k] = step_x(x[k], s[k], gr[k], fx, z[k], c);
    if (column<kRowThreads, kAligned>(t, k) >= d) continue;
    dot_a += row_term_a<kRatio>(gr[k], fx);
    dot_b += row_term_b<kRatio>(gr[k], s[k], z[k]);
  }
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int64_t col = column<kRowThreads, kAligned>(t, k);
    if (!live || col >= d) continue;
    if (kAligned && k % 4 == 0) {
      store4(a.x_out + n * a.stride_x_out + col, &out[k]);
    } else if (!kAligned) {
      a.x_out[n * a.stride_x_out + col] = static_cast<T>(out[k]);
    }
  }
  dot_a = row_allsum<kRowThreads>(dot_a);
  dot_b = row_allsum<kRowThreads>(dot_b);
  if (live && t == 0) {
    const float extra = a.extra_dw ? a.extra_dw[n * a.stride_extra_dw] : 0.0f;
    a.w_out[n * a.stride_w_out] = step_w<kRatio>(a.w[n * a.stride_w], r, dot_a, dot_b,
                                                 a.extra_dw ? &extra : nullptr, c);
  }
}

template <typename T>
bool aligned4(const T* p, int64_t row_stride) {
  return p == nullptr ||
         (reinterpret_cast<uintptr_t>(p) % (4 * sizeof(T)) == 0 && row_stride % 4 == 0);
}

template <typename T, int kRowThreads, int kPer, bool kRatio>
cudaError_t launch_rows(const GmmArgs<T>& a, cudaStream_t stream) {
  constexpr int kRowsPerBlock = kBlock / kRowThreads;
  const int64_t blocks = (a.n + kRowsPerBlock - 1) / kRowsPerBlock;
  const size_t smem = sizeof(float) * gmm_table_floats(a.d, a.n_mix, a.n_bumps);
  const bool aligned = a.d % 4 == 0 && aligned4(a.x, a.stride_x) &&
                       aligned4(a.noise, a.stride_noise) && aligned4<T>(a.x_out, a.stride_x_out);
  if (aligned) {
    gmm_step_kernel<T, kRowThreads, kPer, true, kRatio><<<blocks, kBlock, smem, stream>>>(a);
  } else {
    gmm_step_kernel<T, kRowThreads, kPer, false, kRatio><<<blocks, kBlock, smem, stream>>>(a);
  }
  return cudaGetLastError();
}

template <typename T, bool kRatio>
cudaError_t launch_width(const GmmArgs<T>& a, cudaStream_t stream) {
  // threads a row as fkc_step_cuda.cu up to a warp; then more elements a thread
  if (a.d <= 32) return launch_rows<T, 8, 4, kRatio>(a, stream);
  if (a.d <= 64) return launch_rows<T, 16, 4, kRatio>(a, stream);
  if (a.d <= 256) return launch_rows<T, 32, 8, kRatio>(a, stream);
  return launch_rows<T, 32, 16, kRatio>(a, stream);
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
