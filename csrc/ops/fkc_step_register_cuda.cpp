// fkc::fkc_step_ext on CUDA tensors: the launcher of csrc/cuda/fkc_step_cuda.cu, registered.
// Built only with the CUDA kernels (fkc_kernels/extension/_build_config.py CUDA_SOURCES).
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "../cuda/ops_cuda.h"
#include "cuda_check.h"
#include "fkc_step.h"

namespace fkc {
namespace ops {
namespace {

struct CudaStepLaunch {
  // [S, O] is read by the kernel from device memory: no host sync, graph-capturable
  template <typename T>
  void operator()(StepArgs<T>& a, const Tensor& x, const OptTensor& noise,
                  const OptTensor& seeds) const {
    if (!noise) {
      TORCH_CHECK(seeds->device() == x.device(), "seeds: expected device ", x.device(),
                  " (read by the kernel: no host sync), got ", seeds->device());
      a.seeds = seeds->const_data_ptr<int64_t>();
    }
    const c10::cuda::CUDAGuard guard(x.device());
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
    check_cuda_rc(cuda::launch_fkc_step<T>(a, stream), "fkc_step_ext");
  }
};

}  // namespace
}  // namespace ops
}  // namespace fkc

TORCH_LIBRARY_IMPL(fkc, CUDA, m) {
  m.impl("fkc_step_ext", &fkc::ops::fkc_step_op<fkc::ops::CudaStepLaunch>);
}
