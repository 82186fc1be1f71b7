"""Plumbing of the sharded ops: the process group, the shard layout and the small collectives.

Every sharded op starts with :func:`exchange_header` so that a bad argument on one rank raises on
every rank instead of leaving the others blocked in a collective.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist

from ..ops import _validate as v
from ..ops.noise import draw_philox_seeds

# all_gather_single is the newer name (torch >= 2.12 deprecates all_gather_into_tensor)
_ALL_GATHER = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor


def world_and_rank(group) -> tuple[int, int]:
    """``(world_size, rank)`` within ``group``; a clear error when no process group exists."""
    if not dist.is_available():
        raise RuntimeError("fkc_kernels.distributed: this torch build has no torch.distributed")
    if not dist.is_initialized():
        raise RuntimeError(
            "fkc_kernels.distributed: no default process group; call "
            "torch.distributed.init_process_group (torchrun sets the environment) first"
        )
    return dist.get_world_size(group), dist.get_rank(group)


def comm_device(group, t: object = None) -> torch.device:
    """The device collectives run on: ``t``'s device, else the backend's natural device."""
    if isinstance(t, torch.Tensor):
        return t.device
    if dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def checked_args(check: Callable[[], tuple], group) -> tuple[tuple | None, Exception | None,
                                                             torch.device]:
    """Run this rank's argument checks without raising yet: ``(values, error, device)``.

    ``check()`` returns the checked values, a tensor first (its device is where collectives
    run). A ``TypeError``/``ValueError`` is returned, not raised, so that every rank still
    takes part in :func:`exchange_header`, which raises it on all of them.
    """
    try:
        values = check()
    except (TypeError, ValueError) as e:
        return None, e, comm_device(group)
    return values, None, comm_device(group, values[0])


def all_gather_rows(row: torch.Tensor, world: int, group) -> torch.Tensor:
    """All-gather a 1-D tensor of equal length from every rank into ``(world, len)``."""
    row = row.contiguous()
    out = torch.empty(world * row.numel(), dtype=row.dtype, device=row.device)
    _ALL_GATHER(out, row, group=group)
    return out.view(world, row.numel())


def f64_bits(x: torch.Tensor) -> torch.Tensor:
    """float64 values as their int64 bit patterns (so one int64 collective carries both)."""
    return x.to(torch.float64).contiguous().view(torch.int64)


def bits_f64(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`f64_bits`: int64 bit patterns back to float64 values."""
    return x.contiguous().view(torch.float64)


def exchange_header(fields: list[torch.Tensor] | None, n_fields: int, device: torch.device,
                    world: int, group, err: Exception | None, what: str) -> torch.Tensor:
    """Exchange ``[ok, *fields]`` (int64) with every rank; raise on all ranks if any was bad.

    Returns:
        int64 ``(world, n_fields)`` table of the ranks' fields.
    """
    if err is None:
        row = torch.cat([torch.ones(1, dtype=torch.int64, device=device),
                         *(f.reshape(-1).to(device=device, dtype=torch.int64) for f in fields)])
    else:
        row = torch.zeros(1 + n_fields, dtype=torch.int64, device=device)
    table = all_gather_rows(row, world, group)
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


def shard_offsets(sizes: list[int]) -> list[int]:
    """Global index of each rank's first particle: the exclusive prefix sums of ``sizes``."""
    out, acc = [], 0
    for s in sizes:
        out.append(acc)
        acc += s
    return out


def range_overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    """Length of the intersection of the index ranges ``[a0, a1)`` and ``[b0, b1)``."""
    return max(0, min(a1, b1) - max(a0, b0))


def agreed_philox_seeds(generator: torch.Generator | None, device: torch.device, world: int,
                  group) -> tuple[int, int]:
    """``(S, O)`` drawn on every rank (generators stay in step); group rank 0's are used."""
    seeds = draw_philox_seeds(generator, device)
    table = all_gather_rows(seeds, world, group)
    s, o = table[0].tolist()
    return s, o
