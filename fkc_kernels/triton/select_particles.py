"""One-pass particle selection in Triton: exact top part, then Philox-keyed random part.

Same contract as :func:`fkc_kernels.reference.select_particles`, index for index. Every particle
gets two sortable int64 pairs: ``(desc_key(w), i)`` (ascending = descending ``w``, NaN last,
ties to the lower index) and ``(random_key(S, O, i), i)``. One pass over ``w`` keeps, per block,
the ``n_top`` smallest top pairs and the ``k = n_top + n_random`` smallest random pairs; merge
rounds shrink the candidate lists on the device (sizes depend on shapes only: no host sync); a
final program emits the top part and the first ``n_random`` random candidates that are not in it.
Keeping ``n_top + n_random`` random candidates suffices: at most ``n_top`` of them are top ones.
A candidate ``c`` is a top one exactly when its top pair is ``<=`` the ``n_top``-th top pair.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .. import reference
from ._philox import load_seeds, random_keys
from ._sort import sort_pairs

_I64_MAX = tl.constexpr(0x7FFFFFFFFFFFFFFF)  # globals in @jit code must be constexpr objects
# candidates per program. The pair bitonic network unrolls into a lot of code: compiling it for
# sm_90 (triton 3.8, no GPU) took 25 s at 512 and minutes at 2048, so programs stay at 512
_MIN_BLOCK = 512
_MAX_KEEP = 256  # larger k uses the reference's device sort (still no host sync)


@triton.jit
def _desc_key(w):
    """int64 key ascending in descending float64 ``w``: -0.0 equals 0.0, NaN after -inf."""
    w = tl.where(w == 0.0, 0.0, w)
    bits = w.to(tl.int64, bitcast=True)
    ordered = tl.where(bits < 0, bits ^ 0x7FFFFFFFFFFFFFFF, bits)  # ascending in w
    return tl.where(w != w, _I64_MAX, ~ordered)


@triton.jit
def _candidates_kernel(w_ptr, seeds_ptr, top_k_ptr, top_i_ptr, rnd_k_ptr, rnd_i_ptr, N,
                       N_TOP: tl.constexpr, N_RND: tl.constexpr, BLOCK: tl.constexpr,
                       LOG_BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    ok = offs < N
    idx = tl.where(ok, offs.to(tl.int64), _I64_MAX)  # padding sorts after every particle
    slot = tl.arange(0, BLOCK)
    if N_TOP > 0:
        w = tl.load(w_ptr + offs, mask=ok, other=0.0).to(tl.float64)
        key, i = sort_pairs(tl.where(ok, _desc_key(w), _I64_MAX), idx, LOG_BLOCK)
        tl.store(top_k_ptr + pid * N_TOP + slot, key, mask=slot < N_TOP)
        tl.store(top_i_ptr + pid * N_TOP + slot, i, mask=slot < N_TOP)
    if N_RND > 0:
        seed, offset = load_seeds(seeds_ptr)
        rk = tl.where(ok, random_keys(seed, offset, offs.to(tl.int64)), _I64_MAX)
        key, i = sort_pairs(rk, idx, LOG_BLOCK)
        tl.store(rnd_k_ptr + pid * N_RND + slot, key, mask=slot < N_RND)
        tl.store(rnd_i_ptr + pid * N_RND + slot, i, mask=slot < N_RND)


@triton.jit
def _merge_kernel(k_in, i_in, M, k_out, i_out, KEEP: tl.constexpr, BLOCK: tl.constexpr,
                  LOG_BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    ok = offs < M
    key = tl.load(k_in + offs, mask=ok, other=_I64_MAX)
    i = tl.load(i_in + offs, mask=ok, other=_I64_MAX)
    key, i = sort_pairs(key, i, LOG_BLOCK)
    slot = tl.arange(0, BLOCK)
    tl.store(k_out + pid * KEEP + slot, key, mask=slot < KEEP)
    tl.store(i_out + pid * KEEP + slot, i, mask=slot < KEEP)


@triton.jit
def _finish_kernel(w_ptr, top_k, top_i, M_TOP, rnd_k, rnd_i, M_RND, out_ptr,
                   N_TOP: tl.constexpr, N_RANDOM: tl.constexpr, BLOCK: tl.constexpr,
                   LOG_BLOCK: tl.constexpr):
    slot = tl.arange(0, BLOCK)
    if N_TOP > 0:
        ok = slot < M_TOP
        key = tl.load(top_k + slot, mask=ok, other=_I64_MAX)
        i = tl.load(top_i + slot, mask=ok, other=_I64_MAX)
        key, i = sort_pairs(key, i, LOG_BLOCK)
        tl.store(out_ptr + slot, i, mask=slot < N_TOP)
        # the n_top-th top pair: a particle is in the top part iff its pair is <= this one
        last = slot == N_TOP - 1
        thr_k = tl.sum(tl.where(last, key, 0), 0)
        thr_i = tl.sum(tl.where(last, i, 0), 0)
    if N_RANDOM > 0:
        ok = slot < M_RND
        key = tl.load(rnd_k + slot, mask=ok, other=_I64_MAX)
        i = tl.load(rnd_i + slot, mask=ok, other=_I64_MAX)
        key, i = sort_pairs(key, i, LOG_BLOCK)
        keep = i != _I64_MAX
        if N_TOP > 0:
            w = tl.load(w_ptr + tl.where(keep, i, 0), mask=keep, other=0.0).to(tl.float64)
            wk = _desc_key(w)
            keep = keep & ~((wk < thr_k) | ((wk == thr_k) & (i <= thr_i)))
        pos = tl.cumsum(keep.to(tl.int32), 0) - 1
        tl.store(out_ptr + N_TOP + pos, i, mask=keep & (pos < N_RANDOM))


def _block(keep: int, m: int) -> int:
    """Program size for ``m`` candidates of which ``keep`` survive: >= 2*keep so rounds shrink."""
    return max(16, min(max(_MIN_BLOCK, triton.next_power_of_2(2 * keep)),
                       triton.next_power_of_2(m)))


def _reduce(keys: torch.Tensor, idx: torch.Tensor, keep: int, block: int):
    """Merge rounds until at most ``block`` candidates remain (sizes known on the host)."""
    while keys.numel() > block:
        n_blocks = triton.cdiv(keys.numel(), block)
        k_out = torch.empty(n_blocks * keep, dtype=torch.int64, device=keys.device)
        i_out = torch.empty_like(k_out)
        _merge_kernel[(n_blocks,)](keys, idx, keys.numel(), k_out, i_out, KEEP=keep, BLOCK=block,
                                   LOG_BLOCK=block.bit_length() - 1, num_warps=4)
        keys, idx = k_out, i_out
    return keys, idx


def select_particles(w: torch.Tensor, k: int, n_random: int, seeds: torch.Tensor) -> torch.Tensor:
    """Top ``k - n_random`` by ``w`` then ``n_random`` random others, as the reference picks them.

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
    block = _block(k, n)
    n_blocks = triton.cdiv(n, block)
    dev = w.device
    top_k = torch.empty(n_blocks * max(n_top, 1), dtype=torch.int64, device=dev)
    top_i = torch.empty_like(top_k)
    rnd_k = torch.empty(n_blocks * max(k, 1), dtype=torch.int64, device=dev)
    rnd_i = torch.empty_like(rnd_k)
    n_rnd = k if n_random > 0 else 0
    _candidates_kernel[(n_blocks,)](w, seeds, top_k, top_i, rnd_k, rnd_i, n, N_TOP=n_top,
                                    N_RND=n_rnd, BLOCK=block, LOG_BLOCK=block.bit_length() - 1,
                                    num_warps=4)
    merge_block = max(_MIN_BLOCK, triton.next_power_of_2(2 * k))
    if n_top > 0:
        top_k, top_i = _reduce(top_k, top_i, n_top, merge_block)
    if n_rnd > 0:
        rnd_k, rnd_i = _reduce(rnd_k, rnd_i, n_rnd, merge_block)
    final = max(16, triton.next_power_of_2(max(top_k.numel() if n_top else 1,
                                               rnd_k.numel() if n_rnd else 1)))
    _finish_kernel[(1,)](w, top_k, top_i, top_k.numel() if n_top else 0, rnd_k, rnd_i,
                         rnd_k.numel() if n_rnd else 0, out, N_TOP=n_top, N_RANDOM=n_random,
                         BLOCK=final, LOG_BLOCK=final.bit_length() - 1, num_warps=4)
    return out
