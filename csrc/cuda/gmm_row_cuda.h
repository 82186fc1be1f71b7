// A row of the mixture step on the GPU, as device functions: what the one-step kernel
// (gmm_step_cuda.cu) and the K-step loop kernel (gmm_loop_cuda.cu) share, so the loop's steps
// are the step's operations in the same order (docs/design.md, "The mixture step"; the spec is
// fkc_kernels/reference/gmm_step.py).
//
// kRowThreads threads own a row and kPer of its elements each, in registers: with a 4-aligned
// row (D % 4 == 0, aligned pointers and strides) thread t holds the Philox groups t,
// t + kRowThreads, ... (16-byte loads, one normal4 a group, as in fkc_step_cuda.cu), otherwise
// elements t, t + kRowThreads, ... (one normal4 an element). The block keeps both models'
// per-step tables in shared memory (centres, inverse variances, log weights with the diffused
// mixture's log-determinant); the mixture's components, then the reward's bumps, go by once
// with an online softmax: every thread of the row gets each component's logit from an
// xor-shuffle sum and rescales its running pull. The step itself is core/step.h's, so the move,
// the weight and the noise are those of fkc_step.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "../core/philox.h"
#include "../core/step.h"
#include "gmm_step_cuda.h"
#include "vec4_cuda.h"

