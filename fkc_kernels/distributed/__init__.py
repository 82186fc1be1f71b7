"""Particles sharded over ``torch.distributed`` ranks: exact global selection and resampling.

Each rank holds a contiguous shard of the global particle block, in rank order: rank ``r`` owns
global indices ``offset_r .. offset_r + n_r - 1`` with ``offset_r = n_0 + ... + n_{r-1}``. Shard
sizes may differ (and may be 0). Everything here is built from ``torch.distributed``
collectives only (``all_gather_single``, ``all_to_all_single``, ``broadcast``), so it runs on
NCCL (tensors on the rank's GPU) and gloo (CPU tensors) alike, under ``torchrun``.

Randomness. Every function that draws from a ``generator`` draws on every rank (so equal
generator states stay equal) and then uses **group rank 0's draw** on all ranks: the ranks can
never disagree, whatever their generator states, and a run is reproducible from rank 0's seed.
The noise and the random selection keys of a particle are those of its *global* index under the
noise contract, so a sharded run reproduces the single-process one:

- :func:`select_particles` returns exactly ``fkc_kernels.select_particles(cat(w), k, n_random,
  generator=g)`` for ``g`` in rank 0's generator state.
- :func:`systematic_resample` returns this rank's slice of the single-process ancestor vector
  (equal up to float64 rounding of the cumulative weights at a boundary).
- :class:`ShardedFKCSampler` uses the noise ``normal(S, O, e)`` of global element ``e`` at every
  step and Philox normals of the global element for the start, so its particles do not depend on
  the number of ranks.

Errors. Each function first exchanges a small header (whether the local arguments are valid,
the shard size, rank 0's random draw) so that an invalid argument on one rank raises on *every*
rank instead of leaving the others blocked in a collective.

Communication per call, ``W`` ranks, ``k`` picked, ``n`` particles on this rank, row bytes
``B = D * itemsize``:

- ``select_particles``: one all_gather of 6 int64 (48 B) per rank, one all_gather of
  ``3*min(k - n_random, n_max) + 2*min(k, n_max)`` int64 (at most 40·k B) per rank:
  ``O(k·W)``, independent of N.
- ``effective_sample_size``: one all_gather of 4 int64 (32 B) per rank.
- ``systematic_resample``: one all_gather of 4 int64 per rank, one all_to_all of 8 B per offspring
  whose ancestor lives on another rank (the rest stay local).
- ``fetch_particles``: one all_gather of 4 int64 per rank, all_to_alls of ``W`` counts, of 8 B per
  requested row and of ``B`` per requested row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..ops import _validate as v
from ..ops import fkc_step_
from ..ops.noise import draw_philox_seeds, draw_uniform
from ..reference.philox import philox_normal, philox_random_keys
from ..reference.select_particles import rank_keys, top_indices
from ..sampler import FKCSampler, SampleResult

_EXCLUDED_KEY = 1 << 62  # larger than every Philox random key (keys < 2**62)
# all_gather_single is the newer name (torch >= 2.12 deprecates all_gather_into_tensor)
_ALL_GATHER = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor

__all__ = [
    "ShardedFKCSampler",
    "ShardedSampleResult",
    "broadcast_module",
    "effective_sample_size",
    "fetch_particles",
    "select_particles",
    "shard_sizes",
    "shard_slice",
    "systematic_resample",
]


# --------------------------------------------------------------------------------------------
# plumbing
# --------------------------------------------------------------------------------------------


def _world(group) -> tuple[int, int]:
    """``(world_size, rank)`` within ``group``; a clear error when no process group exists."""
    if not dist.is_available():
        raise RuntimeError("fkc_kernels.distributed: this torch build has no torch.distributed")
    if not dist.is_initialized():
        raise RuntimeError(
            "fkc_kernels.distributed: no default process group; call "
            "torch.distributed.init_process_group (torchrun sets the environment) first"
        )
    return dist.get_world_size(group), dist.get_rank(group)


def _comm_device(group, t: object = None) -> torch.device:
    """The device collectives run on: ``t``'s device, else the backend's natural device."""
    if isinstance(t, torch.Tensor):
        return t.device
    if dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _all_gather_rows(row: torch.Tensor, world: int, group) -> torch.Tensor:
    """All-gather a 1-D tensor of equal length from every rank into ``(world, len)``."""
    row = row.contiguous()
    out = torch.empty(world * row.numel(), dtype=row.dtype, device=row.device)
    _ALL_GATHER(out, row, group=group)
    return out.view(world, row.numel())


def _f64_bits(x: torch.Tensor) -> torch.Tensor:
    """float64 values as their int64 bit patterns (so one int64 collective carries both)."""
    return x.to(torch.float64).contiguous().view(torch.int64)


def _bits_f64(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous().view(torch.float64)


def _header(fields: list[torch.Tensor] | None, n_fields: int, device: torch.device, world: int,
            group, err: Exception | None, what: str) -> torch.Tensor:
    """Exchange ``[ok, *fields]`` (int64) with every rank; raise on all ranks if any was bad.

    Returns:
        int64 ``(world, n_fields)`` table of the ranks' fields.
    """
    if err is None:
        row = torch.cat([torch.ones(1, dtype=torch.int64, device=device),
                         *(f.reshape(-1).to(device=device, dtype=torch.int64) for f in fields)])
    else:
        row = torch.zeros(1 + n_fields, dtype=torch.int64, device=device)
    table = _all_gather_rows(row, world, group)
    ok = table[:, 0].tolist()
    if err is not None:
        raise err
    if not all(ok):
        bad = [r for r, o in enumerate(ok) if not o]
        raise ValueError(f"{what}: rank(s) {bad} rejected their arguments (see their error); "
                         "every rank raises so that none is left waiting in a collective")
    return table[:, 1:]


def shard_sizes(n: int, world_size: int) -> list[int]:
    """Even split of ``n`` particles over ``world_size`` ranks (the first ``n % W`` get one more).

    Returns:
        ``[n_0, ..., n_{W-1}]``, summing to ``n``.
    """
    n = v.check_int("n", n)
    world_size = v.check_int("world_size", world_size, low=1)
    q, rem = divmod(n, world_size)
    return [q + (1 if r < rem else 0) for r in range(world_size)]


def shard_slice(n: int, world_size: int, rank: int) -> slice:
    """Global index range of ``rank``'s shard under :func:`shard_sizes`."""
    sizes = shard_sizes(n, world_size)
    rank = v.check_int("rank", rank, high=world_size - 1, high_name=f"world_size-1={world_size-1}")
    start = sum(sizes[:rank])
    return slice(start, start + sizes[rank])


