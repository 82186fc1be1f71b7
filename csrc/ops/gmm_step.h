// The host side of fkc::gmm_step_ext and fkc::gmm_loop_ext, shared by their registrations
// (csrc/ops/gmm_{step,loop}_register_{cpu,cuda}.cpp): argument checks, the kernel arguments and
// the dtype switch; only the launch differs. gmm_step_ext's schema is defined from Python
// (fkc_kernels/ops/_gmm_args.py), gmm_loop_ext's in gmm_loop_register_cpu.cpp. The Python ops
// validate first; these checks guard direct torch.ops calls against memory errors.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include "../core/gmm.h"
#include "fkc_step.h"

namespace fkc {
namespace ops {

// A model table: float32, contiguous, on x's device, (rows, cols) or (rows,) when cols < 0.
inline void check_table(const char* name, const at::Tensor& t, int64_t rows, int64_t cols,
                        const at::Tensor& x) {
  TORCH_CHECK(t.scalar_type() == at::kFloat && t.is_contiguous() && t.device() == x.device(),
              name, ": expected a contiguous float32 tensor on ", x.device(), ", got ",
              t.scalar_type(), " on ", t.device());
  TORCH_CHECK(cols < 0 ? (t.dim() == 1 && t.size(0) == rows)
                       : (t.dim() == 2 && t.size(0) == rows && t.size(1) == cols),
              name, ": expected (", rows, cols < 0 ? "" : ", ", cols < 0 ? "" : "D", ") rows, got ",
              t.sizes());
}

// The mixture (means, variances, log_weights) and the bumps (centers, reward_variances,
// log_coefs), checked against x's D, in the kernel arguments.
struct GmmModels {
  const at::Tensor &means, &variances, &log_weights, &centers, &reward_variances, &log_coefs;
};

template <typename T>
void set_models(GmmArgs<T>& a, const at::Tensor& x, const GmmModels& m) {
  const int64_t d = x.size(1), n_mix = m.means.size(0), n_bumps = m.centers.size(0);
  TORCH_CHECK(n_mix >= 1 && n_bumps >= 1, "means, centers: expected at least one component and "
              "one bump, got ", n_mix, " and ", n_bumps);
  check_table("means", m.means, n_mix, d, x);
  check_table("variances", m.variances, n_mix, d, x);
  check_table("log_weights", m.log_weights, n_mix, -1, x);
  check_table("centers", m.centers, n_bumps, d, x);
  check_table("reward_variances", m.reward_variances, n_bumps, d, x);
  check_table("log_coefs", m.log_coefs, n_bumps, -1, x);
  a.means = m.means.const_data_ptr<float>();
  a.variances = m.variances.const_data_ptr<float>();
  a.log_weights = m.log_weights.const_data_ptr<float>();
  a.centers = m.centers.const_data_ptr<float>();
  a.reward_variances = m.reward_variances.const_data_ptr<float>();
  a.log_coefs = m.log_coefs.const_data_ptr<float>();
  a.n_mix = n_mix;
  a.n_bumps = n_bumps;
}

// The op for one dispatch key: Launch is the registration's launcher, a callable
// launch(GmmArgs<T>&, x) that runs the step on x's device (and checks what only it limits).
template <class Launch>
void gmm_step_op(const Tensor& x, const Tensor& w, const Tensor& means, const Tensor& variances,
                 const Tensor& log_weights, const Tensor& centers,
                 const Tensor& reward_variances, const Tensor& log_coefs,
                 const OptTensor& extra_dw, const OptTensor& noise, const OptTensor& seeds,
                 const Tensor& x_out, const Tensor& w_out, double alpha, double sigma, double h,
                 double g, double lam, double dlam, double f_coef, double dw_clip, double w_min,
                 double w_max, c10::string_view increment, bool log_reward) {
  // the step's own checks, with x standing in for the score and gradient it computes
  const StepVectors v = check_step(x, w, x, x, w, extra_dw, std::nullopt, noise, seeds, x_out,
                                   w_out);
  TORCH_CHECK(increment == "fkc" || increment == "ratio",
              "increment: expected 'fkc' or 'ratio', got '", increment, "'");
  if (!noise) {
    TORCH_CHECK(seeds->device() == x.device(), "seeds: expected device ", x.device(),
                " (read by the kernel: no host sync), got ", seeds->device());
  }
  const StepCoefs coefs =
      make_step_coefs(h, g, lam, dlam, f_coef, dw_clip, w_min, w_max, increment == "ratio");
  const GmmModels models{means, variances, log_weights, centers, reward_variances, log_coefs};
  auto run = [&](auto tag) {
    using T = decltype(tag);
    GmmArgs<T> a{};
    a.x = x.const_data_ptr<T>();
    a.noise = noise ? noise->const_data_ptr<T>() : nullptr;
    a.x_out = x_out.mutable_data_ptr<T>();
    a.stride_x = x.stride(0);
    a.stride_noise = noise ? noise->stride(0) : 0;
    a.stride_x_out = x_out.stride(0);
    a.w = v.w.const_data_ptr<float>();
    a.extra_dw = v.extra_dw ? v.extra_dw->const_data_ptr<float>() : nullptr;
    a.w_out = w_out.mutable_data_ptr<float>();
    a.stride_w = v.w.stride(0);
    a.stride_extra_dw = v.extra_dw ? v.extra_dw->stride(0) : 0;
    a.stride_w_out = w_out.stride(0);
    a.n = x.size(0);
    a.d = x.size(1);
    set_models(a, x, models);
    a.seeds = noise ? nullptr : seeds->const_data_ptr<int64_t>();
    // rounded to float32 once, as the float32 reference rounds a Python float meeting a tensor
    a.alpha = static_cast<float>(alpha);
    a.alpha2 = static_cast<float>(alpha * alpha);
    a.sigma2 = static_cast<float>(sigma * sigma);
    a.log_reward = log_reward;
    a.coefs = coefs;
    Launch{}(a, x);
  };
  by_particle_dtype(x, run);
}

inline void check_loop_args(const Tensor& x, const Tensor& w, const Tensor& coefs,
                            const Tensor& seeds) {
  TORCH_CHECK(x.dim() == 2 && x.is_contiguous(), "x: expected a contiguous (N, D) tensor, got ",
              x.sizes(), " with strides ", x.strides());
  const auto st = x.scalar_type();
  TORCH_CHECK(st == at::kFloat || st == at::kHalf || st == at::kBFloat16,
              "x: expected float32/float16/bfloat16, got ", st);
  TORCH_CHECK(w.scalar_type() == at::kFloat && w.dim() == 1 && w.size(0) == x.size(0) &&
                  w.is_contiguous() && w.device() == x.device(),
              "w: expected a contiguous float32 (", x.size(0), ",) tensor on ", x.device(),
              ", got ", w.scalar_type(), " ", w.sizes(), " on ", w.device());
  TORCH_CHECK(coefs.scalar_type() == at::kFloat && coefs.dim() == 2 &&
                  coefs.size(1) == kGmmLoopCoefs && coefs.is_contiguous() &&
                  coefs.device() == x.device(),
              "coefs: expected a contiguous float32 (K, ", kGmmLoopCoefs, ") tensor on ",
              x.device(), ", got ", coefs.scalar_type(), " ", coefs.sizes(), " on ",
              coefs.device());
  TORCH_CHECK(seeds.scalar_type() == at::kLong && seeds.dim() == 2 && seeds.size(1) == 2 &&
                  seeds.size(0) == coefs.size(0) && seeds.is_contiguous() &&
                  seeds.device() == x.device(),
              "seeds: expected a contiguous int64 (", coefs.size(0), ", 2) tensor on ",
              x.device(), " (one [S, O] a step), got ", seeds.scalar_type(), " ",
              seeds.sizes(), " on ", seeds.device());
}

// The loop op for one dispatch key: Launch is a callable launch(GmmArgs<T>&, x, coefs,
// n_steps) that runs K steps in place (x_out == x, w_out == w) on x's device.
template <class Launch>
void gmm_loop_op(const Tensor& x, const Tensor& w, const Tensor& means, const Tensor& variances,
                 const Tensor& log_weights, const Tensor& centers,
                 const Tensor& reward_variances, const Tensor& log_coefs, const Tensor& coefs,
                 const Tensor& seeds, bool ratio, bool log_reward) {
  check_loop_args(x, w, coefs, seeds);
  const GmmModels models{means, variances, log_weights, centers, reward_variances, log_coefs};
  auto run = [&](auto tag) {
    using T = decltype(tag);
    GmmArgs<T> a{};
    a.x = x.const_data_ptr<T>();
    a.x_out = x.mutable_data_ptr<T>();
    a.stride_x = a.stride_x_out = x.stride(0);
    a.w = w.const_data_ptr<float>();
    a.w_out = w.mutable_data_ptr<float>();
    a.stride_w = a.stride_w_out = 1;
    a.n = x.size(0);
    a.d = x.size(1);
    set_models(a, x, models);
    a.seeds = seeds.const_data_ptr<int64_t>();
    a.log_reward = log_reward;
    a.coefs.ratio = ratio;  // the kernel's other coefficients come from coefs, a row a step
    Launch{}(a, x, coefs.const_data_ptr<float>(), coefs.size(0));
  };
  by_particle_dtype(x, run);
}

}  // namespace ops
}  // namespace fkc
