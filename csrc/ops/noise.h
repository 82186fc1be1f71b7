// What the two registrations of fkc::philox_normal_ext share (noise_register_cpu.cpp,
// noise_register_cuda.cpp).
#pragma once

#include <ATen/core/Tensor.h>

namespace fkc {
namespace ops {

inline void check_noise_args(const at::Tensor& seeds, int64_t numel, int64_t start) {
  TORCH_CHECK(seeds.scalar_type() == at::kLong && seeds.numel() == 2,
              "seeds: expected an int64 (2,) tensor [S, O], got ", seeds.scalar_type(), " ",
              seeds.sizes());
  TORCH_CHECK(numel >= 0, "numel: expected an int >= 0, got ", numel);
  TORCH_CHECK(start >= 0, "start: expected an int >= 0, got ", start);
}

}  // namespace ops
}  // namespace fkc
