// What the two registrations of fkc::systematic_resample_ext share
// (systematic_resample_register_cpu.cpp, systematic_resample_register_cuda.cpp).
#pragma once

#include <ATen/core/Tensor.h>

namespace fkc {
namespace ops {

inline void check_resample(const at::Tensor& logw, const at::Tensor& u) {
  TORCH_CHECK(logw.dim() == 1 && logw.size(0) > 0 && logw.is_floating_point(),
              "logw: expected a floating (N,) tensor with N >= 1, got ", logw.scalar_type(), " ",
              logw.sizes());
  TORCH_CHECK(u.numel() == 1, "u: expected one uniform, got shape ", u.sizes());
}

}  // namespace ops
}  // namespace fkc
