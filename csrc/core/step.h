// The FKC step (docs/design.md, "One step") per element and per row, once for every device.
//
//   drift = g^2 (s + (lam/2) gr) - f(x);   x' = x + h drift + g sqrt(h) xi
//   dw    = h [dlam r - lam <gr, f(x)> + (g^2/2) lam <gr, s>] (+ extra_dw),  clipped to +-dw_clip
//   w'    = clip(w + dw, w_min, w_max)
// or, for the ratio increment (docs/design.md, "The ratio increment": the log density ratio of
// the unguided Euler-Maruyama transition to the guided one at x', xi the step's own noise),
//   dw    = -[(h g^2 lam^2 / 8) |gr|^2 + (g sqrt(h) lam / 2) <gr, xi>] (+ extra_dw)
// A row keeps two float32 sums: <gr, f(x)> and <gr, s> for the FKC increment, |gr|^2 and
// <gr, xi> for the ratio (the mode is a compile-time switch of the kernels).
// The coefficients are rounded to float32 once, where the float32 reference rounds them (a
// Python float meeting a float32 tensor), and the operation order follows the reference, so a
// kernel matches reference.fkc_step to the last bit or two.
#pragma once

#include <cmath>

#include "fkc_hd.h"

namespace fkc {

struct StepCoefs {
  float h;            // step size
  float g2;           // g^2
  float half_lam;     // lam / 2
  float noise_scale;  // g sqrt(h)
  float f_coef;       // f(x) = f_coef x when no explicit f is given
  float dlam;         // d lam / dt
  float lam;
  float half_g2_lam;  // g^2 lam / 2
  float dw_clip;      // +inf when off
  float w_min, w_max; // -inf / +inf when off
  float ratio_gg;     // h g^2 lam^2 / 8 (ratio increment)
  float ratio_gz;     // g sqrt(h) lam / 2 (ratio increment)
  bool ratio;         // the increment: false = FKC, true = ratio
};

// Host-side: double scalars from the op schema -> float32 coefficients.
inline StepCoefs make_step_coefs(double h, double g, double lam, double dlam, double f_coef,
                                 double dw_clip, double w_min, double w_max, bool ratio) {
  const double g2 = g * g;
  return StepCoefs{static_cast<float>(h),           static_cast<float>(g2),
                   static_cast<float>(0.5 * lam),   static_cast<float>(g * std::sqrt(h)),
                   static_cast<float>(f_coef),      static_cast<float>(dlam),
                   static_cast<float>(lam),         static_cast<float>(0.5 * g2 * lam),
                   static_cast<float>(dw_clip),     static_cast<float>(w_min),
                   static_cast<float>(w_max),       static_cast<float>(h * g2 * lam * lam / 8),
                   static_cast<float>(0.5 * g * std::sqrt(h) * lam), ratio};
}

// x' for one element; fx is f(x) (explicit, or f_coef * x), xi the standard normal. F is float,
// or a vector of floats (the CPU's short-row loop): the same operations in the same order.
template <class F>
FKC_HD F step_x(F x, F s, F gr, F fx, F xi, const StepCoefs& c) {
  const F drift = c.g2 * (s + c.half_lam * gr) - fx;
  return (x + c.h * drift) + c.noise_scale * xi;
}

// The two products a row sums for its increment, of one element: <gr, f(x)> and <gr, s> (FKC),
// |gr|^2 and <gr, xi> (ratio).
template <bool kRatio, class F>
FKC_HD F row_term_a(F gr, F fx) {
  if constexpr (kRatio) return gr * gr;
  return gr * fx;
}
template <bool kRatio, class F>
FKC_HD F row_term_b(F gr, F s, F xi) {
  if constexpr (kRatio) return gr * xi;
  return gr * s;
}

// w' from the row's two float32 sums (row_term_a, row_term_b); extra points at the row's
// extra_dw term, or is nullptr when there is none.
template <bool kRatio>
FKC_HD float step_w(float w, float r, float sum_a, float sum_b, const float* extra,
                    const StepCoefs& c) {
  float dw;
  if constexpr (kRatio) {
    dw = -(mul_rn(c.ratio_gg, sum_a) + mul_rn(c.ratio_gz, sum_b));
  } else {
    dw = mul_rn(c.h, (c.dlam * r - c.lam * sum_a) + c.half_g2_lam * sum_b);
  }
  if (extra != nullptr) dw = dw + *extra;
  dw = clamp_keep_nan(dw, -c.dw_clip, c.dw_clip);
  return clamp_keep_nan(w + dw, c.w_min, c.w_max);
}

// One fused step over an (N, D) block whose rows have arbitrary strides (inner stride 1).
// T is float, c10::Half or c10::BFloat16 (anything with float conversions); the math is float32.
// x_out may alias x and w_out may alias w: each element is read before it is written, by the
// thread that writes it. Torch-free so CPU and CUDA launchers share it.
template <typename T>
struct StepArgs {
  const T* x;
  const T* score;
  const T* reward_grad;
  const T* f;      // nullptr: f(x) = f_coef * x
  const T* noise;  // nullptr: in-kernel Philox noise
  T* x_out;
  int64_t stride_x, stride_score, stride_grad, stride_f, stride_noise, stride_x_out;
  const float* w;
  const float* reward;
  const float* extra_dw;  // nullptr: no extra increment
  float* w_out;
  int64_t stride_w, stride_reward, stride_extra_dw, stride_w_out;
  int64_t n, d;
  uint64_t seed, offset;  // the noise contract's (S, O), host copy (CPU launchers)
  const int64_t* seeds;   // [S, O] in device memory (CUDA launchers: no host sync)
  StepCoefs coefs;
};

// Particle n's rows of the step's inputs and output (nullptr where StepArgs has none) and the
// flat index of its first element (the noise contract counts elements row after row).
template <typename T>
struct StepRow {
  const T *x, *score, *reward_grad, *f, *noise;
  T* x_out;
  uint64_t e0;
};

template <typename T>
FKC_HD StepRow<T> step_row(const StepArgs<T>& a, int64_t n) {
  return {a.x + n * a.stride_x,
          a.score + n * a.stride_score,
          a.reward_grad + n * a.stride_grad,
          a.f ? a.f + n * a.stride_f : nullptr,
          a.noise ? a.noise + n * a.stride_noise : nullptr,
          a.x_out + n * a.stride_x_out,
          static_cast<uint64_t>(n) * static_cast<uint64_t>(a.d)};
}

}  // namespace fkc
