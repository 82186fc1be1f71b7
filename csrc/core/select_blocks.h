// Particle selection in one launch: per-block radix select, then a merge tree of last-block-done
// steps.
//
// The algorithm is written once, against an execution model `Ex`, and runs two ways:
//   - on the GPU (csrc/cuda/select_particles_cuda.cu): one CUDA block per chunk, Ex = the CUDA
//     model (each thread runs its own iteration of a phase, sync = __syncthreads, atomicAdd);
//   - on the host (run_on_host below, behind the test op select_particles_block_emulation):
//     blocks one after another, each phase running every thread's iteration in turn, sync a
//     no-op. Tests compare it index for index with reference.select_particles.
// So the code is written as phases:
//     for (const int t : ex.threads()) { ... }
//     ex.sync();
// Rules that make the two models agree: block-uniform state lives in Shared, written by one
// thread (or disjoint slots by several) in one phase and read only after a sync; no per-thread
// register carries across a sync; control flow outside a phase depends only on kernel arguments
// and on Shared values read after a sync (so every __syncthreads is reached by the whole block);
// no warp intrinsics. The model's members: threads (this thread's iterations of a phase),
// num_threads, sync, fence, atomic_add_shared, atomic_add_global, and load_other_block (a read of
// what other blocks wrote). The host model can run a phase's threads backwards: a phase where one
// thread reads what another writes then gives another result in one of the two orders.
//
// Keys are unique composites: the top part orders by (top_key, index), the random part by
// (random_key, index). Block b owns particles [b*chunk, b*chunk + len). For each part it finds its
// min(K, len) smallest composites (K = n_top for the top part, k = n_top + n_random for the random
// one: at most n_top of the global k smallest random keys are top particles) by an MSB-first
// 8-bit radix select on a 256-bin shared histogram (ties to the lower position), and writes them
// to the global workspace IN INCREASING INDEX ORDER (an order-preserving compaction), so any run
// of consecutive candidate lists is in index order and a tie on the key goes to the lower
// position. Then a merge tree of last-block-done steps: the blocks form groups of F = kMaxChunk / k
// (so a group's candidates fit the shared key buffer); the last block of a group to finish (a
// global counter per group, zeroed before the launch) selects the group's K smallest candidates
// the same way and writes them, still in index order, as one item of the next level. The last
// block of the single group of the top level (the root) ranks its K winners by counting, writes
// the top part, drops the top particles from the random part's winners and writes the rest.
// Every global candidate winner is among its group's K smallest at every level, so the root sees
// the global winners.
#pragma once

#include <cstdint>
#include <cstring>
#if !defined(__CUDACC__)
#include <memory>
#endif

#include "fkc_hd.h"
#include "philox.h"
#include "select.h"
#include "select_blocks_layout.h"

// The block algorithm is device code under nvcc (only the CUDA model instantiates it there) and
// plain inline C++ in host builds (only the host model instantiates it there).
#if defined(__CUDACC__)
#define FKC_BLOCK_FN __device__ __forceinline__
#else
#define FKC_BLOCK_FN inline
#endif

