// fkc::gmm_step_ext on CUDA tensors: the launcher of csrc/cuda/gmm_step_cuda.cu, registered (the
// host side is gmm_step.h's, shared with the CPU; the schema is defined from Python:
// fkc_kernels/ops/_gmm_args.py). Built only with the CUDA kernels
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

struct CudaGmmLaunch {
  template <typename T>
  void operator()(const GmmArgs<T>& a, const Tensor& x) const {
    check_cuda_gmm_limits(a.d, a.n_mix, a.n_bumps);
    const c10::cuda::CUDAGuard guard(x.device());
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
    check_cuda_rc(cuda::launch_gmm_step<T>(a, stream), "gmm_step_ext");
  }
};

}  // namespace
}  // namespace ops
}  // namespace fkc

TORCH_LIBRARY_IMPL(fkc, CUDA, m) {
  m.impl("gmm_step_ext", &fkc::ops::gmm_step_op<fkc::ops::CudaGmmLaunch>);
}
