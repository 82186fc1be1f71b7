// Fused FKC step on the CPU: rows in parallel (at::parallel_for), one pass per row.
//
// A row is walked in chunks of up to kChunk elements. Per chunk: the noise is generated into a
// small stack buffer (noise_simd.h: one philox call per 4 elements, 8 or 16 groups per SIMD
// instruction), fp16/bf16 inputs are widened into stack buffers, then one SIMD loop computes x'
// and the row's two sums (core/step.h: <gr, f>, <gr, s> for the FKC increment, |gr|^2, <gr, xi>
// for the ratio; the increment is a template argument, so each has its own loop). Chunk borders
// fall on Philox group borders, so a group is generated twice only where it straddles two rows.
// Short float32 rows (D a multiple of 8, at most 256) take step_short_rows.h's loop instead:
// windows of whole rows, eight rows' sums reduced together.
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>

#include "../core/philox.h"
#include "../core/step.h"
#include "cpu_clones.h"
#include "noise_simd.h"
#include "ops_cpu.h"
#include "step_short_rows.h"

#define FKC_SIMD_REDUCE _Pragma("omp simd reduction(+ : dot_a, dot_b)")

namespace fkc {
namespace cpu {
namespace {

constexpr int64_t kChunk = 512;  // 5 float buffers of 2 KiB: stays in L1
// normals are made for up to this many consecutive flat elements at once (8 KiB): many short
// rows per fill, so the noise loop runs in its widest steps whatever D is
constexpr int64_t kNoiseWindow = 2048;
// normals made between two bursts of prefetches for the next window. AVX2 noise: 128 (24
// lines of inputs a burst, what the core's miss queue holds): on the 2-core AVX2 EPYC a burst of
// 512 filled the queue and the core stalled on the prefetch instruction itself (31% of
// step_rows' samples at D = 64; 18% with 128), and 128 ran 0.1-0.3 ns an element faster there.
// AVX-512 noise: 256, one step of its widest noise loop; on the 2-core AVX-512 EPYC it ran the
// step at 0.78-0.87 of copy where 128 ran 0.68-0.75 (bench/RESULTS.md). FKC_CPU_SLICE=<n> sets
// it (to measure it on another machine).
int64_t noise_slice() {
  const char* env = std::getenv("FKC_CPU_SLICE");
  if (env != nullptr) return std::max<int64_t>(4, std::atoll(env));
  return noise_isa() == NoiseIsa::kAvx512 ? 256 : 128;
}
const int64_t kNoiseSlice = noise_slice();

// How the inputs are prefetched while the noise is made. kAhead (default): the next window's
// inputs, a slice at a time, between slices of this window's noise, so they arrive a whole window
// before they are read. kWindow: this window's inputs in one burst just before its noise (they
// arrive as the noise ends). FKC_CPU_PREFETCH=window|0 picks the others (to measure them).
enum class Prefetch { kOff, kWindow, kAhead };
Prefetch prefetch_mode() {
  const char* env = std::getenv("FKC_CPU_PREFETCH");
  if (env == nullptr) return Prefetch::kAhead;
  const std::string v(env);
  return v == "0" ? Prefetch::kOff : (v == "window" ? Prefetch::kWindow : Prefetch::kAhead);
}
const Prefetch kPrefetch = prefetch_mode();

// float rows are used in place; fp16/bf16 rows are widened into buf.
template <typename T>
FKC_ALWAYS_INLINE const float* widen(const T* src, float* buf, int64_t len) {
  if constexpr (std::is_same_v<T, float>) {
    return src;
  } else {
    FKC_SIMD
    for (int64_t i = 0; i < len; ++i) buf[i] = static_cast<float>(src[i]);
    return buf;
  }
}

// Ask for the inputs of flat elements e0 .. e0+len-1 (x, s, gr, f) to be fetched into L2. Issued
// between slices of the noise math, so the memory traffic overlaps it instead of following it,
// and the loop that reads the inputs finds them cached.
template <typename T>
FKC_ALWAYS_INLINE void prefetch_elements(const StepArgs<T>& a, uint64_t e0, uint64_t len) {
  if (len == 0) return;
  constexpr int64_t kLine = 64 / sizeof(T);
  const int64_t d = a.d;
  const std::pair<const T*, int64_t> inputs[] = {
      {a.x, a.stride_x}, {a.score, a.stride_score}, {a.reward_grad, a.stride_grad},
      {a.f, a.stride_f}};
  for (const auto& [base, stride] : inputs) {
    if (base == nullptr) continue;
    if (stride == d) {
      // contiguous rows: one run of lines per input. Row by row, short rows (D = 64) would
      // interleave the inputs every few lines, and the prefetches then stall
      const T* p = base + e0;
      for (uint64_t j = 0; j < len; j += kLine) __builtin_prefetch(p + j, 0, 2);
      continue;
    }
    int64_t n = static_cast<int64_t>(e0 / static_cast<uint64_t>(d));
    int64_t d0 = static_cast<int64_t>(e0 - static_cast<uint64_t>(n) * static_cast<uint64_t>(d));
    for (int64_t left = static_cast<int64_t>(len); left > 0; ++n) {
      const int64_t d1 = std::min<int64_t>(d, d0 + left);
      const T* row = base + n * stride;
      for (int64_t j = d0; j < d1; j += kLine) __builtin_prefetch(row + j, 0, 2);
      left -= d1 - d0;
      d0 = 0;
    }
  }
}

// x' of one chunk of a row into op, and the chunk's products added to the row's two sums
// (core/step.h row_term_a/b); fp == nullptr: f(x) = f_coef * x.
template <bool kRatio>
FKC_ALWAYS_INLINE void chunk_body(const float* xp, const float* sp, const float* gp,
                                  const float* fp, const float* zp, float* op, int64_t len,
                                  const StepCoefs& c, float& sum_a, float& sum_b) {
  float dot_a = sum_a, dot_b = sum_b;
  if (fp) {
    FKC_SIMD_REDUCE
    for (int64_t i = 0; i < len; ++i) {
      const float xv = xp[i], sv = sp[i], gv = gp[i], fv = fp[i];
      dot_a += row_term_a<kRatio>(gv, fv);
      dot_b += row_term_b<kRatio>(gv, sv, zp[i]);
      op[i] = step_x(xv, sv, gv, fv, zp[i], c);
    }
  } else {
    FKC_SIMD_REDUCE
    for (int64_t i = 0; i < len; ++i) {
      const float xv = xp[i], sv = sp[i], gv = gp[i];
      const float fv = c.f_coef * xv;
      dot_a += row_term_a<kRatio>(gv, fv);
      dot_b += row_term_b<kRatio>(gv, sv, zp[i]);
      op[i] = step_x(xv, sv, gv, fv, zp[i], c);
    }
  }
  sum_a = dot_a;
  sum_b = dot_b;
}

// The normals of flat elements e .. e+len-1 (len <= kNoiseWindow) into b_noise, with the
// prefetches kPrefetch asks for: next_len elements of the window that follows (0 at the task's
// end) between slices of the noise, or this window's inputs (kWindow, and the task's first
// window, which had no window before it to prefetch it).
template <typename T>
FKC_ALWAYS_INLINE void fill_window(const StepArgs<T>& a, const PhiloxKey& key, uint64_t e,
                                   uint64_t len, uint64_t next_len, bool first, float* b_noise) {
  if (kPrefetch == Prefetch::kWindow || (kPrefetch == Prefetch::kAhead && first)) {
    prefetch_elements(a, e, len);
  }
  if (kPrefetch != Prefetch::kAhead) {
    fill_normals(key, e, static_cast<int64_t>(len), b_noise);
    return;
  }
  const uint64_t next = e + len;
  for (uint64_t s0 = 0; s0 < len; s0 += kNoiseSlice) {
    const uint64_t sl = std::min<uint64_t>(kNoiseSlice, len - s0);
    fill_normals(key, e + s0, static_cast<int64_t>(sl), b_noise + s0);
    if (s0 < next_len) prefetch_elements(a, next + s0, std::min(sl, next_len - s0));
  }
}

// Short float32 rows (step_short_rows.h): windows of whole rows, eight rows at a time.
template <bool kRatio, bool kHasF>
FKC_ALWAYS_INLINE void step_short_rows(const StepArgs<float>& a, int64_t row_begin,
                                       int64_t row_end) {
  alignas(64) float b_noise[kNoiseWindow];
  const PhiloxKey key = make_philox_key(a.seed, a.offset);
  const int64_t d = a.d;
  const int64_t win_rows = kNoiseWindow / d;  // at least 8
  const uint64_t task_end = static_cast<uint64_t>(row_end) * static_cast<uint64_t>(d);
  for (int64_t n0 = row_begin; n0 < row_end; n0 += win_rows) {
    const int64_t rows = std::min(win_rows, row_end - n0);
    const float* z = a.noise ? a.noise + n0 * a.stride_noise : b_noise;
    const int64_t stride_z = a.noise ? a.stride_noise : d;
    if (!a.noise) {
      const uint64_t e = static_cast<uint64_t>(n0) * static_cast<uint64_t>(d);
      const uint64_t len = static_cast<uint64_t>(rows) * static_cast<uint64_t>(d);
      const uint64_t next_len =
          std::min<uint64_t>(static_cast<uint64_t>(win_rows * d), task_end - (e + len));
      fill_window(a, key, e, len, next_len, n0 == row_begin, b_noise);
    }
    for (int64_t r0 = 0; r0 < rows; r0 += 8) {
      short_rows::rows_of_eight<kRatio, kHasF>(a, n0 + r0, std::min<int64_t>(8, rows - r0),
                                               z + r0 * stride_z, stride_z);
    }
  }
}

template <typename T, bool kRatio>
FKC_ALWAYS_INLINE void step_rows(const StepArgs<T>& a, int64_t row_begin, int64_t row_end) {
  if constexpr (std::is_same_v<T, float>) {
    if (short_rows::applies(a.d)) {
      a.f ? step_short_rows<kRatio, true>(a, row_begin, row_end)
          : step_short_rows<kRatio, false>(a, row_begin, row_end);
      return;
    }
  }
  alignas(64) float b_noise[kNoiseWindow], b_x[kChunk], b_s[kChunk], b_g[kChunk], b_f[kChunk],
      b_out[kChunk];
  const StepCoefs c = a.coefs;
  const PhiloxKey key = make_philox_key(a.seed, a.offset);
  const int64_t d = a.d;
  // b_noise holds the normals of flat elements win_e0 .. win_e0+win_len-1
  const uint64_t task_end = static_cast<uint64_t>(row_end) * static_cast<uint64_t>(d);
  uint64_t win_e0 = 0, win_len = 0;
  for (int64_t n = row_begin; n < row_end; ++n) {
    const auto [xr, sr, gr, fr, nr, outr, row_e0] = step_row(a, n);
    float dot_a = 0.0f, dot_b = 0.0f;  // the row's two sums (core/step.h row_term_a/b)
    int64_t d0 = 0;
    while (d0 < d) {
      // end the chunk on a Philox group border so the next chunk starts with lane 0
      const int64_t lead = static_cast<int64_t>((row_e0 + d0) % 4);
      const int64_t len = std::min<int64_t>(kChunk - lead, d - d0);
      const float* zp;
      if (nr) {
        zp = widen(nr + d0, b_noise, len);
      } else {
        const uint64_t e = row_e0 + static_cast<uint64_t>(d0);
        if (e < win_e0 || e + static_cast<uint64_t>(len) > win_e0 + win_len) {
          const bool first = win_len == 0;
          win_e0 = e;
          win_len = std::min<uint64_t>(kNoiseWindow, task_end - e);
          const uint64_t next = win_e0 + win_len;
          fill_window(a, key, win_e0, win_len, std::min<uint64_t>(kNoiseWindow, task_end - next),
                      first, b_noise);
        }
        zp = b_noise + (e - win_e0);
      }
      const float* xp = widen(xr + d0, b_x, len);
      const float* sp = widen(sr + d0, b_s, len);
      const float* gp = widen(gr + d0, b_g, len);
      float* op = b_out;
      if constexpr (std::is_same_v<T, float>) op = outr + d0;  // may alias xp: read first
      const float* fp = fr ? widen(fr + d0, b_f, len) : nullptr;
      chunk_body<kRatio>(xp, sp, gp, fp, zp, op, len, c, dot_a, dot_b);
      if constexpr (!std::is_same_v<T, float>) {
        // narrowing rounds to nearest even, like Tensor.to(x.dtype)
        for (int64_t i = 0; i < len; ++i) outr[d0 + i] = static_cast<T>(b_out[i]);
      }
      d0 += len;
    }
    const float* extra = a.extra_dw ? a.extra_dw + n * a.stride_extra_dw : nullptr;
    a.w_out[n * a.stride_w_out] =
        step_w<kRatio>(a.w[n * a.stride_w], a.reward[n * a.stride_reward], dot_a, dot_b, extra,
                       c);
  }
}

// one cloned function per dtype and increment: the FKC loops are the same code with or without
// the ratio beside them
#define FKC_STEP_ROWS(NAME, T, RATIO)                                      \
  FKC_CPU_CLONES void NAME(const StepArgs<T>& a, int64_t b, int64_t e) { \
    step_rows<T, RATIO>(a, b, e);                                          \
  }
FKC_STEP_ROWS(step_rows_f32, float, false)
FKC_STEP_ROWS(step_rows_f16, c10::Half, false)
FKC_STEP_ROWS(step_rows_bf16, c10::BFloat16, false)
FKC_STEP_ROWS(step_rows_f32_ratio, float, true)
FKC_STEP_ROWS(step_rows_f16_ratio, c10::Half, true)
FKC_STEP_ROWS(step_rows_bf16_ratio, c10::BFloat16, true)
#undef FKC_STEP_ROWS

void step_rows_any(const StepArgs<float>& a, int64_t b, int64_t e) {
  a.coefs.ratio ? step_rows_f32_ratio(a, b, e) : step_rows_f32(a, b, e);
}
void step_rows_any(const StepArgs<c10::Half>& a, int64_t b, int64_t e) {
  a.coefs.ratio ? step_rows_f16_ratio(a, b, e) : step_rows_f16(a, b, e);
}
void step_rows_any(const StepArgs<c10::BFloat16>& a, int64_t b, int64_t e) {
  a.coefs.ratio ? step_rows_bf16_ratio(a, b, e) : step_rows_bf16(a, b, e);
}

}  // namespace

template <typename T>
void fkc_step(const StepArgs<T>& args) {
  if (args.n == 0) return;
  // about 16K elements per task: enough to amortize the task, small enough to balance rows
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(args.d, 1));
  at::parallel_for(0, args.n, grain, [&](int64_t b, int64_t e) { step_rows_any(args, b, e); });
}

template void fkc_step<float>(const StepArgs<float>&);
template void fkc_step<c10::Half>(const StepArgs<c10::Half>&);
template void fkc_step<c10::BFloat16>(const StepArgs<c10::BFloat16>&);

}  // namespace cpu
}  // namespace fkc
