// Vectorized noise contract: Philox-4x32-10 and Box-Muller with one group per SIMD lane.
//
// The math is core/philox.h's philox_rounds and box_muller4 (templates over the lane type),
// the vector types noise_lanes.h's (one template over an instruction set's traits). This file
// supplies, per instruction set, the traits (the intrinsic of each primitive fastmath.h names:
// fmadd, select, ...; the store of each lane group's four normals in element order) and how
// many vectors a step interleaves. x86-64 with GCC gets AVX-512 and AVX2+FMA code in
// target regions (the rest of the library stays baseline x86-64); other builds use the scalar
// loop, which writes the same bits.
#include "noise_simd.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FKC_X86_SIMD 1
#include <immintrin.h>
// vectors pass between inlined functions of this file only: the note that 64-byte vector
// arguments changed ABI in GCC 4.6 does not concern any interface
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#include "noise_lanes.h"

namespace fkc {
namespace cpu {
namespace {

// Groups g0 .. g0+count-1, four normals each, into out[0 .. 4*count).
FKC_HD void groups_scalar(const PhiloxKey& key, uint64_t g0, int64_t count, float* out) {
  for (int64_t q = 0; q < count; ++q) {
    normal4(key, g0 + static_cast<uint64_t>(q), out[4 * q], out[4 * q + 1], out[4 * q + 2],
            out[4 * q + 3]);
  }
}

void groups_scalar_fn(const PhiloxKey& key, uint64_t g0, int64_t count, float* out) {
  groups_scalar(key, g0, count, out);
}

// The lanes of one vector step hold counters lo .. lo+kLanes-1 in c0 and hi in c1: true unless
// the low word wraps inside the step (once in 2**32 groups; that step runs scalar).
template <int kLanes>
bool no_carry(uint64_t g) {
  return static_cast<uint32_t>(g) <= 0xFFFFFFFFu - (kLanes - 1);
}

// Philox + Box-Muller for the S::kLanes groups g .. g+S::kLanes-1 of one vector step (S: a
// lanes::Step, its lane types, iota and store_groups), stored in element order.
template <class S>
FKC_HD void vector_step(const PhiloxKey& key, uint64_t g, float* out) {
  typename S::VI c0 = S::iota(static_cast<uint32_t>(g));
  typename S::VI c1(static_cast<uint32_t>(g >> 32)), c2(key.o0), c3(key.o1);
  philox_rounds(c0, c1, c2, c3, key.k0, key.k1);
  typename S::VF z0, z1, z2, z3;
  box_muller4(c0, c1, c2, c3, z0, z1, z2, z3);
  S::store_groups(out, z0, z1, z2, z3);
}

// Groups g0 .. g0+count-1: steps of kLanes, then of kLanes/2 (a pair of vectors, or one), then
// scalar. Steps whose counters would carry into c1 run scalar.
template <class Wide, class Narrow>
FKC_HD void groups_vector(const PhiloxKey& key, uint64_t g0, int64_t count, float* out) {
  int64_t q = 0;
  for (; q + Wide::kLanes <= count; q += Wide::kLanes) {
    const uint64_t g = g0 + static_cast<uint64_t>(q);
    if (no_carry<Wide::kLanes>(g)) {
      vector_step<Wide>(key, g, out + 4 * q);
    } else {
      groups_scalar(key, g, Wide::kLanes, out + 4 * q);
    }
  }
  for (; q + Narrow::kLanes <= count; q += Narrow::kLanes) {
    const uint64_t g = g0 + static_cast<uint64_t>(q);
    if (no_carry<Narrow::kLanes>(g)) {
      vector_step<Narrow>(key, g, out + 4 * q);
    } else {
      groups_scalar(key, g, Narrow::kLanes, out + 4 * q);
    }
  }
  groups_scalar(key, g0 + static_cast<uint64_t>(q), count - q, out + 4 * q);
}

}  // namespace

#ifdef FKC_X86_SIMD

// The primitives whose intrinsics differ between AVX2 and AVX-512 only by their prefix P
// (_mm256, _mm512) and integer suffix S (si256, si512): once for both traits structs.
#define FKC_ISA_COMMON(P, S)                                                                       \
  static F splat(float f) { return P##_set1_ps(f); }                                               \
  static I splat(uint32_t u) { return P##_set1_epi32(static_cast<int>(u)); }                       \
  static F add(F a, F b) { return P##_add_ps(a, b); }                                              \
  static F sub(F a, F b) { return P##_sub_ps(a, b); }                                              \
  static F mul(F a, F b) { return P##_mul_ps(a, b); }                                              \
  static F fmadd(F a, F b, F c) { return P##_fmadd_ps(a, b, c); }                                  \
  static F sqrt(F a) { return P##_sqrt_ps(a); }                                                    \
  static I as_bits(F a) { return P##_castps_##S(a); }                                              \
  static F as_float(I a) { return P##_cast##S##_ps(a); }                                           \
  static F int_to_float(I a) { return P##_cvtepi32_ps(a); }                                        \
  static I trunc_to_int(F a) { return P##_cvttps_epi32(a); }                                       \
  static I add(I a, I b) { return P##_add_epi32(a, b); }                                           \
  static I sub(I a, I b) { return P##_sub_epi32(a, b); }                                           \
  static I bit_xor(I a, I b) { return P##_xor_##S(a, b); }                                         \
  static I bit_and(I a, I b) { return P##_and_##S(a, b); }                                         \
  static I bit_or(I a, I b) { return P##_or_##S(a, b); }                                           \
  static I shift_right(I a, int n) { return P##_srli_epi32(a, n); }                                \
  static F neg(F a) { return as_float(bit_xor(as_bits(a), splat(0x80000000u))); }                  \
  /* r_l: lane l of the four z in each 128-bit lane, as pairs of floats (a 4x4 transpose) */       \
  template <class D>                                                                               \
  static void transpose_in_128(F z0, F z1, F z2, F z3, D& r0, D& r1, D& r2, D& r3) {               \
    const D t0 = P##_castps_pd(P##_unpacklo_ps(z0, z1));                                           \
    const D t1 = P##_castps_pd(P##_unpackhi_ps(z0, z1));                                           \
    const D t2 = P##_castps_pd(P##_unpacklo_ps(z2, z3));                                           \
    const D t3 = P##_castps_pd(P##_unpackhi_ps(z2, z3));                                           \
    r0 = P##_unpacklo_pd(t0, t2);                                                                  \
    r1 = P##_unpackhi_pd(t0, t2);                                                                  \
    r2 = P##_unpacklo_pd(t1, t3);                                                                  \
    r3 = P##_unpackhi_pd(t1, t3);                                                                  \
  }

// ---------------------------------------------------------------- AVX-512 (16 groups a vector)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
namespace avx512 {

struct Isa {
  static constexpr int kLanes = 16;
  using F = __m512;
  using I = __m512i;
  using M = __mmask16;
  FKC_ISA_COMMON(_mm512, si512)
  static I iota(uint32_t lo) {
    return add(splat(lo), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  }
  static M lt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M any_bit(I a, uint32_t bits) { return _mm512_test_epi32_mask(a, splat(bits)); }
  static F select(M m, F a, F b) { return _mm512_mask_blend_ps(m, b, a); }
  // hi/lo halves of m * c per lane: even lanes from one widening multiply, odd lanes from a
  // second on the shifted vector; a masked in-pair swap puts each half in its lane
  static void mulhilo(uint32_t m, I c, I& hi, I& lo) {
    const I mv = splat(m);
    const I even = _mm512_mul_epu32(c, mv);
    const I odd = _mm512_mul_epu32(_mm512_srli_epi64(c, 32), mv);
    hi = _mm512_mask_shuffle_epi32(odd, 0x5555, even, _MM_PERM_CDAB);
    lo = _mm512_mask_shuffle_epi32(even, 0xAAAA, odd, _MM_PERM_CDAB);
  }
  // z_l[q] (lane q = group q) -> out[4q + l]: a 4x4 transpose of floats inside each 128-bit
  // lane, then of the 128-bit lanes
  static void store_groups(float* out, F z0, F z1, F z2, F z3) {
    __m512d r0, r1, r2, r3;
    transpose_in_128(z0, z1, z2, z3, r0, r1, r2, r3);
    // r0: groups 0,4,8,12  r1: 1,5,9,13  r2: 2,6,10,14  r3: 3,7,11,15 (one per 128-bit lane)
    const __m512d s0 = _mm512_shuffle_f64x2(r0, r1, 0x44);
    const __m512d s1 = _mm512_shuffle_f64x2(r2, r3, 0x44);
    const __m512d s2 = _mm512_shuffle_f64x2(r0, r1, 0xEE);
    const __m512d s3 = _mm512_shuffle_f64x2(r2, r3, 0xEE);
    // s0: 0,4,1,5  s1: 2,6,3,7  s2: 8,12,9,13  s3: 10,14,11,15
    auto* o = reinterpret_cast<double*>(out);
    _mm512_storeu_pd(o, _mm512_shuffle_f64x2(s0, s1, 0x88));
    _mm512_storeu_pd(o + 8, _mm512_shuffle_f64x2(s0, s1, 0xDD));
    _mm512_storeu_pd(o + 16, _mm512_shuffle_f64x2(s2, s3, 0x88));
    _mm512_storeu_pd(o + 24, _mm512_shuffle_f64x2(s2, s3, 0xDD));
  }
};

// 64 groups a step: four vectors interleaved (0.79 ns a normal on the 2-core AVX-512 EPYC,
// against 0.84 with three and 0.89 with two, four alternating runs on one thread); the step
// kernel's noise slices are 256 normals on this path (fkc_step_cpu.cpp), one such step
void groups(const PhiloxKey& key, uint64_t g0, int64_t count, float* out) {
  groups_vector<lanes::Step<Isa, 4>, lanes::Step<Isa, 1>>(key, g0, count, out);
}

}  // namespace avx512
#pragma GCC pop_options

// ---------------------------------------------------------------- AVX2 + FMA (8 groups a vector)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {

struct Isa {
  static constexpr int kLanes = 8;
  using F = __m256;
  using I = __m256i;
  using M = __m256;  // all-ones / all-zeros lanes
  FKC_ISA_COMMON(_mm256, si256)
  static I iota(uint32_t lo) { return add(splat(lo), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
  static M lt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static M any_bit(I a, uint32_t bits) {  // bits is a single bit here
    const I b = splat(bits);
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(a, b), b));
  }
  static F select(M m, F a, F b) { return _mm256_blendv_ps(b, a, m); }
  static void mulhilo(uint32_t m, I c, I& hi, I& lo) {
    const I mv = splat(m);
    const I even = _mm256_mul_epu32(c, mv);
    const I odd = _mm256_mul_epu32(_mm256_srli_epi64(c, 32), mv);
    hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  }
  static void store_groups(float* out, F z0, F z1, F z2, F z3) {
    __m256d r0, r1, r2, r3;
    transpose_in_128(z0, z1, z2, z3, r0, r1, r2, r3);
    // r0: groups 0,4  r1: 1,5  r2: 2,6  r3: 3,7 (one per 128-bit lane)
    auto* o = reinterpret_cast<double*>(out);
    _mm256_storeu_pd(o, _mm256_permute2f128_pd(r0, r1, 0x20));
    _mm256_storeu_pd(o + 4, _mm256_permute2f128_pd(r2, r3, 0x20));
    _mm256_storeu_pd(o + 8, _mm256_permute2f128_pd(r0, r1, 0x31));
    _mm256_storeu_pd(o + 12, _mm256_permute2f128_pd(r2, r3, 0x31));
  }
};

// 32 groups a step: four vectors interleaved (1.21 ns a normal on the 2-core AVX2 EPYC, against
// 1.27 with three, 1.49 with two, 2.3 with one; with eight the spills cost more than they hide)
void groups(const PhiloxKey& key, uint64_t g0, int64_t count, float* out) {
  groups_vector<lanes::Step<Isa, 4>, lanes::Step<Isa, 1>>(key, g0, count, out);
}

}  // namespace avx2
#pragma GCC pop_options

#undef FKC_ISA_COMMON
#endif  // FKC_X86_SIMD

namespace {

using GroupsFn = void (*)(const PhiloxKey&, uint64_t, int64_t, float*);

bool cpu_has(NoiseIsa isa) {
#ifdef FKC_X86_SIMD
  // __builtin_cpu_supports also checks that the OS saves the vector state
  switch (isa) {
    case NoiseIsa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("fma");
    case NoiseIsa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    default:
      return true;
  }
#else
  return isa == NoiseIsa::kScalar;
#endif
}

GroupsFn groups_fn(NoiseIsa isa) {
#ifdef FKC_X86_SIMD
  if (isa == NoiseIsa::kAvx512) return avx512::groups;
  if (isa == NoiseIsa::kAvx2) return avx2::groups;
#endif
  return groups_scalar_fn;
}

NoiseIsa detect_isa() {
  // FKC_CPU_ISA caps the choice (e.g. to measure or test the AVX2 path on an AVX-512 machine)
  const char* cap = std::getenv("FKC_CPU_ISA");
  NoiseIsa best = NoiseIsa::kAvx512;
  if (cap != nullptr && std::strcmp(cap, "avx2") == 0) best = NoiseIsa::kAvx2;
  if (cap != nullptr && std::strcmp(cap, "scalar") == 0) best = NoiseIsa::kScalar;
  for (int i = static_cast<int>(best); i > 0; --i) {
    if (cpu_has(static_cast<NoiseIsa>(i))) return static_cast<NoiseIsa>(i);
  }
  return NoiseIsa::kScalar;
}

void fill_with(GroupsFn groups, const PhiloxKey& key, uint64_t e0, int64_t len, float* out) {
  uint64_t group = e0 / 4;
  int64_t i = 0;
  float z[4];
  const int lane0 = static_cast<int>(e0 % 4);
  if (lane0 != 0 && len > 0) {  // head: the tail of a group begun before e0
    normal4(key, group++, z[0], z[1], z[2], z[3]);
    for (int l = lane0; l < 4 && i < len; ++l) out[i++] = z[l];
  }
  const int64_t full = (len - i) / 4;
  groups(key, group, full, out + i);
  i += 4 * full;
  group += static_cast<uint64_t>(full);
  if (i < len) {  // tail: the head of a group that continues past len
    normal4(key, group, z[0], z[1], z[2], z[3]);
    for (int l = 0; i < len; ++l) out[i++] = z[l];
  }
}

}  // namespace

NoiseIsa noise_isa() {
  static const NoiseIsa isa = detect_isa();
  return isa;
}

bool noise_isa_supported(NoiseIsa isa) { return cpu_has(isa); }

const char* noise_isa_name(NoiseIsa isa) {
  switch (isa) {
    case NoiseIsa::kAvx512: return "avx512";
    case NoiseIsa::kAvx2: return "avx2";
    default: return "scalar";
  }
}

void fill_normals(const PhiloxKey& key, uint64_t e0, int64_t len, float* out) {
  static const GroupsFn groups = groups_fn(noise_isa());
  fill_with(groups, key, e0, len, out);
}

void fill_normals_isa(NoiseIsa isa, const PhiloxKey& key, uint64_t e0, int64_t len,
                      float* out) {
  fill_with(groups_fn(isa), key, e0, len, out);
}

}  // namespace cpu
}  // namespace fkc
