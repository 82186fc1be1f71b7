// The CPU noise path as ops of its own (CPU-only helpers with no Python-side schema: they exist
// only when the library is built), for tests and benchmarks.
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <c10/util/string_view.h>
#include <torch/library.h>

#include <string>

#include "../core/philox.h"
#include "../cpu/noise_simd.h"

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

std::string cpu_noise_isa() { return cpu::noise_isa_name(cpu::noise_isa()); }

}  // namespace
}  // namespace ops
}  // namespace fkc

TORCH_LIBRARY_FRAGMENT(fkc, m) {
  m.def("philox_normal_cpu(Tensor seeds, int numel, int start=0, str isa='auto') -> Tensor",
        &fkc::ops::philox_normal_cpu);
  m.def("cpu_noise_isa() -> str", &fkc::ops::cpu_noise_isa);
}
