// CUDA launchers: raw device pointers, sizes and a stream in, no torch types. Each returns the
// launch's cudaError_t (cudaSuccess when nothing had to run). No launcher syncs with the host,
// and the seeds/uniforms are read from device memory, so all of them are graph-capturable.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "../core/step.h"

namespace fkc {
namespace cuda {

// Fused step over an (N, D) block (core/step.h StepArgs; args.seeds used, seed/offset ignored).
template <typename T>
cudaError_t launch_fkc_step(const StepArgs<T>& args, cudaStream_t stream);

// One-launch selection (core/select_blocks.h; for k <= blocks::kMaxK and n < blocks::kMaxN):
// writes the k indices of reference.select_particles to out. w: (n,) with element i at
// w[i * w_stride] (T double, float, c10::Half or c10::BFloat16; ranked in float64); seeds: the
// int64 [S, O] on the device; workspace: select_workspace_int64s(n, k, n_random) int64s. A
// memset (the merge tree's counters, 4 bytes a group) and one kernel, no host sync.
int64_t select_workspace_int64s(int64_t n, int64_t k, int64_t n_random);
template <typename T>
cudaError_t launch_select_particles(const T* w, int64_t w_stride, int64_t n, int64_t k,
                                    int64_t n_random, const int64_t* seeds, int64_t* workspace,
                                    int64_t* out, cudaStream_t stream);

// rank[i] = weight_rank_key(w[i]) and rkey[i] = random_key(S, O, i) for i < n; w float64,
// seeds the int64 [S, O] on the device.
cudaError_t launch_selection_keys(const double* w, int64_t n, const int64_t* seeds,
                                  int64_t* rank, int64_t* rkey, cudaStream_t stream);

// rkey[top[j]] = kExcludedRandomKey for j < n_top. (The keys + sort path, for k > blocks::kMaxK.)
cudaError_t launch_exclude(int64_t* rkey, const int64_t* top, int64_t n_top, cudaStream_t stream);

// Systematic resampling of n particles from log-weights (T float or double; the math is
// float64) with the uniform *u; workspace holds resample_workspace_doubles(n) doubles. Four
// launches on ~n/1024 blocks each.
int64_t resample_workspace_doubles(int64_t n);
template <typename T>
cudaError_t launch_systematic_resample(const T* logw, int64_t n, const double* u,
                                       double* workspace, int64_t* out, cudaStream_t stream);

}  // namespace cuda
}  // namespace fkc
