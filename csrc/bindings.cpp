// torch.library implementations of fkc::{fkc_step,select_particles,systematic_resample}_ext.
//
// The schemas and fake kernels are defined from Python (fkc_kernels/ops/_schemas.py,
// define_backend_ops("ext")) so they exist even when this library is not built; here we only
// add the CPU (and, when built with FKC_WITH_CUDA, CUDA) kernels. The Python backend validates
// arguments first; the checks here guard direct torch.ops calls against memory errors.
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/sort.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "core/select.h"
#include "core/select_blocks.h"
#include "core/step.h"
#include "cpu/noise_simd.h"
#include "cpu/ops_cpu.h"

#ifdef FKC_WITH_CUDA
#include <ATen/ops/cat.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "cuda/ops_cuda.h"
#endif

namespace fkc {
namespace {

using at::Tensor;
using OptTensor = std::optional<Tensor>;

void check_rows(const char* name, const Tensor& t, const Tensor& x) {
  TORCH_CHECK(t.dim() == 2 && t.sizes() == x.sizes(), name, ": expected shape ", x.sizes(),
              " (the shape of x), got ", t.sizes());
  TORCH_CHECK(t.scalar_type() == x.scalar_type(), name, ": expected dtype ", x.scalar_type(),
              ", got ", t.scalar_type());
  TORCH_CHECK(t.device() == x.device(), name, ": expected device ", x.device(), ", got ",
              t.device());
  TORCH_CHECK(t.size(1) <= 1 || t.stride(1) == 1, name,
              ": expected rows with unit inner stride, got strides ", t.strides());
}

// (N,) float32 view of a per-particle tensor (converted when it is another float dtype).
Tensor per_particle_f32(const char* name, const Tensor& t, const Tensor& x) {
  TORCH_CHECK(t.dim() == 1 && t.size(0) == x.size(0), name, ": expected shape (", x.size(0),
              ",), got ", t.sizes());
  TORCH_CHECK(t.device() == x.device(), name, ": expected device ", x.device(), ", got ",
              t.device());
  return t.scalar_type() == at::kFloat ? t : t.to(at::kFloat);
}

template <typename T>
StepArgs<T> make_step_args(const Tensor& x, const Tensor& w, const Tensor& score,
                           const Tensor& grad, const Tensor& reward, const OptTensor& extra_dw,
                           const OptTensor& f,
                           const OptTensor& noise, const Tensor& x_out, const Tensor& w_out,
                           const StepCoefs& coefs) {
  StepArgs<T> a{};
  a.x = x.const_data_ptr<T>();
  a.score = score.const_data_ptr<T>();
  a.reward_grad = grad.const_data_ptr<T>();
  a.f = f ? f->const_data_ptr<T>() : nullptr;
  a.noise = noise ? noise->const_data_ptr<T>() : nullptr;
  a.x_out = x_out.mutable_data_ptr<T>();
  a.stride_x = x.stride(0);
  a.stride_score = score.stride(0);
  a.stride_grad = grad.stride(0);
  a.stride_f = f ? f->stride(0) : 0;
  a.stride_noise = noise ? noise->stride(0) : 0;
  a.stride_x_out = x_out.stride(0);
  a.w = w.const_data_ptr<float>();
  a.reward = reward.const_data_ptr<float>();
  a.extra_dw = extra_dw ? extra_dw->const_data_ptr<float>() : nullptr;
  a.stride_extra_dw = extra_dw ? extra_dw->stride(0) : 0;
  a.w_out = w_out.mutable_data_ptr<float>();
  a.stride_w = w.stride(0);
  a.stride_reward = reward.stride(0);
  a.stride_w_out = w_out.stride(0);
  a.n = x.size(0);
  a.d = x.size(1);
  a.coefs = coefs;
  return a;
}

// Per-particle float32 vectors of a step (converted when given in another float dtype).
struct StepVectors {
  Tensor w, reward;
  OptTensor extra_dw;
};

// Shared argument checks; returns w, reward and extra_dw as float32.
StepVectors check_step(const Tensor& x, const Tensor& w, const Tensor& score, const Tensor& grad,
                       const Tensor& reward, const OptTensor& extra_dw, const OptTensor& f,
                       const OptTensor& noise, const OptTensor& seeds, const Tensor& x_out,
                       const Tensor& w_out) {
  TORCH_CHECK(x.dim() == 2, "x: expected (N, D), got ", x.sizes());
  const auto st = x.scalar_type();
  TORCH_CHECK(st == at::kFloat || st == at::kHalf || st == at::kBFloat16,
              "x: expected float32/float16/bfloat16, got ", st);
  check_rows("x", x, x);
  check_rows("score", score, x);
  check_rows("reward_grad", grad, x);
  check_rows("x_out", x_out, x);
  if (f) check_rows("f", *f, x);
  if (noise) check_rows("noise", *noise, x);
  TORCH_CHECK(noise || seeds, "seeds: required when noise is None");
  if (!noise) {
    TORCH_CHECK(seeds->scalar_type() == at::kLong && seeds->numel() == 2 &&
                    seeds->is_contiguous(),
                "seeds: expected a contiguous int64 (2,) tensor [S, O], got ",
                seeds->scalar_type(), " ", seeds->sizes());
  }
  TORCH_CHECK(w_out.scalar_type() == at::kFloat && w_out.dim() == 1 &&
                  w_out.size(0) == x.size(0) && w_out.device() == x.device(),
              "w_out: expected float32 (", x.size(0), ",) on ", x.device(), ", got ",
              w_out.scalar_type(), " ", w_out.sizes(), " on ", w_out.device());
  OptTensor extra32;
  if (extra_dw) extra32 = per_particle_f32("extra_dw", *extra_dw, x);
  return {per_particle_f32("w", w, x), per_particle_f32("reward", reward, x), extra32};
}

#ifdef FKC_WITH_CUDA
void check_cuda_rc(cudaError_t rc, const char* what) {
  TORCH_CHECK(rc == cudaSuccess, what, ": CUDA error: ", cudaGetErrorString(rc));
}
#endif

// One entry point for both dispatch keys: checks, coefficients and the dtype switch are shared,
// only the launch differs (CPU: [S, O] copied to the host; CUDA: read by the kernel, no sync).
void fkc_step_op(const Tensor& x, const Tensor& w, const Tensor& score, const Tensor& grad,
                 const Tensor& reward, const OptTensor& extra_dw, const OptTensor& f,
                 const OptTensor& noise, const OptTensor& seeds, const Tensor& x_out,
                 const Tensor& w_out, double h, double g, double lam, double dlam, double f_coef,
                 double dw_clip, double w_min, double w_max, c10::string_view increment) {
  const StepVectors v =
      check_step(x, w, score, grad, reward, extra_dw, f, noise, seeds, x_out, w_out);
  TORCH_CHECK(increment == "fkc" || increment == "ratio",
              "increment: expected 'fkc' or 'ratio', got '", increment, "'");
  const StepCoefs coefs =
      make_step_coefs(h, g, lam, dlam, f_coef, dw_clip, w_min, w_max, increment == "ratio");
  const bool on_cuda = x.is_cuda();
  uint64_t seed = 0, offset = 0;
  if (!noise && !on_cuda) {
    const Tensor s = seeds->cpu();
    seed = static_cast<uint64_t>(s.const_data_ptr<int64_t>()[0]);
    offset = static_cast<uint64_t>(s.const_data_ptr<int64_t>()[1]);
  }
#ifdef FKC_WITH_CUDA
  std::optional<c10::cuda::CUDAGuard> guard;
  cudaStream_t stream = nullptr;
  if (on_cuda) {
    if (!noise) {
      TORCH_CHECK(seeds->device() == x.device(), "seeds: expected device ", x.device(),
                  " (read by the kernel: no host sync), got ", seeds->device());
    }
    guard.emplace(x.device());
    stream = c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
  }
#endif
  auto run = [&](auto tag) {
    using T = decltype(tag);
    auto a = make_step_args<T>(x, v.w, score, grad, v.reward, v.extra_dw, f, noise, x_out,
                               w_out, coefs);
    a.seed = seed;
    a.offset = offset;
#ifdef FKC_WITH_CUDA
    if (on_cuda) {
      a.seeds = noise ? nullptr : seeds->const_data_ptr<int64_t>();
      check_cuda_rc(cuda::launch_fkc_step<T>(a, stream), "fkc_step_ext");
      return;
    }
#endif
    cpu::fkc_step<T>(a);
  };
  switch (x.scalar_type()) {
    case at::kFloat: run(float{}); break;
    case at::kHalf: run(c10::Half{}); break;
    default: run(c10::BFloat16{}); break;
  }
}

void check_select(const Tensor& w, int64_t k, int64_t n_random, const Tensor& seeds) {
  TORCH_CHECK(w.dim() == 1 && w.is_floating_point(), "w: expected a floating (N,) tensor, got ",
              w.scalar_type(), " ", w.sizes());
  TORCH_CHECK(0 <= k && k <= w.size(0), "k: expected 0 <= k <= N=", w.size(0), ", got ", k);
  TORCH_CHECK(0 <= n_random && n_random <= k, "n_random: expected 0 <= n_random <= k=", k,
              ", got ", n_random);
  TORCH_CHECK(seeds.scalar_type() == at::kLong && seeds.numel() == 2,
              "seeds: expected an int64 (2,) tensor [S, O], got ", seeds.scalar_type(), " ",
              seeds.sizes());
}

Tensor select_particles_cpu(const Tensor& w, int64_t k, int64_t n_random, const Tensor& seeds) {
  check_select(w, k, n_random, seeds);
  // rank in float64, as the reference does: distinct inputs never collide
  const Tensor w64 = w.to(at::kDouble).contiguous();
  const Tensor s = seeds.cpu().contiguous();
  Tensor out = at::empty({k}, w.options().dtype(at::kLong));
  cpu::select_particles(w64.const_data_ptr<double>(), w64.size(0), k, n_random,
                        static_cast<uint64_t>(s.const_data_ptr<int64_t>()[0]),
                        static_cast<uint64_t>(s.const_data_ptr<int64_t>()[1]),
                        out.mutable_data_ptr<int64_t>());
  return out;
}

void check_resample(const Tensor& logw, const Tensor& u) {
  TORCH_CHECK(logw.dim() == 1 && logw.size(0) > 0 && logw.is_floating_point(),
              "logw: expected a floating (N,) tensor with N >= 1, got ", logw.scalar_type(), " ",
              logw.sizes());
  TORCH_CHECK(u.numel() == 1, "u: expected one uniform, got shape ", u.sizes());
}

Tensor systematic_resample_cpu(const Tensor& logw, const Tensor& u) {
  check_resample(logw, u);
  const Tensor lw = logw.to(at::kDouble).contiguous();
  const double uu = u.to(at::kDouble).cpu().const_data_ptr<double>()[0];
  Tensor out = at::empty({logw.size(0)}, logw.options().dtype(at::kLong));
  cpu::systematic_resample(lw.const_data_ptr<double>(), lw.size(0), uu,
                           out.mutable_data_ptr<int64_t>());
  return out;
}

// The CPU noise path on its own: normals of flat elements start .. start+numel-1 for [S, O],
// made by the instruction set `isa` ("auto": the one fkc_step_ext uses here). For tests (all
// paths write the same bits) and benchmarks.
Tensor philox_normal_cpu(const Tensor& seeds, int64_t numel, int64_t start,
                         c10::string_view isa) {
  TORCH_CHECK(seeds.scalar_type() == at::kLong && seeds.numel() == 2,
              "seeds: expected an int64 (2,) tensor [S, O], got ", seeds.scalar_type(), " ",
              seeds.sizes());
  TORCH_CHECK(numel >= 0 && start >= 0, "numel, start: expected >= 0, got ", numel, ", ",
              start);
  cpu::NoiseIsa which = cpu::noise_isa();
  if (isa != "auto") {
    bool found = false;
    for (auto cand : {cpu::NoiseIsa::kScalar, cpu::NoiseIsa::kAvx2, cpu::NoiseIsa::kAvx512}) {
      if (isa == cpu::noise_isa_name(cand)) {
        which = cand;
        found = true;
      }
    }
    TORCH_CHECK(found, "isa: expected 'auto', 'avx512', 'avx2' or 'scalar', got '", isa, "'");
    TORCH_CHECK(cpu::noise_isa_supported(which), "isa: this CPU or build cannot run '", isa,
                "'");
  }
  const Tensor s = seeds.cpu().contiguous();
  const PhiloxKey key = make_philox_key(static_cast<uint64_t>(s.const_data_ptr<int64_t>()[0]),
                                        static_cast<uint64_t>(s.const_data_ptr<int64_t>()[1]));
  Tensor out = at::empty({numel}, s.options().dtype(at::kFloat));
  float* o = out.mutable_data_ptr<float>();
  at::parallel_for(0, numel, 1 << 14, [&](int64_t b, int64_t e) {
    cpu::fill_normals_isa(which, key, static_cast<uint64_t>(start + b), e - b, o + b);
  });
  return out;
}

std::string cpu_noise_isa() { return cpu::noise_isa_name(cpu::noise_isa()); }

// Calls run(tag) with a value of w's element type when the one-launch selection reads it as is
// (float16, bfloat16, float32, float64; widened to float64 in the kernel), else with a double
// after converting w (other float dtypes); run gets the tensor to read.
template <typename Run>
void dispatch_select_dtype(const Tensor& w, Run run) {
  switch (w.scalar_type()) {
    case at::kDouble: run(w, double{}); break;
    case at::kFloat: run(w, float{}); break;
    case at::kHalf: run(w, c10::Half{}); break;
    case at::kBFloat16: run(w, c10::BFloat16{}); break;
    default: run(w.to(at::kDouble), double{}); break;
  }
}

// The CUDA selection kernel's algorithm (core/select_blocks.h) on the host: blocks of `threads`
// threads over chunks of `chunk` particles, run one after another (0 for either: what the GPU
// launch uses); reverse_threads runs each phase's threads last to first. For tests: the GPU runs
// the same source with the CUDA execution model.
Tensor select_particles_block_emulation(const Tensor& w, int64_t k, int64_t n_random,
                                        const Tensor& seeds, int64_t threads, int64_t chunk,
                                        bool reverse_threads) {
  check_select(w, k, n_random, seeds);
  if (threads == 0) threads = blocks::kGpuThreads;
  if (chunk == 0) chunk = blocks::gpu_chunk(w.size(0), k);
  TORCH_CHECK(1 <= threads && threads <= blocks::kMaxThreads, "threads: expected 1..",
              blocks::kMaxThreads, ", got ", threads);
  TORCH_CHECK(1 <= chunk && chunk <= blocks::kMaxChunk, "chunk: expected 1..",
              blocks::kMaxChunk, ", got ", chunk);
  TORCH_CHECK(blocks::supported(w.size(0), k), "k: the one-launch selection takes k <= ",
              blocks::kMaxK, " and N < 2^31, got k=", k, ", N=", w.size(0));
  const Tensor s = seeds.cpu().contiguous();
  Tensor out = at::empty({k}, w.options().dtype(at::kLong));
  const int64_t n = w.size(0);
  if (k == 0) return out;
  const blocks::Layout layout = blocks::make_layout(n, k, n_random, chunk);
  // junk everywhere but the group counters: the algorithm must write what it reads
  std::vector<int64_t> ws(static_cast<size_t>(layout.total_slots), int64_t(0x5A5A5A5A5A5A5A5A));
  std::fill(ws.begin(), ws.begin() + layout.counter_slots, int64_t(0));
  const Tensor wc = w.cpu();
  dispatch_select_dtype(wc, [&](const Tensor& wt, auto tag) {
    using T = decltype(tag);
    const auto a = blocks::make_args<T>(wt.const_data_ptr<T>(), wt.stride(0), n, k, n_random,
                                        s.const_data_ptr<int64_t>(), chunk, ws.data(),
                                        out.mutable_data_ptr<int64_t>());
    blocks::run_on_host(a, static_cast<int>(threads), reverse_threads);
  });
  return out;
}

#ifdef FKC_WITH_CUDA
// k <= blocks::kMaxK: one kernel (core/select_blocks.h: per-block radix select, a merge tree of
// last-block-done steps) after a memset of its counters, reading w in its own dtype. Larger k:
// exact integer keys from one kernel, then two stable device radix sorts (at::sort): the top part
// is the first n_top of the descending weight-rank order, the random part the first n_random of
// the ascending random-key order once the top part is excluded. No host sync either way.
Tensor select_particles_cuda(const Tensor& w, int64_t k, int64_t n_random, const Tensor& seeds) {
  check_select(w, k, n_random, seeds);
  TORCH_CHECK(seeds.device() == w.device(), "seeds: expected device ", w.device(), ", got ",
              seeds.device());
  const c10::cuda::CUDAGuard guard(w.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(w.device().index()).stream();
  const Tensor s = seeds.contiguous();
  if (blocks::supported(w.size(0), k)) {
    const int64_t n = w.size(0);
    Tensor out = at::empty({k}, w.options().dtype(at::kLong));
    if (k == 0) return out;
    Tensor work = at::empty({cuda::select_workspace_int64s(n, k, n_random)},
                            w.options().dtype(at::kLong));
    dispatch_select_dtype(w, [&](const Tensor& wt, auto tag) {
      using T = decltype(tag);
      check_cuda_rc(cuda::launch_select_particles<T>(
                        wt.const_data_ptr<T>(), wt.stride(0), n, k, n_random,
                        s.const_data_ptr<int64_t>(), work.mutable_data_ptr<int64_t>(),
                        out.mutable_data_ptr<int64_t>(), stream),
                    "select_particles_ext");
    });
    return out;
  }
  const int64_t n = w.size(0), n_top = k - n_random;
  const Tensor w64 = w.to(at::kDouble).contiguous();
  Tensor rank = at::empty({n}, w.options().dtype(at::kLong));
  Tensor rkey = at::empty({n}, w.options().dtype(at::kLong));
  check_cuda_rc(cuda::launch_selection_keys(w64.const_data_ptr<double>(), n,
                                            s.const_data_ptr<int64_t>(),
                                            rank.mutable_data_ptr<int64_t>(),
                                            rkey.mutable_data_ptr<int64_t>(), stream),
                "select_particles_ext");
  const Tensor top =
      std::get<1>(at::sort(rank, /*stable=*/true, /*dim=*/0, /*descending=*/true)).narrow(0, 0,
                                                                                         n_top);
  if (n_random == 0) return top.contiguous();
  check_cuda_rc(cuda::launch_exclude(rkey.mutable_data_ptr<int64_t>(), top.const_data_ptr<int64_t>(),
                                     n_top, stream),
                "select_particles_ext");
  const Tensor rnd =
      std::get<1>(at::sort(rkey, /*stable=*/true, /*dim=*/0, /*descending=*/false))
          .narrow(0, 0, n_random);
  return at::cat({top, rnd});
}

Tensor systematic_resample_cuda(const Tensor& logw, const Tensor& u) {
  check_resample(logw, u);
  TORCH_CHECK(u.device() == logw.device(), "u: expected device ", logw.device(),
              " (read by the kernel: no host sync), got ", u.device());
  const c10::cuda::CUDAGuard guard(logw.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(logw.device().index()).stream();
  const int64_t n = logw.size(0);
  // float32 and float64 are read as they are (widened in the kernel); others become float64
  const bool as_float = logw.scalar_type() == at::kFloat;
  const Tensor lw = (as_float ? logw : logw.to(at::kDouble)).contiguous();
  const Tensor u64 = u.to(at::kDouble).contiguous();
  Tensor work = at::empty({cuda::resample_workspace_doubles(n)}, lw.options().dtype(at::kDouble));
  Tensor out = at::empty({n}, logw.options().dtype(at::kLong));
  const cudaError_t rc =
      as_float ? cuda::launch_systematic_resample(lw.const_data_ptr<float>(), n,
                                                  u64.const_data_ptr<double>(),
                                                  work.mutable_data_ptr<double>(),
                                                  out.mutable_data_ptr<int64_t>(), stream)
               : cuda::launch_systematic_resample(lw.const_data_ptr<double>(), n,
                                                  u64.const_data_ptr<double>(),
                                                  work.mutable_data_ptr<double>(),
                                                  out.mutable_data_ptr<int64_t>(), stream);
  check_cuda_rc(rc, "systematic_resample_ext");
  return out;
}
#endif  // FKC_WITH_CUDA

}  // namespace
}  // namespace fkc

// CPU-only helpers with no Python-side schema (they exist only when the library is built)
TORCH_LIBRARY_FRAGMENT(fkc, m) {
  m.def("philox_normal_cpu(Tensor seeds, int numel, int start=0, str isa='auto') -> Tensor",
        &fkc::philox_normal_cpu);
  m.def("cpu_noise_isa() -> str", &fkc::cpu_noise_isa);
  m.def("select_particles_block_emulation(Tensor w, int k, int n_random, Tensor seeds, "
        "int threads=0, int chunk=0, bool reverse_threads=False) -> Tensor",
        &fkc::select_particles_block_emulation);
}

TORCH_LIBRARY_IMPL(fkc, CPU, m) {
  m.impl("fkc_step_ext", &fkc::fkc_step_op);
  m.impl("select_particles_ext", &fkc::select_particles_cpu);
  m.impl("systematic_resample_ext", &fkc::systematic_resample_cpu);
}

#ifdef FKC_WITH_CUDA
TORCH_LIBRARY_IMPL(fkc, CUDA, m) {
  m.impl("fkc_step_ext", &fkc::fkc_step_op);
  m.impl("select_particles_ext", &fkc::select_particles_cuda);
  m.impl("systematic_resample_ext", &fkc::systematic_resample_cuda);
}
#endif
