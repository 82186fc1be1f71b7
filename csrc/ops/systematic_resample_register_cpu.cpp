// fkc::systematic_resample_ext on CPU tensors (csrc/cpu/systematic_resample_cpu.cpp).
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include "../cpu/ops_cpu.h"
#include "systematic_resample.h"

namespace fkc {
namespace ops {
namespace {

using at::Tensor;

Tensor systematic_resample_cpu(const Tensor& logw, const Tensor& u) {
  check_resample(logw, u);
  const Tensor lw = logw.to(at::kDouble).contiguous();
  const double uu = u.to(at::kDouble).cpu().const_data_ptr<double>()[0];
  Tensor out = at::empty({logw.size(0)}, logw.options().dtype(at::kLong));
  cpu::systematic_resample(lw.const_data_ptr<double>(), lw.size(0), uu,
                           out.mutable_data_ptr<int64_t>());
  return out;
}

}  // namespace
}  // namespace ops
}  // namespace fkc

TORCH_LIBRARY_IMPL(fkc, CPU, m) {
  m.impl("systematic_resample_ext", &fkc::ops::systematic_resample_cpu);
}
