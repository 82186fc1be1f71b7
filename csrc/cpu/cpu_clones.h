// Compiler switches the CPU kernels share: hot loops built twice on x86-64 (AVX2 and baseline)
// and picked at load time, so wheels stay portable while AVX2 machines get 8-wide loops. No FMA
// in the clones (-ffp-contract=off, fkc_kernels/extension/_build_config.py): both clones round
// exactly like the float32 reference.
#pragma once

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
