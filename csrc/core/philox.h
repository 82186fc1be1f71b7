// The noise contract (fkc_kernels/reference/philox.py; docs/design.md, "The noise contract"),
// once for every device.
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

// (hi, lo) 32-bit halves of m * c: what both compilers turn into mul.hi/mul.lo (CUDA) or a
// widening multiply (x86). The SIMD types of csrc/cpu/ overload it for whole vectors.
FKC_HD void mulhilo(uint32_t m, uint32_t c, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(m) * c;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

// One Philox round on counters (c0, c1, c2, c3) with the round's key (k0, k1).
template <class U, class K>
FKC_HD void philox_round(U& c0, U& c1, U& c2, U& c3, K k0, K k1) {
  U hi0, lo0, hi1, lo1;
  mulhilo(kPhiloxM0, c0, hi0, lo0);
  mulhilo(kPhiloxM1, c2, hi1, lo1);
  c0 = hi1 ^ c1 ^ k0;
  c1 = lo1;
  c2 = hi0 ^ c3 ^ k1;
  c3 = lo0;
}

// Philox-4x32-10 (Salmon et al. 2011) on counters (c0, c1, c2, c3) in place, key (k0, k1). U is
// uint32_t or a SIMD vector of uint32 lanes (one counter per lane, the same key).
template <class U>
FKC_HD void philox_rounds(U& c0, U& c1, U& c2, U& c3, uint32_t k0, uint32_t k1) {
  // fully unrolled on both sides: the CPU vectorizer only takes loops without inner loops
#if defined(__CUDACC__) || defined(__clang__)
#pragma unroll
#elif defined(__GNUC__)
#pragma GCC unroll 10
#endif
  for (int round = 0; round < 10; ++round) {
    philox_round(c0, c1, c2, c3, k0, k1);
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
}

FKC_HD Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                             uint32_t k1) {
  philox_rounds(c0, c1, c2, c3, k0, k1);
  return Philox4{{c0, c1, c2, c3}};
}

// uint32 -> float32 in the open interval (0, 1): odd multiples of 2**-24, exactly representable
// ((x >> 8) | 1 < 2**24 converts exactly, as int32 or uint32).
template <class F, class U>
FKC_HD F unit_float(U x) {
  return int_to_float((x >> 8) | 1u) * F(5.9604644775390625e-08f);  // 2**-24
}

FKC_HD float uint_to_unit_float(uint32_t x) { return unit_float<float>(x); }

// Seed and offset split into the uint32 halves the counter and key use.
struct PhiloxKey {
  uint32_t k0, k1, o0, o1;
};

FKC_HD PhiloxKey make_philox_key(uint64_t seed, uint64_t offset) {
  return PhiloxKey{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                   static_cast<uint32_t>(offset), static_cast<uint32_t>(offset >> 32)};
}

// Box-Muller in float32, in the reference's operation order: the four normals of the Philox
// words (x0, x1, x2, x3) of one group (F float, U uint32_t) or of one group per lane (SIMD).
template <class F, class U>
FKC_HD void box_muller4(U x0, U x1, U x2, U x3, F& z0, F& z1, F& z2, F& z3) {
  const F u0 = unit_float<F>(x0);
  const F u1 = unit_float<F>(x1);
  const F u2 = unit_float<F>(x2);
  const F u3 = unit_float<F>(x3);
  const F r01 = sqrt_f(F(-2.0f) * log_pos(u0));
  const F r23 = sqrt_f(F(-2.0f) * log_pos(u2));
  F s01, c01, s23, c23;
  sincos_small(u1 * F(kTwoPiF32), s01, c01);
  sincos_small(u3 * F(kTwoPiF32), s23, c23);
  z0 = r01 * c01;
  z1 = r01 * s01;
  z2 = r23 * c23;
  z3 = r23 * s23;
}

// The four normals of Philox group `group`: z<lane> is the normal of element 4*group + lane.
// (Scalar out-parameters, not an array: an array in the loop body blocks CPU vectorization.)
FKC_HD void normal4(const PhiloxKey& key, uint64_t group, float& z0, float& z1, float& z2,
                    float& z3) {
  const Philox4 r = philox4x32_10(static_cast<uint32_t>(group), static_cast<uint32_t>(group >> 32),
                                  key.o0, key.o1, key.k0, key.k1);
  box_muller4(r.x[0], r.x[1], r.x[2], r.x[3], z0, z1, z2, z3);
}

// Random sort key of particle i for the random part of selection (philox_random_keys):
// counter (i lo, i hi, O lo, O hi) under key S, value ((x0 >> 2) << 32) | x1 in [0, 2**62).
FKC_HD int64_t random_key(const PhiloxKey& key, uint64_t i) {
  const Philox4 r = philox4x32_10(static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32), key.o0,
                                  key.o1, key.k0, key.k1);
  return static_cast<int64_t>((static_cast<uint64_t>(r.x[0] >> 2) << 32) | r.x[1]);
}

}  // namespace fkc
