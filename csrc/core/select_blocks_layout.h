// The sizes, shared state, arguments and workspace layout of the one-launch selection
// (select_blocks.h has the algorithm and how it runs on the GPU and on the host): what the
// launchers need to size a call, and what every phase of the algorithm reads.
#pragma once

#include <cstdint>

#include "fkc_hd.h"
#include "select.h"

namespace fkc {
namespace blocks {

constexpr int kMaxChunk = 4096;    // particles per block; the shared key buffer holds this many
constexpr int kMaxThreads = 1024;  // threads per block
// Largest k (= n_top + n_random) of the one-launch path: the winners and their ranks live in
// shared memory and are sorted by counting (O(k^2 / threads) compares). Larger k keeps the sort
// path.
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
  uint64_t keys[kMaxChunk];  // a block's keys, or a group's candidates
  uint64_t win_key[kMaxK];   // the root's winners, in position order
  int64_t win_idx[kMaxK];
  uint32_t hist[2][kBins];  // double-buffered: one pass counts into one while zeroing the other
  uint32_t bin_group[kBins / kBinGroup];
  uint32_t cnt_lt[kMaxThreads];  // per thread: keys below the prefix / equal to it in its segment
  uint32_t cnt_eq[kMaxThreads];
  uint32_t grp_lt[kMaxThreads / kThreadGroup];
  uint32_t grp_eq[kMaxThreads / kThreadGroup];
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
  int64_t fan_in;        // items per group of the merge tree
  uint64_t* top_key;     // the top part's candidate lists, all levels (Layout)
  int64_t* top_idx;
  uint64_t* rnd_key;     // the random part's
  int64_t* rnd_idx;
  uint32_t* counters;    // one per group of every level, zero before the launch
  int64_t* out;          // (n_top + n_random,)
};

// Level `level` of one part's merge tree: `items` candidate lists, each `stride` slots apart
// from `offset` in the part's arrays; every list holds `stride` candidates except the last,
// which holds `last_count` (only the last chunk can be short, so only the last list of a level
// can be). Level 0: the blocks' lists; level l + 1: one list per group of level l.
struct Level {
  int64_t items, stride, last_count, offset, counter_offset;
};

FKC_HD int64_t min64(int64_t x, int64_t y) { return x < y ? x : y; }

FKC_HD Level tree_level(int64_t n, int64_t chunk, int64_t fan_in, int64_t k_part, int level) {
  const int64_t blocks = (n + chunk - 1) / chunk;
  Level v{blocks, min64(k_part, chunk), min64(k_part, n - (blocks - 1) * chunk), 0, 0};
  for (int l = 0; l < level; ++l) {
    const int64_t groups = (v.items + fan_in - 1) / fan_in;
    const int64_t last_children = v.items - (groups - 1) * fan_in;
    const int64_t last_total = (last_children - 1) * v.stride + v.last_count;
    v.offset += v.items * v.stride;
    v.counter_offset += groups;
    v.items = groups;
    v.stride = min64(k_part, fan_in * v.stride);  // what a full group keeps (< K for tiny chunks)
    v.last_count = min64(k_part, last_total);
  }
  return v;
}

// Items per group: as many K-candidate lists as the shared key buffer holds (>= 16 for k <= 256).
FKC_HD int64_t tree_fan_in(int64_t k) { return kMaxChunk / (k > 0 ? k : 1); }

// Workspace of one call, in int64 slots: [counters (uint32, rounded up) | top keys | top idx |
// rnd keys | rnd idx], each part's arrays holding every level below the root.
struct Layout {
  int64_t counters, counter_slots, top_slots, rnd_slots, total_slots;
};

inline int64_t part_slots(int64_t n, int64_t chunk, int64_t fan_in, int64_t k_part) {
  if (k_part == 0) return 0;
  int64_t slots = 0;
  for (int level = 0;; ++level) {
    const Level v = tree_level(n, chunk, fan_in, k_part, level);
    slots += v.items * v.stride;
    if (v.items <= fan_in) return slots;  // one group: its step is the root
  }
}

inline Layout make_layout(int64_t n, int64_t k, int64_t n_random, int64_t chunk) {
  Layout l{};
  const int64_t fan_in = tree_fan_in(k);
  for (int level = 0;; ++level) {
    const Level v = tree_level(n, chunk, fan_in, k, level);
    l.counters += (v.items + fan_in - 1) / fan_in;
    if (v.items <= fan_in) break;
  }
  l.counter_slots = (l.counters + 1) / 2;
  l.top_slots = part_slots(n, chunk, fan_in, k - n_random);
  l.rnd_slots = n_random == 0 ? 0 : part_slots(n, chunk, fan_in, k);
  l.total_slots = l.counter_slots + 2 * (l.top_slots + l.rnd_slots);
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
  a.blocks = (n + chunk - 1) / chunk;
  a.fan_in = tree_fan_in(k);
  a.counters = reinterpret_cast<uint32_t*>(workspace);
  int64_t* p = workspace + l.counter_slots;
  a.top_key = reinterpret_cast<uint64_t*>(p);
  p += l.top_slots;
  a.top_idx = p;
  p += l.top_slots;
  a.rnd_key = reinterpret_cast<uint64_t*>(p);
  p += l.rnd_slots;
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

// The chunk the GPU launch uses: about sqrt(n * k) (between 512 and kMaxChunk, a power of two),
// so blocks * k candidates make one group (no middle level) when they can: 32 blocks of 2048 at
// N = 65536, k = 64; 256 blocks of 4096 and one middle level of 16 groups at N = 2^20, k = 256.
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

}  // namespace blocks
}  // namespace fkc
