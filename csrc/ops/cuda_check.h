// What the CUDA registrations share: a launch's cudaError_t turned into a torch error.
#pragma once

#include <c10/util/Exception.h>
#include <cuda_runtime_api.h>

namespace fkc {
namespace ops {

inline void check_cuda_rc(cudaError_t rc, const char* what) {
  TORCH_CHECK(rc == cudaSuccess, what, ": CUDA error: ", cudaGetErrorString(rc));
}

}  // namespace ops
}  // namespace fkc
