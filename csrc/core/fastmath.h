// Branch-free float32 log and sin/cos for the Box-Muller transform of the noise contract.
//
// Why not logf/sinf/cosf: libm calls stop the CPU noise loop from vectorizing (and cost 3-4x
// more than the philox rounds), while these select-only polynomials vectorize.
//
// One definition for every device and width: the functions are templates over the float type
// F, which is `float` (CUDA threads, scalar host code) or a SIMD vector of floats (the x86
// noise loops of csrc/cpu/philox_simd.h), with the small set of primitives below overloaded
// for each. Every multiply-add is an explicit fused fmadd (one rounding), every other product a
// separately rounded multiply, so no compiler contraction can change a result: CPU (scalar,
// AVX2, AVX-512) and GPU draw the same bits. Accuracy is about 1 ulp on the arguments
// Box-Muller sees (u in (0,1), theta in (0, 2*pi]); the contract allows differences "up to the
// last bits of log/sin/cos" from the reference (reference/philox.py). Polynomials: Cephes logf
// / sinf / cosf (S. Moshier), range reduction by quadrant with a 3-part pi/2.
#pragma once

#include "fkc_hd.h"

namespace fkc {

// ---- scalar primitives (the SIMD types provide the same names) ----

// a*b + c rounded once. On the host std::fma is a single vfmadd where the target has FMA (the
// vector paths are built for such targets) and a correctly rounded libm call otherwise.
FKC_HD float fmadd(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
FKC_HD uint32_t as_bits(float f) { return float_as_uint(f); }
FKC_HD float as_float(uint32_t u) { return uint_as_float(u); }
// the uint32 bits read as an int32, converted exactly (|v| < 2**24 here)
FKC_HD float int_to_float(uint32_t v) { return static_cast<float>(static_cast<int32_t>(v)); }
// truncation towards zero to int32, returned as uint32 bits (0 <= x < 2**31 here)
FKC_HD uint32_t trunc_to_int(float x) { return static_cast<uint32_t>(static_cast<int32_t>(x)); }
FKC_HD bool lt(float a, float b) { return a < b; }
FKC_HD bool any_bit(uint32_t v, uint32_t bits) { return (v & bits) != 0u; }
FKC_HD float select(bool m, float a, float b) { return m ? a : b; }

// ---- the math, once for every F ----

// Natural log for finite x > 0 (normal floats; the contract's u is >= 2**-24).
template <class F>
FKC_HD F log_pos(F x) {
  const auto bits = as_bits(x);
  // x = m * 2**e with m in [0.5, 1)
  F e = int_to_float(((bits >> 23) & 0xffu) - 126u);
  const F m = as_float((bits & 0x807fffffu) | 0x3f000000u);
  // fold m into [sqrt(0.5), sqrt(2)) so that log(m) is computed as log1p of a small f
  const auto small = lt(m, F(0.707106781186547524f));
  e = select(small, e - F(1.0f), e);
  const F f = select(small, (m + m) - F(1.0f), m - F(1.0f));
  const F z = f * f;
  F p = F(7.0376836292e-2f);
  p = fmadd(p, f, F(-1.1514610310e-1f));
  p = fmadd(p, f, F(1.1676998740e-1f));
  p = fmadd(p, f, F(-1.2420140846e-1f));
  p = fmadd(p, f, F(1.4249322787e-1f));
  p = fmadd(p, f, F(-1.6668057665e-1f));
  p = fmadd(p, f, F(2.0000714765e-1f));
  p = fmadd(p, f, F(-2.4999993993e-1f));
  p = fmadd(p, f, F(3.3333331174e-1f));
  F y = (f * z) * p;
  y = fmadd(F(-2.12194440e-4f), e, y);
  y = fmadd(F(-0.5f), z, y);
  return fmadd(F(0.693359375f), e, f + y);
}

// sin and cos of theta for 0 <= theta <= 8 (Box-Muller angles are in (0, 2*pi]).
template <class F>
FKC_HD void sincos_small(F theta, F& s_out, F& c_out) {
  // quadrant j = round(theta / (pi/2)), then y = theta - j*pi/2 in about [-pi/4, pi/4]; the
  // three parts of pi/2 have few enough bits that j * part is exact for j <= 5
  const auto ji = trunc_to_int(fmadd(theta, F(0.636619772367581343f), F(0.5f)));
  const F j = int_to_float(ji);
  F y = fmadd(j, F(-1.5703125f), theta);
  y = fmadd(j, F(-4.837512969970703125e-4f), y);
  y = fmadd(j, F(-7.54978995489188216e-8f), y);
  const F z = y * y;
  F ps = fmadd(F(-1.9515295891e-4f), z, F(8.3321608736e-3f));
  ps = fmadd(ps, z, F(-1.6666654611e-1f));
  const F sy = fmadd(y * z, ps, y);
  F pc = fmadd(F(2.443315711809948e-5f), z, F(-1.388731625493765e-3f));
  pc = fmadd(pc, z, F(4.166664568298827e-2f));
  const F cy = fmadd(z * z, pc, fmadd(F(-0.5f), z, F(1.0f)));
  // rotate (sin y, cos y) by q = j mod 4 quarter turns:
  // q=0: (s, c)   q=1: (c, -s)   q=2: (-s, -c)   q=3: (-c, s)
  const auto odd = any_bit(ji, 1u);
  const F s_sel = select(odd, cy, sy);
  const F c_sel = select(odd, sy, cy);
  s_out = select(any_bit(ji, 2u), -s_sel, s_sel);
  c_out = select(any_bit(ji + 1u, 2u), -c_sel, c_sel);  // q = 1 or 2
}

}  // namespace fkc
