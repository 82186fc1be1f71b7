"""Global effective sample size and systematic resampling of particles sharded across ranks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..ops import _validate as v
from ..ops.noise import draw_uniform
from .communication import (
    bits_f64,
    checked_args,
    exchange_header,
    f64_bits,
    range_overlap,
    shard_offsets,
    world_and_rank,
)


def _clean_logw(logw: torch.Tensor) -> torch.Tensor:
    """float64 log-weights with NaN as -inf (zero weight), as the single-process reference."""
    lw = logw.to(torch.float64)
    return torch.where(torch.isnan(lw), torch.full_like(lw, -math.inf), lw)


def effective_sample_size(
    logw_local: torch.Tensor, *, group: dist.ProcessGroup | None = None
) -> torch.Tensor:
    """Global effective sample size ``(Σ W)² / Σ W²`` over the particles of all ranks.

    Collective. Each rank sends ``logsumexp(logw)`` and ``logsumexp(2 logw)`` of its shard; the
    result equals single-process ``effective_sample_size(cat(logw))`` up to float64 rounding.

    Args:
        logw_local: ``(n_r,)`` floating log-weights of this rank's particles (NaN = zero weight).
        group: process group (default group when ``None``).

    Returns:
        0-d float32 tensor in ``[1, N]``, the same on every rank (NaN when no weight is finite).
    """
    world, _ = world_and_rank(group)
    checked, err, device = checked_args(lambda: (v.check_weights("logw_local", logw_local),),
                                        group)
    fields = None
    if err is None:
        logw_local = checked[0]
        lw = _clean_logw(logw_local)
        lse = torch.stack([torch.logsumexp(lw, 0), torch.logsumexp(2.0 * lw, 0)])
        fields = [torch.tensor([logw_local.shape[0]], device=device), f64_bits(lse)]
    table = exchange_header(fields, 3, device, world, group, err, "effective_sample_size")
    if int(table[:, 0].sum()) == 0:
        raise ValueError("logw_local: expected at least one particle over all ranks, got 0")
    lse = bits_f64(table[:, 1:])
    l1, l2 = torch.logsumexp(lse[:, 0], 0), torch.logsumexp(lse[:, 1], 0)
    return torch.exp(2.0 * l1 - l2).to(torch.float32)


def _first_position_at_or_above(c: float, u: float, n: int) -> int:
    """Smallest offspring ``i`` with ``(i + u) / n >= c`` (``n`` if none), in exact float64.

    The same float expression as the positions themselves, so every rank counts alike.
    """
    if c >= 1.0:
        return n
    i = min(max(math.ceil(c * n - u), 0), n)
    while i > 0 and (i - 1 + u) / n >= c:
        i -= 1
    while i < n and (i + u) / n < c:
        i += 1
    return i


def systematic_resample(
    logw_local: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    group: dist.ProcessGroup | None = None,
) -> torch.Tensor:
    """Global systematic resampling of sharded particles; this rank's ancestors.

    Collective. One uniform ``u`` (group rank 0's draw; every rank draws so that equal
    generators stay equal). Global offspring ``i`` takes the first global ancestor whose
    cumulative normalised weight exceeds ``(i + u)/N``, as single-process
    ``systematic_resample(cat(logw))``; ancestor ``j`` gets ``floor(N W_j)`` or ``ceil(N W_j)``
    offspring. Offspring keep the layout: rank ``r`` gets offspring ``offset_r .. offset_r+n_r-1``.
    Each rank computes the offspring of its own particles from the per-rank total weights
    (one all_gather) and sends their ancestor indices to the ranks that own those offspring
    (one all_to_all); pass the result to :func:`fetch_particles` to move the particles.

    Args:
        logw_local: ``(n_r,)`` floating log-weights of this rank's particles (NaN = zero weight).
        generator: source of ``u``.
        group: process group (default group when ``None``).

    Returns:
        int64 ``(n_r,)`` on ``logw_local.device``: the *global* ancestor index of each of this
        rank's offspring slots, non-decreasing; the concatenation over ranks is the global
        ancestor vector.

    Raises:
        ValueError: on every rank when there is no particle, or no finite log-weight (or a
            ``+inf`` one) on any rank: the normalised weights are then undefined.
    """
    world, rank = world_and_rank(group)
    logw_local, head = _resample_header(logw_local, generator, group, world)
    anc_out = _local_ancestors(logw_local, head, rank)
    if world == 1:
        return anc_out
    return _send_to_owners(anc_out, head, rank, world, group)


@dataclass(frozen=True)
class _Header:
    """What every rank knows after the header exchange of :func:`systematic_resample`."""

    sizes: list[int]  # particles per rank
    offsets: list[int]  # global index of each rank's first particle
    bounds: list[int]  # offspring [bounds[r], bounds[r+1]) have their ancestor on rank r
    cdf_end: list[float]  # cumulative normalised mass at the end of each rank
    m: float  # max per-rank logsumexp (the normalising shift)
    total: float  # sum of the shifted per-rank masses
    u: float  # the one uniform (rank 0's draw)
    device: torch.device


def _resample_header(logw_local: torch.Tensor, generator: torch.Generator | None, group,
                     world: int) -> tuple[torch.Tensor, _Header]:
    """Check the arguments, exchange (size, logsumexp, u) and place each rank's offspring:
    the checked ``logw_local`` and what every rank now knows."""

    def check() -> tuple:
        lw = v.check_weights("logw_local", logw_local)
        v.check_generator(generator, lw.device)
        return (lw,)

    checked, err, device = checked_args(check, group)
    fields = None
    if err is None:
        lse = torch.logsumexp(_clean_logw(checked[0]), 0).reshape(1)
        u_draw = draw_uniform(generator, device).reshape(1)
        fields = [torch.tensor([checked[0].shape[0]], device=device), f64_bits(lse),
                  f64_bits(u_draw)]
    table = exchange_header(fields, 3, device, world, group, err, "systematic_resample")
    sizes = table[:, 0].tolist()
    lses = bits_f64(table[:, 1]).tolist()
    u = bits_f64(table[0, 2]).item()
    n = sum(sizes)
    if n == 0:
        raise ValueError("logw_local: expected at least one particle over all ranks, got 0")
    m = max(lses)
    if not math.isfinite(m):
        raise ValueError(
            "logw_local: expected a finite log-weight on some rank (normalised weights are "
            f"undefined otherwise), got per-rank logsumexp {lses}"
        )
    mass = [math.exp(x - m) for x in lses]
    total = 0.0
    cum = []
    for x in mass:
        total += x
        cum.append(total)
    # cumulative normalised mass at the end of each rank; exactly 1.0 from the last rank with
    # weight on, so that rank takes every remaining offspring and no zero-weight rank gets one
    cdf_end = [c / total for c in cum]
    last_pos = max(r for r in range(world) if mass[r] > 0.0)
    for r in range(last_pos, world):
        cdf_end[r] = 1.0
    bounds = [0] + [_first_position_at_or_above(c, u, n) for c in cdf_end]
    return checked[0], _Header(sizes, shard_offsets(sizes), bounds, cdf_end, m, total, u,
                               device)


def _local_ancestors(logw_local: torch.Tensor, head: _Header, rank: int) -> torch.Tensor:
    """Global ancestor indices of the offspring ``[a, b)`` whose ancestor is on this rank."""
    a, b = head.bounds[rank], head.bounds[rank + 1]
    if b <= a:
        return torch.empty(0, dtype=torch.int64, device=head.device)
    n = sum(head.sizes)
    wl = torch.exp(_clean_logw(logw_local) - head.m) / head.total
    base = 0.0 if rank == 0 else head.cdf_end[rank - 1]
    cdf = base + torch.cumsum(wl, 0)
    pos = (torch.arange(a, b, dtype=torch.float64, device=head.device) + head.u) / n
    local = torch.searchsorted(cdf, pos, right=True)
    # float64 rounding at the shard's ends must never pick a zero-weight particle
    nz = torch.nonzero(wl > 0).reshape(-1)
    local = local.clamp_(min=int(nz[0]), max=int(nz[-1]))
    return local + head.offsets[rank]


def _send_to_owners(anc_out: torch.Tensor, head: _Header, rank: int, world: int,
                    group) -> torch.Tensor:
    """One all_to_all: each rank's ancestor indices to the ranks owning those offspring."""
    sizes, offsets, bounds = head.sizes, head.offsets, head.bounds
    a, b = bounds[rank], bounds[rank + 1]
    send = [range_overlap(a, b, offsets[d], offsets[d] + sizes[d]) for d in range(world)]
    me0, me1 = offsets[rank], offsets[rank] + sizes[rank]
    recv = [range_overlap(bounds[s], bounds[s + 1], me0, me1) for s in range(world)]
    out = torch.empty(sizes[rank], dtype=torch.int64, device=head.device)
    # sources send in offspring order and offspring ranges increase with the source rank, so
    # the output (by source rank) is in offspring order
    dist.all_to_all_single(out, anc_out, output_split_sizes=recv, input_split_sizes=send,
                           group=group)
    return out
