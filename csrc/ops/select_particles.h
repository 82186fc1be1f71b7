// What the two registrations of fkc::select_particles_ext share (select_particles_register_cpu.cpp,
// select_particles_register_cuda.cpp): the argument checks and the dtype switch of w.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

namespace fkc {
namespace ops {

using at::Tensor;

inline void check_select(const Tensor& w, int64_t k, int64_t n_random, const Tensor& seeds) {
  TORCH_CHECK(w.dim() == 1 && w.is_floating_point(), "w: expected a floating (N,) tensor, got ",
              w.scalar_type(), " ", w.sizes());
  TORCH_CHECK(0 <= k && k <= w.size(0), "k: expected 0 <= k <= N=", w.size(0), ", got ", k);
  TORCH_CHECK(0 <= n_random && n_random <= k, "n_random: expected 0 <= n_random <= k=", k,
              ", got ", n_random);
  TORCH_CHECK(seeds.scalar_type() == at::kLong && seeds.numel() == 2,
              "seeds: expected an int64 (2,) tensor [S, O], got ", seeds.scalar_type(), " ",
              seeds.sizes());
}

// Calls run(tag) with a value of w's element type when the one-launch selection reads it as is
// (float16, bfloat16, float32, float64; widened to float64 in the kernel), else with a double
// after converting w (other float dtypes); run gets the tensor to read.
template <typename Run>
inline void dispatch_select_dtype(const Tensor& w, Run run) {
  switch (w.scalar_type()) {
    case at::kDouble: run(w, double{}); break;
    case at::kFloat: run(w, float{}); break;
    case at::kHalf: run(w, c10::Half{}); break;
    case at::kBFloat16: run(w, c10::BFloat16{}); break;
    default: run(w.to(at::kDouble), double{}); break;
  }
}

}  // namespace ops
}  // namespace fkc