def _offsets(sizes: list[int]) -> list[int]:
    out, acc = [], 0
    for s in sizes:
        out.append(acc)
        acc += s
    return out


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


# --------------------------------------------------------------------------------------------
# selection
# --------------------------------------------------------------------------------------------


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
    world, rank = _world(group)
    err: Exception | None = None
    try:
        w_local = v.check_weights("w_local", w_local)
        k = v.check_int("k", k)
        n_random = v.check_int("n_random", n_random, high=k, high_name=f"k={k}")
        v.check_generator(generator, w_local.device)
    except (TypeError, ValueError) as e:
        err = e
    device = _comm_device(group, w_local if err is None else None)
    fields = None
    if err is None:
        seeds = draw_philox_seeds(generator, device)
        fields = [torch.tensor([w_local.shape[0], k, n_random], device=device), seeds]
    table = _header(fields, 5, device, world, group, err, "select_particles").tolist()
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
    seed, offset = table[0][3], table[0][4]
    if k == 0:
        return torch.empty(0, dtype=torch.int64, device=device)

    n_local, start, n_max = sizes[rank], _offsets(sizes)[rank], max(sizes)
    n_top = k - n_random
    m_top, m_rand = min(n_top, n_max), (min(k, n_max) if n_random > 0 else 0)

    # top candidates: this rank's best min(n_top, n_local) as rows [class, key bits, global idx],
    # class 0 = a number (NaN-free key), 1 = NaN (below -inf), 2 = padding (below everything)
    cand_top = torch.empty((m_top, 3), dtype=torch.int64, device=device)
    cand_top[:, 0] = 2
    cand_top[:, 1] = _f64_bits(torch.full((m_top,), -math.inf, device=device))
    cand_top[:, 2] = n_total
    if m_top > 0 and n_local > 0:
        loc = top_indices(w_local, min(n_top, n_local))
        nl = loc.shape[0]
        cand_top[:nl, 0] = torch.isnan(w_local[loc]).to(torch.int64)
        cand_top[:nl, 1] = _f64_bits(rank_keys(w_local)[loc])
        cand_top[:nl, 2] = loc + start
    # random candidates: this rank's min(k, n_local) smallest keys as rows [key, global idx];
    # at most n_top of them can fall in the global top part, so n_random real ones remain
    cand_rand = torch.empty((m_rand, 2), dtype=torch.int64, device=device)
    cand_rand[:, 0] = _EXCLUDED_KEY
    cand_rand[:, 1] = n_total
    if m_rand > 0 and n_local > 0:
        keys = philox_random_keys(seed, offset, n_local, device=device, start=start)
        loc = torch.argsort(keys, stable=True)[: min(k, n_local)]
        nl = loc.shape[0]
        cand_rand[:nl, 0] = keys[loc]
        cand_rand[:nl, 1] = loc + start

    payload = torch.cat([cand_top.reshape(-1), cand_rand.reshape(-1)])
    gathered = _all_gather_rows(payload, world, group)
    all_top = gathered[:, : 3 * m_top].reshape(-1, 3)
    all_rand = gathered[:, 3 * m_top:].reshape(-1, 2)

    # every rank merges the same data the same way: by (class asc, key desc, index asc), done as
    # stable sorts from the least significant criterion up
    order = torch.argsort(all_top[:, 2], stable=True)
    key = _bits_f64(all_top[order, 1])
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


