// The mixture step on the CPU: a row's closed-form score and reward, then the FKC step, in one
// pass (docs/design.md, "The mixture step"; the spec is fkc_kernels/reference/gmm_step.py).
//
// Rows go in blocks of about kBlockElems elements, in parallel (at::parallel_for). A block is
// widened to float32 once; for each planned step its normals are made in one call (noise_simd.h:
// the contract's bits, as fkc_step's), then each row walks the mixture's components, then the
// bumps (a softmax in two passes, mixture_terms), and takes core/step.h's step. A row's sums are
// kept in kLanes lane-wise partials added as a fixed tree: vectorised, and the same operations
// in the same order in every clone.
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../core/step.h"
#include "cpu_clones.h"
#include "gmm_row_cpu.h"
#include "noise_simd.h"
#include "ops_cpu.h"

namespace fkc {
namespace cpu {
namespace {

constexpr int kLanes = 16;
constexpr int64_t kBlockElems = 4096;  // a block's x and noise: 32 KiB, in L1/L2 for K steps
constexpr float kInf = std::numeric_limits<float>::infinity();

// p[0] + ... + p[15] as a fixed tree (halves added lane by lane), spelled out so that it stays
// in registers
FKC_ALWAYS_INLINE float lanes_total(const float (&p)[kLanes]) {
  static_assert(kLanes == 16, "the tree below adds 16 lanes");
  float h8[8], h4[4];
  for (int l = 0; l < 8; ++l) h8[l] = p[l] + p[l + 8];
  for (int l = 0; l < 4; ++l) h4[l] = h8[l] + h8[l + 4];
  return (h4[0] + h4[2]) + (h4[1] + h4[3]);
}

// A model's softmax at row x, in two passes: the logits lw_j - (1/2) sum_d (x_d - c_jd)^2 / V_jd
// and their maximum, then acc = sum_j e^{logit_j - max} (c_j - x) / V_j and the sum of the
// e^{...}: one exp a component (the GPU kernels' online softmax takes two), no stores in the
// first pass. Returns the maximum (-inf when every logit is; then sum is 0).
FKC_ALWAYS_INLINE float mixture_terms(const float* x, int64_t d, const GmmTable& t,
                                      float* logits, float* acc, float& sum) {
  float top = -kInf;
  for (int64_t j = 0; j < t.n; ++j) {
    const float* c = t.centre.data() + j * d;
    const float* inv = t.inv.data() + j * d;
    float part[kLanes] = {};
    int64_t col = 0;
    for (; col + kLanes <= d; col += kLanes) {
      FKC_SIMD for (int l = 0; l < kLanes; ++l) {
        const float diff = c[col + l] - x[col + l];
        part[l] += diff * (diff * inv[col + l]);
      }
    }
    for (int l = 0; col + l < d; ++l) {
      const float diff = c[col + l] - x[col + l];
      part[l] += diff * (diff * inv[col + l]);
    }
    logits[j] = t.lw[j] - 0.5f * lanes_total(part);
    top = std::fmax(top, logits[j]);  // fmax skips NaN: a NaN row stays NaN through exp below
  }
  const float safe = top == -kInf ? 0.0f : top;
  sum = 0.0f;
  std::fill(acc, acc + d, 0.0f);
  for (int64_t j = 0; j < t.n; ++j) {
    const float* c = t.centre.data() + j * d;
    const float* inv = t.inv.data() + j * d;
    const float p = std::exp(logits[j] - safe);
    sum += p;
    FKC_SIMD for (int64_t i = 0; i < d; ++i) acc[i] += p * ((c[i] - x[i]) * inv[i]);
  }
  return top;
}

// Per-row scratch: d floats for x', the score and the reward gradient, one a component.
struct RowScratch {
  std::vector<float> out, score, grad, logits;
  RowScratch(int64_t d, int64_t n_comp) : out(d), score(d), grad(d), logits(n_comp) {}
};

// The step of elements [i0, i0 + m) of a row (m <= kLanes), lane l adding to pa[l], pb[l].
template <bool kRatio, int kM>
FKC_ALWAYS_INLINE void move_lanes(const float* x, const float* z, int64_t i0, int m,
                                  float s_sum, float r_sum, float r_scale, bool log_reward,
                                  const StepCoefs& c, RowScratch& s, float (&pa)[kLanes],
                                  float (&pb)[kLanes]) {
  FKC_SIMD for (int l = 0; l < (kM ? kM : m); ++l) {
    const int64_t i = i0 + l;
    const float sc = s.score[i] / s_sum;
    const float g = log_reward ? s.grad[i] / r_sum : r_scale * s.grad[i];
    const float fx = c.f_coef * x[i];
    s.out[i] = step_x(x[i], sc, g, fx, z[i], c);
    pa[l] += row_term_a<kRatio>(g, fx);
    pb[l] += row_term_b<kRatio>(g, sc, z[i]);
  }
}

// One step of a row: x' in s.out; returns w'.
template <bool kRatio>
FKC_ALWAYS_INLINE float row_step(const float* x, const float* z, float w, const float* extra,
                                 int64_t d, const GmmTable& mix, const GmmTable& bumps,
                                 bool log_reward, const StepCoefs& c, RowScratch& s) {
  float s_sum, r_sum;
  mixture_terms(x, d, mix, s.logits.data(), s.score.data(), s_sum);
  const float r_max = mixture_terms(x, d, bumps, s.logits.data(), s.grad.data(), r_sum);
  const float r_scale = std::exp(r_max == -kInf ? 0.0f : r_max);
  const float r = log_reward ? r_max + std::log(r_sum) : r_scale * r_sum;
  float pa[kLanes] = {}, pb[kLanes] = {};
  int64_t i0 = 0;
  for (; i0 + kLanes <= d; i0 += kLanes) {
    move_lanes<kRatio, kLanes>(x, z, i0, kLanes, s_sum, r_sum, r_scale, log_reward, c, s, pa,
                               pb);
  }
  if (i0 < d) {
    move_lanes<kRatio, 0>(x, z, i0, static_cast<int>(d - i0), s_sum, r_sum, r_scale,
                          log_reward, c, s, pa, pb);
  }
  return step_w<kRatio>(w, r, lanes_total(pa), lanes_total(pb), extra, c);
}

template <typename T>
FKC_ALWAYS_INLINE void widen_rows(const T* src, int64_t stride, int64_t rows, int64_t d,
                                  float* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < d; ++i) dst[r * d + i] = static_cast<float>(src[r * stride + i]);
  }
}

template <typename T, bool kRatio>
FKC_ALWAYS_INLINE void run_rows(const GmmArgs<T>& a, const GmmTable& bumps,
                                const GmmStepPlan* plans, int64_t n_steps, int64_t row_begin,
                                int64_t row_end) {
  const int64_t d = a.d;
  const int64_t block = std::max<int64_t>(1, kBlockElems / std::max<int64_t>(d, 1));
  std::vector<float> x(block * d), z(block * d), w(block);
  RowScratch s(d, std::max(a.n_mix, a.n_bumps));
  for (int64_t b0 = row_begin; b0 < row_end; b0 += block) {
    const int64_t nb = std::min(block, row_end - b0);
    widen_rows(a.x + b0 * a.stride_x, a.stride_x, nb, d, x.data());
    for (int64_t r = 0; r < nb; ++r) w[r] = a.w[(b0 + r) * a.stride_w];
    for (int64_t i = 0; i < n_steps; ++i) {
      const GmmStepPlan& p = plans[i];
      if (a.seeds == nullptr) {  // explicit noise (a.noise may be null: rows of zero length)
        widen_rows(a.noise + b0 * a.stride_noise, a.stride_noise, nb, d, z.data());
      } else {  // the block's rows are one run of flat elements
        fill_normals(p.key, static_cast<uint64_t>(b0) * static_cast<uint64_t>(d), nb * d,
                     z.data());
      }
      for (int64_t r = 0; r < nb; ++r) {
        const float extra = a.extra_dw ? a.extra_dw[(b0 + r) * a.stride_extra_dw] : 0.0f;
        float* xr = x.data() + r * d;
        w[r] = row_step<kRatio>(xr, z.data() + r * d, w[r], a.extra_dw ? &extra : nullptr, d,
                                p.mix, bumps, a.log_reward, p.coefs, s);
        // what a store and the next step's load make of x'
        for (int64_t k = 0; k < d; ++k) xr[k] = static_cast<float>(static_cast<T>(s.out[k]));
      }
    }
    for (int64_t r = 0; r < nb; ++r) {
      T* dst = a.x_out + (b0 + r) * a.stride_x_out;
      for (int64_t k = 0; k < d; ++k) dst[k] = static_cast<T>(x[r * d + k]);
      a.w_out[(b0 + r) * a.stride_w_out] = w[r];
    }
  }
}

// one cloned function per dtype and increment
#define FKC_GMM_ROWS(NAME, T, RATIO)                                                        \
  FKC_CPU_CLONES void NAME(const GmmArgs<T>& a, const GmmTable& bumps,                      \
                           const GmmStepPlan* plans, int64_t n_steps, int64_t b, int64_t e) { \
    run_rows<T, RATIO>(a, bumps, plans, n_steps, b, e);                                      \
  }
FKC_GMM_ROWS(gmm_rows_f32, float, false)
FKC_GMM_ROWS(gmm_rows_f16, c10::Half, false)
FKC_GMM_ROWS(gmm_rows_bf16, c10::BFloat16, false)
FKC_GMM_ROWS(gmm_rows_f32_ratio, float, true)
FKC_GMM_ROWS(gmm_rows_f16_ratio, c10::Half, true)
FKC_GMM_ROWS(gmm_rows_bf16_ratio, c10::BFloat16, true)
#undef FKC_GMM_ROWS

void gmm_rows_any(const GmmArgs<float>& a, const GmmTable& bumps, const GmmStepPlan* p,
                  int64_t k, int64_t b, int64_t e) {
  a.coefs.ratio ? gmm_rows_f32_ratio(a, bumps, p, k, b, e) : gmm_rows_f32(a, bumps, p, k, b, e);
}
void gmm_rows_any(const GmmArgs<c10::Half>& a, const GmmTable& bumps, const GmmStepPlan* p,
                  int64_t k, int64_t b, int64_t e) {
  a.coefs.ratio ? gmm_rows_f16_ratio(a, bumps, p, k, b, e) : gmm_rows_f16(a, bumps, p, k, b, e);
}
void gmm_rows_any(const GmmArgs<c10::BFloat16>& a, const GmmTable& bumps, const GmmStepPlan* p,
                  int64_t k, int64_t b, int64_t e) {
  a.coefs.ratio ? gmm_rows_bf16_ratio(a, bumps, p, k, b, e)
                : gmm_rows_bf16(a, bumps, p, k, b, e);
}

}  // namespace

