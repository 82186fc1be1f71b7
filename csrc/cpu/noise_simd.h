// The noise contract's normals on the CPU, vectorized across Philox groups.
//
// One Philox group (4 normals) per SIMD lane: 64 groups a step with AVX-512 (four interleaved
// vectors of 16), 32 with AVX2+FMA (four of 8); one group at a time otherwise. The instruction
// set is picked once at run time from the CPU (FKC_CPU_ISA=avx2|scalar caps it: on an AVX-512
// machine, FKC_CPU_ISA=avx2 runs the AVX2 path); every path computes core/philox.h's normal4
// with the same operations (explicit fmadd, no contraction), so all of them write the same bits.
#pragma once

#include <cstdint>

#include "../core/philox.h"

namespace fkc {
namespace cpu {

enum class NoiseIsa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// Normals of flat elements e0 .. e0+len-1 of the block keyed by `key`, in element order.
void fill_normals(const PhiloxKey& key, uint64_t e0, int64_t len, float* out);

// The same with a given instruction set (tests, benchmarks); the CPU must support it.
void fill_normals_isa(NoiseIsa isa, const PhiloxKey& key, uint64_t e0, int64_t len, float* out);

// The instruction set fill_normals uses here, and whether this CPU and build can run `isa`.
NoiseIsa noise_isa();
bool noise_isa_supported(NoiseIsa isa);
const char* noise_isa_name(NoiseIsa isa);

}  // namespace cpu
}  // namespace fkc
