// The noise contract's normals of a range of flat elements on the GPU: one thread per Philox
// group (four consecutive elements), grid-stride, the first and last group clipped to the range.
#include "../core/philox.h"
#include "noise_cuda.h"

namespace fkc {
namespace cuda {
namespace {

constexpr int kBlock = 256;
constexpr int64_t kMaxBlocks = 65535;

__global__ void philox_normal_kernel(const int64_t* seeds, uint64_t start, uint64_t numel,
                                     uint64_t groups, float* out) {
  const PhiloxKey key =
      make_philox_key(static_cast<uint64_t>(seeds[0]), static_cast<uint64_t>(seeds[1]));
  const uint64_t g0 = start / 4;
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * blockDim.x;
  for (uint64_t q = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; q < groups;
       q += stride) {
    float z[4];
    normal4(key, g0 + q, z[0], z[1], z[2], z[3]);
    const uint64_t e0 = 4 * (g0 + q);
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      const uint64_t e = e0 + l;  // flat element; out holds start .. start+numel-1
      if (e >= start && e - start < numel) out[e - start] = z[l];
    }
  }
}

}  // namespace

cudaError_t launch_philox_normal(const int64_t* seeds, uint64_t start, int64_t numel, float* out,
                                 cudaStream_t stream) {
  if (numel <= 0) return cudaSuccess;
  const uint64_t n = static_cast<uint64_t>(numel);
  const uint64_t groups = (start + n - 1) / 4 - start / 4 + 1;
  const int64_t want = static_cast<int64_t>((groups + kBlock - 1) / kBlock);
  const int blocks = static_cast<int>(want < kMaxBlocks ? want : kMaxBlocks);
  philox_normal_kernel<<<blocks, kBlock, 0, stream>>>(seeds, start, n, groups, out);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace fkc
