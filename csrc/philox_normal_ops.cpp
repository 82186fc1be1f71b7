// fkc::philox_normal_ext(seeds, numel, start): the noise contract's normals of flat elements
// start .. start+numel-1 for the int64 [S, O] in `seeds`, on seeds' device, with the bits the
// fused step of the same device draws in-kernel for those elements (the CPU through the same
// cpu::fill_normals, the GPU through the same core/philox.h normal4). The sharded sampler draws
// its shard's noise here, so W ranks add the bits one process adds (docs/design.md, "The noise
// contract").
//
// Defined here (not from Python like the step's schema) because it has no fake-kernel use: it
// runs eagerly, before the step, and only where this library is loaded.
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include "core/philox.h"
#include "cpu/noise_simd.h"

#ifdef FKC_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "cuda/noise_cuda.h"
#endif

namespace fkc {
namespace {

using at::Tensor;

void check_noise_args(const Tensor& seeds, int64_t numel, int64_t start) {
  TORCH_CHECK(seeds.scalar_type() == at::kLong && seeds.numel() == 2,
              "seeds: expected an int64 (2,) tensor [S, O], got ", seeds.scalar_type(), " ",
              seeds.sizes());
  TORCH_CHECK(numel >= 0, "numel: expected an int >= 0, got ", numel);
  TORCH_CHECK(start >= 0, "start: expected an int >= 0, got ", start);
}

Tensor philox_normal_ext_cpu(const Tensor& seeds, int64_t numel, int64_t start) {
  check_noise_args(seeds, numel, start);
  const Tensor s = seeds.contiguous();
  const PhiloxKey key = make_philox_key(static_cast<uint64_t>(s.const_data_ptr<int64_t>()[0]),
                                        static_cast<uint64_t>(s.const_data_ptr<int64_t>()[1]));
  Tensor out = at::empty({numel}, s.options().dtype(at::kFloat));
  float* o = out.mutable_data_ptr<float>();
  // any split gives the same bits: each element's normal depends only on its index
  at::parallel_for(0, numel, 1 << 14, [&](int64_t b, int64_t e) {
    cpu::fill_normals(key, static_cast<uint64_t>(start + b), e - b, o + b);
  });
  return out;
}

#ifdef FKC_WITH_CUDA
Tensor philox_normal_ext_cuda(const Tensor& seeds, int64_t numel, int64_t start) {
  check_noise_args(seeds, numel, start);
  const c10::cuda::CUDAGuard guard(seeds.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(seeds.device().index()).stream();
  const Tensor s = seeds.contiguous();
  Tensor out = at::empty({numel}, s.options().dtype(at::kFloat));
  const cudaError_t rc =
      cuda::launch_philox_normal(s.const_data_ptr<int64_t>(), static_cast<uint64_t>(start),
                                 numel, out.mutable_data_ptr<float>(), stream);
  TORCH_CHECK(rc == cudaSuccess, "philox_normal_ext: CUDA error: ", cudaGetErrorString(rc));
  return out;
}
#endif

}  // namespace
}  // namespace fkc

TORCH_LIBRARY_FRAGMENT(fkc, m) {
  m.def("philox_normal_ext(Tensor seeds, int numel, int start=0) -> Tensor");
}

TORCH_LIBRARY_IMPL(fkc, CPU, m) { m.impl("philox_normal_ext", &fkc::philox_normal_ext_cpu); }

#ifdef FKC_WITH_CUDA
TORCH_LIBRARY_IMPL(fkc, CUDA, m) { m.impl("philox_normal_ext", &fkc::philox_normal_ext_cuda); }
#endif
