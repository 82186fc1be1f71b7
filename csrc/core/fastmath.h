// Branch-free float32 log and sin/cos for the Box-Muller transform of the noise contract.
//
// Why not logf/sinf/cosf: libm calls stop the compiler from vectorizing the CPU noise loop
// (and cost 3-4x more than the philox rounds), while these select-only polynomials vectorize.
// The CUDA kernels use the same functions, so CPU and GPU draw the same bits. Accuracy is about
// 1 ulp on the arguments Box-Muller sees (u in (0,1), theta in (0, 2*pi]); the contract allows
// differences "up to the last bits of log/sin/cos" (reference/philox.py). Polynomials: Cephes
// logf / sinf / cosf (S. Moshier), range reduction by quadrant with a 3-part pi/2.
#pragma once

#include "fkc_hd.h"

namespace fkc {

// Natural log for finite x > 0 (normal floats; the contract's u is >= 2**-24).
FKC_HD float log_pos(float x) {
  const uint32_t bits = float_as_uint(x);
  // x = m * 2**e with m in [0.5, 1)
  float e = static_cast<float>(static_cast<int32_t>((bits >> 23) & 0xffu) - 126);
  float m = uint_as_float((bits & 0x807fffffu) | 0x3f000000u);
  // fold m into [sqrt(0.5), sqrt(2)) so that log(m) is computed as log1p of a small f
  const bool small = m < 0.707106781186547524f;
  e = small ? e - 1.0f : e;
  const float f = small ? (m + m) - 1.0f : m - 1.0f;
  const float z = f * f;
  float p = 7.0376836292e-2f;
  p = p * f - 1.1514610310e-1f;
  p = p * f + 1.1676998740e-1f;
  p = p * f - 1.2420140846e-1f;
  p = p * f + 1.4249322787e-1f;
  p = p * f - 1.6668057665e-1f;
  p = p * f + 2.0000714765e-1f;
  p = p * f - 2.4999993993e-1f;
  p = p * f + 3.3333331174e-1f;
  float y = f * z * p;
  y += -2.12194440e-4f * e;
  y += -0.5f * z;
  return (f + y) + 0.693359375f * e;
}

// sin and cos of theta for 0 <= theta <= 8 (Box-Muller angles are in (0, 2*pi]).
FKC_HD void sincos_small(float theta, float* s_out, float* c_out) {
  // quadrant j = round(theta / (pi/2)), then y = theta - j*pi/2 in [-pi/4, pi/4]; the three
  // parts of pi/2 have few enough bits that j * part is exact for j <= 5
  const float j = static_cast<float>(static_cast<int32_t>(theta * 0.636619772367581343f + 0.5f));
  float y = theta - j * 1.5703125f;
  y = y - j * 4.837512969970703125e-4f;
  y = y - j * 7.54978995489188216e-8f;
  const float z = y * y;
  float ps = -1.9515295891e-4f;
  ps = ps * z + 8.3321608736e-3f;
  ps = ps * z - 1.6666654611e-1f;
  const float sy = y + y * z * ps;
  float pc = 2.443315711809948e-5f;
  pc = pc * z - 1.388731625493765e-3f;
  pc = pc * z + 4.166664568298827e-2f;
  const float cy = ((z * z) * pc - 0.5f * z) + 1.0f;
  // rotate (sin y, cos y) by q quarter turns:
  // q=0: (s, c)   q=1: (c, -s)   q=2: (-s, -c)   q=3: (-c, s)
  const int32_t q = static_cast<int32_t>(j) & 3;
  const float s_sel = (q & 1) ? cy : sy;
  const float c_sel = (q & 1) ? sy : cy;
  *s_out = (q >= 2) ? -s_sel : s_sel;
  *c_out = (q == 1 || q == 2) ? -c_sel : c_sel;
}

}  // namespace fkc
