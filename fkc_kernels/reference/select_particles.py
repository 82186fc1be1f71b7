"""Reference particle selection: top by weight, then uniform random from the rest."""

from __future__ import annotations

import torch

from .philox import draw_philox_seeds, philox_random_keys


def rank_keys(w: torch.Tensor) -> torch.Tensor:
    """float64 sort keys for ``w`` (N,): NaN ranks lowest, below -inf."""
    w64 = w.to(torch.float64)
    return torch.where(torch.isnan(w64), torch.full_like(w64, -float("inf")), w64)


def top_indices(w: torch.Tensor, n_top: int) -> torch.Tensor:
    """Indices of the ``n_top`` largest ``w``, descending; ties to the lower index; NaN lowest.

    Sorting (not topk) on a two-level key: NaN below -inf, then the lower index first among
    equal weights, so the order is fully determined.
    """
    keys = rank_keys(w)
    is_nan = torch.isnan(w)
    # a stable descending sort keeps lower indices first among equal keys; a second stable
    # sort on the NaN flag moves NaN below -inf without disturbing that order
    order = torch.argsort(keys, descending=True, stable=True)
    nan_last = torch.argsort(is_nan[order].to(torch.int8), stable=True)
    return order[nan_last][:n_top]


def select_particles(
    w: torch.Tensor,
    k: int,
    n_random: int,
    seeds: torch.Tensor | None = None,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Pick ``k`` particle indices: ``k - n_random`` best by ``w``, then ``n_random`` random others.

    The random part is the ``n_random`` particles outside the top part with the smallest
    ``philox_random_keys(S, O, N)`` (ascending; ties to the lower index). Keys are i.i.d., so
    the part is uniform without replacement, and every backend picks the same particles.

    Args:
        w: ``(N,)`` log-weights (any float dtype).
        k: total number picked, ``0 <= k <= N``.
        n_random: how many of the ``k`` are random, ``0 <= n_random <= k``.
        seeds: int64 ``(2,)`` tensor ``[S, O]``; drawn from ``generator`` when ``None``.
        generator: source of ``(S, O)`` (the device default when ``None``).

    Returns:
        int64 tensor ``(k,)`` on ``w.device``: the top part in descending ``w`` (ties to the lower
        index, NaN lowest), then the random part.
    """
    n_top = k - n_random
    top = top_indices(w, n_top)
    if n_random == 0:
        return top
    if seeds is None:
        seeds = draw_philox_seeds(generator, w.device)
    keys = philox_random_keys(seeds[0], seeds[1], w.shape[0], device=w.device)
    keys[top] = 1 << 62  # excluded: larger than every key (keys < 2**62)
    order = torch.argsort(keys, stable=True)
    return torch.cat([top, order[:n_random]])
