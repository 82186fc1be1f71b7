// Particle selection on the CPU: partial sorts on exact integer keys (no float compares), so
// the result equals reference.select_particles bit for bit, ties and NaN included.
#include <algorithm>
#include <vector>

#include "../core/philox.h"
#include "../core/select.h"
#include "ops_cpu.h"

namespace fkc {
namespace cpu {

namespace {

// The `count` smallest (key, index) pairs under `before`, in order, written to out.
template <typename Before>
void smallest_indices(int64_t n, int64_t count, Before before, int64_t* out) {
  if (count <= 0) return;
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  // O(N log count): k is usually far below N in the active loop
  std::partial_sort(idx.begin(), idx.begin() + count, idx.end(), before);
  std::copy(idx.begin(), idx.begin() + count, out);
}

}  // namespace

void select_particles(const double* w, int64_t n, int64_t k, int64_t n_random, uint64_t seed,
                      uint64_t offset, int64_t* out) {
  const int64_t n_top = k - n_random;
  std::vector<int64_t> rank(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) rank[i] = weight_rank_key(w[i]);
  // descending weight, ties to the lower index: a total order, so the result is unique
  smallest_indices(
      n, n_top,
      [&rank](int64_t a, int64_t b) { return rank[a] > rank[b] || (rank[a] == rank[b] && a < b); },
      out);
  if (n_random == 0) return;
  const PhiloxKey key = make_philox_key(seed, offset);
  std::vector<int64_t> rkey(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) rkey[i] = random_key(key, static_cast<uint64_t>(i));
  for (int64_t j = 0; j < n_top; ++j) rkey[out[j]] = kExcludedRandomKey;
  // excluded particles rank above every key, and n_random <= n - n_top, so none is picked
  smallest_indices(
      n, n_random,
      [&rkey](int64_t a, int64_t b) { return rkey[a] < rkey[b] || (rkey[a] == rkey[b] && a < b); },
      out + n_top);
}

}  // namespace cpu
}  // namespace fkc
