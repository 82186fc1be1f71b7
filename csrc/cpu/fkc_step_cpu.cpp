// Fused FKC step on the CPU: rows in parallel (at::parallel_for), one pass per row.
//
// A row is walked in chunks of up to kChunk elements. Per chunk: the noise is generated into a
// small stack buffer (one philox call per 4 elements, in a SIMD loop), fp16/bf16 inputs are
// widened into stack buffers, then one SIMD loop computes x' and both dot products. Chunk
// borders fall on Philox group borders, so a group is generated twice only where it straddles
// two rows.
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <type_traits>

#include "../core/philox.h"
#include "../core/step.h"
#include "ops_cpu.h"

// Build the hot loops twice on x86-64 (AVX2 and baseline) and pick at load time: wheels stay
// portable while AVX2 machines get 8-wide philox and polynomials. No FMA in the clone, so both
// clones round exactly like the float32 reference.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define FKC_CPU_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define FKC_CPU_CLONES
#endif
#if defined(__GNUC__)
#define FKC_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define FKC_ALWAYS_INLINE inline
#endif
#define FKC_SIMD _Pragma("omp simd")
#define FKC_SIMD_REDUCE _Pragma("omp simd reduction(+ : dot_f, dot_s)")

namespace fkc {
namespace cpu {
namespace {

constexpr int64_t kChunk = 512;  // 6 float buffers of 2 KiB: stays in L1

// Normals of flat elements e0 .. e0+len-1 into out.
FKC_ALWAYS_INLINE void fill_normals(const PhiloxKey& key, uint64_t e0, int64_t len,
                                    float* __restrict out) {
  uint64_t group = e0 / 4;
  int64_t i = 0;
  float z[4];
  const int lane0 = static_cast<int>(e0 % 4);
  if (lane0 != 0) {  // head: the tail of a group begun before e0
    normal4(key, group++, z[0], z[1], z[2], z[3]);
    for (int l = lane0; l < 4 && i < len; ++l) out[i++] = z[l];
  }
  const int64_t full = (len - i) / 4;
  float* __restrict dst = out + i;
  FKC_SIMD
  for (int64_t q = 0; q < full; ++q) {
    float z0, z1, z2, z3;
    normal4(key, group + static_cast<uint64_t>(q), z0, z1, z2, z3);
    dst[4 * q + 0] = z0;
    dst[4 * q + 1] = z1;
    dst[4 * q + 2] = z2;
    dst[4 * q + 3] = z3;
  }
  i += 4 * full;
  group += static_cast<uint64_t>(full);
  if (i < len) {  // tail: the head of a group that continues past the chunk
    normal4(key, group, z[0], z[1], z[2], z[3]);
    for (int l = 0; i < len; ++l) out[i++] = z[l];
  }
}

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

template <typename T>
FKC_ALWAYS_INLINE void step_rows(const StepArgs<T>& a, int64_t row_begin, int64_t row_end) {
  alignas(64) float b_noise[kChunk], b_x[kChunk], b_s[kChunk], b_g[kChunk], b_f[kChunk],
      b_out[kChunk];
  const StepCoefs c = a.coefs;
  const PhiloxKey key = make_philox_key(a.seed, a.offset);
  const int64_t d = a.d;
  for (int64_t n = row_begin; n < row_end; ++n) {
    const T* xr = a.x + n * a.stride_x;
    const T* sr = a.score + n * a.stride_score;
    const T* gr = a.reward_grad + n * a.stride_grad;
    const T* fr = a.f ? a.f + n * a.stride_f : nullptr;
    const T* nr = a.noise ? a.noise + n * a.stride_noise : nullptr;
    T* outr = a.x_out + n * a.stride_x_out;
    const uint64_t row_e0 = static_cast<uint64_t>(n) * static_cast<uint64_t>(d);
    float dot_f = 0.0f, dot_s = 0.0f;
    int64_t d0 = 0;
    while (d0 < d) {
      // end the chunk on a Philox group border so the next chunk starts with lane 0
      const int64_t lead = static_cast<int64_t>((row_e0 + d0) % 4);
      const int64_t len = std::min<int64_t>(kChunk - lead, d - d0);
      const float* zp;
      if (nr) {
        zp = widen(nr + d0, b_noise, len);
      } else {
        fill_normals(key, row_e0 + d0, len, b_noise);
        zp = b_noise;
      }
      const float* xp = widen(xr + d0, b_x, len);
      const float* sp = widen(sr + d0, b_s, len);
      const float* gp = widen(gr + d0, b_g, len);
      float* op = b_out;
      if constexpr (std::is_same_v<T, float>) op = outr + d0;  // may alias xp: read first
      if (fr) {
        const float* fp = widen(fr + d0, b_f, len);
        FKC_SIMD_REDUCE
        for (int64_t i = 0; i < len; ++i) {
          const float xv = xp[i], sv = sp[i], gv = gp[i], fv = fp[i];
          dot_f += gv * fv;
          dot_s += gv * sv;
          op[i] = step_x(xv, sv, gv, fv, zp[i], c);
        }
      } else {
        FKC_SIMD_REDUCE
        for (int64_t i = 0; i < len; ++i) {
          const float xv = xp[i], sv = sp[i], gv = gp[i];
          const float fv = c.f_coef * xv;
          dot_f += gv * fv;
          dot_s += gv * sv;
          op[i] = step_x(xv, sv, gv, fv, zp[i], c);
        }
      }
      if constexpr (!std::is_same_v<T, float>) {
        // narrowing rounds to nearest even, like Tensor.to(x.dtype)
        for (int64_t i = 0; i < len; ++i) outr[d0 + i] = static_cast<T>(b_out[i]);
      }
      d0 += len;
    }
    const float* extra = a.extra_dw ? a.extra_dw + n * a.stride_extra_dw : nullptr;
    a.w_out[n * a.stride_w_out] =
        step_w(a.w[n * a.stride_w], a.reward[n * a.stride_reward], dot_f, dot_s, extra, c);
  }
}

FKC_CPU_CLONES void step_rows_f32(const StepArgs<float>& a, int64_t b, int64_t e) {
  step_rows(a, b, e);
}
FKC_CPU_CLONES void step_rows_f16(const StepArgs<c10::Half>& a, int64_t b, int64_t e) {
  step_rows(a, b, e);
}
FKC_CPU_CLONES void step_rows_bf16(const StepArgs<c10::BFloat16>& a, int64_t b, int64_t e) {
  step_rows(a, b, e);
}

void step_rows_any(const StepArgs<float>& a, int64_t b, int64_t e) { step_rows_f32(a, b, e); }
void step_rows_any(const StepArgs<c10::Half>& a, int64_t b, int64_t e) { step_rows_f16(a, b, e); }
void step_rows_any(const StepArgs<c10::BFloat16>& a, int64_t b, int64_t e) {
  step_rows_bf16(a, b, e);
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
