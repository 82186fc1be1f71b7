// The noise contract (fkc_kernels/reference/philox.py, DESIGN section 4), once for every device.
//
// For seed S and offset O, flat element e = n*D + d of an (N, D) particle block uses Philox
// group e/4 (counter (group lo, group hi, O lo, O hi), key (S lo, S hi)) and lane e%4 of the
// four Box-Muller normals made from its words. One philox call serves four elements.
#pragma once

#include "fastmath.h"
#include "fkc_hd.h"

namespace fkc {

constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;
constexpr float kTwoPiF32 = 6.2831855f;  // float32(2*pi): the constant every backend uses

struct Philox4 {
  uint32_t x[4];
};

// Philox-4x32-10 (Salmon et al. 2011). The widening 32x32->64 multiply is what both compilers
// turn into mul.hi/mul.lo (CUDA) or vpmuludq (x86 SIMD).
FKC_HD Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                             uint32_t k1) {
  // fully unrolled on both sides: the CPU vectorizer only takes loops without inner loops
#if defined(__CUDACC__) || defined(__clang__)
#pragma unroll
#elif defined(__GNUC__)
#pragma GCC unroll 10
#endif
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kPhiloxM0) * c0;
    const uint64_t p1 = static_cast<uint64_t>(kPhiloxM1) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// uint32 -> float32 in the open interval (0, 1): odd multiples of 2**-24, exactly representable.
FKC_HD float uint_to_unit_float(uint32_t x) {
  return static_cast<float>((x >> 8) | 1u) * 5.9604644775390625e-08f;  // 2**-24
}

// Seed and offset split into the uint32 halves the counter and key use.
struct PhiloxKey {
  uint32_t k0, k1, o0, o1;
};

FKC_HD PhiloxKey make_philox_key(uint64_t seed, uint64_t offset) {
  return PhiloxKey{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                   static_cast<uint32_t>(offset), static_cast<uint32_t>(offset >> 32)};
}

// The four normals of Philox group `group`: z<lane> is the normal of element 4*group + lane.
// (Scalar out-parameters, not an array: an array in the loop body blocks CPU vectorization.)
FKC_HD void normal4(const PhiloxKey& key, uint64_t group, float& z0, float& z1, float& z2,
                    float& z3) {
  const Philox4 r = philox4x32_10(static_cast<uint32_t>(group), static_cast<uint32_t>(group >> 32),
                                  key.o0, key.o1, key.k0, key.k1);
  const float u0 = uint_to_unit_float(r.x[0]);
  const float u1 = uint_to_unit_float(r.x[1]);
  const float u2 = uint_to_unit_float(r.x[2]);
  const float u3 = uint_to_unit_float(r.x[3]);
  // Box-Muller in float32, in the reference's operation order
  const float r01 = sqrt_f(-2.0f * log_pos(u0));
  const float r23 = sqrt_f(-2.0f * log_pos(u2));
  float s01, c01, s23, c23;
  sincos_small(u1 * kTwoPiF32, &s01, &c01);
  sincos_small(u3 * kTwoPiF32, &s23, &c23);
  z0 = r01 * c01;
  z1 = r01 * s01;
  z2 = r23 * c23;
  z3 = r23 * s23;
}

// Random sort key of particle i for the random part of selection (philox_random_keys):
// counter (i lo, i hi, O lo, O hi) under key S, value ((x0 >> 2) << 32) | x1 in [0, 2**62).
FKC_HD int64_t random_key(const PhiloxKey& key, uint64_t i) {
  const Philox4 r = philox4x32_10(static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32), key.o0,
                                  key.o1, key.k0, key.k1);
  return static_cast<int64_t>((static_cast<uint64_t>(r.x[0] >> 2) << 32) | r.x[1]);
}

}  // namespace fkc
