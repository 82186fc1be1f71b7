// CUDA launcher of the noise contract's normals on their own (raw pointers, no torch types).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace fkc {
namespace cuda {

// out[i] = normal(S, O, start + i) for i < numel, with seeds the int64 [S, O] on the device
// (read by the kernel: no host sync, graph-capturable). The same core/philox.h normal4 as the
// fused step's kernel, so the same bits for the same element.
cudaError_t launch_philox_normal(const int64_t* seeds, uint64_t start, int64_t numel, float* out,
                                 cudaStream_t stream);

}  // namespace cuda
}  // namespace fkc
