// Systematic resampling on the GPU in float64, like reference.systematic_resample, on many
// blocks (N is 65536 particles and more):
//   1. per block of kItems particles: the largest log-weight (NaN ignored: zero weight);
//   2. per block: the global max from the block maxima, e = exp(lw - max), the block's
//      inclusive prefix sums L (written to the workspace) and its total;
//   3. one block: exclusive prefix sums P of the block totals, and the grand total;
//   4. per block of offspring: pos = (i + u) / N and a binary search for the first j with
//      cdf[j] > pos, where cdf[j] = (P[block(j)] + L[j]) / total and cdf[N-1] = 1 exactly (the
//      reference divides by its last element), read on the fly.
// Four launches, sizes known on the host, u read on the device: no host sync, graph-safe.
#include "../core/select.h"
#include "ops_cuda.h"

namespace fkc {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kPerThread = 4;
constexpr int kItems = kThreads * kPerThread;  // particles per block in steps 1, 2 and 4
constexpr int kWarps = kThreads / 32;

__device__ __forceinline__ double max_ignoring_nan(double a, double b) {
  return b > a ? b : a;  // NaN compares false: never taken
}

// Block-wide max or sum of one double per thread; the result is valid in every thread.
template <bool kMax>
__device__ double block_reduce(double v, double* smem) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const double w = __shfl_xor_sync(0xffffffffu, v, o);
    v = kMax ? max_ignoring_nan(v, w) : v + w;
  }
  __syncthreads();  // smem may still be read by a previous call
  if (threadIdx.x % 32 == 0) smem[threadIdx.x / 32] = v;
  __syncthreads();
  v = smem[0];
#pragma unroll
  for (int i = 1; i < kWarps; ++i) v = kMax ? max_ignoring_nan(v, smem[i]) : v + smem[i];
  return v;
}

// Exclusive prefix sum over the block of one double per thread (thread order).
__device__ double block_exclusive_scan(double v, double* smem) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  double incl = v;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const double w = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += w;
  }
  double excl = __shfl_up_sync(0xffffffffu, incl, 1);
  if (lane == 0) excl = 0.0;
  __syncthreads();  // smem may still be read by a previous call
  if (lane == 31) smem[warp] = incl;
  __syncthreads();
  double warp_offset = 0.0;
#pragma unroll
  for (int i = 0; i < kWarps; ++i) {
    if (i < warp) warp_offset += smem[i];
  }
  return warp_offset + excl;
}

// T: float or double log-weights, widened to double on load (exact, like the reference's .to)
template <typename T>
__global__ void __launch_bounds__(kThreads) block_max_kernel(const T* logw, int64_t n,
                                                              double* block_max) {
  __shared__ double smem[kWarps];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * kItems;
  double m = -INFINITY;
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    const int64_t i = base + k * kThreads + threadIdx.x;  // coalesced
    if (i < n) m = max_ignoring_nan(m, static_cast<double>(logw[i]));
  }
  m = block_reduce<true>(m, smem);
  if (threadIdx.x == 0) block_max[blockIdx.x] = m;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) block_scan_kernel(const T* logw, int64_t n,
                                                               const double* block_max,
                                                               int n_blocks, double* local,
                                                               double* block_sum) {
  __shared__ double smem[kWarps];
  // every block reduces the block maxima in the same way: all agree on the max
  double m = -INFINITY;
  for (int b = threadIdx.x; b < n_blocks; b += kThreads) m = max_ignoring_nan(m, block_max[b]);
  m = block_reduce<true>(m, smem);
  // thread t owns kPerThread consecutive particles: a sequential scan, then a block scan
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kItems + threadIdx.x * kPerThread;
  double e[kPerThread];
  double run = 0.0;
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    e[k] = first + k < n ? resample_weight(static_cast<double>(logw[first + k]), m) : 0.0;
    run += e[k];
    e[k] = run;
  }
  const double offset = block_exclusive_scan(run, smem);
  // the block total is the value its last particle's cdf entry gets (not a sum in another
  // order): then prefix[b + 1] = prefix[b] + total rounds like that entry and the cdf never
  // steps down between blocks
  const int64_t last = min(n, static_cast<int64_t>(blockIdx.x + 1) * kItems) - 1;
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    if (first + k < n) local[first + k] = offset + e[k];
    if (first + k == last) block_sum[blockIdx.x] = offset + e[k];
  }
}

