// fkc::select_particles_ext on CUDA tensors (csrc/cuda/select_particles_cuda.cu). Built only
// with the CUDA kernels (fkc_kernels/extension/_build_config.py CUDA_SOURCES).
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/sort.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "../core/select_blocks.h"
#include "../cuda/ops_cuda.h"
#include "cuda_check.h"
#include "select_particles.h"

namespace fkc {
namespace ops {
namespace {

// k <= blocks::kMaxK: one kernel (core/select_blocks.h: per-block radix select, a merge tree of
// last-block-done steps) after a memset of its counters, reading w in its own dtype. Larger k:
// exact integer keys from one kernel, then two stable device radix sorts (at::sort): the top part
// is the first n_top of the descending weight-rank order, the random part the first n_random of
// the ascending random-key order once the top part is excluded. No host sync either way.
Tensor select_particles_cuda(const Tensor& w, int64_t k, int64_t n_random, const Tensor& seeds) {
  check_select(w, k, n_random, seeds);
  TORCH_CHECK(seeds.device() == w.device(), "seeds: expected device ", w.device(), ", got ",
              seeds.device());
  const c10::cuda::CUDAGuard guard(w.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(w.device().index()).stream();
  const Tensor s = seeds.contiguous();
  if (blocks::supported(w.size(0), k)) {
    const int64_t n = w.size(0);
    Tensor out = at::empty({k}, w.options().dtype(at::kLong));
    if (k == 0) return out;
    Tensor work = at::empty({cuda::select_workspace_int64s(n, k, n_random)},
                            w.options().dtype(at::kLong));
    dispatch_select_dtype(w, [&](const Tensor& wt, auto tag) {
      using T = decltype(tag);
      check_cuda_rc(cuda::launch_select_particles<T>(
                        wt.const_data_ptr<T>(), wt.stride(0), n, k, n_random,
                        s.const_data_ptr<int64_t>(), work.mutable_data_ptr<int64_t>(),
                        out.mutable_data_ptr<int64_t>(), stream),
                    "select_particles_ext");
    });
    return out;
  }
  const int64_t n = w.size(0), n_top = k - n_random;
  const Tensor w64 = w.to(at::kDouble).contiguous();
  Tensor rank = at::empty({n}, w.options().dtype(at::kLong));
  Tensor rkey = at::empty({n}, w.options().dtype(at::kLong));
  check_cuda_rc(cuda::launch_selection_keys(w64.const_data_ptr<double>(), n,
                                            s.const_data_ptr<int64_t>(),
                                            rank.mutable_data_ptr<int64_t>(),
                                            rkey.mutable_data_ptr<int64_t>(), stream),
                "select_particles_ext");
  const Tensor top =
      std::get<1>(at::sort(rank, /*stable=*/true, /*dim=*/0, /*descending=*/true)).narrow(0, 0,
                                                                                         n_top);
  if (n_random == 0) return top.contiguous();
  check_cuda_rc(cuda::launch_exclude(rkey.mutable_data_ptr<int64_t>(), top.const_data_ptr<int64_t>(),
                                     n_top, stream),
                "select_particles_ext");
  const Tensor rnd =
      std::get<1>(at::sort(rkey, /*stable=*/true, /*dim=*/0, /*descending=*/false))
          .narrow(0, 0, n_random);
  return at::cat({top, rnd});
}

}  // namespace
}  // namespace ops
}  // namespace fkc

TORCH_LIBRARY_IMPL(fkc, CUDA, m) {
  m.impl("select_particles_ext", &fkc::ops::select_particles_cuda);
}
