// fkc::fkc_step_ext on CPU tensors: the launcher of csrc/cpu/fkc_step_cpu.cpp, registered.
#include <torch/library.h>

#include "../cpu/ops_cpu.h"
#include "fkc_step.h"

namespace fkc {
namespace ops {
namespace {

struct CpuStepLaunch {
  // [S, O] is read on the host (a no-op copy for CPU seeds)
  template <typename T>
  void operator()(StepArgs<T>& a, const Tensor&, const OptTensor& noise,
                  const OptTensor& seeds) const {
    if (!noise) {
      const Tensor s = seeds->cpu();
      a.seed = static_cast<uint64_t>(s.const_data_ptr<int64_t>()[0]);
      a.offset = static_cast<uint64_t>(s.const_data_ptr<int64_t>()[1]);
    }
    cpu::fkc_step<T>(a);
  }
};

}  // namespace
}  // namespace ops
}  // namespace fkc

TORCH_LIBRARY_IMPL(fkc, CPU, m) {
  m.impl("fkc_step_ext", &fkc::ops::fkc_step_op<fkc::ops::CpuStepLaunch>);
}
