"""Particle selection in one Triton launch: per-program radix select, then a last-done merge tree.

Same contract as :func:`fkc_kernels.reference.select_particles`, index for index. Every particle
has two int64 keys, unique once the index breaks ties: ``desc_key(w)`` (ascending = descending
``w``, NaN last, -0.0 == 0.0) for the top part and ``random_key(S, O, i)`` for the random part.

1. Each program owns ``BLOCK`` particles and keeps the ``n_top`` smallest top pairs and the
   ``k = n_top + n_random`` smallest random pairs of its block. A radix select (8-bit digits
   from the top, ``tl.histogram``) fixes the K-th smallest key's digits until the bucket holding
   it is taken whole; the K smallest are the keys below that prefix and the first few equal to
   it, the lowest-indexed ones, so a prefix sum in index order picks them. The survivors are
   written to the program's slot in index order (no sort).
2. Programs meet in groups of ``G`` slots: the last program of a group to finish (an atomic
   counter) merges the group's slots into one slot of the next level with the same select. Slots
   stay in index order, so the positional tie rule stays exact at every level.
3. The program that completes the last level ranks the ``n_top`` winners by counting (position =
   number of smaller pairs), then drops top particles from the random winners and ranks the rest.
   Keeping ``k`` random pairs suffices: at most ``n_top`` of them are top particles.

Two launches in all (the counters' zero fill and the kernel); no host sync, so it can be captured
in a CUDA graph. The compiled variant depends only on ``n_top`` and ``k`` rounded up to powers
of two and on the block size (1024 to 4096 particles, from N), so few shapes compile.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .. import reference
from ._host import cdiv, next_power_of_2
from ._philox import load_seeds, random_keys

_I64_MAX = tl.constexpr(0x7FFFFFFFFFFFFFFF)  # globals in @jit code must be constexpr objects
_I64_MIN = tl.constexpr(-0x8000000000000000)
_RANK_ROWS = tl.constexpr(16)  # rows per step of the ranking's pairwise compare
_BLOCK_MIN, _BLOCK_MAX = 1024, 4096  # particles per program
_TILE = 4096  # candidates one program merges (a level's group of slots)
_MAX_KEEP = 1024  # larger k uses the reference's device sort (still no host sync)
NUM_WARPS = 8


@triton.jit
def _desc_key(w):
    """int64 key ascending in descending float64 ``w``: -0.0 equals 0.0, NaN after -inf."""
    w = tl.where(w == 0.0, 0.0, w)
    bits = w.to(tl.int64, bitcast=True)
    ordered = tl.where(bits < 0, bits ^ 0x7FFFFFFFFFFFFFFF, bits)  # ascending in w
    return tl.where(w != w, _I64_MAX, ~ordered)


@triton.jit
def _kth_prefix(key, valid, need):
    """Radix select of the ``need`` smallest valid ``key`` (signed int64; ``need`` >= 0).

    Returns ``(T, s, t)``: they are the keys with ``key >> s < T >> s`` and the first ``t`` (in
    lane order) with ``key >> s == T >> s``. Digits are fixed from the top, 8 bits a pass, and
    the passes stop as soon as the bucket that holds the ``need``-th key is taken whole (random
    keys: usually after 2 passes), else after all 64 bits (``s = 0``).
    """
    u = key ^ _I64_MIN  # unsigned order in the bits: digits compare like the signed keys
    bins = tl.arange(0, 256)
    prefix = tl.zeros((), tl.int64)  # the fixed digits, in u's bits
    shift = tl.full((), 56, tl.int32)
    done = shift < 0
    while (shift >= 0) & ~done:
        # the keys still in play share the fixed digits (all of them on the first pass; the
        # clamp keeps that pass's shift defined)
        high = tl.minimum(shift + 8, 63)
        active = valid & ((shift == 56) | ((u >> high) == (prefix >> high)))
        digit = ((u >> shift) & 255).to(tl.int32)
        # inactive lanes land in bin 0 and are taken back out (histogram masks are newer than
        # the triton versions supported)
        hist = tl.histogram(tl.where(active, digit, 0), 256)
        hist -= tl.where(bins == 0, tl.sum((~active).to(tl.int32), 0), 0)
        below = tl.cumsum(hist, 0)
        before = below < need  # bins wholly before the need-th key
        bucket = tl.sum(before.to(tl.int32), 0)
        need -= tl.max(tl.where(before, below, 0), 0)
        prefix |= bucket.to(tl.int64) << shift
        done = tl.sum(tl.where(bins == bucket, hist, 0), 0) == need
        shift -= 8
    # The last pass's shift, as shift + 8 (the loop runs at least once), not a variable copied
    # in the loop. Triton (3.6 and 3.8 alike) finds a loop's carried variables by a dry run of
    # its body. There, `last = shift` gave `last` the value it had before the loop, since both
    # started as the initial shift. So `last` was not carried and stayed 56 after the loop on the
    # GPU (the interpreter runs Python and was right). Every survivor test then used the first
    # pass's digits.
    return prefix ^ _I64_MIN, shift + 8, need


@triton.jit
def _keep_smallest(key, idx, valid, K, dst_key, dst_idx, KP: tl.constexpr):
    """Write the ``min(K, #valid)`` smallest ``(key, idx)`` pairs to ``dst[:K]`` in their order
    in the tile (index order); unused slots get ``idx = -1``. Ties on ``key`` go to the earlier
    lane."""
    need = tl.minimum(tl.sum(valid.to(tl.int32), 0), K)
    thr, shift, n_eq = _kth_prefix(key, valid, need)
    # an arithmetic shift keeps the signed order, and equal shifted values share the top bits
    high, thr_high = key >> shift, thr >> shift
    eq = valid & (high == thr_high)
    keep = valid & ((high < thr_high) | (eq & (tl.cumsum(eq.to(tl.int32), 0) <= n_eq)))
    pos = tl.cumsum(keep.to(tl.int32), 0) - 1
    # pos < need <= K whenever the select is right; the bound keeps a wrong count in its slot
    tl.store(dst_key + pos, key, mask=keep & (pos < K))
    tl.store(dst_idx + pos, idx, mask=keep & (pos < K))
    slot = tl.arange(0, KP)
    unused = (slot >= tl.sum(keep.to(tl.int32), 0)) & (slot < K)
    tl.store(dst_key + slot, _I64_MAX, mask=unused)
    tl.store(dst_idx + slot, -1, mask=unused)


@triton.jit
def _merge_slots(cand_key, cand_idx, src, count, dst, K, TILE: tl.constexpr, KP: tl.constexpr):
    """Keep the K smallest of the ``count`` pairs at ``cand[src:]`` into ``cand[dst:dst + K]``."""
    offs = tl.arange(0, TILE)
    inside = offs < count
    # .cg: other programs wrote these; read them from L2, never from a stale L1 line
    key = tl.load(cand_key + src + offs, mask=inside, other=_I64_MAX, cache_modifier=".cg")
    idx = tl.load(cand_idx + src + offs, mask=inside, other=-1, cache_modifier=".cg")
    _keep_smallest(key, idx, inside & (idx >= 0), K, cand_key + dst, cand_idx + dst, KP)


@triton.jit
def _load_pairs(key_ptr, idx_ptr, offs, K, w_ptr, thr_k, thr_i, EXCLUDE_TOP: tl.constexpr):
    """The pairs at ``offs`` (``< K``): ``(key, idx, kept)``; with ``EXCLUDE_TOP``, a pair whose
    particle is in the top part (``(desc_key(w), idx) <= (thr_k, thr_i)``) is not kept."""
    inside = offs < K
    key = tl.load(key_ptr + offs, mask=inside, other=_I64_MAX, cache_modifier=".cg")
    idx = tl.load(idx_ptr + offs, mask=inside, other=-1, cache_modifier=".cg")
    kept = inside
    if EXCLUDE_TOP:
        # idx < 0 only for unused slots (k > N, which the public op refuses): never dereferenced
        wk = _desc_key(tl.load(w_ptr + idx, mask=inside & (idx >= 0), other=0.0).to(tl.float64))
        kept &= ~((wk < thr_k) | ((wk == thr_k) & (idx <= thr_i)))
    return key, idx, kept


@triton.jit
def _rank(key_ptr, idx_ptr, K, w_ptr, thr_k, thr_i, EXCLUDE_TOP: tl.constexpr, KP: tl.constexpr):
    """Order of the ``K`` pairs at ``key_ptr``/``idx_ptr``: ``(key, idx, rank, kept)`` with rank =
    how many kept pairs are smaller (``kept`` as in :func:`_load_pairs`)."""
    kj, ij, kept_j = _load_pairs(key_ptr, idx_ptr, tl.arange(0, KP), K, w_ptr, thr_k, thr_i,
                                 EXCLUDE_TOP)
    rank = tl.zeros((KP,), tl.int32)
    for r0 in range(0, K, _RANK_ROWS):
        kr, ir, kept_r = _load_pairs(key_ptr, idx_ptr, r0 + tl.arange(0, _RANK_ROWS), K, w_ptr,
                                     thr_k, thr_i, EXCLUDE_TOP)
        smaller = (kr[:, None] < kj[None, :]) | ((kr[:, None] == kj[None, :])
                                                  & (ir[:, None] < ij[None, :]))
        rank += tl.sum((smaller & kept_r[:, None]).to(tl.int32), 0)
    return kj, ij, rank, kept_j


# n_blocks is never specialized: the JIT turns an int argument equal to 1 into a constexpr, and
# with n_blocks == 1 (N <= BLOCK) the merge loop's condition folds to false on entry. Triton 3.6's
# TritonGPUCoalesce then meets loads and stores in a region its dataflow analysis marks dead (no
# axis info) and aborts (SmallVector.h "idx < size()", "PassManager::run failed"); 3.8 copes.
@triton.jit(do_not_specialize=["n_blocks"])
def _select_kernel(w_ptr, seeds_ptr, N, n_top, n_random, top_key, top_idx, rnd_key, rnd_idx,
                   counters, n_blocks, out_ptr, BLOCK: tl.constexpr, TILE: tl.constexpr,
                   G: tl.constexpr, KP_TOP: tl.constexpr, KP_RND: tl.constexpr):
    pid = tl.program_id(0)
    k_rnd = n_top + n_random
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    ok = offs < N
    idx = offs.to(tl.int64)
    # level 0: this block's candidates into slot pid
    if KP_TOP > 0:
        w = tl.load(w_ptr + offs, mask=ok, other=0.0).to(tl.float64)
        _keep_smallest(_desc_key(w), idx, ok, n_top, top_key + pid * n_top, top_idx + pid * n_top,
                       KP_TOP)
    if KP_RND > 0:
        seed, offset = load_seeds(seeds_ptr)
        _keep_smallest(random_keys(seed, offset, idx), idx, ok, k_rnd, rnd_key + pid * k_rnd,
                       rnd_idx + pid * k_rnd, KP_RND)
    # the merge tree: the last of a group's programs to arrive merges its G slots
    slot = pid
    n_slots = n_blocks
    base = n_blocks * 0  # first slot of the current level
    level_counters = counters
    mine = pid >= 0  # this program still carries its slot upwards
    while mine & (n_slots > 1):
        tl.debug_barrier()  # every thread's stores precede the arrival below
        group = slot // G
        first = group * G
        members = tl.minimum(G, n_slots - first)
        arrived = tl.atomic_add(level_counters + group, 1, sem="acq_rel")
        mine = arrived == members - 1
        n_groups = (n_slots + G - 1) // G
        if mine:
            dst = base + n_slots + group
            if KP_TOP > 0:
                _merge_slots(top_key, top_idx, (base + first) * n_top, members * n_top,
                             dst * n_top, n_top, TILE, KP_TOP)
            if KP_RND > 0:
                _merge_slots(rnd_key, rnd_idx, (base + first) * k_rnd, members * k_rnd,
                             dst * k_rnd, k_rnd, TILE, KP_RND)
        level_counters += n_groups
        base += n_slots
        slot = group
        n_slots = n_groups
    if mine:  # the last level's single slot holds the winners, in index order
        tl.debug_barrier()
        thr_k = tl.zeros((), tl.int64)
        thr_i = tl.zeros((), tl.int64)
        if KP_TOP > 0:
            kj, ij, rank, kept = _rank(top_key + base * n_top, top_idx + base * n_top, n_top,
                                       w_ptr, thr_k, thr_i, False, KP_TOP)
            tl.store(out_ptr + rank, ij, mask=kept)
            # the last top pair: a particle is in the top part iff its pair is <= this one
            last = kept & (rank == n_top - 1)
            thr_k = tl.sum(tl.where(last, kj, 0), 0)
            thr_i = tl.sum(tl.where(last, ij, 0), 0)
        if KP_RND > 0:
            kj, ij, rank, kept = _rank(rnd_key + base * k_rnd, rnd_idx + base * k_rnd, k_rnd,
                                       w_ptr, thr_k, thr_i, KP_TOP > 0, KP_RND)
            tl.store(out_ptr + n_top + rank, ij, mask=kept & (rank < n_random))


def _levels(n_blocks: int, group: int) -> tuple[int, int]:
    """(slots, counters) over all merge levels for ``n_blocks`` level-0 slots."""
    slots, counters, n = n_blocks, 0, n_blocks
    while n > 1:
        n = cdiv(n, group)
        slots += n
        counters += n
    return slots, counters


def launch_config(n: int, k: int, n_random: int) -> dict[str, int]:
    """The kernel's compile-time sizes for ``N = n`` (``0 < k <= _MAX_KEEP``)."""
    # next_power_of_2(0) is 0: no top part, no compiled top path
    kp_top, kp_rnd = next_power_of_2(k - n_random), (next_power_of_2(k) if n_random > 0 else 0)
    kp = max(kp_top, kp_rnd)
    # ~128 programs or fewer: each keeps at most k, and a group of slots fills one merge tile
    block = min(max(_BLOCK_MIN, next_power_of_2(cdiv(n, 128)), kp), _BLOCK_MAX,
                max(16, next_power_of_2(n)))
    tile = max(_TILE, 2 * kp)
    return dict(BLOCK=block, TILE=tile, G=tile // kp, KP_TOP=kp_top, KP_RND=kp_rnd)


def select_particles(w: torch.Tensor, k: int, n_random: int, seeds: torch.Tensor) -> torch.Tensor:
    """Top ``k - n_random`` by ``w`` then ``n_random`` random others, as the reference picks them:
    :func:`select_particles_kernel` on CPU tensors (the interpreter), the reference's device sort
    on CUDA tensors.

    On an H200 (triton 3.6, 2026-12-04) the kernel picked wrong indices: compiled, the radix
    select returned the first pass's shift whatever the pass it stopped at (the comment at the
    end of ``_kth_prefix``). That is fixed, and the compiled IR now returns the loop's shift,
    but the fix has not run on a GPU. Until a GPU run shows the kernel index-exact, it is not
    dispatched on GPUs; ``bench/gpu_check.py`` checks and times it there directly.
    """
    if w.is_cuda:
        return reference.select_particles(w, k, n_random, seeds)
    return select_particles_kernel(w, k, n_random, seeds)


def select_particles_kernel(w: torch.Tensor, k: int, n_random: int,
                            seeds: torch.Tensor) -> torch.Tensor:
    """The one-launch selection (module docstring), on any device Triton runs.

    Args:
        w: ``(N,)`` float16/bfloat16/float32/float64 log-weights (keys in float64: exact).
        k: ``0 <= k <= N``; n_random: ``0 <= n_random <= k``.
        seeds: int64 ``(2,)`` ``[S, O]`` on w's device (loaded in the kernel: no host sync).

    Returns:
        int64 ``(k,)`` on ``w.device``.
    """
    n = w.shape[0]
    n_top = k - n_random
    out = torch.empty(k, dtype=torch.int64, device=w.device)
    if k == 0:
        return out
    if k > _MAX_KEEP:
        return reference.select_particles(w, k, n_random, seeds)
    w = w.contiguous()
    config = launch_config(n, k, n_random)
    n_blocks = cdiv(n, config["BLOCK"])
    slots, n_counters = _levels(n_blocks, config["G"])
    dev = w.device
    top_key = torch.empty(max(slots * n_top, 1), dtype=torch.int64, device=dev)
    top_idx = torch.empty_like(top_key)
    rnd_len = max(slots * k, 1) if n_random > 0 else 1
    rnd_key = torch.empty(rnd_len, dtype=torch.int64, device=dev)
    rnd_idx = torch.empty_like(rnd_key)
    counters = torch.zeros(max(n_counters, 1), dtype=torch.int32, device=dev)
    _select_kernel[(n_blocks,)](w, seeds, n, n_top, n_random, top_key, top_idx, rnd_key, rnd_idx,
                                counters, n_blocks, out, **config, num_warps=NUM_WARPS)
    return out
