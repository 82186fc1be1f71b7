// What the CUDA mixture kernels hold (csrc/cuda/gmm_step_cuda.h), checked by both CUDA
// registrations (gmm_step_register_cuda.cpp, gmm_loop_register_cuda.cpp); the Python ops
// compose the step for larger models.
#pragma once

#include <c10/util/Exception.h>

#include <cstdint>

#include "../cuda/gmm_step_cuda.h"

namespace fkc {
namespace ops {

// Rows of at most kGmmMaxD elements (in registers), per-block tables of at most
// kGmmMaxTableFloats floats (in shared memory).
inline void check_cuda_gmm_limits(int64_t d, int64_t n_mix, int64_t n_bumps) {
  TORCH_CHECK(d <= cuda::kGmmMaxD, "x: expected rows of at most ", cuda::kGmmMaxD,
              " elements for the fused mixture step, got ", d);
  TORCH_CHECK(cuda::gmm_table_floats(d, n_mix, n_bumps) <= cuda::kGmmMaxTableFloats,
              "means: expected (components + bumps) * (2 D + 1) <= ", cuda::kGmmMaxTableFloats,
              " floats of per-block tables for the fused mixture step, got ",
              cuda::gmm_table_floats(d, n_mix, n_bumps));
}

}  // namespace ops
}  // namespace fkc
