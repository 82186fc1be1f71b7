// fkc::gmm_step_ext on CPU tensors: the launcher of csrc/cpu/gmm_step_cpu.cpp, registered (the
// host side is gmm_step.h's, shared with CUDA; the schema is defined from Python:
// fkc_kernels/ops/_gmm_args.py).
#include <torch/library.h>

#include "../cpu/ops_cpu.h"
#include "gmm_step.h"

namespace fkc {
namespace ops {
namespace {

struct CpuGmmLaunch {
  template <typename T>
  void operator()(const GmmArgs<T>& a, const Tensor&) const {
    cpu::gmm_step<T>(a);  // the seeds of in-kernel noise are read on the host (CPU tensors)
  }
};

}  // namespace
}  // namespace ops
}  // namespace fkc

TORCH_LIBRARY_IMPL(fkc, CPU, m) {
  m.impl("gmm_step_ext", &fkc::ops::gmm_step_op<fkc::ops::CpuGmmLaunch>);
}
