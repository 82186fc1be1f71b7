// fkc::gmm_loop_ext on CUDA tensors: K mixture steps in place in one launch of
// csrc/cuda/gmm_loop_cuda.cu (the host side is gmm_step.h's; the schema is defined in
// gmm_loop_register_cpu.cpp, which every build has). Built only with the CUDA kernels
// (fkc_kernels/extension/_build_config.py CUDA_SOURCES).
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "../cuda/gmm_step_cuda.h"
#include "cuda_check.h"
#include "gmm_cuda_limits.h"
#include "gmm_step.h"

namespace fkc {
namespace ops {

namespace {

struct CudaGmmLoopLaunch {
  template <typename T>
  void operator()(const GmmArgs<T>& a, const Tensor& x, const float* coefs,
                  int64_t n_steps) const {
    check_cuda_gmm_limits(a.d, a.n_mix, a.n_bumps);
    const c10::cuda::CUDAGuard guard(x.device());
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
    check_cuda_rc(cuda::launch_gmm_loop<T>(a, coefs, n_steps, stream), "gmm_loop_ext");
  }
};

}  // namespace
}  // namespace ops
}  // namespace fkc

TORCH_LIBRARY_IMPL(fkc, CUDA, m) {
  m.impl("gmm_loop_ext", &fkc::ops::gmm_loop_op<fkc::ops::CudaGmmLoopLaunch>);
}
