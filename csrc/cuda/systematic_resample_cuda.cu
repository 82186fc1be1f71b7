// Systematic resampling on the GPU, in float64 like the reference, in one block of 1024
// threads: max, sum, a chunked block scan for the cdf, then one binary search per offspring.
// Particle counts are thousands, so one block is enough and needs no grid-wide sync. u is read
// from device memory: no host sync.
#include "../core/select.h"
#include "ops_cuda.h"

namespace fkc {
namespace cuda {
namespace {

constexpr int kThreads = 1024;

// Block-wide reduction (op = max or sum) of one double per thread; every thread gets it.
template <bool kMax>
__device__ double block_reduce(double v, double* smem) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const double u = __shfl_xor_sync(0xffffffffu, v, o);
    v = kMax ? (u > v ? u : v) : v + u;
  }
  __syncthreads();
  if (threadIdx.x % 32 == 0) smem[threadIdx.x / 32] = v;
  __syncthreads();
  v = smem[0];
  for (int i = 1; i < kThreads / 32; ++i) v = kMax ? (smem[i] > v ? smem[i] : v) : v + smem[i];
  return v;
}

__global__ void __launch_bounds__(kThreads) systematic_resample_kernel(
    const double* logw, int64_t n, const double* u_ptr, double* cdf, int64_t* out) {
  __shared__ double red[kThreads / 32];
  __shared__ double scan[kThreads];
  const int tid = threadIdx.x;
  // 1. max log-weight (NaN compares false: ignored, as it counts as zero weight)
  double m = -INFINITY;
  for (int64_t i = tid; i < n; i += kThreads) {
    if (logw[i] > m) m = logw[i];
  }
  m = block_reduce<true>(m, red);
  // 2. total weight
  double s = 0.0;
  for (int64_t i = tid; i < n; i += kThreads) s += resample_weight(logw[i], m);
  const double inv_total = 1.0 / block_reduce<false>(s, red);
  // 3. inclusive prefix sums of the normalized weights, kThreads at a time
  double carry = 0.0;
  for (int64_t base = 0; base < n; base += kThreads) {
    const int64_t i = base + tid;
    scan[tid] = i < n ? resample_weight(logw[i], m) * inv_total : 0.0;
    __syncthreads();
    for (int o = 1; o < kThreads; o <<= 1) {  // Hillis-Steele
      const double add = tid >= o ? scan[tid - o] : 0.0;
      __syncthreads();
      scan[tid] += add;
      __syncthreads();
    }
    if (i < n) cdf[i] = carry + scan[tid];
    carry += scan[kThreads - 1];
    __syncthreads();
  }
  __syncthreads();  // cdf written by the block is visible to the block after this barrier
  // 4. renormalize by the last element (makes cdf[n-1] exactly 1), then search
  const double last = cdf[n - 1];
  __syncthreads();
  for (int64_t i = tid; i < n; i += kThreads) cdf[i] = cdf[i] / last;
  __syncthreads();
  const double u = *u_ptr;
  for (int64_t i = tid; i < n; i += kThreads) {
    const int64_t j = upper_bound(cdf, 0, n, systematic_position(i, u, n));
    out[i] = j < n - 1 ? j : n - 1;
  }
}

}  // namespace

cudaError_t launch_systematic_resample(const double* logw, int64_t n, const double* u,
                                       double* cdf, int64_t* out, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  systematic_resample_kernel<<<1, kThreads, 0, stream>>>(logw, n, u, cdf, out);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace fkc
