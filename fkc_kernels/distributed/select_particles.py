"""Exact global epsilon-greedy selection over particles sharded across ranks."""

from __future__ import annotations

import math

import torch
import torch.distributed as dist

from ..ops import _validate as v
from ..ops.noise import draw_philox_seeds
from ..reference.philox import philox_random_keys
from ..reference.select_particles import rank_keys, top_indices
from .communication import (
    all_gather_rows,
    bits_f64,
    checked_args,
    exchange_header,
    f64_bits,
    shard_offsets,
    world_and_rank,
)

_EXCLUDED_KEY = 1 << 62  # larger than every Philox random key (keys < 2**62)


def select_particles(
    w_local: torch.Tensor,
    k: int,
    n_random: int,
    *,
    generator: torch.Generator | None = None,
    group: dist.ProcessGroup | None = None,
) -> torch.Tensor:
    """Global epsilon-greedy selection over particles sharded across the ranks of ``group``.

    Collective: every rank of ``group`` must call it with the same ``k`` and ``n_random``.
    The result is what single-process ``fkc_kernels.select_particles`` returns on the
    concatenation of all ranks' weights in rank order, with a generator in group rank 0's state:
    the ``k - n_random`` largest weights in descending order (ties to the lower global index,
    NaN lowest), then the ``n_random`` particles outside that top part with the smallest Philox
    random keys of their *global* index (uniform without replacement over the rest).

    Each rank sends only its local top ``k - n_random`` candidates and its ``k`` smallest random
    keys (the global answer restricted to one rank is always among these), so the exchange is
    ``O(k · world_size)`` whatever N is.

    Args:
        w_local: ``(n_r,)`` floating log-weights of this rank's particles (``n_r`` may differ
            between ranks and may be 0); on the rank's GPU under NCCL.
        k: number of particles picked, ``0 <= k <= N`` (``N`` = the sum of all ``n_r``).
        n_random: how many of them are random, ``0 <= n_random <= k``.
        generator: source of ``(S, O)``; every rank draws (generators stay in step), rank 0's
            draw is used.
        group: process group (the default group when ``None``).

    Returns:
        int64 ``(k,)`` on ``w_local.device``, identical on every rank: global indices.
    """
    world, rank = world_and_rank(group)

    def check() -> tuple:
        w = v.check_weights("w_local", w_local)
        k_ = v.check_int("k", k)
        n_random_ = v.check_int("n_random", n_random, high=k_, high_name=f"k={k_}")
        v.check_generator(generator, w.device)
        return w, k_, n_random_

    checked, err, device = checked_args(check, group)
    fields = None
    if err is None:
        w_local, k, n_random = checked
        seeds = draw_philox_seeds(generator, device)
        fields = [torch.tensor([w_local.shape[0], k, n_random], device=device), seeds]
    table = exchange_header(fields, 5, device, world, group, err, "select_particles").tolist()
    sizes = [row[0] for row in table]
    ks, nrs = {row[1] for row in table}, {row[2] for row in table}
    if len(ks) != 1 or len(nrs) != 1:
        raise ValueError(
            "k, n_random: expected the same values on every rank, got (k, n_random) = "
            f"{[(row[1], row[2]) for row in table]} by rank"
        )
    n_total = sum(sizes)
    if k > n_total:
        raise ValueError(f"k: expected an int <= N={n_total} (the particles on all ranks), got {k}")
    if k == 0:
        return torch.empty(0, dtype=torch.int64, device=device)
    start, n_max = shard_offsets(sizes)[rank], max(sizes)
    n_top = k - n_random
    m_top, m_rand = min(n_top, n_max), (min(k, n_max) if n_random > 0 else 0)
    cand_top = _top_candidates(w_local, n_top, m_top, start, n_total)
    cand_rand = _random_candidates(w_local.shape[0], k, m_rand, start, n_total,
                                   seed=table[0][3], offset=table[0][4], device=device)
    payload = torch.cat([cand_top.reshape(-1), cand_rand.reshape(-1)])
    gathered = all_gather_rows(payload, world, group)
    all_top = gathered[:, : 3 * m_top].reshape(-1, 3)
    all_rand = gathered[:, 3 * m_top:].reshape(-1, 2)
    return _merge(all_top, all_rand, n_top, n_random)


def _top_candidates(w_local: torch.Tensor, n_top: int, m_top: int, start: int,
                    n_total: int) -> torch.Tensor:
    """This rank's best ``min(n_top, n_local)`` as int64 rows ``[class, key bits, global idx]``,
    padded to ``(m_top, 3)``: class 0 = a number (NaN-free key), 1 = NaN (below -inf), 2 =
    padding (below everything)."""
    device, n_local = w_local.device, w_local.shape[0]
    cand_top = torch.empty((m_top, 3), dtype=torch.int64, device=device)
    cand_top[:, 0] = 2
    cand_top[:, 1] = f64_bits(torch.full((m_top,), -math.inf, device=device))
    cand_top[:, 2] = n_total
    if m_top > 0 and n_local > 0:
        loc = top_indices(w_local, min(n_top, n_local))
        nl = loc.shape[0]
        cand_top[:nl, 0] = torch.isnan(w_local[loc]).to(torch.int64)
        cand_top[:nl, 1] = f64_bits(rank_keys(w_local)[loc])
        cand_top[:nl, 2] = loc + start
    return cand_top


def _random_candidates(n_local: int, k: int, m_rand: int, start: int, n_total: int, *,
                       seed: int, offset: int, device: torch.device) -> torch.Tensor:
    """This rank's ``min(k, n_local)`` smallest Philox keys as int64 rows ``[key, global idx]``,
    padded to ``(m_rand, 2)``; at most ``n_top`` of them can fall in the global top part, so
    ``n_random`` real ones remain."""
    cand_rand = torch.empty((m_rand, 2), dtype=torch.int64, device=device)
    cand_rand[:, 0] = _EXCLUDED_KEY
    cand_rand[:, 1] = n_total
    if m_rand > 0 and n_local > 0:
        keys = philox_random_keys(seed, offset, n_local, device=device, start=start)
        loc = torch.argsort(keys, stable=True)[: min(k, n_local)]
        nl = loc.shape[0]
        cand_rand[:nl, 0] = keys[loc]
        cand_rand[:nl, 1] = loc + start
    return cand_rand


def _merge(all_top: torch.Tensor, all_rand: torch.Tensor, n_top: int,
           n_random: int) -> torch.Tensor:
    """The global picks from every rank's candidates (the same on every rank)."""
    # every rank merges the same data the same way: by (class asc, key desc, index asc), done as
    # stable sorts from the least significant criterion up
    order = torch.argsort(all_top[:, 2], stable=True)
    key = bits_f64(all_top[order, 1])
    order = order[torch.argsort(key, descending=True, stable=True)]
    order = order[torch.argsort(all_top[order, 0], stable=True)]
    top = all_top[order[:n_top], 2]
    if n_random == 0:
        return top
    rkey = torch.where(torch.isin(all_rand[:, 1], top),
                       torch.full_like(all_rand[:, 0], _EXCLUDED_KEY), all_rand[:, 0])
    order = torch.argsort(all_rand[:, 1], stable=True)
    order = order[torch.argsort(rkey[order], stable=True)]
    return torch.cat([top, all_rand[order[:n_random], 1]])