// One block: prefix[b] = block_sum[0] + ... + block_sum[b-1] summed in order (so that
// prefix[b + 1] is exactly prefix[b] + block_sum[b] rounded), prefix[n_blocks] = the total.
// The loads are parallel, the adds one thread's (n_blocks is N / 1024).
__global__ void __launch_bounds__(kThreads) block_prefix_kernel(const double* block_sum,
                                                                 int n_blocks, double* prefix) {
  constexpr int kChunk = 2048;
  __shared__ double chunk[kChunk];
  double carry = 0.0;
  for (int base = 0; base < n_blocks; base += kChunk) {
    const int len = min(kChunk, n_blocks - base);
    for (int b = threadIdx.x; b < len; b += kThreads) chunk[b] = block_sum[base + b];
    __syncthreads();
    if (threadIdx.x == 0) {
      for (int b = 0; b < len; ++b) {
        const double s = chunk[b];
        chunk[b] = carry;
        carry += s;
      }
    }
    __syncthreads();
    for (int b = threadIdx.x; b < len; b += kThreads) prefix[base + b] = chunk[b];
    __syncthreads();  // chunk is rewritten by the next round
  }
  if (threadIdx.x == 0) prefix[n_blocks] = carry;
}

// The normalized cdf at j, from the block prefix and the block-local inclusive sum.
__device__ __forceinline__ double cdf_at(int64_t j, int64_t n, const double* local,
                                         const double* prefix, double total) {
  if (j == n - 1) return 1.0;
  return (prefix[j / kItems] + local[j]) / total;
}

__global__ void __launch_bounds__(kThreads) search_kernel(int64_t n, const double* u_ptr,
                                                           const double* local,
                                                           const double* prefix, int n_blocks,
                                                           int64_t* out) {
  const double u = *u_ptr;
  const double total = prefix[n_blocks];
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * kItems + k * kThreads + threadIdx.x;
    if (i >= n) continue;
    const double pos = systematic_position(i, u, n);
    // searchsorted(right=True): first j in [0, n) with cdf[j] > pos, n if none
    int64_t lo = 0, hi = n;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (cdf_at(mid, n, local, prefix, total) > pos) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    out[i] = lo < n - 1 ? lo : n - 1;
  }
}

int blocks_for(int64_t n) { return static_cast<int>((n + kItems - 1) / kItems); }

}  // namespace

int64_t resample_workspace_doubles(int64_t n) { return n + 3 * int64_t{blocks_for(n)} + 1; }

template <typename T>
cudaError_t launch_systematic_resample(const T* logw, int64_t n, const double* u,
                                       double* workspace, int64_t* out, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  const int nb = blocks_for(n);
  double* local = workspace;
  double* block_max = local + n;
  double* block_sum = block_max + nb;
  double* prefix = block_sum + nb;  // nb + 1 entries
  block_max_kernel<<<nb, kThreads, 0, stream>>>(logw, n, block_max);
  block_scan_kernel<<<nb, kThreads, 0, stream>>>(logw, n, block_max, nb, local, block_sum);
  block_prefix_kernel<<<1, kThreads, 0, stream>>>(block_sum, nb, prefix);
  search_kernel<<<nb, kThreads, 0, stream>>>(n, u, local, prefix, nb, out);
  return cudaGetLastError();
}

template cudaError_t launch_systematic_resample<float>(const float*, int64_t, const double*,
                                                       double*, int64_t*, cudaStream_t);
template cudaError_t launch_systematic_resample<double>(const double*, int64_t, const double*,
                                                        double*, int64_t*, cudaStream_t);

}  // namespace cuda
}  // namespace fkc