# --------------------------------------------------------------------------------------------
# weights: ESS and systematic resampling
# --------------------------------------------------------------------------------------------


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
    world, _ = _world(group)
    err: Exception | None = None
    try:
        logw_local = v.check_weights("logw_local", logw_local)
    except (TypeError, ValueError) as e:
        err = e
    device = _comm_device(group, logw_local if err is None else None)
    fields = None
    if err is None:
        lw = _clean_logw(logw_local)
        lse = torch.stack([torch.logsumexp(lw, 0), torch.logsumexp(2.0 * lw, 0)])
        fields = [torch.tensor([logw_local.shape[0]], device=device), _f64_bits(lse)]
    table = _header(fields, 3, device, world, group, err, "effective_sample_size")
    if int(table[:, 0].sum()) == 0:
        raise ValueError("logw_local: expected at least one particle over all ranks, got 0")
    lse = _bits_f64(table[:, 1:])
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
    world, rank = _world(group)
    err: Exception | None = None
    try:
        logw_local = v.check_weights("logw_local", logw_local)
        v.check_generator(generator, logw_local.device)
    except (TypeError, ValueError) as e:
        err = e
    device = _comm_device(group, logw_local if err is None else None)
    fields = None
    if err is None:
        lw = _clean_logw(logw_local)
        lse = torch.logsumexp(lw, 0).reshape(1)
        u_draw = draw_uniform(generator, device).reshape(1)
        fields = [torch.tensor([logw_local.shape[0]], device=device), _f64_bits(lse),
                  _f64_bits(u_draw)]
    table = _header(fields, 3, device, world, group, err, "systematic_resample")
    sizes = table[:, 0].tolist()
    lses = _bits_f64(table[:, 1]).tolist()
    u = _bits_f64(table[0, 2]).item()
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
    offsets = _offsets(sizes)

    # ancestors of the offspring [a, b) whose ancestor is on this rank
    a, b = bounds[rank], bounds[rank + 1]
    if b > a:
        wl = torch.exp(_clean_logw(logw_local) - m) / total
        base = 0.0 if rank == 0 else cdf_end[rank - 1]
        cdf = base + torch.cumsum(wl, 0)
        pos = (torch.arange(a, b, dtype=torch.float64, device=device) + u) / n
        local = torch.searchsorted(cdf, pos, right=True)
        # float64 rounding at the shard's ends must never pick a zero-weight particle
        nz = torch.nonzero(wl > 0).reshape(-1)
        local = local.clamp_(min=int(nz[0]), max=int(nz[-1]))
        anc_out = local + offsets[rank]
    else:
        anc_out = torch.empty(0, dtype=torch.int64, device=device)
    if world == 1:
        return anc_out
    send = [_overlap(a, b, offsets[d], offsets[d] + sizes[d]) for d in range(world)]
    me0, me1 = offsets[rank], offsets[rank] + sizes[rank]
    recv = [_overlap(bounds[s], bounds[s + 1], me0, me1) for s in range(world)]
    out = torch.empty(sizes[rank], dtype=torch.int64, device=device)
    # sources send in offspring order and offspring ranges increase with the source rank, so
    # the output (by source rank) is in offspring order
    dist.all_to_all_single(out, anc_out, output_split_sizes=recv, input_split_sizes=send,
                           group=group)
    return out


