// Particle selection in one launch: per-block radix select, then a last-block-done final select.
//
// The algorithm is written once, against an execution model `Ex`, and runs two ways:
//   - on the GPU (csrc/cuda/select_particles_cuda.cu): one CUDA block per chunk, Ex = the CUDA
//     model (each thread runs its own iteration of a phase, sync = __syncthreads, atomicAdd);
//   - on the host (run_select_blocks_on_host below, the test op select_particles_block_emulation):
//     blocks one after another, each phase running every thread's iteration in turn, sync a
//     no-op. Tests compare it index for index with reference.select_particles.
// So the code is written as phases:
//     for (int t = ex.thread_begin(); t < ex.thread_end(); t += ex.thread_step()) { ... }
//     ex.sync();
// Rules that make the two models agree: block-uniform state lives in Shared, written by one
// thread (or disjoint slots by several) in one phase and read only after a sync; no per-thread
// register carries across a sync; control flow outside a phase depends only on kernel arguments
// and on Shared values read after a sync (so every __syncthreads is reached by the whole block);
// no warp intrinsics.
//
// Keys are unique composites: the top part orders by (top_key, index), the random part by
// (random_key, index). Block b owns particles [b*chunk, b*chunk + len). For each part it finds its
// min(K, len) smallest composites (K = n_top for the top part, n_top + n_random for the random
// one: at most n_top of the global n_top + n_random smallest random keys are top particles) by an
// MSB-first 8-bit radix select on a 256-bin shared histogram, and writes them to the global
// workspace IN INCREASING INDEX ORDER, so the whole candidate array is in index order and a tie
// on the key goes to the lower position. The last block to finish (a global counter, zeroed before
// the launch) runs the same radix select over all candidates, ranks the K winners by counting,
// writes the top part, then drops top particles from the random winners and writes the rest.
#pragma once

#include <cstdint>
#include <cstring>
#if !defined(__CUDACC__)
#include <memory>
#endif

#include "fkc_hd.h"
#include "philox.h"
#include "select.h"

// The block algorithm is device code under nvcc (only the CUDA model instantiates it there) and
// plain inline C++ in host builds (only the host model instantiates it there).
#if defined(__CUDACC__)
#define FKC_BLOCK_FN __device__ __forceinline__
#else
#define FKC_BLOCK_FN inline
#endif