namespace fkc {
namespace blocks {

// Radix select, phase 1 of a pass: histogram of byte `shift` of the keys that match the state's
// prefix into sh.hist[cur], and the other histogram zeroed for the next pass.
template <class Ex>
FKC_BLOCK_FN void radix_count(Ex& ex, Shared& sh, int len, int cur, int shift) {
  const int nt = ex.num_threads();
  for (const int t : ex.threads()) {
    const uint64_t prefix = sh.st[cur].prefix, mask = sh.st[cur].mask;
    // a run of this thread's keys in one bin is one atomic: with many equal keys (all weights
    // equal, as at the start of sampling) same-address atomics would serialize the block
    int run_bin = 0;
    uint32_t run = 0;
    for (int p = t; p < len; p += nt) {
      const uint64_t k = sh.keys[p];
      if ((k & mask) != prefix) continue;
      const int bin = static_cast<int>(k >> shift) & 0xff;
      if (run != 0 && bin != run_bin) {
        ex.atomic_add_shared(&sh.hist[cur][run_bin], run);
        run = 0;
      }
      run_bin = bin;
      ++run;
    }
    if (run != 0) ex.atomic_add_shared(&sh.hist[cur][run_bin], run);
    for (int b = t; b < kBins; b += nt) sh.hist[cur ^ 1][b] = 0;  // for the next pass
  }
}

// Phase 2: the counts of groups of kBinGroup bins, so that phase 3 sums few terms.
template <class Ex>
FKC_BLOCK_FN void radix_group_sums(Ex& ex, Shared& sh, int cur) {
  const int nt = ex.num_threads();
  for (const int t : ex.threads()) {
    for (int g = t; g < kBins / kBinGroup; g += nt) {
      uint32_t s = 0;
      for (int j = 0; j < kBinGroup; ++j) s += sh.hist[cur][g * kBinGroup + j];
      sh.bin_group[g] = s;
    }
  }
}

// Phase 3: the one bin whose cumulative range holds the need-th key writes the next state.
template <class Ex>
FKC_BLOCK_FN void radix_next_state(Ex& ex, Shared& sh, int cur, int shift) {
  const int nt = ex.num_threads();
  for (const int t : ex.threads()) {
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
}

// Radix select of the `need` smallest of the keys sh.keys[0, len) (ties to the lower position).
// Returns the index of the final state in sh.st. 1 <= need <= len.
template <class Ex>
FKC_BLOCK_FN int radix_select(Ex& ex, Shared& sh, int len, uint32_t need) {
  const int nt = ex.num_threads();
  for (const int t : ex.threads()) {
    if (t == 0) sh.st[0] = RadixState{0, 0, need, static_cast<int>(need) == len ? 1u : 0u};
    for (int b = t; b < kBins; b += nt) sh.hist[0][b] = 0;
  }
  ex.sync();
  int cur = 0;
  for (int pass = 0; pass < 8; ++pass) {
    if (sh.st[cur].done) break;  // written before the last sync, rewritten 2 syncs later: uniform
    const int shift = 56 - 8 * pass;
    radix_count(ex, sh, len, cur, shift);
    ex.sync();
    radix_group_sums(ex, sh, cur);
    ex.sync();
    radix_next_state(ex, sh, cur, shift);
    ex.sync();
    cur ^= 1;
  }
  return cur;
}

// Compaction, phase 1: each thread counts the keys of its segment [q0, q1) below and equal to
// the state's prefix into sh.cnt_lt / sh.cnt_eq.
template <class Ex>
FKC_BLOCK_FN void compact_count(Ex& ex, Shared& sh, int len, int s, int per) {
  for (const int t : ex.threads()) {
    const uint64_t prefix = sh.st[s].prefix, mask = sh.st[s].mask;
    const int q0 = t * per < len ? t * per : len, q1 = q0 + per < len ? q0 + per : len;
    uint32_t lt = 0, eq = 0;
    // counting needs no order: start at a thread-dependent offset, so that neighbouring threads
    // (segments `per` keys apart) read different shared-memory banks
    const int start = q1 > q0 ? q0 + t % (q1 - q0) : q0;
    for (int q = start; q < q1; ++q) {
      const uint64_t m = sh.keys[q] & mask;
      lt += m < prefix;
      eq += m == prefix;
    }
    for (int q = q0; q < start; ++q) {
      const uint64_t m = sh.keys[q] & mask;
      lt += m < prefix;
      eq += m == prefix;
    }
    sh.cnt_lt[t] = lt;
    sh.cnt_eq[t] = eq;
  }
}

// Phase 2: the counts of groups of kThreadGroup threads (the first level of the block scan).
template <class Ex>
FKC_BLOCK_FN void compact_group_sums(Ex& ex, Shared& sh) {
  const int nt = ex.num_threads();
  const int n_groups = (nt + kThreadGroup - 1) / kThreadGroup;
  for (const int t : ex.threads()) {
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
}

// Phase 3: each thread's first slot from the scan, then its segment's chosen keys in order.
template <class Ex, class Emit>
FKC_BLOCK_FN void compact_emit(Ex& ex, Shared& sh, int len, int s, int per, Emit& emit) {
  for (const int t : ex.threads()) {
    const uint64_t prefix = sh.st[s].prefix, mask = sh.st[s].mask;
    const uint32_t need = sh.st[s].need;
    uint32_t lt = 0, eq = 0;
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
    // most segments hold none of the K chosen keys: skip them without reading a key
    const bool none = sh.cnt_lt[t] == 0 && (sh.cnt_eq[t] == 0 || eq >= need);
    const int q0 = t * per < len ? t * per : len;
    const int q1 = none ? q0 : (q0 + per < len ? q0 + per : len);
    for (int q = q0; q < q1; ++q) {
      const uint64_t k = sh.keys[q];
      const uint64_t m = k & mask;
      if (m < prefix) {
        emit(q, k, slot++);
      } else if (m == prefix) {
        if (eq < need) emit(q, k, slot++);
        ++eq;
      }
    }
  }
}

// Emits the keys radix_select chose (state sh.st[s]) among sh.keys[0, len) in increasing
// position order: emit(position, key, slot) with slot = 0, 1, ... An order-preserving
// compaction: each thread owns a contiguous segment, a block scan of the per-thread counts (two
// levels: groups of kThreadGroup threads) gives its first slot.
template <class Ex, class Emit>
FKC_BLOCK_FN void compact(Ex& ex, Shared& sh, int len, int s, Emit emit) {
  const int per = (len + ex.num_threads() - 1) / ex.num_threads();
  compact_count(ex, sh, len, s, per);
  ex.sync();
  compact_group_sums(ex, sh);
  ex.sync();
  compact_emit(ex, sh, len, s, per, emit);
  ex.sync();
}

// One block's candidates for one part: its min(K, len) smallest composites, in index order, as
// list `block` of the part's level 0.
template <class Ex, typename T>
FKC_BLOCK_FN void block_candidates(Ex& ex, Shared& sh, const Args<T>& a, int64_t block,
                                   bool random_part) {
  const int nt = ex.num_threads();
  const int64_t base = block * a.chunk;
  const int len = static_cast<int>(min64(a.chunk, a.n - base));
  const int64_t k_part = random_part ? a.n_top + a.n_random : a.n_top;
  const int64_t stride = min64(k_part, a.chunk);
  for (const int t : ex.threads()) {
    if (random_part) {
      const PhiloxKey pk =
          make_philox_key(static_cast<uint64_t>(a.seeds[0]), static_cast<uint64_t>(a.seeds[1]));
      for (int p = t; p < len; p += nt) {
        sh.keys[p] = static_cast<uint64_t>(random_key(pk, static_cast<uint64_t>(base + p)));
      }
    } else {
      for (int p = t; p < len; p += nt) sh.keys[p] = top_key_at(a, base + p);
    }
  }
  ex.sync();
  const int s = radix_select(ex, sh, len, static_cast<uint32_t>(min64(k_part, len)));
  uint64_t* out_key = (random_part ? a.rnd_key : a.top_key) + block * stride;
  int64_t* out_idx = (random_part ? a.rnd_idx : a.top_idx) + block * stride;
  compact(ex, sh, len, s, [&](int q, uint64_t k, uint32_t slot) {
    out_key[slot] = k;
    out_idx[slot] = base + q;
  });
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

// One merge step for one part: the K smallest candidates of group `group` of level `level`, in
// index order, written as list `group` of level + 1, or (root) to sh.win_* for the ranking.
template <class Ex, typename T>
FKC_BLOCK_FN void merge_group(Ex& ex, Shared& sh, const Args<T>& a, bool random_part, int level,
                              int64_t group, bool root) {
  const int nt = ex.num_threads();
  const int64_t k_part = random_part ? a.n_top + a.n_random : a.n_top;
  const Level v = tree_level(a.n, a.chunk, a.fan_in, k_part, level);
  const int64_t first = group * a.fan_in;
  const int64_t children = min64(a.fan_in, v.items - first);
  const bool has_last = first + children == v.items;
  // <= fan_in * k_part <= kMaxChunk candidates, contiguous and in index order
  const int total =
      static_cast<int>((children - 1) * v.stride + (has_last ? v.last_count : v.stride));
  const int64_t base = v.offset + first * v.stride;
  const uint64_t* keys = (random_part ? a.rnd_key : a.top_key) + base;
  const int64_t* idx = (random_part ? a.rnd_idx : a.top_idx) + base;
  for (const int t : ex.threads()) {
    for (int p = t; p < total; p += nt) sh.keys[p] = ex.load_other_block(keys + p);
  }
  ex.sync();
  const int s = radix_select(ex, sh, total, static_cast<uint32_t>(min64(k_part, total)));
  if (root) {
    compact(ex, sh, total, s, [&](int q, uint64_t k, uint32_t slot) {
      sh.win_key[slot] = k;
      sh.win_idx[slot] = static_cast<int64_t>(ex.load_other_block(
          reinterpret_cast<const uint64_t*>(idx + q)));
    });
  } else {
    const Level up = tree_level(a.n, a.chunk, a.fan_in, k_part, level + 1);
    uint64_t* out_key = (random_part ? a.rnd_key : a.top_key) + up.offset + group * up.stride;
    int64_t* out_idx = (random_part ? a.rnd_idx : a.top_idx) + up.offset + group * up.stride;
    compact(ex, sh, total, s, [&](int q, uint64_t k, uint32_t slot) {
      out_key[slot] = k;
      out_idx[slot] = static_cast<int64_t>(ex.load_other_block(
          reinterpret_cast<const uint64_t*>(idx + q)));
    });
  }
}

// The root's output: the top part ranked, then the random winners that are not top particles.
template <class Ex, typename T>
FKC_BLOCK_FN void write_top(Ex& ex, Shared& sh, const Args<T>& a) {
  const int nt = ex.num_threads();
  const int count = static_cast<int>(a.n_top);
  for (const int t : ex.threads()) {
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

template <class Ex, typename T>
FKC_BLOCK_FN void write_random(Ex& ex, Shared& sh, const Args<T>& a) {
  const int nt = ex.num_threads();
  const int count = static_cast<int>(a.n_top + a.n_random);
  for (const int t : ex.threads()) {
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
  for (const int t : ex.threads()) {
    for (int j = t; j < count; j += nt) {
      if (sh.win_top[j]) continue;
      const int r = winner_rank(sh, count, j, [&sh](int i) { return sh.win_top[i] == 0; });
      if (r < a.n_random) a.out[a.n_top + r] = sh.win_idx[j];
    }
  }
  ex.sync();
}

// The whole op for block `block` of a.blocks: each block runs this once; the last block of each
// group to finish goes on to merge it, and the root's merger writes a.out.
template <class Ex, typename T>
FKC_BLOCK_FN void select_block(Ex& ex, Shared& sh, const Args<T>& a, int64_t block) {
  if (a.n_top > 0) block_candidates(ex, sh, a, block, false);
  if (a.n_random > 0) block_candidates(ex, sh, a, block, true);
  int64_t item = block;
  for (int level = 0;; ++level) {
    // items per level and counter offsets are the same for both parts
    const Level v = tree_level(a.n, a.chunk, a.fan_in, a.n_top + a.n_random, level);
    const int64_t group = item / a.fan_in;
    const int64_t children = min64(a.fan_in, v.items - group * a.fan_in);
    const bool root = v.items <= a.fan_in;
    // last block done: every thread's candidate writes are made visible before the count
    ex.fence();
    ex.sync();
    for (const int t : ex.threads()) {
      if (t == 0) {
        const uint32_t before = ex.atomic_add_global(&a.counters[v.counter_offset + group], 1u);
        ex.fence();  // acquire side: the group's other lists are read after this
        sh.is_last = static_cast<int64_t>(before) == children - 1 ? 1 : 0;
      }
    }
    ex.sync();
    if (!sh.is_last) return;  // block-uniform: written by thread 0 before the sync
    ex.fence();
    if (a.n_top > 0) merge_group(ex, sh, a, false, level, group, root);
    if (root && a.n_top > 0) write_top(ex, sh, a);
    if (a.n_random > 0) merge_group(ex, sh, a, true, level, group, root);
    if (root) {
      if (a.n_random > 0) write_random(ex, sh, a);
      return;
    }
    item = group;
  }
}

#if !defined(__CUDACC__)
// The host execution model: one block at a time, each phase runs every thread's iteration in
// turn (0, 1, ..., or backwards), so a phase is race-free exactly when its threads touch disjoint
// data or only read; sync and fence are no-ops; atomics are plain adds.
struct HostThreads {
  struct It {
    int i, n;
    bool reverse;
    int operator*() const { return reverse ? n - 1 - i : i; }
    It& operator++() {
      ++i;
      return *this;
    }
    bool operator!=(const It& o) const { return i != o.i; }
  };
  int n;
  bool reverse;
  It begin() const { return It{0, n, reverse}; }
  It end() const { return It{n, n, reverse}; }
};

struct HostBlock {
  int n_threads;
  bool reverse;
  HostThreads threads() const { return HostThreads{n_threads, reverse}; }
  int num_threads() const { return n_threads; }
  void sync() const {}
  void fence() const {}
  uint32_t atomic_add_shared(uint32_t* p, uint32_t v) const {
    const uint32_t old = *p;
    *p = old + v;
    return old;
  }
  uint32_t atomic_add_global(uint32_t* p, uint32_t v) const { return atomic_add_shared(p, v); }
  uint64_t load_other_block(const uint64_t* p) const { return *p; }
};

// Runs the kernel's blocks on the host with `threads` threads each (a phase's threads backwards
// when reverse_threads), blocks in the order 0, B-1, 1, B-2, ... (so the block that merges a
// group is not its last chunk). Shared memory is refilled with junk
// before every block: nothing may depend on what another block left there.
template <typename T>
void run_on_host(const Args<T>& a, int threads, bool reverse_threads) {
  std::unique_ptr<Shared> sh(new Shared);
  const HostBlock ex{threads, reverse_threads};
  for (int64_t i = 0; i < a.blocks; ++i) {
    const int64_t block = i % 2 == 0 ? i / 2 : a.blocks - 1 - i / 2;
    std::memset(static_cast<void*>(sh.get()), 0xA5, sizeof(Shared));
    select_block(ex, *sh, a, block);
  }
}
#endif

}  // namespace blocks
}  // namespace fkc