def fetch_particles(
    x_local: torch.Tensor, index: torch.Tensor, *, group: dist.ProcessGroup | None = None
) -> torch.Tensor:
    """Rows of the global particle block at global ``index``, fetched from the ranks owning them.

    Collective. Moves the resampled ancestors to the ranks that need them
    (``x = fetch_particles(x, systematic_resample(w))``), or, with the same ``index`` on every
    rank, gives every rank the selected particles
    (``fetch_particles(x, select_particles(w, k, r))``). Rows are moved as raw bytes, so every
    dtype is copied exactly.

    Args:
        x_local: ``(n_r, *S)`` this rank's particles; ``*S`` and dtype equal on every rank.
        index: int64 ``(m_r,)`` global indices in ``[0, N)`` (``m_r`` may differ by rank).
        group: process group (default group when ``None``).

    Returns:
        ``(m_r, *S)`` tensor, ``x_local``'s dtype and device: global rows ``index``.
    """
    world, rank = _world(group)
    err: Exception | None = None
    try:
        v.check_tensor("x_local", x_local)
        if x_local.dim() < 1:
            raise ValueError("x_local: expected a tensor (n, *S), got a 0-d tensor")
        v.check_tensor("index", index)
        if index.dtype != torch.int64 or index.dim() != 1:
            raise TypeError(f"index: expected an int64 tensor (m,), got {index.dtype} "
                            f"{tuple(index.shape)}")
        v.check_same_device("index", index, x_local.device, ref="x_local")
    except (TypeError, ValueError) as e:
        err = e
    device = _comm_device(group, x_local if err is None else None)
    fields = None
    if err is None:
        lo = int(index.min()) if index.numel() else 0
        hi = int(index.max()) if index.numel() else -1
        fields = [torch.tensor([x_local.shape[0], lo, hi], device=device)]
    table = _header(fields, 3, device, world, group, err, "fetch_particles").tolist()
    sizes = [row[0] for row in table]
    n = sum(sizes)
    bad = [(r, row[1], row[2]) for r, row in enumerate(table) if row[1] < 0 or row[2] >= n]
    if bad:
        raise ValueError(f"index: expected global indices in [0, {n}), got (rank, min, max) {bad}")
    row_shape = tuple(x_local.shape[1:])
    x_bytes = x_local.contiguous().reshape(x_local.shape[0], math.prod(row_shape))
    x_bytes = x_bytes.view(torch.uint8)
    if world == 1:
        return x_local[index]
    offsets = torch.tensor(_offsets(sizes), dtype=torch.int64, device=device)
    ends = offsets + torch.tensor(sizes, dtype=torch.int64, device=device)
    owner = torch.searchsorted(ends, index, right=True)
    perm = torch.argsort(owner, stable=True)
    requests = (index - offsets[owner])[perm]
    send_counts = torch.bincount(owner, minlength=world).to(torch.int64)
    recv_counts = torch.empty_like(send_counts)
    dist.all_to_all_single(recv_counts, send_counts, group=group)
    send, recv = send_counts.tolist(), recv_counts.tolist()
    wanted = torch.empty(sum(recv), dtype=torch.int64, device=device)
    dist.all_to_all_single(wanted, requests, output_split_sizes=recv, input_split_sizes=send,
                           group=group)
    reply = x_bytes[wanted].contiguous()
    got = torch.empty((index.shape[0], x_bytes.shape[1]), dtype=torch.uint8, device=device)
    dist.all_to_all_single(got, reply, output_split_sizes=send, input_split_sizes=recv,
                           group=group)
    out = torch.empty_like(got)
    out[perm] = got
    return out.view(x_local.dtype).reshape(index.shape[0], *row_shape)


def broadcast_module(module: torch.nn.Module, *, src: int = 0,
                     group: dist.ProcessGroup | None = None) -> torch.nn.Module:
    """Copy ``module``'s parameters and buffers from group rank ``src`` to every rank, in place.

    For a reward model trained on one rank: every rank must hold a module of the same
    architecture (same names, shapes, dtypes), on its communication device.

    Returns:
        ``module`` (updated in place).
    """
    world, _ = _world(group)
    src_global = src if group is None else dist.get_global_rank(group, src)
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            if world > 1:
                dist.broadcast(t.data, src=src_global, group=group)
    return module


def _agreed_seeds(generator: torch.Generator | None, device: torch.device, world: int,
                  group) -> tuple[int, int]:
    """``(S, O)`` drawn on every rank (generators stay in step); group rank 0's are used."""
    seeds = draw_philox_seeds(generator, device)
    table = _all_gather_rows(seeds, world, group)
    s, o = table[0].tolist()
    return s, o


