// fkc::gmm_loop_ext: its schema (every build has it) and its CPU launcher
// (csrc/cpu/gmm_loop_cpu.cpp); the host side is gmm_step.h's, shared with CUDA
// (gmm_loop_register_cuda.cpp). fkc_kernels/ops/gmm_loop.py builds the coefficient table.
#include <torch/library.h>

#include "../cpu/ops_cpu.h"
#include "gmm_step.h"

namespace fkc {
namespace ops {
namespace {

struct CpuGmmLoopLaunch {
  template <typename T>
  void operator()(const GmmArgs<T>& a, const Tensor&, const float* coefs,
                  int64_t n_steps) const {
    cpu::gmm_loop<T>(a, coefs, n_steps);
  }
};

}  // namespace
}  // namespace ops
}  // namespace fkc

TORCH_LIBRARY_FRAGMENT(fkc, m) {
  m.def("gmm_loop_ext(Tensor(a!) x, Tensor(b!) w, Tensor means, Tensor variances, "
        "Tensor log_weights, Tensor centers, Tensor reward_variances, Tensor log_coefs, "
        "Tensor coefs, Tensor seeds, bool ratio, bool log_reward) -> ()");
}

TORCH_LIBRARY_IMPL(fkc, CPU, m) {
  m.impl("gmm_loop_ext", &fkc::ops::gmm_loop_op<fkc::ops::CpuGmmLoopLaunch>);
}
