// Vectorized noise contract: Philox-4x32-10 and Box-Muller with one group per SIMD lane.
//
// The math is core/philox.h's philox_rounds and box_muller4 (templates over the lane type);
// this file only supplies, per instruction set, a float vector VF, a uint32 vector VI, a lane
// mask and the primitives fastmath.h names (fmadd, select, ...), then stores the four normals
// of each lane's group in element order. x86-64 with GCC gets AVX-512 and AVX2+FMA code in
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

// Philox + Box-Muller for the kLanes groups g .. g+kLanes-1 of one vector step (VF/VI: the
// lane types of an instruction set, Ops: its iota and store_groups), stored in element order.
template <class VF, class VI, class Ops>
FKC_HD void vector_step(const PhiloxKey& key, uint64_t g, float* out) {
  VI c0 = Ops::iota(static_cast<uint32_t>(g));
  VI c1(static_cast<uint32_t>(g >> 32)), c2(key.o0), c3(key.o1);
  philox_rounds(c0, c1, c2, c3, key.k0, key.k1);
  VF z0, z1, z2, z3;
  box_muller4(c0, c1, c2, c3, z0, z1, z2, z3);
  Ops::store_groups(out, z0, z1, z2, z3);
}

// Groups g0 .. g0+count-1: steps of kLanes, then of kLanes/2 (a pair of vectors, or one), then
// scalar. Steps whose counters would carry into c1 run scalar.
template <class Wide, class Narrow>
FKC_HD void groups_vector(const PhiloxKey& key, uint64_t g0, int64_t count, float* out) {
  int64_t q = 0;
  for (; q + Wide::kLanes <= count; q += Wide::kLanes) {
    const uint64_t g = g0 + static_cast<uint64_t>(q);
    if (no_carry<Wide::kLanes>(g)) {
      vector_step<typename Wide::VF, typename Wide::VI, Wide>(key, g, out + 4 * q);
    } else {
      groups_scalar(key, g, Wide::kLanes, out + 4 * q);
    }
  }
  for (; q + Narrow::kLanes <= count; q += Narrow::kLanes) {
    const uint64_t g = g0 + static_cast<uint64_t>(q);
    if (no_carry<Narrow::kLanes>(g)) {
      vector_step<typename Narrow::VF, typename Narrow::VI, Narrow>(key, g, out + 4 * q);
    } else {
      groups_scalar(key, g, Narrow::kLanes, out + 4 * q);
    }
  }
  groups_scalar(key, g0 + static_cast<uint64_t>(q), count - q, out + 4 * q);
}

// Steps of two vectors of One's lanes (VF2, VI2 from FKC_PAIR_TYPES).
template <class One, class VF2, class VI2>
struct PairOf {
  static constexpr int kLanes = 2 * One::kLanes;
  using VF = VF2;
  using VI = VI2;
  FKC_HD static VI iota(uint32_t lo) {
    return {One::iota(lo), One::iota(lo + static_cast<uint32_t>(One::kLanes))};
  }
  FKC_HD static void store_groups(float* out, VF z0, VF z1, VF z2, VF z3) {
    One::store_groups(out, z0.a, z1.a, z2.a, z3.a);
    One::store_groups(out + 4 * One::kLanes, z0.b, z1.b, z2.b, z3.b);
  }
};

