// The noise loop's vector types, once for every instruction set.
//
// Isa is a small traits struct of raw types (F: float lanes, I: uint32 lanes, M: a lane mask)
// and one intrinsic per primitive (noise_simd.cpp has one per instruction set); Vec<Isa, K, Raw>
// is a value of K raw vectors of floats (Raw = Isa::F) or of uint32s (Raw = Isa::I). Every
// operation is issued for each of the K vectors, so K independent dependency chains interleave
// (Philox and the polynomials are latency-bound with one vector in flight). The operators are
// hidden friends, so a uint32_t or float operand splats as it would meet a scalar, and
// core/fastmath.h's and core/philox.h's templates run on these types unchanged.
//
// Why the friends are always_inline and the traits are not: these templates carry no target,
// the traits carry their ISA's. Forced inlining folds the templates into the ISA's groups()
// before anything else, and the traits' intrinsics are then inlined there, in their own target
// (a template could not inline them itself, and an always_inline trait would be an error).
#pragma once

#include <cstdint>
#include <type_traits>

#include "../core/fkc_hd.h"

namespace fkc {
namespace cpu {
namespace lanes {

#define FKC_LANES(R, EXPR)                   \
  R r;                                       \
  for (int k = 0; k < K; ++k) r.v[k] = EXPR; \
  return r

template <class Isa, int K>
struct Mask {
  typename Isa::M v[K];
};

template <class Isa, int K, class Raw>
struct Vec {
  static constexpr bool kFloat = std::is_same_v<Raw, typename Isa::F>;
  using Scalar = std::conditional_t<kFloat, float, uint32_t>;
  // the other lane type (bit casts and conversions) and the lane mask
  using Other = Vec<Isa, K, std::conditional_t<kFloat, typename Isa::I, typename Isa::F>>;
  using Mask = lanes::Mask<Isa, K>;
  Raw v[K];
  Vec() = default;
  FKC_HD Vec(Scalar s) {  // NOLINT: implicit splat, like a scalar
    for (int k = 0; k < K; ++k) v[k] = Isa::splat(s);
  }
  // a friend's body is instantiated only where it is used: Isa has each primitive for the lane
  // types the noise math applies it to (mul for floats, ^ for uint32s, ...)
  FKC_HD friend Vec operator+(Vec a, Vec b) { FKC_LANES(Vec, Isa::add(a.v[k], b.v[k])); }
  FKC_HD friend Vec operator-(Vec a, Vec b) { FKC_LANES(Vec, Isa::sub(a.v[k], b.v[k])); }
  FKC_HD friend Vec operator*(Vec a, Vec b) { FKC_LANES(Vec, Isa::mul(a.v[k], b.v[k])); }
  FKC_HD friend Vec operator^(Vec a, Vec b) { FKC_LANES(Vec, Isa::bit_xor(a.v[k], b.v[k])); }
  FKC_HD friend Vec operator&(Vec a, Vec b) { FKC_LANES(Vec, Isa::bit_and(a.v[k], b.v[k])); }
  FKC_HD friend Vec operator|(Vec a, Vec b) { FKC_LANES(Vec, Isa::bit_or(a.v[k], b.v[k])); }
  FKC_HD friend Vec operator>>(Vec a, int n) { FKC_LANES(Vec, Isa::shift_right(a.v[k], n)); }
  FKC_HD friend Vec operator-(Vec a) { FKC_LANES(Vec, Isa::neg(a.v[k])); }
  FKC_HD friend Vec sqrt_f(Vec a) { FKC_LANES(Vec, Isa::sqrt(a.v[k])); }
  FKC_HD friend Vec fmadd(Vec a, Vec b, Vec c) {
    FKC_LANES(Vec, Isa::fmadd(a.v[k], b.v[k], c.v[k]));
  }
  FKC_HD friend Other as_bits(Vec a) { FKC_LANES(Other, Isa::as_bits(a.v[k])); }
  FKC_HD friend Other as_float(Vec a) { FKC_LANES(Other, Isa::as_float(a.v[k])); }
  FKC_HD friend Other int_to_float(Vec a) { FKC_LANES(Other, Isa::int_to_float(a.v[k])); }
  FKC_HD friend Other trunc_to_int(Vec a) { FKC_LANES(Other, Isa::trunc_to_int(a.v[k])); }
  FKC_HD friend Mask lt(Vec a, Vec b) { FKC_LANES(Mask, Isa::lt(a.v[k], b.v[k])); }
  FKC_HD friend Mask any_bit(Vec a, uint32_t bits) {
    FKC_LANES(Mask, Isa::any_bit(a.v[k], bits));
  }
  FKC_HD friend Vec select(Mask m, Vec a, Vec b) {
    FKC_LANES(Vec, Isa::select(m.v[k], a.v[k], b.v[k]));
  }
  FKC_HD friend void mulhilo(uint32_t m, Vec c, Vec& hi, Vec& lo) {
    for (int k = 0; k < K; ++k) Isa::mulhilo(m, c.v[k], hi.v[k], lo.v[k]);
  }
};
#undef FKC_LANES

// One vector step of K raw vectors, K * Isa::kLanes Philox groups (noise_simd.cpp's
// vector_step and groups_vector take it).
template <class Isa, int K>
struct Step {
  static constexpr int kLanes = K * Isa::kLanes;
  using VF = Vec<Isa, K, typename Isa::F>;
  using VI = Vec<Isa, K, typename Isa::I>;
  FKC_HD static VI iota(uint32_t lo) {
    VI r;
    for (int k = 0; k < K; ++k) r.v[k] = Isa::iota(lo + static_cast<uint32_t>(k * Isa::kLanes));
    return r;
  }
  FKC_HD static void store_groups(float* out, VF z0, VF z1, VF z2, VF z3) {
    for (int k = 0; k < K; ++k) {
      Isa::store_groups(out + 4 * k * Isa::kLanes, z0.v[k], z1.v[k], z2.v[k], z3.v[k]);
    }
  }
};

}  // namespace lanes
}  // namespace cpu
}  // namespace fkc
