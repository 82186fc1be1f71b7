// fkc::philox_normal_ext on CUDA tensors (csrc/cuda/philox_normal_cuda.cu; the schema is in
// noise_register_cpu.cpp). Built only with the CUDA kernels
// (fkc_kernels/extension/_build_config.py CUDA_SOURCES).
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "../cuda/noise_cuda.h"
#include "cuda_check.h"
#include "noise.h"

namespace fkc {
namespace ops {
namespace {

using at::Tensor;

Tensor philox_normal_ext_cuda(const Tensor& seeds, int64_t numel, int64_t start) {
  check_noise_args(seeds, numel, start);
  const c10::cuda::CUDAGuard guard(seeds.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(seeds.device().index()).stream();
  const Tensor s = seeds.contiguous();
  Tensor out = at::empty({numel}, s.options().dtype(at::kFloat));
  const cudaError_t rc =
      cuda::launch_philox_normal(s.const_data_ptr<int64_t>(), static_cast<uint64_t>(start),
                                 numel, out.mutable_data_ptr<float>(), stream);
  check_cuda_rc(rc, "philox_normal_ext");
  return out;
}

}  // namespace
}  // namespace ops
}  // namespace fkc

TORCH_LIBRARY_IMPL(fkc, CUDA, m) { m.impl("philox_normal_ext", &fkc::ops::philox_normal_ext_cuda); }