// Two vectors treated as one of twice the lanes: every operation is issued for both halves, so
// the two independent dependency chains interleave (Philox and the polynomials are latency-bound
// with one vector in flight).
#define FKC_PAIR_TYPES(VF, VI, Mask)                                                  \
  struct VF##2 {                                                                      \
    VF a, b;                                                                          \
    VF##2() = default;                                                                \
    VF##2(VF x, VF y) : a(x), b(y) {}                                                 \
    VF##2(float f) : a(f), b(f) {} /* implicit splat */                               \
  };                                                                                  \
  struct VI##2 {                                                                      \
    VI a, b;                                                                          \
    VI##2() = default;                                                                \
    VI##2(VI x, VI y) : a(x), b(y) {}                                                 \
    VI##2(uint32_t u) : a(u), b(u) {} /* implicit splat */                            \
  };                                                                                  \
  struct Mask##2 {                                                                    \
    Mask a, b;                                                                        \
  };                                                                                  \
  inline VF##2 operator+(VF##2 x, VF##2 y) { return {x.a + y.a, x.b + y.b}; }         \
  inline VF##2 operator-(VF##2 x, VF##2 y) { return {x.a - y.a, x.b - y.b}; }         \
  inline VF##2 operator*(VF##2 x, VF##2 y) { return {x.a * y.a, x.b * y.b}; }         \
  inline VF##2 operator-(VF##2 x) { return {-x.a, -x.b}; }                            \
  inline VF##2 fmadd(VF##2 x, VF##2 y, VF##2 z) {                                     \
    return {fmadd(x.a, y.a, z.a), fmadd(x.b, y.b, z.b)};                              \
  }                                                                                   \
  inline VF##2 sqrt_f(VF##2 x) { return {sqrt_f(x.a), sqrt_f(x.b)}; }                \
  inline VI##2 as_bits(VF##2 x) { return {as_bits(x.a), as_bits(x.b)}; }             \
  inline VF##2 as_float(VI##2 x) { return {as_float(x.a), as_float(x.b)}; }          \
  inline VF##2 int_to_float(VI##2 x) { return {int_to_float(x.a), int_to_float(x.b)}; } \
  inline VI##2 trunc_to_int(VF##2 x) { return {trunc_to_int(x.a), trunc_to_int(x.b)}; } \
  inline Mask##2 lt(VF##2 x, VF##2 y) { return {lt(x.a, y.a), lt(x.b, y.b)}; }       \
  inline Mask##2 any_bit(VI##2 x, uint32_t bits) {                                    \
    return {any_bit(x.a, bits), any_bit(x.b, bits)};                                  \
  }                                                                                   \
  inline VF##2 select(Mask##2 m, VF##2 x, VF##2 y) {                                  \
    return {select(m.a, x.a, y.a), select(m.b, x.b, y.b)};                            \
  }                                                                                   \
  inline VI##2 operator+(VI##2 x, VI##2 y) { return {x.a + y.a, x.b + y.b}; }         \
  inline VI##2 operator-(VI##2 x, VI##2 y) { return {x.a - y.a, x.b - y.b}; }         \
  inline VI##2 operator^(VI##2 x, VI##2 y) { return {x.a ^ y.a, x.b ^ y.b}; }         \
  inline VI##2 operator&(VI##2 x, VI##2 y) { return {x.a & y.a, x.b & y.b}; }         \
  inline VI##2 operator|(VI##2 x, VI##2 y) { return {x.a | y.a, x.b | y.b}; }         \
  inline VI##2 operator>>(VI##2 x, int n) { return {x.a >> n, x.b >> n}; }            \
  inline void mulhilo(uint32_t m, VI##2 c, VI##2& hi, VI##2& lo) {                    \
    mulhilo(m, c.a, hi.a, lo.a);                                                      \
    mulhilo(m, c.b, hi.b, lo.b);                                                      \
  }

}  // namespace

#ifdef FKC_X86_SIMD

// ---------------------------------------------------------------- AVX-512 (16 groups a step)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
namespace avx512 {

struct VF {
  __m512 v;
  VF() = default;
  explicit VF(__m512 x) : v(x) {}
  VF(float f) : v(_mm512_set1_ps(f)) {}  // NOLINT: implicit splat, like a scalar
};
struct VI {
  __m512i v;
  VI() = default;
  explicit VI(__m512i x) : v(x) {}
  VI(uint32_t u) : v(_mm512_set1_epi32(static_cast<int>(u))) {}  // NOLINT: implicit splat
};
using Mask = __mmask16;

inline VF operator+(VF a, VF b) { return VF(_mm512_add_ps(a.v, b.v)); }
inline VF operator-(VF a, VF b) { return VF(_mm512_sub_ps(a.v, b.v)); }
inline VF operator*(VF a, VF b) { return VF(_mm512_mul_ps(a.v, b.v)); }
inline VF operator-(VF a) {
  return VF(_mm512_castsi512_ps(
      _mm512_xor_si512(_mm512_castps_si512(a.v), _mm512_set1_epi32(INT32_MIN))));
}
inline VF fmadd(VF a, VF b, VF c) { return VF(_mm512_fmadd_ps(a.v, b.v, c.v)); }
inline VF sqrt_f(VF a) { return VF(_mm512_sqrt_ps(a.v)); }
inline VI as_bits(VF a) { return VI(_mm512_castps_si512(a.v)); }
inline VF as_float(VI a) { return VF(_mm512_castsi512_ps(a.v)); }
inline VF int_to_float(VI a) { return VF(_mm512_cvtepi32_ps(a.v)); }
inline VI trunc_to_int(VF a) { return VI(_mm512_cvttps_epi32(a.v)); }
inline Mask lt(VF a, VF b) { return _mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ); }
inline Mask any_bit(VI v, uint32_t bits) {
  return _mm512_test_epi32_mask(v.v, _mm512_set1_epi32(static_cast<int>(bits)));
}
inline VF select(Mask m, VF a, VF b) { return VF(_mm512_mask_blend_ps(m, b.v, a.v)); }

