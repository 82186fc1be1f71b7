"""Bitonic sort of (key, index) pairs inside one Triton program.

``tl.sort`` sorts one tensor, and its implementation changed between Triton releases; selection
needs lexicographic ``(key, index)`` order (ties to the lower index) on 64-bit keys that leave no
room to pack the index, so this is a pair version of the classic reshape-based bitonic network
(the one ``triton.language.standard`` used through 3.2), written against APIs that exist from 3.2.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _compare_and_swap(k, v, flip, i: tl.constexpr, n_dims: tl.constexpr):
    n_outer: tl.constexpr = k.numel >> n_dims
    shape: tl.constexpr = [n_outer * 2**i, 2, 2 ** (n_dims - i - 1)]
    right_half = tl.arange(0, 2)[None, :, None]
    left_half = 1 - right_half
    ky = tl.reshape(k, shape)
    vy = tl.reshape(v, shape)
    # each pair's left and right members, broadcast back to both positions (exact for ints)
    lk = tl.reshape(tl.broadcast_to(tl.sum(ky * left_half, 1)[:, None, :], shape), k.shape)
    rk = tl.reshape(tl.broadcast_to(tl.sum(ky * right_half, 1)[:, None, :], shape), k.shape)
    lv = tl.reshape(tl.broadcast_to(tl.sum(vy * left_half, 1)[:, None, :], shape), v.shape)
    rv = tl.reshape(tl.broadcast_to(tl.sum(vy * right_half, 1)[:, None, :], shape), v.shape)
    greater = (lk > rk) | ((lk == rk) & (lv > rv))
    swap = greater ^ (flip != 0)
    # x ^ left ^ right is the partner's value at either position
    k = tl.where(swap, k ^ lk ^ rk, k)
    v = tl.where(swap, v ^ lv ^ rv, v)
    return k, v


@triton.jit
def _bitonic_merge(k, v, stage: tl.constexpr, order: tl.constexpr, n_dims: tl.constexpr):
    # order: 0 ascending, 2 alternating (the inner stages of the sort)
    n_outer: tl.constexpr = k.numel >> n_dims
    if order == 2:
        shape: tl.constexpr = [n_outer * 2 ** (n_dims - 1 - stage), 2, 2**stage]
        flip = tl.reshape(tl.broadcast_to(tl.arange(0, 2)[None, :, None], shape), k.shape)
    else:
        flip = tl.zeros(k.shape, dtype=tl.int32)
    for i in tl.static_range(stage):
        k, v = _compare_and_swap(k, v, flip, i + (n_dims - stage), n_dims)
    return k, v


@triton.jit
def sort_pairs(k, v, LOG_N: tl.constexpr):
    """Sort 1-D int64 ``k`` (length ``2**LOG_N``) ascending, ties by ``v`` ascending; permute v."""
    for i in tl.static_range(1, LOG_N + 1):
        k, v = _bitonic_merge(k, v, i, 2 if i < LOG_N else 0, LOG_N)
    return k, v
