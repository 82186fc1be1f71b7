// The CPU step's body for short float32 rows (D <= kShortRowMax, a multiple of 8), eight rows at
// a time, vectorised across the rows where the per-row work is.
//
// Why: at D = 64 a row is eight vectors of work, and the general loop (fkc_step_cpu.cpp) spent
// as much again per row on its end: two horizontal sums that spilled lane by lane, the chunk
// and window bookkeeping, the scalar weight update. Here each row keeps its two sums as
// 8-lane partials, and the partials of eight rows are reduced together by one transpose-add
// (21 vector operations for 16 sums, where a horizontal sum costs 6 each). The per-element math
// is core/step.h's, on 8-lane vectors: the same operations in the same order, so x' has the
// bits of the scalar loop. A row's sum is its lanes' partials (elements j = l mod 8, in order),
// then ((l0 + l2) + (l1 + l3)) + ((l4 + l6) + (l5 + l7)): one fixed order for every row,
// whatever noise the step is given, so a shard that passes explicit noise sums as one process.
#pragma once

#include <cstdint>

#include "../core/step.h"

// the vectors pass between inlined functions of this header only: the note that a 32-byte
// vector argument's ABI differs without AVX concerns no interface
#pragma GCC diagnostic ignored "-Wpsabi"

namespace fkc {
namespace cpu {
namespace short_rows {

constexpr int64_t kShortRowMax = 256;

// GCC vector extensions, not intrinsics: the code is built in each of fkc_step_cpu.cpp's
// target clones (AVX2, and baseline x86-64 where a vector is two SSE registers).
typedef float V8 __attribute__((vector_size(32)));
typedef int I8 __attribute__((vector_size(32)));

inline bool applies(int64_t d) { return d > 0 && d % 8 == 0 && d <= kShortRowMax; }

__attribute__((always_inline)) inline V8 load8(const float* p) {
  V8 v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
__attribute__((always_inline)) inline void store8(float* p, V8 v) {
  __builtin_memcpy(p, &v, sizeof v);
}

// {a0+a2, b0+b2, a1+a3, b1+b3 | a4+a6, b4+b6, a5+a7, b5+b7} (unpcklps + unpckhps)
__attribute__((always_inline)) inline V8 pair_sum(V8 a, V8 b) {
  return __builtin_shuffle(a, b, I8{0, 8, 1, 9, 4, 12, 5, 13}) +
         __builtin_shuffle(a, b, I8{2, 10, 3, 11, 6, 14, 7, 15});
}
// p from rows (a, b), q from rows (c, d): {a, b, c, d | a', b', c', d'}, each the sum of its
// half's four lanes (unpcklpd + unpckhpd)
__attribute__((always_inline)) inline V8 quad_sum(V8 p, V8 q) {
  return __builtin_shuffle(p, q, I8{0, 1, 8, 9, 4, 5, 12, 13}) +
         __builtin_shuffle(p, q, I8{2, 3, 10, 11, 6, 7, 14, 15});
}
// lane r: the sum of acc[r]'s eight lanes
__attribute__((always_inline)) inline V8 row_sums8(const V8* acc) {
  const V8 q0 = quad_sum(pair_sum(acc[0], acc[1]), pair_sum(acc[2], acc[3]));
  const V8 q1 = quad_sum(pair_sum(acc[4], acc[5]), pair_sum(acc[6], acc[7]));
  return __builtin_shuffle(q0, q1, I8{0, 1, 2, 3, 8, 9, 10, 11}) +
         __builtin_shuffle(q0, q1, I8{4, 5, 6, 7, 12, 13, 14, 15});
}

// Rows n0 .. n0+rows-1 (rows <= 8) of the step: x' written, w' updated. z: the first row's
// normals, the next row's stride_z further on.
template <bool kRatio, bool kHasF>
__attribute__((always_inline)) inline void rows_of_eight(const StepArgs<float>& a, int64_t n0,
                                                         int64_t rows, const float* z,
                                                         int64_t stride_z) {
  const StepCoefs c = a.coefs;
  const int64_t d = a.d;
  V8 acc_a[8], acc_b[8];
  for (int r = 0; r < 8; ++r) acc_a[r] = acc_b[r] = V8{};
  for (int64_t r = 0; r < rows; ++r) {
    const StepRow<float> row = step_row(a, n0 + r);
    const float* zr = z + r * stride_z;
    V8 sa{}, sb{};
    for (int64_t j = 0; j < d; j += 8) {
      const V8 xv = load8(row.x + j), sv = load8(row.score + j), gv = load8(row.reward_grad + j);
      const V8 zv = load8(zr + j);
      V8 fv;
      if constexpr (kHasF) {
        fv = load8(row.f + j);
      } else {
        fv = c.f_coef * xv;
      }
      sa += row_term_a<kRatio>(gv, fv);
      sb += row_term_b<kRatio>(gv, sv, zv);
      store8(row.x_out + j, step_x(xv, sv, gv, fv, zv, c));  // x is read above: may alias
    }
    acc_a[r] = sa;
    acc_b[r] = sb;
  }
  const V8 sum_a = row_sums8(acc_a), sum_b = row_sums8(acc_b);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = n0 + r;
    const float* extra = a.extra_dw ? a.extra_dw + n * a.stride_extra_dw : nullptr;
    a.w_out[n * a.stride_w_out] = step_w<kRatio>(a.w[n * a.stride_w],
                                                 a.reward[n * a.stride_reward], sum_a[r],
                                                 sum_b[r], extra, c);
  }
}

}  // namespace short_rows
}  // namespace cpu
}  // namespace fkc
