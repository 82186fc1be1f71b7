// fkc::gmm_step_ext on CUDA tensors: the launcher of csrc/cuda/gmm_step_cuda.cu, registered (the
// schema is defined from Python: fkc_kernels/ops/_gmm_args.py). Built only with the CUDA kernels
// (fkc_kernels/extension/_build_config.py CUDA_SOURCES); the CPU backend has no kernel of its
// own for this op (fkc_kernels/ops/gmm_step.py composes the reference with its fkc_step).
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/string_view.h>
#include <torch/library.h>

#include "../cuda/gmm_step_cuda.h"
#include "cuda_check.h"
#include "fkc_step.h"
#include "gmm_step.h"

namespace fkc {
namespace ops {
namespace {

template <typename T>
cuda::GmmArgs<T> make_gmm_args(const Tensor& x, const StepVectors& v, const OptTensor& noise,
                               const Tensor& x_out, const Tensor& w_out) {
  cuda::GmmArgs<T> a{};
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
  return a;
}

void gmm_step_cuda(const Tensor& x, const Tensor& w, const Tensor& means, const Tensor& variances,
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
  const c10::cuda::CUDAGuard guard(x.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
  auto run = [&](auto tag) {
    using T = decltype(tag);
    cuda::GmmArgs<T> a = make_gmm_args<T>(x, v, noise, x_out, w_out);
    set_models(a, x, means, variances, log_weights, centers, reward_variances, log_coefs);
    a.seeds = noise ? nullptr : seeds->const_data_ptr<int64_t>();
    // rounded to float32 once, as the float32 reference rounds a Python float meeting a tensor
    a.alpha = static_cast<float>(alpha);
    a.alpha2 = static_cast<float>(alpha * alpha);
    a.sigma2 = static_cast<float>(sigma * sigma);
    a.log_reward = log_reward;
    a.coefs = coefs;
    check_cuda_rc(cuda::launch_gmm_step<T>(a, stream), "gmm_step_ext");
  };
  by_particle_dtype(x, run);
}

}  // namespace
}  // namespace ops
}  // namespace fkc

TORCH_LIBRARY_IMPL(fkc, CUDA, m) { m.impl("gmm_step_ext", &fkc::ops::gmm_step_cuda); }
