// Shared host/device plumbing for the torch-free math core.
//
// Every header in csrc/core/ is plain C++ (no torch, no STL containers) so the same inline
// functions compile for the CPU launchers (g++/clang, host only: FKC_HD is empty) and for the
// CUDA kernels (nvcc: FKC_HD is __host__ __device__). The math lives here once.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define FKC_HD __host__ __device__ __forceinline__
#elif defined(__GNUC__)
// forced: the CPU launchers rely on the whole philox + Box-Muller chain being inlined into
// their SIMD loops (a call in the loop body stops vectorization)
#define FKC_HD inline __attribute__((always_inline))
#else
#define FKC_HD inline
#endif

namespace fkc {

// Bit casts: memcpy on the host (vectorizes to a register move), intrinsics on the device.
FKC_HD uint32_t float_as_uint(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
#endif
}

FKC_HD float uint_as_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
#endif
}

FKC_HD uint64_t double_as_u64(double d) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint64_t>(__double_as_longlong(d));
#else
  uint64_t u;
  std::memcpy(&u, &d, sizeof(u));
  return u;
#endif
}

// Correctly rounded float sqrt. Host builds pass -fno-math-errno, so std::sqrt becomes one
// (vectorizable) sqrtps instead of a libm call that may set errno.
FKC_HD float sqrt_f(float x) {
#if defined(__CUDA_ARCH__)
  return sqrtf(x);
#else
  return std::sqrt(x);
#endif
}

// Product rounded on its own: nvcc would otherwise fuse it with a following add into one FMA
// (one rounding instead of the reference's two). Host builds pass -ffp-contract=off.
FKC_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

// NaN-propagating clamp: NaN compares false both ways and is returned unchanged, like
// torch.clamp (std::min/max would silently turn NaN into a bound).
FKC_HD float clamp_keep_nan(float v, float lo, float hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

}  // namespace fkc