namespace fkc {
namespace cuda {
namespace gmm_row {

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

// The thread's kPer elements of a row (nullptr: a dead row), zeros past D.
template <typename T, int kRowThreads, int kPer, bool kAligned>
__device__ __forceinline__ void load_row(const T* row, int t, int64_t d, float (&v)[kPer]) {
  // zeroed before any load: an aligned load4 at k fills k..k+3, which a later k must not reset
#pragma unroll
  for (int k = 0; k < kPer; ++k) v[k] = 0.0f;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int64_t col = column<kRowThreads, kAligned>(t, k);
    if (row == nullptr || col >= d) continue;
    if (kAligned && k % 4 == 0) {
      load4(row + col, &v[k]);
    } else if (!kAligned) {
      v[k] = static_cast<float>(row[col]);
    }
  }
}

template <typename T, int kRowThreads, int kPer, bool kAligned>
__device__ __forceinline__ void store_row(T* row, int t, int64_t d, const float (&v)[kPer]) {
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int64_t col = column<kRowThreads, kAligned>(t, k);
    if (col >= d) continue;
    if (kAligned && k % 4 == 0) {
      store4(row + col, &v[k]);
    } else if (!kAligned) {
      row[col] = static_cast<T>(v[k]);
    }
  }
}

// The noise contract's normals of row n's elements under seeds = [S, O] (device memory).
template <int kRowThreads, int kPer, bool kAligned>
__device__ __forceinline__ void row_noise(const int64_t* seeds, int64_t n, int t, int64_t d,
                                          float (&z)[kPer]) {
  const PhiloxKey key =
      make_philox_key(static_cast<uint64_t>(seeds[0]), static_cast<uint64_t>(seeds[1]));
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

// A model's per-block tables in shared memory: centre[j*d + col] (alpha mu, or the bump's c),
// inv[j*d + col] = 1 / V (V = alpha^2 v + sigma^2, or the bump's u) and lw[j] (log w_j -
// (1/2) sum_d log V_jd for the diffused mixture, log kappa_j for the bumps). Every row of the
// block reads them: the block computes each division and log once instead of once a row.
struct Table {
  float* centre;
  float* inv;
  float* lw;
};

// The mixture's table, then the bumps', in the gmm_table_floats(d, n_mix, n_bumps) floats at p.
__device__ __forceinline__ void layout_tables(float* p, int64_t d, int64_t n_mix,
                                              int64_t n_bumps, Table& mix, Table& bumps) {
  mix = Table{p, p + n_mix * d, p + 2 * n_mix * d};
  float* b = mix.lw + n_mix;
  bumps = Table{b, b + n_bumps * d, b + 2 * n_bumps * d};
}

template <bool kDiffused>
__device__ void fill_table(const float* centres, const float* vars, const float* lw,
                           int64_t n_comp, int64_t d, float alpha, float alpha2, float sigma2,
                           const Table& out) {
  for (int64_t i = threadIdx.x; i < n_comp * d; i += blockDim.x) {
    const float v = kDiffused ? alpha2 * vars[i] + sigma2 : vars[i];
    out.centre[i] = kDiffused ? alpha * centres[i] : centres[i];
    out.inv[i] = 1.0f / v;
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
    if (lane == 0) out.lw[j] = kDiffused ? lw[j] - 0.5f * logdet : lw[j];
  }
}

// Running (max, sum, pull) of an online softmax over the table's components j with logits
// lw_j - (1/2) sum_d (x_d - c_jd)^2 / V_jd and pulls (c_jd - x_d) / V_jd.
template <int kRowThreads, int kPer, bool kAligned>
__device__ __forceinline__ void online_mixture(const float (&x)[kPer], int t, int64_t d,
                                               const Table& tab, int64_t n_comp,
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
      const float diff = tab.centre[j * d + col] - x[k];
      pull[k] = diff * tab.inv[j * d + col];
      q += diff * pull[k];
    }
    const float logit = tab.lw[j] - 0.5f * row_allsum<kRowThreads>(q);
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

// One step of the row from x and the noise z: x' in out, the reward r and the two row sums of
// the weight increment (summed over the row, valid in every lane).
template <int kRowThreads, int kPer, bool kAligned, bool kRatio>
__device__ __forceinline__ void row_step(const float (&x)[kPer], const float (&z)[kPer], int t,
                                         int64_t d, const Table& mix, int64_t n_mix,
                                         const Table& bumps, int64_t n_bumps, bool log_reward,
                                         const StepCoefs& c, float (&out)[kPer], float& r,
                                         float& dot_a, float& dot_b) {
  float s_max, s_sum, s[kPer], r_max, r_sum, gr[kPer];
  online_mixture<kRowThreads, kPer, kAligned>(x, t, d, mix, n_mix, s_max, s_sum, s);
  online_mixture<kRowThreads, kPer, kAligned>(x, t, d, bumps, n_bumps, r_max, r_sum, gr);
  const float r_scale = expf(r_max == -INFINITY ? 0.0f : r_max);
  r = log_reward ? r_max + logf(r_sum) : r_scale * r_sum;
  dot_a = 0.0f;
  dot_b = 0.0f;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    s[k] = s[k] / s_sum;
    gr[k] = log_reward ? gr[k] / r_sum : r_scale * gr[k];
    const float fx = c.f_coef * x[k];
    out[k] = step_x(x[k], s[k], gr[k], fx, z[k], c);
    if (column<kRowThreads, kAligned>(t, k) >= d) continue;
    dot_a += row_term_a<kRatio>(gr[k], fx);
    dot_b += row_term_b<kRatio>(gr[k], s[k], z[k]);
  }
  dot_a = row_allsum<kRowThreads>(dot_a);
  dot_b = row_allsum<kRowThreads>(dot_b);
}

template <typename T>
bool aligned4(const T* p, int64_t row_stride) {
  return p == nullptr ||
         (reinterpret_cast<uintptr_t>(p) % (4 * sizeof(T)) == 0 && row_stride % 4 == 0);
}

// Calls launch(threads a row, elements a thread) with the tile for rows of d (<= kGmmMaxD):
// threads a row as fkc_step_cuda.cu up to a warp, then more elements a thread.
template <typename F>
cudaError_t by_row_width(int64_t d, F&& launch) {
  using std::integral_constant;
  if (d <= 32) return launch(integral_constant<int, 8>{}, integral_constant<int, 4>{});
  if (d <= 64) return launch(integral_constant<int, 16>{}, integral_constant<int, 4>{});
  if (d <= 256) return launch(integral_constant<int, 32>{}, integral_constant<int, 8>{});
  return launch(integral_constant<int, 32>{}, integral_constant<int, 16>{});
}

}  // namespace gmm_row
}  // namespace cuda
}  // namespace fkc
