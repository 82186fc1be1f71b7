// Four consecutive elements of a row in one 16-byte (fp32) or 8-byte (fp16/bf16) access, for
// the kernels whose rows are 4-aligned (D % 4 == 0 and aligned pointers and strides).
#pragma once

namespace fkc {
namespace cuda {

template <typename T>
struct alignas(4 * sizeof(T)) Vec4 {
  T v[4];
};

template <typename T>
__device__ __forceinline__ void load4(const T* p, float out[4]) {
  const Vec4<T> q = *reinterpret_cast<const Vec4<T>*>(p);
#pragma unroll
  for (int l = 0; l < 4; ++l) out[l] = static_cast<float>(q.v[l]);
}

template <typename T>
__device__ __forceinline__ void store4(T* p, const float in[4]) {
  Vec4<T> q;
#pragma unroll
  for (int l = 0; l < 4; ++l) q.v[l] = static_cast<T>(in[l]);
  *reinterpret_cast<Vec4<T>*>(p) = q;
}

}  // namespace cuda
}  // namespace fkc