inline VI operator+(VI a, VI b) { return VI(_mm512_add_epi32(a.v, b.v)); }
inline VI operator-(VI a, VI b) { return VI(_mm512_sub_epi32(a.v, b.v)); }
inline VI operator^(VI a, VI b) { return VI(_mm512_xor_si512(a.v, b.v)); }
inline VI operator&(VI a, VI b) { return VI(_mm512_and_si512(a.v, b.v)); }
inline VI operator|(VI a, VI b) { return VI(_mm512_or_si512(a.v, b.v)); }
inline VI operator>>(VI a, int n) { return VI(_mm512_srli_epi32(a.v, n)); }

// hi/lo halves of m * c per lane: even lanes from one widening multiply, odd lanes from a
// second on the shifted vector; a masked in-pair swap puts each half in its lane
inline void mulhilo(uint32_t m, VI c, VI& hi, VI& lo) {
  const __m512i mv = _mm512_set1_epi32(static_cast<int>(m));
  const __m512i even = _mm512_mul_epu32(c.v, mv);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(c.v, 32), mv);
  hi = VI(_mm512_mask_shuffle_epi32(odd, 0x5555, even, _MM_PERM_CDAB));
  lo = VI(_mm512_mask_shuffle_epi32(even, 0xAAAA, odd, _MM_PERM_CDAB));
}

// z_l[q] (lane q = group q) -> out[4q + l]: a 4x4 transpose of floats inside each 128-bit
// lane, then of the 128-bit lanes
inline void store_groups(float* out, VF z0, VF z1, VF z2, VF z3) {
  const __m512 t0 = _mm512_unpacklo_ps(z0.v, z1.v), t1 = _mm512_unpackhi_ps(z0.v, z1.v);
  const __m512 t2 = _mm512_unpacklo_ps(z2.v, z3.v), t3 = _mm512_unpackhi_ps(z2.v, z3.v);
  const __m512d r0 = _mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2));
  const __m512d r1 = _mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2));
  const __m512d r2 = _mm512_unpacklo_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3));
  const __m512d r3 = _mm512_unpackhi_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3));
  // r0: groups 0,4,8,12  r1: 1,5,9,13  r2: 2,6,10,14  r3: 3,7,11,15 (one per 128-bit lane)
  const __m512d s0 = _mm512_shuffle_f64x2(r0, r1, 0x44), s1 = _mm512_shuffle_f64x2(r2, r3, 0x44);
  const __m512d s2 = _mm512_shuffle_f64x2(r0, r1, 0xEE), s3 = _mm512_shuffle_f64x2(r2, r3, 0xEE);
  // s0: 0,4,1,5  s1: 2,6,3,7  s2: 8,12,9,13  s3: 10,14,11,15
  _mm512_storeu_pd(reinterpret_cast<double*>(out), _mm512_shuffle_f64x2(s0, s1, 0x88));
  _mm512_storeu_pd(reinterpret_cast<double*>(out + 16), _mm512_shuffle_f64x2(s0, s1, 0xDD));
  _mm512_storeu_pd(reinterpret_cast<double*>(out + 32), _mm512_shuffle_f64x2(s2, s3, 0x88));
  _mm512_storeu_pd(reinterpret_cast<double*>(out + 48), _mm512_shuffle_f64x2(s2, s3, 0xDD));
}

FKC_PAIR_TYPES(VF, VI, Mask)

struct One {  // 16 groups a step
  static constexpr int kLanes = 16;
  using VF = avx512::VF;
  using VI = avx512::VI;
  static VI iota(uint32_t lo) {
    return VI(_mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(lo)),
                               _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                                 14, 15)));
  }
  static void store_groups(float* out, VF z0, VF z1, VF z2, VF z3) {
    avx512::store_groups(out, z0, z1, z2, z3);
  }
};

using Two = PairOf<One, VF2, VI2>;  // 32 groups a step

void groups(const PhiloxKey& key, uint64_t g0, int64_t count, float* out) {
  groups_vector<Two, One>(key, g0, count, out);
}

}  // namespace avx512
#pragma GCC pop_options

// ---------------------------------------------------------------- AVX2 + FMA (8 groups a step)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {

struct VF {
  __m256 v;
  VF() = default;
  explicit VF(__m256 x) : v(x) {}
  VF(float f) : v(_mm256_set1_ps(f)) {}  // NOLINT: implicit splat
};
struct VI {
  __m256i v;
  VI() = default;
  explicit VI(__m256i x) : v(x) {}
  VI(uint32_t u) : v(_mm256_set1_epi32(static_cast<int>(u))) {}  // NOLINT: implicit splat
};
struct Mask {  // all-ones / all-zeros lanes
  __m256 v;
};

