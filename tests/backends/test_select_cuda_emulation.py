"""The CUDA selection kernel's algorithm (csrc/core/select_blocks.h) run on the CPU under its host
execution model (``torch.ops.fkc.select_particles_block_emulation``: blocks one after another,
every thread's iteration of a phase in turn), index for index against reference.select_particles.

The GPU runs the same source under the CUDA model, so this is where its logic is tested on a
machine without a GPU: per-block radix select, order-preserving compaction, the merge tree of
last-block-done steps (one to four levels here), the ranking, and the exclusion of the top part
from the random part. Chunk sizes and thread counts vary, including chunks smaller than k (blocks
emit fewer than k candidates), thread counts that divide neither the chunk nor 256 bins, and a
short last chunk. The host runs the blocks in the order 0, B-1, 1, B-2, ..., so the block that
merges a group is not its last one."""

from __future__ import annotations

import pytest
import torch

from fkc_kernels import reference

pytestmark = pytest.mark.usefixtures("cpu_backend")

NAN, INF = float("nan"), float("inf")
KINDS = ("normal", "ties", "equal", "specials")
DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
# (threads, chunk); (0, 0) is the GPU launch's own choice (512 threads, chunk ~ sqrt(N k))
CONFIGS = ((0, 0), (1, 1), (3, 7), (33, 16), (96, 64), (200, 4096), (512, 2048), (1024, 256))


def _emulate(w, k, n_random, seeds, threads=0, chunk=0, reverse=False):
    return torch.ops.fkc.select_particles_block_emulation(w, k, n_random, seeds, threads, chunk,
                                                          reverse)


def _weights(n: int, kind: str, dtype: torch.dtype, gen: torch.Generator) -> torch.Tensor:
    if kind == "normal":
        w = torch.randn(n, generator=gen, dtype=torch.float64)
    elif kind == "ties":  # four distinct values: ties go to the lower index
        w = torch.randint(0, 4, (n,), generator=gen).double()
    elif kind == "equal":
        w = torch.full((n,), 0.25, dtype=torch.float64)
    else:  # NaN below -inf, -0.0 ties +0.0, ±inf
        pool = torch.tensor([NAN, -INF, INF, -0.0, 0.0, 1.0, -1.0], dtype=torch.float64)
        w = pool[torch.randint(0, len(pool), (n,), generator=gen)]
    return w.to(dtype)


