// Particle selection on the GPU.
//
// k <= blocks::kMaxK: one launch of select_particles_kernel (plus a memset of its merge tree's
// group counters): the block algorithm of core/select_blocks.h under the CUDA execution model.
// Larger k: selection keys from one kernel, sorted by the registration (csrc/ops/) with at::sort (stable device
// radix sort). Both give reference.select_particles exactly: integer keys, no float compares.
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include "../core/philox.h"
#include "../core/select.h"
#include "../core/select_blocks.h"
#include "ops_cuda.h"

namespace fkc {
namespace cuda {
namespace {

constexpr int kBlock = 256;

__global__ void selection_keys_kernel(const double* w, int64_t n, const int64_t* seeds,
                                      int64_t* rank, int64_t* rkey) {
  const PhiloxKey key =
      make_philox_key(static_cast<uint64_t>(seeds[0]), static_cast<uint64_t>(seeds[1]));
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    rank[i] = weight_rank_key(w[i]);
    rkey[i] = random_key(key, static_cast<uint64_t>(i));
  }
}

__global__ void exclude_kernel(int64_t* rkey, const int64_t* top, int64_t n_top) {
  for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < n_top;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    rkey[top[j]] = kExcludedRandomKey;
  }
}

// The CUDA execution model of core/select_blocks.h: each thread runs its own iteration of a phase.
struct CudaThreads {
  struct It {
    int t;
    __device__ int operator*() const { return t; }
    __device__ It& operator++() {
      ++t;
      return *this;
    }
    __device__ bool operator!=(const It& o) const { return t != o.t; }
  };
  int t;
  __device__ It begin() const { return It{t}; }
  __device__ It end() const { return It{t + 1}; }
};

struct CudaBlock {
  __device__ CudaThreads threads() const { return CudaThreads{static_cast<int>(threadIdx.x)}; }
  __device__ int num_threads() const { return static_cast<int>(blockDim.x); }
  __device__ void sync() const { __syncthreads(); }
  __device__ void fence() const { __threadfence(); }
  __device__ uint32_t atomic_add_shared(uint32_t* p, uint32_t v) const { return atomicAdd(p, v); }
  __device__ uint32_t atomic_add_global(uint32_t* p, uint32_t v) const { return atomicAdd(p, v); }
  // candidate lists of other blocks: read from L2 (ld.global.cg), never from this SM's L1
  __device__ uint64_t load_other_block(const uint64_t* p) const {
    return static_cast<uint64_t>(__ldcg(reinterpret_cast<const unsigned long long*>(p)));
  }
};

constexpr int kSelectThreads = blocks::kGpuThreads;

template <typename T>
__global__ void __launch_bounds__(kSelectThreads, blocks::kGpuBlocksPerSm)
    select_particles_kernel(blocks::Args<T> a) {
  __shared__ blocks::Shared sh;
  const CudaBlock ex;
  blocks::select_block(ex, sh, a, static_cast<int64_t>(blockIdx.x));
}

int blocks_for(int64_t n) {
  const int64_t b = (n + kBlock - 1) / kBlock;
  return static_cast<int>(b < 4096 ? (b > 0 ? b : 1) : 4096);
}

}  // namespace

cudaError_t launch_selection_keys(const double* w, int64_t n, const int64_t* seeds,
                                  int64_t* rank, int64_t* rkey, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  selection_keys_kernel<<<blocks_for(n), kBlock, 0, stream>>>(w, n, seeds, rank, rkey);
  return cudaGetLastError();
}

cudaError_t launch_exclude(int64_t* rkey, const int64_t* top, int64_t n_top,
                           cudaStream_t stream) {
  if (n_top == 0) return cudaSuccess;
  exclude_kernel<<<blocks_for(n_top), kBlock, 0, stream>>>(rkey, top, n_top);
  return cudaGetLastError();
}

int64_t select_workspace_int64s(int64_t n, int64_t k, int64_t n_random) {
  return blocks::make_layout(n, k, n_random, blocks::gpu_chunk(n, k)).total_slots;
}

template <typename T>
cudaError_t launch_select_particles(const T* w, int64_t w_stride, int64_t n, int64_t k,
                                    int64_t n_random, const int64_t* seeds, int64_t* workspace,
                                    int64_t* out, cudaStream_t stream) {
  if (k == 0) return cudaSuccess;
  const int64_t chunk = blocks::gpu_chunk(n, k);
  const auto a = blocks::make_args<T>(w, w_stride, n, k, n_random, seeds, chunk, workspace, out);
  // the merge tree's group counters start at zero in every call (no host sync: graph-capturable)
  const int64_t counters = blocks::make_layout(n, k, n_random, chunk).counters;
  const cudaError_t rc =
      cudaMemsetAsync(a.counters, 0, static_cast<size_t>(counters) * sizeof(uint32_t), stream);
  if (rc != cudaSuccess) return rc;
  select_particles_kernel<T><<<static_cast<unsigned>(a.blocks), kSelectThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

#define FKC_INSTANTIATE_SELECT(T)                                                            \
  template cudaError_t launch_select_particles<T>(const T*, int64_t, int64_t, int64_t, int64_t, \
                                                  const int64_t*, int64_t*, int64_t*,          \
                                                  cudaStream_t);
FKC_INSTANTIATE_SELECT(double)
FKC_INSTANTIATE_SELECT(float)
FKC_INSTANTIATE_SELECT(c10::Half)
FKC_INSTANTIATE_SELECT(c10::BFloat16)
#undef FKC_INSTANTIATE_SELECT

}  // namespace cuda
}  // namespace fkc