# --------------------------------------------------------------------------------------------
# the sampler
# --------------------------------------------------------------------------------------------


@dataclass
class ShardedSampleResult(SampleResult):
    """:class:`SampleResult` of one rank's shard.

    Attributes:
        x, w: this rank's particles ``(n_r, *shape)`` and log-weights ``(n_r,)``.
        ess: *global* ESS after each step, float32 ``(K,)`` (the same on every rank).
        resampled: bool ``(K,)``, the same on every rank.
        offset: global index of this rank's first particle.
        n_global: N, the particles on all ranks.
    """

    offset: int = 0
    n_global: int = 0


class ShardedFKCSampler(FKCSampler):
    """:class:`FKCSampler` over particles sharded across the ranks of ``group``.

    Same arguments as :class:`FKCSampler`, plus ``group``. :meth:`sample` is collective: every
    rank calls it with the same arguments and gets its shard of the global ``n_particles``
    (:func:`shard_sizes`). ``score_fn`` and ``reward_fn`` see only the local shard, so each rank
    evaluates the models on its own particles. What is global: the noise (the contract's
    ``normal(S, O, e)`` at the particle's global element ``e``, with ``(S, O)`` agreed per step),
    the starting particles (Philox normals of the global element), the ESS and the systematic
    resampling. The run therefore does not depend on the number of ranks (up to float rounding
    of the ESS and the cumulative weights), and is the single-process algorithm in distribution.

    Per step it exchanges 16 B per rank for ``(S, O)`` and 32 B per rank for the ESS; a
    resampling step adds :func:`systematic_resample` and :func:`fetch_particles`. The noise is
    generated explicitly per shard and passed to the step as ``noise=`` (one extra ``N×D``
    tensor per step, in exchange for rank-count-independent noise).
    """

    def __init__(self, *args, group: dist.ProcessGroup | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.group = group

    @torch.no_grad()
    def sample(
        self,
        n_particles: int,
        shape: tuple[int, ...] | int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> ShardedSampleResult:
        """Draw the global ``n_particles``; returns this rank's shard.

        Args:
            n_particles: N over all ranks, ``>= world_size`` (every rank gets at least one).
            shape: per-particle shape.
            generator: every rank draws from it; group rank 0's draws are used.
            device: this rank's device (its GPU under NCCL).
            dtype: particle dtype.

        Returns:
            :class:`ShardedSampleResult`.
        """
        world, rank = _world(self.group)
        if isinstance(n_particles, bool) or not isinstance(n_particles, int) \
                or n_particles < world:
            raise ValueError(f"n_particles: expected an int >= world_size={world}, "
                             f"got {n_particles!r}")
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if device is None:
            device = generator.device if generator is not None else _comm_device(self.group)
        device = torch.device(device)
        sizes = shard_sizes(n_particles, world)
        n_local, offset = sizes[rank], _offsets(sizes)[rank]
        d = math.prod(shape)

        def global_normals() -> torch.Tensor:
            s, o = _agreed_seeds(generator, device, world, self.group)
            z = philox_normal(s, o, n_local * d, device=device, start=offset * d)
            return z.view(n_local, *shape)

        x = (global_normals() * self.schedule.prior_std).to(dtype)
        w = torch.zeros(n_local, dtype=torch.float32, device=device)
        ess_hist, res_hist = [], []
        for i in range(self.n_steps):
            c = self.coefficients(i)
            s = self.score_fn(x, c.tau).to(x.dtype)
            r, grad = self._reward(x, s, c)
            noise = global_normals().to(x.dtype)
            fkc_step_(x, w, s, grad, r, h=c.h, g=c.g, lam=self.tilt.lam(c.t),
                      dlam=self.tilt.dlam(c.t), f_coef=c.f_coef, noise=noise,
                      dw_clip=self.dw_clip, w_clip=self.w_clip, backend=self.backend)
            ess = effective_sample_size(w, group=self.group)
            ess_hist.append(ess)
            # the decision is a host bool computed from the same gathered data on every rank,
            # so all ranks take the same branch (and the same collectives)
            do = self.resample == "always" or (
                self.resample == "ess" and bool(ess < self.ess_threshold * n_particles))
            if do:
                anc = systematic_resample(w, generator=generator, group=self.group)
                x = fetch_particles(x, anc, group=self.group)
                w.zero_()
            res_hist.append(torch.tensor(do, device=device))
        return ShardedSampleResult(x=x, w=w, ess=torch.stack(ess_hist),
                                   resampled=torch.stack(res_hist), offset=offset,
                                   n_global=n_particles)

