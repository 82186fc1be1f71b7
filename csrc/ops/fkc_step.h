// The host side of fkc::fkc_step_ext, shared by its two registrations (fkc_step_register_cpu.cpp,
// fkc_step_register_cuda.cpp): argument checks, the coefficients and the dtype switch; only the
// launch differs. The schema is defined from Python (fkc_kernels/ops/_step_args.py: the fields
// of StepTensors, then of StepScalars); fkc_step_op below is its one C++ spelling. The Python
// backend validates arguments first; the checks here guard direct torch.ops calls against
// memory errors.
#pragma once

#include <ATen/MemoryOverlap.h>
#include <ATen/core/Tensor.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <c10/util/string_view.h>

#include <optional>

#include "../core/step.h"

namespace fkc {
namespace ops {

using at::Tensor;
using OptTensor = std::optional<Tensor>;

inline void check_rows(const char* name, const Tensor& t, const Tensor& x) {
  TORCH_CHECK(t.dim() == 2 && t.sizes() == x.sizes(), name, ": expected shape ", x.sizes(),
              " (the shape of x), got ", t.sizes());
  TORCH_CHECK(t.scalar_type() == x.scalar_type(), name, ": expected dtype ", x.scalar_type(),
              ", got ", t.scalar_type());
  TORCH_CHECK(t.device() == x.device(), name, ": expected device ", x.device(), ", got ",
              t.device());
  TORCH_CHECK(t.size(1) <= 1 || t.stride(1) == 1, name,
              ": expected rows with unit inner stride, got strides ", t.strides());
}

// (N,) float32 view of a per-particle tensor (converted when it is another float dtype).
inline Tensor per_particle_f32(const char* name, const Tensor& t, const Tensor& x) {
  TORCH_CHECK(t.dim() == 1 && t.size(0) == x.size(0), name, ": expected shape (", x.size(0),
              ",), got ", t.sizes());
  TORCH_CHECK(t.device() == x.device(), name, ": expected device ", x.device(), ", got ",
              t.device());
  return t.scalar_type() == at::kFloat ? t : t.to(at::kFloat);
}

// Per-particle float32 vectors of a step (converted when given in another float dtype).
struct StepVectors {
  Tensor w, reward;
  OptTensor extra_dw;
};

// Shared argument checks; returns w, reward and extra_dw as float32.
inline StepVectors check_step(const Tensor& x, const Tensor& w, const Tensor& score,
                              const Tensor& grad, const Tensor& reward, const OptTensor& extra_dw,
                              const OptTensor& f, const OptTensor& noise, const OptTensor& seeds,
                              const Tensor& x_out, const Tensor& w_out) {
  TORCH_CHECK(x.dim() == 2, "x: expected (N, D), got ", x.sizes());
  const auto st = x.scalar_type();
  TORCH_CHECK(st == at::kFloat || st == at::kHalf || st == at::kBFloat16,
              "x: expected float32/float16/bfloat16, got ", st);
  check_rows("x", x, x);
  check_rows("score", score, x);
  check_rows("reward_grad", grad, x);
  check_rows("x_out", x_out, x);
  if (f) check_rows("f", *f, x);
  if (noise) check_rows("noise", *noise, x);
  TORCH_CHECK(noise || seeds, "seeds: required when noise is None");
  if (!noise) {
    TORCH_CHECK(seeds->scalar_type() == at::kLong && seeds->numel() == 2 &&
                    seeds->is_contiguous(),
                "seeds: expected a contiguous int64 (2,) tensor [S, O], got ",
                seeds->scalar_type(), " ", seeds->sizes());
  }
  TORCH_CHECK(w_out.scalar_type() == at::kFloat && w_out.dim() == 1 &&
                  w_out.size(0) == x.size(0) && w_out.device() == x.device(),
              "w_out: expected float32 (", x.size(0), ",) on ", x.device(), ", got ",
              w_out.scalar_type(), " ", w_out.sizes(), " on ", w_out.device());
  // rows are written in parallel: an output that overlaps itself, or an input other than
  // exactly (in place), would race
  at::assert_no_internal_overlap(x_out);
  at::assert_no_internal_overlap(w_out);
  at::assert_no_partial_overlap(x, x_out);
  at::assert_no_partial_overlap(w, w_out);
  OptTensor extra32;
  if (extra_dw) extra32 = per_particle_f32("extra_dw", *extra_dw, x);
  return {per_particle_f32("w", w, x), per_particle_f32("reward", reward, x), extra32};
}

template <typename T>
StepArgs<T> make_step_args(const Tensor& x, const StepVectors& v, const Tensor& score,
                           const Tensor& grad, const OptTensor& f, const OptTensor& noise,
                           const Tensor& x_out, const Tensor& w_out, const StepCoefs& coefs) {
  StepArgs<T> a{};
  a.x = x.const_data_ptr<T>();
  a.score = score.const_data_ptr<T>();
  a.reward_grad = grad.const_data_ptr<T>();
  a.f = f ? f->const_data_ptr<T>() : nullptr;
  a.noise = noise ? noise->const_data_ptr<T>() : nullptr;
  a.x_out = x_out.mutable_data_ptr<T>();
  a.stride_x = x.stride(0);
  a.stride_score = score.stride(0);
  a.stride_grad = grad.stride(0);
  a.stride_f = f ? f->stride(0) : 0;
  a.stride_noise = noise ? noise->stride(0) : 0;
  a.stride_x_out = x_out.stride(0);
  a.w = v.w.const_data_ptr<float>();
  a.reward = v.reward.const_data_ptr<float>();
  a.extra_dw = v.extra_dw ? v.extra_dw->const_data_ptr<float>() : nullptr;
  a.stride_extra_dw = v.extra_dw ? v.extra_dw->stride(0) : 0;
  a.w_out = w_out.mutable_data_ptr<float>();
  a.stride_w = v.w.stride(0);
  a.stride_reward = v.reward.stride(0);
  a.stride_w_out = w_out.stride(0);
  a.n = x.size(0);
  a.d = x.size(1);
  a.coefs = coefs;
  return a;
}

// Calls run(T{}) with x's element type (float32, float16 or bfloat16, checked before).
template <typename F>
void by_particle_dtype(const at::Tensor& x, F&& run) {
  switch (x.scalar_type()) {
    case at::kFloat: run(float{}); break;
    case at::kHalf: run(c10::Half{}); break;
    default: run(c10::BFloat16{}); break;
  }
}

// The op for one dispatch key: Launch is the registration's launcher, a callable
// launch(StepArgs<T>&, x, noise, seeds) that runs the step on its device.
template <class Launch>
void fkc_step_op(const Tensor& x, const Tensor& w, const Tensor& score, const Tensor& grad,
                 const Tensor& reward, const OptTensor& extra_dw, const OptTensor& f,
                 const OptTensor& noise, const OptTensor& seeds, const Tensor& x_out,
                 const Tensor& w_out, double h, double g, double lam, double dlam, double f_coef,
                 double dw_clip, double w_min, double w_max, c10::string_view increment) {
  const StepVectors v =
      check_step(x, w, score, grad, reward, extra_dw, f, noise, seeds, x_out, w_out);
  TORCH_CHECK(increment == "fkc" || increment == "ratio",
              "increment: expected 'fkc' or 'ratio', got '", increment, "'");
  const StepCoefs coefs =
      make_step_coefs(h, g, lam, dlam, f_coef, dw_clip, w_min, w_max, increment == "ratio");
  auto run = [&](auto tag) {
    using T = decltype(tag);
    auto a = make_step_args<T>(x, v, score, grad, f, noise, x_out, w_out, coefs);
    Launch{}(a, x, noise, seeds);
  };
  by_particle_dtype(x, run);
}

}  // namespace ops
}  // namespace fkc
