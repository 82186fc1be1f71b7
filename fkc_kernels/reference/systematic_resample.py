"""Reference systematic resampling and effective sample size (log-weight inputs)."""

from __future__ import annotations

import torch

from .philox import draw_uniform


def normalized_weights(logw: torch.Tensor) -> torch.Tensor:
    """float64 ``softmax(logw)`` over ``(N,)``; NaN counts as ``-inf`` (zero weight)."""
    lw = logw.to(torch.float64)
    lw = torch.where(torch.isnan(lw), torch.full_like(lw, -float("inf")), lw)
    return torch.softmax(lw, dim=0)


def effective_sample_size(logw: torch.Tensor) -> torch.Tensor:
    """ESS ``1 / sum(W_i^2)`` of normalized weights ``W = softmax(logw)``.

    Args:
        logw: ``(N,)`` log-weights, any float dtype.

    Returns:
        0-d float32 tensor in ``[1, N]`` (NaN when no weight is finite).
    """
    wn = normalized_weights(logw)
    return (1.0 / (wn * wn).sum()).to(torch.float32)


def systematic_resample(
    logw: torch.Tensor, *, generator: torch.Generator | None = None, u: torch.Tensor | None = None
) -> torch.Tensor:
    """Systematic resampling: ancestor index of each of ``N`` offspring.

    One uniform ``u ~ U[0, 1)`` is drawn; offspring ``i`` takes the first ancestor ``j`` whose
    cumulative normalized weight exceeds ``(i + u) / N``. Each ancestor gets
    ``floor(N*W_j)`` or ``ceil(N*W_j)`` offspring, ``N*W_j`` on average.

    Args:
        logw: ``(N,)`` log-weights (float dtype); NaN counts as zero weight.
        generator: source of ``u`` (on ``logw``'s device or CPU).
        u: optional explicit 0-d/1-element uniform in ``[0, 1)`` (overrides the generator).

    Returns:
        int64 ``(N,)`` ancestor indices, non-decreasing, on ``logw.device``.
    """
    n = logw.shape[0]
    wn = normalized_weights(logw)
    if u is None:
        u = draw_uniform(generator, logw.device)
    u = u.to(device=logw.device, dtype=torch.float64).reshape(1)
    positions = (torch.arange(n, device=logw.device, dtype=torch.float64) + u) / n
    cdf = torch.cumsum(wn, 0)
    # renormalising makes cdf[-1] exactly 1 > every position, so rounding can never pick a
    # zero-weight particle at the end
    cdf = cdf / cdf[-1]
    idx = torch.searchsorted(cdf, positions, right=True)
    return idx.clamp_(max=n - 1)
