"""The noise contract on every backend: where ``(S, O)`` come from (defined with the contract, in
reference/) and the contract's normals of a range of flat elements, drawn by a backend."""

from __future__ import annotations

import torch

from ..reference.philox import draw_philox_seeds, draw_uniform
from . import _validate as v
from ._backends import resolve_backend

__all__ = ["draw_philox_seeds", "draw_uniform", "noise_normals"]


def noise_normals(seeds: torch.Tensor, numel: int, *, start: int = 0,
                  backend: str = "auto") -> torch.Tensor:
    """The noise contract's ``normal(S, O, e)`` for flat elements ``start <= e < start + numel``,
    with the bits the fused step of ``backend`` draws in-kernel for those elements.

    Every backend's :func:`fkc_step` with ``noise=None`` adds ``g·√h·normal(S, O, e)`` to element
    ``e = n·D + d`` of the ``(N, D)`` block; this returns those normals alone, for any range of
    the block: a shard of particles on one rank (``start = offset·D``) gets exactly what one
    process would add to those rows on the same backend. (The backends agree with each other
    within a few ulp; each agrees with itself bit for bit.)

    Args:
        seeds: the contract's ``[S, O]``, an int64 ``(2,)`` tensor (e.g. from
            :func:`draw_philox_seeds`); the result lives on its device.
        numel: number of normals, ``>= 0``.
        start: first flat element, ``>= 0``.
        backend: ``"auto"`` (what :func:`fkc_step` picks for seeds' device) or a backend name.

    Returns:
        float32 tensor ``(numel,)`` on ``seeds.device``.
    """
    v.check_tensor("seeds", seeds)
    if seeds.dtype != torch.int64 or tuple(seeds.shape) != (2,):
        raise ValueError(f"seeds: expected an int64 tensor of shape (2,) [S, O], got "
                         f"{seeds.dtype} {tuple(seeds.shape)}")
    numel = v.check_int("numel", numel)
    start = v.check_int("start", start, high=(1 << 62) - numel,
                        high_name="2**62 - numel (flat elements are int64)")
    impl = resolve_backend(backend, seeds.device)
    return impl.noise_normals(seeds, numel, start)
