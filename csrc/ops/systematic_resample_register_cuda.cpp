// fkc::systematic_resample_ext on CUDA tensors (csrc/cuda/systematic_resample_cuda.cu). Built
// only with the CUDA kernels (fkc_kernels/extension/_build_config.py CUDA_SOURCES).
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "../cuda/ops_cuda.h"
#include "cuda_check.h"
#include "systematic_resample.h"

namespace fkc {
namespace ops {
namespace {

using at::Tensor;

Tensor systematic_resample_cuda(const Tensor& logw, const Tensor& u) {
  check_resample(logw, u);
  TORCH_CHECK(u.device() == logw.device(), "u: expected device ", logw.device(),
              " (read by the kernel: no host sync), got ", u.device());
  const c10::cuda::CUDAGuard guard(logw.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(logw.device().index()).stream();
  const int64_t n = logw.size(0);
  // float32 and float64 are read as they are (widened in the kernel); others become float64
  const bool as_float = logw.scalar_type() == at::kFloat;
  const Tensor lw = (as_float ? logw : logw.to(at::kDouble)).contiguous();
  const Tensor u64 = u.to(at::kDouble).contiguous();
  Tensor work = at::empty({cuda::resample_workspace_doubles(n)}, lw.options().dtype(at::kDouble));
  Tensor out = at::empty({n}, logw.options().dtype(at::kLong));
  const cudaError_t rc =
      as_float ? cuda::launch_systematic_resample(lw.const_data_ptr<float>(), n,
                                                  u64.const_data_ptr<double>(),
                                                  work.mutable_data_ptr<double>(),
                                                  out.mutable_data_ptr<int64_t>(), stream)
               : cuda::launch_systematic_resample(lw.const_data_ptr<double>(), n,
                                                  u64.const_data_ptr<double>(),
                                                  work.mutable_data_ptr<double>(),
                                                  out.mutable_data_ptr<int64_t>(), stream);
  check_cuda_rc(rc, "systematic_resample_ext");
  return out;
}

}  // namespace
}  // namespace ops
}  // namespace fkc

TORCH_LIBRARY_IMPL(fkc, CUDA, m) {
  m.impl("systematic_resample_ext", &fkc::ops::systematic_resample_cuda);
}
