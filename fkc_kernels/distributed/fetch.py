"""Moving particles and modules between ranks: fetch rows by global index, broadcast a module."""

from __future__ import annotations

import math

import torch
import torch.distributed as dist

from ..ops import _validate as v
from .communication import comm_device, exchange_header, shard_offsets, world_and_rank


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
    world, rank = world_and_rank(group)
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
    device = comm_device(group, x_local if err is None else None)
    fields = None
    if err is None:
        lo = int(index.min()) if index.numel() else 0
        hi = int(index.max()) if index.numel() else -1
        fields = [torch.tensor([x_local.shape[0], lo, hi], device=device)]
    table = exchange_header(fields, 3, device, world, group, err, "fetch_particles").tolist()
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
    offsets = torch.tensor(shard_offsets(sizes), dtype=torch.int64, device=device)
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
    world, _ = world_and_rank(group)
    src_global = src if group is None else dist.get_global_rank(group, src)
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            if world > 1:
                dist.broadcast(t.data, src=src_global, group=group)
    return module
