// fkc::select_particles_ext on CPU tensors (csrc/cpu/select_particles_cpu.cpp), and the host
// emulation of the CUDA selection kernel's algorithm (a test helper, CPU-only, no Python schema).
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "../core/select_blocks.h"
#include "../cpu/ops_cpu.h"
#include "select_particles.h"

namespace fkc {
namespace ops {
namespace {

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

}  // namespace
}  // namespace ops
}  // namespace fkc

TORCH_LIBRARY_FRAGMENT(fkc, m) {
  m.def("select_particles_block_emulation(Tensor w, int k, int n_random, Tensor seeds, "
        "int threads=0, int chunk=0, bool reverse_threads=False) -> Tensor",
        &fkc::ops::select_particles_block_emulation);
}

TORCH_LIBRARY_IMPL(fkc, CPU, m) {
  m.impl("select_particles_ext", &fkc::ops::select_particles_cpu);
}