def _check(w, k, n_random, seeds, threads=0, chunk=0, reverse=False):
    got = _emulate(w, k, n_random, seeds, threads, chunk, reverse)
    want = reference.select_particles(w, k, n_random, seeds)
    assert got.dtype == torch.int64 and got.shape == (k,)
    assert torch.equal(got, want), (
        f"N={w.shape[0]} {w.dtype} k={k} n_random={n_random} threads={threads} chunk={chunk} "
        f"reverse={reverse}: {got.tolist()} != reference {want.tolist()}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_equals_the_reference_over_sizes_configs_and_splits(kind, dtype):
    gen = torch.Generator().manual_seed(10 * KINDS.index(kind) + DTYPES.index(dtype))
    for n in (1, 2, 5, 37, 300, 1500):
        w = _weights(n, kind, dtype, gen)
        for k in sorted({0, 1, min(n, 3), min(n, 64), min(n, 256)}):
            for n_random in sorted({0, k // 2, k}):
                for i, (threads, chunk) in enumerate(CONFIGS):
                    seeds = torch.randint(0, 1 << 62, (2,), generator=gen)
                    _check(w, k, n_random, seeds, threads, chunk, reverse=i % 2 == 1)


@pytest.mark.parametrize("threads,chunk", [(0, 0), (512, 1024), (128, 256)])
def test_large_n_with_the_largest_k(threads, chunk):
    # 2^17 particles, k = 256 (fan-in 16): the GPU's config has 32 blocks of 4096 in two groups
    # under the root; chunk 1024 adds a level (128 blocks, 8 groups), chunk 256 another
    gen = torch.Generator().manual_seed(16)
    seeds = torch.tensor([0x0123_4567_89AB_CDEF, 99])
    n = 1 << 17
    w = torch.randn(n, generator=gen)
    w[torch.randint(0, n, (300,), generator=gen)] = 3.5  # a tie across many blocks and groups
    for k, n_random in ((256, 128), (256, 0), (256, 256), (64, 32)):
        _check(w, k, n_random, seeds, threads, chunk)


def test_ties_spread_over_the_groups_of_a_deep_merge_tree():
    # chunk 1: 5000 one-particle blocks; at k = 201 (fan-in 20) and k = 256 (fan-in 16) the tree
    # has four levels. The top part's tied zeros sit at 4000..4999: its first 200 span many
    # groups, and only index order across groups picks the right ones.
    w = torch.full((5000,), -1.0)
    w[4000:] = 0.0
    w[4500] = 1.0
    seeds = torch.tensor([5, 6])
    for threads, chunk in ((1, 1), (64, 1), (96, 2), (512, 1)):
        _check(w, 201, 0, seeds, threads, chunk)
        _check(w, 256, 55, seeds, threads, chunk)


@pytest.mark.parametrize("kind", KINDS)
def test_the_order_of_a_phases_threads_does_not_matter(kind):
    # The GPU runs a phase's threads in any interleaving; the host runs them first to last, or
    # last to first here. A phase in which one thread reads what another writes (a race on the
    # GPU) gives a different result in one of the two orders.
    gen = torch.Generator().manual_seed(7 + KINDS.index(kind))
    for n in (37, 1500, 9000):
        w = _weights(n, kind, torch.float32, gen)
        for k, n_random in ((min(n, 256), min(n, 100)), (min(n, 64), 0), (1, 1)):
            for threads, chunk in ((1024, 4096), (96, 64), (33, 16), (300, 1)):
                seeds = torch.randint(0, 1 << 62, (2,), generator=gen)
                forward = _emulate(w, k, n_random, seeds, threads, chunk)
                backward = _emulate(w, k, n_random, seeds, threads, chunk, reverse=True)
                assert torch.equal(forward, backward), (n, k, n_random, threads, chunk)
                assert torch.equal(forward, reference.select_particles(w, k, n_random, seeds))


def test_edge_sizes_and_splits():
    seeds = torch.tensor([11, 22])
    _check(torch.empty(0), 0, 0, seeds)
    for threads, chunk in ((0, 0), (1, 1), (7, 3)):
        _check(torch.tensor([0.5]), 1, 0, seeds, threads, chunk)
        _check(torch.tensor([0.5]), 1, 1, seeds, threads, chunk)
        _check(torch.tensor([NAN]), 1, 0, seeds, threads, chunk)
        w = torch.tensor([0.5, NAN, 2.0, 2.0, -1.0, -0.0, 0.0, -INF, INF])
        for k in range(len(w) + 1):
            for n_random in range(k + 1):
                _check(w, k, n_random, seeds, threads, chunk)


def test_strided_weights_are_read_in_place():
    gen = torch.Generator().manual_seed(3)
    base = torch.randint(0, 3, (2000,), generator=gen).float()
    w = base[::2]
    assert w.stride(0) == 2
    for threads, chunk in ((0, 0), (33, 64)):
        _check(w, 40, 17, torch.tensor([7, 8]), threads, chunk)


def test_rejects_what_the_kernel_cannot_run():
    w = torch.randn(1000)
    seeds = torch.tensor([1, 2])
    with pytest.raises(RuntimeError, match="threads: expected 1..1024, got 1025"):
        _emulate(w, 4, 2, seeds, 1025, 64)
    with pytest.raises(RuntimeError, match="chunk: expected 1..4096, got 8192"):
        _emulate(w, 4, 2, seeds, 64, 8192)
    with pytest.raises(RuntimeError, match="k: the one-launch selection takes k <= 256"):
        _emulate(w, 257, 2, seeds)
    with pytest.raises(RuntimeError, match="n_random: expected 0 <= n_random <= k=4, got 5"):
        _emulate(w, 4, 5, seeds)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_float64_weights_that_differ_only_in_the_last_bits(sign):
    # neighbouring doubles (1 ulp apart, shuffled): the order is decided by the radix select's
    # last 8-bit digit, which float32-exact weights never reach
    gen = torch.Generator().manual_seed(64)
    bits = torch.tensor([sign], dtype=torch.float64).view(torch.int64)
    w = (bits + torch.randperm(700, generator=gen)).view(torch.float64)
    w[::7] = w[3]  # and ties among them
    seeds = torch.tensor([1, 2])
    for threads, chunk in ((0, 0), (96, 64), (5, 1)):
        for k, n_random in ((256, 0), (200, 50), (3, 1)):
            _check(w, k, n_random, seeds, threads, chunk)