inline VF operator+(VF a, VF b) { return VF(_mm256_add_ps(a.v, b.v)); }
inline VF operator-(VF a, VF b) { return VF(_mm256_sub_ps(a.v, b.v)); }
inline VF operator*(VF a, VF b) { return VF(_mm256_mul_ps(a.v, b.v)); }
inline VF operator-(VF a) { return VF(_mm256_xor_ps(a.v, _mm256_set1_ps(-0.0f))); }
inline VF fmadd(VF a, VF b, VF c) { return VF(_mm256_fmadd_ps(a.v, b.v, c.v)); }
inline VF sqrt_f(VF a) { return VF(_mm256_sqrt_ps(a.v)); }
inline VI as_bits(VF a) { return VI(_mm256_castps_si256(a.v)); }
inline VF as_float(VI a) { return VF(_mm256_castsi256_ps(a.v)); }
inline VF int_to_float(VI a) { return VF(_mm256_cvtepi32_ps(a.v)); }
inline VI trunc_to_int(VF a) { return VI(_mm256_cvttps_epi32(a.v)); }
inline Mask lt(VF a, VF b) { return Mask{_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
inline Mask any_bit(VI v, uint32_t bits) {  // bits is a single bit here
  const __m256i b = _mm256_set1_epi32(static_cast<int>(bits));
  return Mask{_mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(v.v, b), b))};
}
inline VF select(Mask m, VF a, VF b) { return VF(_mm256_blendv_ps(b.v, a.v, m.v)); }

inline VI operator+(VI a, VI b) { return VI(_mm256_add_epi32(a.v, b.v)); }
inline VI operator-(VI a, VI b) { return VI(_mm256_sub_epi32(a.v, b.v)); }
inline VI operator^(VI a, VI b) { return VI(_mm256_xor_si256(a.v, b.v)); }
inline VI operator&(VI a, VI b) { return VI(_mm256_and_si256(a.v, b.v)); }
inline VI operator|(VI a, VI b) { return VI(_mm256_or_si256(a.v, b.v)); }
inline VI operator>>(VI a, int n) { return VI(_mm256_srli_epi32(a.v, n)); }

inline void mulhilo(uint32_t m, VI c, VI& hi, VI& lo) {
  const __m256i mv = _mm256_set1_epi32(static_cast<int>(m));
  const __m256i even = _mm256_mul_epu32(c.v, mv);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(c.v, 32), mv);
  hi = VI(_mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA));
  lo = VI(_mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA));
}

inline void store_groups(float* out, VF z0, VF z1, VF z2, VF z3) {
  const __m256 t0 = _mm256_unpacklo_ps(z0.v, z1.v), t1 = _mm256_unpackhi_ps(z0.v, z1.v);
  const __m256 t2 = _mm256_unpacklo_ps(z2.v, z3.v), t3 = _mm256_unpackhi_ps(z2.v, z3.v);
  const __m256d r0 = _mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2));
  const __m256d r1 = _mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2));
  const __m256d r2 = _mm256_unpacklo_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3));
  const __m256d r3 = _mm256_unpackhi_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3));
  // r0: groups 0,4  r1: 1,5  r2: 2,6  r3: 3,7 (one per 128-bit lane)
  auto* o = reinterpret_cast<double*>(out);
  _mm256_storeu_pd(o, _mm256_permute2f128_pd(r0, r1, 0x20));
  _mm256_storeu_pd(o + 4, _mm256_permute2f128_pd(r2, r3, 0x20));
  _mm256_storeu_pd(o + 8, _mm256_permute2f128_pd(r0, r1, 0x31));
  _mm256_storeu_pd(o + 12, _mm256_permute2f128_pd(r2, r3, 0x31));
}

FKC_PAIR_TYPES(VF, VI, Mask)

struct One {  // 8 groups a step
  static constexpr int kLanes = 8;
  using VF = avx2::VF;
  using VI = avx2::VI;
  static VI iota(uint32_t lo) {
    return VI(_mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(lo)),
                               _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
  }
  static void store_groups(float* out, VF z0, VF z1, VF z2, VF z3) {
    avx2::store_groups(out, z0, z1, z2, z3);
  }
};

using Two = PairOf<One, VF2, VI2>;  // 16 groups a step

void groups(const PhiloxKey& key, uint64_t g0, int64_t count, float* out) {
  groups_vector<Two, One>(key, g0, count, out);
}

}  // namespace avx2
#pragma GCC pop_options

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
