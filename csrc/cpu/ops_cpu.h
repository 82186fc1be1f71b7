// CPU launchers: raw pointers and sizes in, no torch types, so they build in any C++ project.
#pragma once

#include <cstdint>

#include "../core/gmm.h"
#include "../core/step.h"

namespace fkc {
namespace cpu {

// One fused step over args (core/step.h StepArgs; seed/offset used, seeds ignored).
template <typename T>
void fkc_step(const StepArgs<T>& args);

// One fused mixture step over args (core/gmm.h; seeds, when noise is nullptr, in host memory).
template <typename T>
void gmm_step(const GmmArgs<T>& args);

// K = n_steps mixture steps in place (x_out == x, w_out == w; no noise, no extra_dw): step i
// reads row i of coefs, float32 (K, kGmmLoopCoefs), and its [S, O] at args.seeds + 2 i.
template <typename T>
void gmm_loop(const GmmArgs<T>& args, const float* coefs, int64_t n_steps);

// Writes k indices: the k - n_random largest w (descending, ties to the lower index, NaN
// lowest), then the n_random smallest random keys among the rest. w: float64 (n,) contiguous.
void select_particles(const double* w, int64_t n, int64_t k, int64_t n_random, uint64_t seed,
                      uint64_t offset, int64_t* out);

// Writes n ancestor indices of systematic resampling with uniform u from log-weights
// (float64 (n,) contiguous); NaN counts as zero weight.
void systematic_resample(const double* logw, int64_t n, double u, int64_t* out);

}  // namespace cpu
}  // namespace fkc
