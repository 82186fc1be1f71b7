// fkc::gmm_loop_ext on CUDA tensors: K mixture steps in place in one launch of
// csrc/cuda/gmm_loop_cuda.cu. The op exists only with the CUDA kernels (its schema is defined
// here; fkc_kernels/extension/_build_config.py CUDA_SOURCES); fkc_kernels/ops/gmm_loop.py builds
// the step table and falls back to one gmm_step a step elsewhere.
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "../cuda/gmm_step_cuda.h"
#include "cuda_check.h"
#include "gmm_step.h"

namespace fkc {
namespace ops {
namespace {

using at::Tensor;

void check_loop_args(const Tensor& x, const Tensor& w, const Tensor& coefs,
                     const Tensor& seeds) {
  TORCH_CHECK(x.is_cuda() && x.dim() == 2 && x.is_contiguous(),
              "x: expected a contiguous (N, D) CUDA tensor, got ", x.sizes(), " on ", x.device());
  const auto st = x.scalar_type();
  TORCH_CHECK(st == at::kFloat || st == at::kHalf || st == at::kBFloat16,
              "x: expected float32/float16/bfloat16, got ", st);
  TORCH_CHECK(w.scalar_type() == at::kFloat && w.dim() == 1 && w.size(0) == x.size(0) &&
                  w.is_contiguous() && w.device() == x.device(),
              "w: expected a contiguous float32 (", x.size(0), ",) tensor on ", x.device(),
              ", got ", w.scalar_type(), " ", w.sizes(), " on ", w.device());
  TORCH_CHECK(coefs.scalar_type() == at::kFloat && coefs.dim() == 2 &&
                  coefs.size(1) == cuda::kGmmLoopCoefs && coefs.is_contiguous() &&
                  coefs.device() == x.device(),
              "coefs: expected a contiguous float32 (K, ", cuda::kGmmLoopCoefs, ") tensor on ",
              x.device(), ", got ", coefs.scalar_type(), " ", coefs.sizes(), " on ",
              coefs.device());
  TORCH_CHECK(seeds.scalar_type() == at::kLong && seeds.dim() == 2 && seeds.size(1) == 2 &&
                  seeds.size(0) == coefs.size(0) && seeds.is_contiguous() &&
                  seeds.device() == x.device(),
              "seeds: expected a contiguous int64 (", coefs.size(0), ", 2) tensor on ",
              x.device(), " (one [S, O] a step, read by the kernel), got ", seeds.scalar_type(),
              " ", seeds.sizes(), " on ", seeds.device());
}

void gmm_loop_cuda(const Tensor& x, const Tensor& w, const Tensor& means,
                   const Tensor& variances, const Tensor& log_weights, const Tensor& centers,
                   const Tensor& reward_variances, const Tensor& log_coefs, const Tensor& coefs,
                   const Tensor& seeds, bool ratio, bool log_reward) {
  check_loop_args(x, w, coefs, seeds);
  const c10::cuda::CUDAGuard guard(x.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
  auto run = [&](auto tag) {
    using T = decltype(tag);
    cuda::GmmArgs<T> a{};
    a.x = x.const_data_ptr<T>();
    a.x_out = x.mutable_data_ptr<T>();
    a.stride_x = a.stride_x_out = x.stride(0);
    a.w = w.const_data_ptr<float>();
    a.w_out = w.mutable_data_ptr<float>();
    a.stride_w = a.stride_w_out = 1;
    a.n = x.size(0);
    a.d = x.size(1);
    set_models(a, x, means, variances, log_weights, centers, reward_variances, log_coefs);
    a.seeds = seeds.const_data_ptr<int64_t>();
    a.log_reward = log_reward;
    a.coefs.ratio = ratio;  // the kernel's other coefficients come from coefs, a row a step
    check_cuda_rc(cuda::launch_gmm_loop<T>(a, coefs.const_data_ptr<float>(), coefs.size(0),
                                           stream),
                  "gmm_loop_ext");
  };
  by_particle_dtype(x, run);
}

}  // namespace
}  // namespace ops
}  // namespace fkc

TORCH_LIBRARY_FRAGMENT(fkc, m) {
  m.def("gmm_loop_ext(Tensor(a!) x, Tensor(b!) w, Tensor means, Tensor variances, "
        "Tensor log_weights, Tensor centers, Tensor reward_variances, Tensor log_coefs, "
        "Tensor coefs, Tensor seeds, bool ratio, bool log_reward) -> ()");
}

TORCH_LIBRARY_IMPL(fkc, CUDA, m) { m.impl("gmm_loop_ext", &fkc::ops::gmm_loop_cuda); }
