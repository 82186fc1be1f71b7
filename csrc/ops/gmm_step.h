// The host side the mixture ops' CUDA registrations share (gmm_step_register_cuda.cpp,
// gmm_loop_register_cuda.cpp): the models' checks and their pointers in the kernel arguments.
// The Python ops validate first; these checks guard direct torch.ops calls against memory errors.
#pragma once

#include <ATen/core/Tensor.h>

#include "../cuda/gmm_step_cuda.h"
#include "fkc_step.h"

namespace fkc {
namespace ops {

// A model table: float32, contiguous, on x's device, (rows, cols) or (rows,) when cols < 0.
inline void check_table(const char* name, const at::Tensor& t, int64_t rows, int64_t cols,
                        const at::Tensor& x) {
  TORCH_CHECK(t.scalar_type() == at::kFloat && t.is_contiguous() && t.device() == x.device(),
              name, ": expected a contiguous float32 tensor on ", x.device(), ", got ",
              t.scalar_type(), " on ", t.device());
  TORCH_CHECK(cols < 0 ? (t.dim() == 1 && t.size(0) == rows)
                       : (t.dim() == 2 && t.size(0) == rows && t.size(1) == cols),
              name, ": expected (", rows, cols < 0 ? "" : ", ", cols < 0 ? "" : "D", ") rows, got ",
              t.sizes());
}

// The mixture (means, variances, log_weights) and the bumps (centers, reward_variances,
// log_coefs), checked against x's D, in the kernel arguments.
template <typename T>
void set_models(cuda::GmmArgs<T>& a, const at::Tensor& x, const at::Tensor& means,
                const at::Tensor& variances, const at::Tensor& log_weights,
                const at::Tensor& centers, const at::Tensor& reward_variances,
                const at::Tensor& log_coefs) {
  const int64_t d = x.size(1), m = means.size(0), j = centers.size(0);
  TORCH_CHECK(d <= cuda::kGmmMaxD, "x: expected rows of at most ", cuda::kGmmMaxD,
              " elements for the fused mixture step, got ", d);
  TORCH_CHECK(cuda::gmm_table_floats(d, m, j) <= cuda::kGmmMaxTableFloats,
              "means: expected (components + bumps) * (2 D + 1) <= ", cuda::kGmmMaxTableFloats,
              " floats of per-block tables for the fused mixture step, got ",
              cuda::gmm_table_floats(d, m, j));
  check_table("means", means, m, d, x);
  check_table("variances", variances, m, d, x);
  check_table("log_weights", log_weights, m, -1, x);
  check_table("centers", centers, j, d, x);
  check_table("reward_variances", reward_variances, j, d, x);
  check_table("log_coefs", log_coefs, j, -1, x);
  a.means = means.const_data_ptr<float>();
  a.variances = variances.const_data_ptr<float>();
  a.log_weights = log_weights.const_data_ptr<float>();
  a.centers = centers.const_data_ptr<float>();
  a.reward_variances = reward_variances.const_data_ptr<float>();
  a.log_coefs = log_coefs.const_data_ptr<float>();
  a.n_mix = m;
  a.n_bumps = j;
}

}  // namespace ops
}  // namespace fkc