template <typename T>
void run_gmm_steps(const GmmArgs<T>& a, const GmmTable& bumps, const GmmStepPlan* plans,
                   int64_t n_steps) {
  if (a.n == 0 || n_steps == 0) return;
  // about 64K multiply-adds a task: each element meets every component and bump every step
  const int64_t per_row = std::max<int64_t>(1, a.d * (a.n_mix + a.n_bumps + 1) * n_steps);
  const int64_t grain = std::max<int64_t>(1, 65536 / per_row);
  at::parallel_for(0, a.n, grain,
                   [&](int64_t b, int64_t e) { gmm_rows_any(a, bumps, plans, n_steps, b, e); });
}

template <typename T>
void gmm_step(const GmmArgs<T>& a) {
  const GmmTable bumps = gmm_table(a.centers, a.reward_variances, a.log_coefs, a.n_bumps, a.d,
                                   false, 0.0f, 0.0f, 0.0f);
  GmmStepPlan plan{gmm_table(a.means, a.variances, a.log_weights, a.n_mix, a.d, true, a.alpha,
                             a.alpha2, a.sigma2),
                   a.coefs, PhiloxKey{}};
  if (a.seeds != nullptr) {  // in-kernel noise
    plan.key = make_philox_key(static_cast<uint64_t>(a.seeds[0]),
                               static_cast<uint64_t>(a.seeds[1]));
  }
  run_gmm_steps(a, bumps, &plan, 1);
}

#define FKC_GMM_INSTANTIATE(T)                                                               \
  template void run_gmm_steps<T>(const GmmArgs<T>&, const GmmTable&, const GmmStepPlan*, \
                                 int64_t);                                                   \
  template void gmm_step<T>(const GmmArgs<T>&);
FKC_GMM_INSTANTIATE(float)
FKC_GMM_INSTANTIATE(c10::Half)
FKC_GMM_INSTANTIATE(c10::BFloat16)
#undef FKC_GMM_INSTANTIATE

}  // namespace cpu
}  // namespace fkc
