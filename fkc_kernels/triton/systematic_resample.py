"""Systematic resampling in Triton: float64 softmax, block prefix sums and a binary search.

Matches :func:`fkc_kernels.reference.systematic_resample` (``u`` given): NaN log-weights count as
zero weight, the cdf is divided by its last element (so it ends at exactly 1), offspring ``i``
takes the first ancestor whose cdf exceeds ``(i + u) / N``. Four small launches, all sizes known
on the host and ``u`` read on the device, so there is no host sync.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._host import cdiv, next_power_of_2

_BLOCK = 1024


@triton.jit
def _log_weights(logw_ptr, offs, ok):
    lw = tl.load(logw_ptr + offs, mask=ok, other=float("-inf")).to(tl.float64)
    return tl.where(lw != lw, float("-inf"), lw)  # NaN = zero weight


@triton.jit
def _block_max_kernel(logw_ptr, max_ptr, N, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(max_ptr + tl.program_id(0), tl.max(_log_weights(logw_ptr, offs, offs < N), 0))


@triton.jit
def _global_max(max_ptr, n_blocks, CHUNK: tl.constexpr):
    m = tl.full([CHUNK], float("-inf"), tl.float64)
    for c in range(0, n_blocks, CHUNK):
        offs = c + tl.arange(0, CHUNK)
        m = tl.maximum(m, tl.load(max_ptr + offs, mask=offs < n_blocks, other=float("-inf")))
    return tl.max(m, 0)


@triton.jit
def _block_cumsum_kernel(logw_ptr, max_ptr, cdf_ptr, sum_ptr, N, n_blocks, BLOCK: tl.constexpr,
                         CHUNK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < N
    m = _global_max(max_ptr, n_blocks, CHUNK)
    e = tl.where(ok, tl.exp(_log_weights(logw_ptr, offs, ok) - m), 0.0)
    c = tl.cumsum(e, 0)
    tl.store(cdf_ptr + offs, c, mask=ok)
    tl.store(sum_ptr + tl.program_id(0), tl.sum(e, 0))


@triton.jit
def _normalize_kernel(cdf_ptr, sum_ptr, N, n_blocks, BLOCK: tl.constexpr, CHUNK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    ok = offs < N
    # every program sums the block totals in the same order, so all agree on the total
    prefix = tl.zeros([CHUNK], tl.float64)
    total = tl.zeros([CHUNK], tl.float64)
    for c in range(0, n_blocks, CHUNK):
        b = c + tl.arange(0, CHUNK)
        s = tl.load(sum_ptr + b, mask=b < n_blocks, other=0.0)
        prefix += tl.where(b < pid, s, 0.0)
        total += s
    cdf = (tl.sum(prefix, 0) + tl.load(cdf_ptr + offs, mask=ok, other=0.0)) / tl.sum(total, 0)
    # the reference divides by cdf[-1]: its last entry is exactly 1
    cdf = tl.where(offs == N - 1, 1.0, cdf)
    tl.store(cdf_ptr + offs, cdf, mask=ok)


@triton.jit
def _search_kernel(cdf_ptr, u_ptr, out_ptr, N, N_STEPS: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < N
    u = tl.load(u_ptr).to(tl.float64)
    pos = (offs.to(tl.float64) + u) / N
    # searchsorted(right=True): first j with cdf[j] > pos, in [0, N]
    lo = tl.zeros([BLOCK], tl.int64)
    hi = tl.zeros([BLOCK], tl.int64) + N
    for _ in tl.static_range(N_STEPS):
        active = lo < hi
        mid = (lo + hi) // 2
        c = tl.load(cdf_ptr + tl.minimum(mid, N - 1), mask=ok & active, other=0.0)
        go_left = c > pos
        hi = tl.where(active & go_left, mid, hi)
        lo = tl.where(active & ~go_left, mid + 1, lo)
    tl.store(out_ptr + offs, tl.minimum(lo, N - 1), mask=ok)


def systematic_resample(logw: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Ancestor indices for ``N`` offspring.

    Args:
        logw: ``(N,)`` float log-weights, ``N >= 1``; NaN = zero weight.
        u: float64 ``(1,)`` uniform in ``[0, 1)`` on logw's device.

    Returns:
        int64 ``(N,)`` non-decreasing ancestor indices on ``logw.device``.
    """
    n = logw.shape[0]
    logw = logw.contiguous()
    dev = logw.device
    block = max(16, min(_BLOCK, next_power_of_2(n)))
    n_blocks = cdiv(n, block)
    chunk = max(16, min(_BLOCK, next_power_of_2(n_blocks)))
    maxes = torch.empty(n_blocks, dtype=torch.float64, device=dev)
    sums = torch.empty(n_blocks, dtype=torch.float64, device=dev)
    cdf = torch.empty(n, dtype=torch.float64, device=dev)
    out = torch.empty(n, dtype=torch.int64, device=dev)
    grid = (n_blocks,)
    _block_max_kernel[grid](logw, maxes, n, BLOCK=block)
    _block_cumsum_kernel[grid](logw, maxes, cdf, sums, n, n_blocks, BLOCK=block, CHUNK=chunk)
    _normalize_kernel[grid](cdf, sums, n, n_blocks, BLOCK=block, CHUNK=chunk)
    _search_kernel[grid](cdf, u, out, n, N_STEPS=n.bit_length() + 1, BLOCK=block)
    return out
