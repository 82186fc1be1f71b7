// Selection keys on the GPU. The bindings sort them with at::sort (stable device radix sort),
// so the order equals reference.select_particles exactly: integer keys, no float compares.
#include "../core/philox.h"
#include "../core/select.h"
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

}  // namespace cuda
}  // namespace fkc