namespace fkc {
namespace blocks {

constexpr int kMaxChunk = 4096;    // particles per block; the shared key buffer holds this many
constexpr int kMaxThreads = 1024;  // threads per block
// Largest k (= n_top + n_random) of the one-launch path: the winners and their ranks live in
// shared memory and are sorted by counting (O(k^2 / threads) compares). Larger k keeps the sort path.
constexpr int kMaxK = 256;
constexpr int kBins = 256;                 // 8-bit digits
constexpr int kBinGroup = 16;              // the bucket search sums 16 groups of 16 bins
constexpr int kThreadGroup = 32;           // the compaction scan sums groups of 32 threads
constexpr int64_t kMaxN = int64_t(1) << 31;  // counts are uint32; larger N keeps the sort path

// One radix select's progress: the selected set is {key & mask < prefix} plus the first `need`
// (by position) of {key & mask == prefix}. `done`: that set is final (every key with the prefix
// is taken, or all 64 bits are fixed).
struct RadixState {
  uint64_t prefix;
  uint64_t mask;
  uint32_t need;
  uint32_t done;
};

struct Shared {
  uint64_t keys[kMaxChunk];  // a block's keys; in the final stage, the candidates or a tile of them
  uint64_t win_key[kMaxK];   // the final stage's winners, in position order
  int64_t win_idx[kMaxK];
  uint32_t hist[2][kBins];  // double-buffered: one pass counts into one while zeroing the other
  uint32_t bin_group[kBins / kBinGroup];
  uint32_t cnt_lt[kMaxThreads];  // per thread: keys below the prefix / equal to it in its segment
  uint32_t cnt_eq[kMaxThreads];
  uint32_t grp_lt[kMaxThreads / kThreadGroup];
  uint32_t grp_eq[kMaxThreads / kThreadGroup];
  uint32_t carry_lt[2];  // counts before the current tile (double-buffered by tile parity)
  uint32_t carry_eq[2];
  RadixState st[2];  // double-buffered: a pass reads st[cur] and writes st[cur ^ 1]
  uint64_t last_top_key;  // the top part's largest composite (key, index)
  int64_t last_top_idx;
  uint8_t win_top[kMaxK];  // random winner j is a top particle
  int32_t is_last;
};
// static shared memory: at most 48 KB without an opt-in
static_assert(sizeof(Shared) <= 48 * 1024, "select_blocks: Shared exceeds 48 KB");

template <typename T>
struct Args {
  const T* w;  // (n,) weights, element i at w[i * w_stride]
  int64_t w_stride;
  int64_t n, n_top, n_random;
  const int64_t* seeds;  // [S, O] (device memory for the kernel, host memory for the emulation)
  int64_t chunk;         // particles per block, 1..kMaxChunk
  int64_t blocks;        // ceil(n / chunk)
  uint64_t* top_key;     // blocks * min(n_top, chunk) candidates of the top part
  int64_t* top_idx;
  uint64_t* rnd_key;     // blocks * min(n_top + n_random, chunk) candidates of the random part
  int64_t* rnd_idx;
  uint32_t* done_blocks;  // zero before the launch
  int64_t* out;           // (n_top + n_random,)
};

// Workspace of one call, in int64 slots: [done_blocks | top keys | top idx | rnd keys | rnd idx].
struct Layout {
  int64_t blocks, top_stride, rnd_stride, total_slots;
};

inline Layout make_layout(int64_t n, int64_t k, int64_t n_random, int64_t chunk) {
  Layout l{};
  l.blocks = (n + chunk - 1) / chunk;
  const int64_t n_top = k - n_random;
  l.top_stride = n_top < chunk ? n_top : chunk;
  l.rnd_stride = n_random == 0 ? 0 : (k < chunk ? k : chunk);
  l.total_slots = 1 + 2 * l.blocks * (l.top_stride + l.rnd_stride);
  return l;
}

template <typename T>
Args<T> make_args(const T* w, int64_t w_stride, int64_t n, int64_t k, int64_t n_random,
                  const int64_t* seeds, int64_t chunk, int64_t* workspace, int64_t* out) {
  const Layout l = make_layout(n, k, n_random, chunk);
  Args<T> a{};
  a.w = w;
  a.w_stride = w_stride;
  a.n = n;
  a.n_top = k - n_random;
  a.n_random = n_random;
  a.seeds = seeds;
  a.chunk = chunk;
  a.blocks = l.blocks;
  a.done_blocks = reinterpret_cast<uint32_t*>(workspace);
  int64_t* p = workspace + 1;
  a.top_key = reinterpret_cast<uint64_t*>(p);
  p += l.blocks * l.top_stride;
  a.top_idx = p;
  p += l.blocks * l.top_stride;
  a.rnd_key = reinterpret_cast<uint64_t*>(p);
  p += l.blocks * l.rnd_stride;
  a.rnd_idx = p;
  a.out = out;
  return a;
}

// Threads per block of the GPU launch: 1-8 keys a thread at the chunk sizes gpu_chunk picks, and
// short block-wide barriers. Two blocks per SM (__launch_bounds__: 64 registers; Shared is under
// 48 KB): the per-block stage is barrier-latency-bound, and at N = 2^20 (256 blocks of 4096) one
// wave covers the grid on a 132-SM H100.
constexpr int kGpuThreads = 512;
constexpr int kGpuBlocksPerSm = 2;

// The chunk the GPU launch uses: about sqrt(n * k), so the final stage's candidates (blocks * k)
// fit the shared key buffer when they can, between 512 and kMaxChunk, a power of two.
inline int64_t gpu_chunk(int64_t n, int64_t k) {
  int64_t c = 512;
  while (c < kMaxChunk && c * c < n * (k > 0 ? k : 1)) c *= 2;
  return c;
}

// True when the one-launch path takes (n, k).
inline bool supported(int64_t n, int64_t k) { return n < kMaxN && k <= kMaxK; }

// Ascending top_key = the reference's top order: descending weight, NaN last, -0.0 == +0.0.
FKC_HD uint64_t top_key(double w) {
  return ~(static_cast<uint64_t>(weight_rank_key(w)) ^ 0x8000000000000000ull);
}

template <typename T>
FKC_HD uint64_t top_key_at(const Args<T>& a, int64_t i) {
  return top_key(static_cast<double>(a.w[i * a.w_stride]));
}

FKC_HD uint64_t key_at(const Shared& sh, const uint64_t* global, int64_t p) {
  return global != nullptr ? global[p] : sh.keys[p];
}

// Radix select of the `need` smallest of `len` keys (ties to the lower position); the keys are
// sh.keys[0, len) when global is null, else global[0, len). Returns the index of the final state
// in sh.st. 1 <= need <= len.
template <class Ex>
FKC_BLOCK_FN int radix_select(Ex& ex, Shared& sh, const uint64_t* global, int64_t len,
                              uint32_t need) {
  const int nt = ex.num_threads();
  for (int t = ex.thread_begin(); t < ex.thread_end(); t += ex.thread_step()) {
    if (t == 0) sh.st[0] = RadixState{0, 0, need, static_cast<int64_t>(need) == len ? 1u : 0u};
    for (int b = t; b < kBins; b += nt) sh.hist[0][b] = 0;
  }
  ex.sync();
  int cur = 0;
  for (int pass = 0; pass < 8; ++pass) {
    if (sh.st[cur].done) break;  // read after a sync, written before it: block-uniform
    const int shift = 56 - 8 * pass;
    for (int t = ex.thread_begin(); t < ex.thread_end(); t += ex.thread_step()) {
      const uint64_t prefix = sh.st[cur].prefix, mask = sh.st[cur].mask;
      for (int64_t p = t; p < len; p += nt) {
        const uint64_t k = key_at(sh, global, p);
        if ((k & mask) == prefix) {
          ex.atomic_add_shared(&sh.hist[cur][static_cast<int>(k >> shift) & 0xff], 1u);
        }
      }
      for (int b = t; b < kBins; b += nt) sh.hist[cur ^ 1][b] = 0;  // for the next pass
    }
    ex.sync();
    for (int t = ex.thread_begin(); t < ex.thread_end(); t += ex.thread_step()) {
      for (int g = t; g < kBins / kBinGroup; g += nt) {
        uint32_t s = 0;
        for (int j = 0; j < kBinGroup; ++j) s += sh.hist[cur][g * kBinGroup + j];
        sh.bin_group[g] = s;
      }
    }
    ex.sync();
    // the one bin whose cumulative range holds the need-th key writes the next state
    for (int t = ex.thread_begin(); t < ex.thread_end(); t += ex.thread_step()) {
      for (int b = t; b < kBins; b += nt) {
        const uint32_t c = sh.hist[cur][b];
        if (c == 0) continue;
        const int g = b / kBinGroup;
        uint32_t excl = 0;
        for (int j = 0; j < g; ++j) excl += sh.bin_group[j];
        for (int j = g * kBinGroup; j < b; ++j) excl += sh.hist[cur][j];
        const uint32_t r = sh.st[cur].need;
        if (excl < r && r <= excl + c) {
          RadixState next;
          next.prefix = sh.st[cur].prefix | (static_cast<uint64_t>(b) << shift);
          next.mask = sh.st[cur].mask | (uint64_t(0xff) << shift);
          next.need = r - excl;
          next.done = (c == r - excl || shift == 0) ? 1u : 0u;
          sh.st[cur ^ 1] = next;
        }
      }
    }
    ex.sync();
    cur ^= 1;
  }
  return cur;
}

// Emits the keys radix_select chose (state sh.st[s]) in increasing position order:
// emit(position, key, slot) with slot = 0, 1, ... An order-preserving compaction: each thread
// owns a contiguous segment of a tile, a block scan of the per-thread counts gives its first
// slot. Keys in shared memory are one tile; keys in global memory are staged kMaxChunk at a
// time, with the counts before the tile carried over.
template <class Ex, class Emit>
FKC_BLOCK_FN void compact(Ex& ex, Shared& sh, const uint64_t* global, int64_t len, int s,
                          Emit emit) {
  const int nt = ex.num_threads();
  const int n_groups = (nt + kThreadGroup - 1) / kThreadGroup;
  const int64_t tile = global != nullptr ? kMaxChunk : len;
  int cur = 0;
  for (int64_t lo = 0; lo < len; lo += tile) {
    const int64_t n_here = len - lo < tile ? len - lo : tile;
    const int64_t per = (n_here + nt - 1) / nt;
    for (int t = ex.thread_begin(); t < ex.thread_end(); t += ex.thread_step()) {
      if (lo == 0 && t == 0) {
        sh.carry_lt[0] = 0;
        sh.carry_eq[0] = 0;
      }
      if (global != nullptr) {
        for (int64_t q = t; q < n_here; q += nt) sh.keys[q] = global[lo + q];
      }
    }
    ex.sync();
    for (int t = ex.thread_begin(); t < ex.thread_end(); t += ex.thread_step()) {
      const uint64_t prefix = sh.st[s].prefix, mask = sh.st[s].mask;
      const int64_t q0 = t * per, q1 = q0 + per < n_here ? q0 + per : n_here;
      uint32_t lt = 0, eq = 0;
      for (int64_t q = q0; q < q1; ++q) {
        const uint64_t m = sh.keys[q] & mask;
        lt += m < prefix;
        eq += m == prefix;
      }
      sh.cnt_lt[t] = lt;
      sh.cnt_eq[t] = eq;
    }
    ex.sync();
    for (int t = ex.thread_begin(); t < ex.thread_end(); t += ex.thread_step()) {
      for (int g = t; g < n_groups; g += nt) {
        const int end = (g + 1) * kThreadGroup < nt ? (g + 1) * kThreadGroup : nt;
        uint32_t lt = 0, eq = 0;
        for (int j = g * kThreadGroup; j < end; ++j) {
          lt += sh.cnt_lt[j];
          eq += sh.cnt_eq[j];
        }
        sh.grp_lt[g] = lt;
        sh.grp_eq[g] = eq;
      }
    }
    ex.sync();
    for (int t = ex.thread_begin(); t < ex.thread_end(); t += ex.thread_step()) {
      const uint64_t prefix = sh.st[s].prefix, mask = sh.st[s].mask;
      const uint32_t need = sh.st[s].need;
      uint32_t lt = sh.carry_lt[cur], eq = sh.carry_eq[cur];
      const int g = t / kThreadGroup;
      for (int j = 0; j < g; ++j) {
        lt += sh.grp_lt[j];
        eq += sh.grp_eq[j];
      }
      for (int j = g * kThreadGroup; j < t; ++j) {
        lt += sh.cnt_lt[j];
        eq += sh.cnt_eq[j];
      }
      // keys below the prefix are all taken; of those equal to it, the first `need`
      uint32_t slot = lt + (eq < need ? eq : need);
      const int64_t q0 = t * per, q1 = q0 + per < n_here ? q0 + per : n_here;
      for (int64_t q = q0; q < q1; ++q) {
        const uint64_t k = sh.keys[q];
        const uint64_t m = k & mask;
        if (m < prefix) {
          emit(lo + q, k, slot++);
        } else if (m == prefix) {
          if (eq < need) emit(lo + q, k, slot++);
          ++eq;
        }
      }
      if (t == 0) {
        uint32_t tlt = sh.carry_lt[cur], teq = sh.carry_eq[cur];
        for (int j = 0; j < n_groups; ++j) {
          tlt += sh.grp_lt[j];
          teq += sh.grp_eq[j];
        }
        sh.carry_lt[cur ^ 1] = tlt;
        sh.carry_eq[cur ^ 1] = teq;
      }
    }
    ex.sync();
    cur ^= 1;
  }
}

// One block's candidates for one part: its min(K, len) smallest composites, in index order, to
// the workspace slots [block * stride, ...).
template <class Ex, typename T>
FKC_BLOCK_FN void block_candidates(Ex& ex, Shared& sh, const Args<T>& a, int64_t block,
                                   bool random_part) {
  const int nt = ex.num_threads();
  const int64_t base = block * a.chunk;
  const int64_t len = a.n - base < a.chunk ? a.n - base : a.chunk;
  const int64_t k_part = random_part ? a.n_top + a.n_random : a.n_top;
  const int64_t stride = k_part < a.chunk ? k_part : a.chunk;
  const uint32_t need = static_cast<uint32_t>(k_part < len ? k_part : len);
  for (int t = ex.thread_begin(); t < ex.thread_end(); t += ex.thread_step()) {
    if (random_part) {
      const PhiloxKey pk =
          make_philox_key(static_cast<uint64_t>(a.seeds[0]), static_cast<uint64_t>(a.seeds[1]));
      for (int64_t p = t; p < len; p += nt) {
        sh.keys[p] = static_cast<uint64_t>(random_key(pk, static_cast<uint64_t>(base + p)));
      }
    } else {
      for (int64_t p = t; p < len; p += nt) sh.keys[p] = top_key_at(a, base + p);
    }
  }
  ex.sync();
  const int s = radix_select(ex, sh, nullptr, len, need);
  uint64_t* out_key = (random_part ? a.rnd_key : a.top_key) + block * stride;
  int64_t* out_idx = (random_part ? a.rnd_idx : a.top_idx) + block * stride;
  compact(ex, sh, nullptr, len, s, [&](int64_t p, uint64_t k, uint32_t slot) {
    out_key[slot] = k;
    out_idx[slot] = base + p;
  });
}

// The final stage for one part: the K smallest of all blocks' candidates into sh.win_*, in
// position (= index) order. Returns K.
template <class Ex, typename T>
FKC_BLOCK_FN int final_winners(Ex& ex, Shared& sh, const Args<T>& a, bool random_part) {
  const int nt = ex.num_threads();
  const int64_t k_part = random_part ? a.n_top + a.n_random : a.n_top;
  const int64_t stride = k_part < a.chunk ? k_part : a.chunk;
  const int64_t last_len = a.n - (a.blocks - 1) * a.chunk;
  const int64_t total = (a.blocks - 1) * stride + (k_part < last_len ? k_part : last_len);
  const uint64_t* keys = random_part ? a.rnd_key : a.top_key;
  const int64_t* idx = random_part ? a.rnd_idx : a.top_idx;
  const bool in_shared = total <= kMaxChunk;
  if (in_shared) {
    for (int t = ex.thread_begin(); t < ex.thread_end(); t += ex.thread_step()) {
      for (int64_t p = t; p < total; p += nt) sh.keys[p] = keys[p];
    }
    ex.sync();
  }
  const uint64_t* global = in_shared ? nullptr : keys;
  const int s = radix_select(ex, sh, global, total, static_cast<uint32_t>(k_part));
  compact(ex, sh, global, total, s, [&](int64_t p, uint64_t k, uint32_t slot) {
    sh.win_key[slot] = k;
    sh.win_idx[slot] = idx[p];
  });
  return static_cast<int>(k_part);
}

// Rank of winner j among the winners i with include(i): keys, then positions (= indices).
template <class Include>
FKC_BLOCK_FN int winner_rank(const Shared& sh, int count, int j, Include include) {
  const uint64_t kj = sh.win_key[j];
  int r = 0;
  for (int i = 0; i < count; ++i) {
    const uint64_t ki = sh.win_key[i];
    r += include(i) && (ki < kj || (ki == kj && i < j));
  }
  return r;
}

// The whole op for one block `block` of a.blocks (each block runs this once; the last one to
// finish also writes a.out).
template <class Ex, typename T>
FKC_BLOCK_FN void select_block(Ex& ex, Shared& sh, const Args<T>& a, int64_t block) {
  const int nt = ex.num_threads();
  if (a.n_top > 0) block_candidates(ex, sh, a, block, false);
  if (a.n_random > 0) block_candidates(ex, sh, a, block, true);
  // last block done: every thread's workspace writes are made visible before the count
  ex.fence();
  ex.sync();
  for (int t = ex.thread_begin(); t < ex.thread_end(); t += ex.thread_step()) {
    if (t == 0) {
      const uint32_t before = ex.atomic_add_global(a.done_blocks, 1u);
      ex.fence();  // acquire side: the other blocks' candidates are read after this
      sh.is_last = static_cast<int64_t>(before) == a.blocks - 1 ? 1 : 0;
    }
  }
  ex.sync();
  if (!sh.is_last) return;
  ex.fence();
  if (a.n_top > 0) {
    const int count = final_winners(ex, sh, a, false);
    for (int t = ex.thread_begin(); t < ex.thread_end(); t += ex.thread_step()) {
      for (int j = t; j < count; j += nt) {
        const int r = winner_rank(sh, count, j, [](int) { return true; });
        a.out[r] = sh.win_idx[j];
        if (r == count - 1) {
          sh.last_top_key = sh.win_key[j];
          sh.last_top_idx = sh.win_idx[j];
        }
      }
    }
    ex.sync();
  }
  if (a.n_random > 0) {
    const int count = final_winners(ex, sh, a, true);
    for (int t = ex.thread_begin(); t < ex.thread_end(); t += ex.thread_step()) {
      for (int j = t; j < count; j += nt) {
        bool in_top = false;
        if (a.n_top > 0) {
          // a top particle iff its (top_key, index) is at most the top part's last one
          const int64_t i = sh.win_idx[j];
          const uint64_t u = top_key_at(a, i);
          in_top = u < sh.last_top_key || (u == sh.last_top_key && i <= sh.last_top_idx);
        }
        sh.win_top[j] = in_top ? 1 : 0;
      }
    }
    ex.sync();
    for (int t = ex.thread_begin(); t < ex.thread_end(); t += ex.thread_step()) {
      for (int j = t; j < count; j += nt) {
        if (sh.win_top[j]) continue;
        const int r = winner_rank(sh, count, j, [&sh](int i) { return sh.win_top[i] == 0; });
        if (r < a.n_random) a.out[a.n_top + r] = sh.win_idx[j];
      }
    }
    ex.sync();
  }
}

#if !defined(__CUDACC__)
// The host execution model: one block at a time, each phase runs every thread's iteration in
// turn (thread 0 first), so a phase is race-free exactly when its threads touch disjoint data
// or only read; sync and fence are no-ops; atomics are plain adds.
struct HostBlock {
  int threads;
  int thread_begin() const { return 0; }
  int thread_end() const { return threads; }
  int thread_step() const { return 1; }
  int num_threads() const { return threads; }
  void sync() const {}
  void fence() const {}
  uint32_t atomic_add_shared(uint32_t* p, uint32_t v) const {
    const uint32_t old = *p;
    *p = old + v;
    return old;
  }
  uint32_t atomic_add_global(uint32_t* p, uint32_t v) const { return atomic_add_shared(p, v); }
};

// Runs the kernel's blocks on the host with `threads` threads each, in the order 0, B-1, 1, B-2,
// ... (so the last block to finish is not the last chunk). Shared memory is refilled with junk
// before every block: nothing may depend on what another block left there.
template <typename T>
void run_on_host(const Args<T>& a, int threads) {
  std::unique_ptr<Shared> sh(new Shared);
  const HostBlock ex{threads};
  for (int64_t i = 0; i < a.blocks; ++i) {
    const int64_t block = i % 2 == 0 ? i / 2 : a.blocks - 1 - i / 2;
    std::memset(static_cast<void*>(sh.get()), 0xA5, sizeof(Shared));
    select_block(ex, *sh, a, block);
  }
}
#endif

}  // namespace blocks
}  // namespace fkc
