// The noise contract's normals as ops of their own (schemas defined here, not from Python: they
// have no fake-kernel use and exist only when the library is built):
// - fkc::philox_normal_ext(seeds, numel, start): flat elements start .. start+numel-1 with the
//   bits the fused step of the same device draws in-kernel (the CPU through the same
//   cpu::fill_normals; the CUDA registration is noise_register_cuda.cpp). The sharded sampler
//   draws its shard's noise with it, so W ranks add the bits one process adds (docs/design.md,
//   "The noise contract").
// - fkc::philox_normal_cpu(..., isa) and fkc::cpu_noise_isa(): one instruction-set path of the
//   CPU noise, for tests (all paths write the same bits) and benchmarks.
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <c10/util/string_view.h>
#include <torch/library.h>

#include <string>

#include "../core/philox.h"
#include "../cpu/noise_simd.h"
#include "noise.h"

namespace fkc {
namespace ops {
namespace {

using at::Tensor;

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

Tensor philox_normal_ext_cpu(const Tensor& seeds, int64_t numel, int64_t start) {
  check_noise_args(seeds, numel, start);
  const Tensor s = seeds.contiguous();
  const PhiloxKey key = make_philox_key(static_cast<uint64_t>(s.const_data_ptr<int64_t>()[0]),
                                        static_cast<uint64_t>(s.const_data_ptr<int64_t>()[1]));
  Tensor out = at::empty({numel}, s.options().dtype(at::kFloat));
  float* o = out.mutable_data_ptr<float>();
  // any split gives the same bits: each element's normal depends only on its index
  at::parallel_for(0, numel, 1 << 14, [&](int64_t b, int64_t e) {
    cpu::fill_normals(key, static_cast<uint64_t>(start + b), e - b, o + b);
  });
  return out;
}

std::string cpu_noise_isa() { return cpu::noise_isa_name(cpu::noise_isa()); }

}  // namespace
}  // namespace ops
}  // namespace fkc

TORCH_LIBRARY_FRAGMENT(fkc, m) {
  m.def("philox_normal_cpu(Tensor seeds, int numel, int start=0, str isa='auto') -> Tensor",
        &fkc::ops::philox_normal_cpu);
  m.def("cpu_noise_isa() -> str", &fkc::ops::cpu_noise_isa);
  m.def("philox_normal_ext(Tensor seeds, int numel, int start=0) -> Tensor");
}

TORCH_LIBRARY_IMPL(fkc, CPU, m) { m.impl("philox_normal_ext", &fkc::ops::philox_normal_ext_cpu); }
