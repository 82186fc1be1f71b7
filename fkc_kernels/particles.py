"""Particle bookkeeping shared by the samplers: groups, grouped resampling, generator lists.

A *group* is a set of particles that may replace one another when resampled (one prompt's
particles, say); particles of different groups never do. Groups are given as an int ``G``
(``G`` contiguous blocks of ``N/G`` particles, the layout of a diffusers pipeline's batch with
``num_images_per_prompt``) or as integer labels ``(N,)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .ops import effective_sample_size, systematic_resample

GeneratorArg = "torch.Generator | Sequence[torch.Generator] | None"


def group_labels(groups, n: int, device: torch.device | str | None = None) -> torch.Tensor | None:
    """Integer labels ``(N,)`` for ``groups`` (``None`` = one group: returns ``None``)."""
    if groups is None:
        return None
    if isinstance(groups, torch.Tensor):
        if groups.shape != (n,) or groups.dtype in (torch.float16, torch.bfloat16,
                                                    torch.float32, torch.float64, torch.bool):
            raise ValueError(f"groups: expected integer labels of shape ({n},), got "
                             f"{groups.dtype} {tuple(groups.shape)}")
        return groups.to(device=device, dtype=torch.long)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups: expected None, an int >= 1 or labels ({n},), got {groups!r}")
    if n % groups:
        raise ValueError(f"groups: {groups} contiguous groups need N divisible by {groups}, "
                         f"got N={n}")
    return torch.arange(n, device=device) // (n // groups)


def resample_in_groups(
    logw: torch.Tensor,
    labels: torch.Tensor | None,
    *,
    mode: str,
    ess_threshold: float = 0.5,
    generator: torch.Generator | None = None,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Systematic resampling inside each group.

    Args:
        logw: float32 log-weights ``(N,)``.
        labels: group labels ``(N,)`` (:func:`group_labels`) or ``None`` for one group.
        mode: ``"always"`` or ``"ess"`` (a group resamples when its ESS < ``ess_threshold`` times
            its size).
        generator: drives the systematic offsets.

    Returns:
        ``(ancestors, resampled)``: ``ancestors`` ``(N,)`` long, the particle each slot now holds
        (its own index where nothing was resampled), always inside the slot's group;
        ``resampled`` bool ``(N,)``, whether the slot's group was resampled (its log-weights
        are then reset to 0 by the caller).
    """
    n = logw.shape[0]
    device = logw.device
    if labels is None:
        labels = torch.zeros(n, dtype=torch.long, device=device)
    ancestors = torch.arange(n, device=device)
    resampled = torch.zeros(n, dtype=torch.bool, device=device)
    for g in torch.unique(labels).tolist():
        members = (labels == g).nonzero(as_tuple=True)[0]
        wg = logw[members]
        idx = systematic_resample(wg, generator=generator, backend=backend)
        if mode == "always":
            do = torch.ones((), dtype=torch.bool, device=device)
        else:
            do = effective_sample_size(wg) < ess_threshold * members.numel()
        # no host sync: the resampled and the kept particles are chosen on the device
        ancestors[members] = torch.where(do, members[idx], members)
        resampled[members] = do
    return ancestors, resampled


def check_generator(generator, n: int):
    """``None``, one ``torch.Generator`` or a list of ``n`` (diffusers' per-sample convention)."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, Sequence) and not isinstance(generator, (str, bytes)):
        gens = list(generator)
        if len(gens) != n or not all(isinstance(g, torch.Generator) for g in gens):
            raise ValueError(f"generator: a list must hold one torch.Generator per particle "
                             f"({n}), got {len(gens)} items of "
                             f"{sorted({type(g).__name__ for g in gens})}")
        return gens
    raise TypeError(f"generator: expected a torch.Generator or None, got "
                    f"{type(generator).__name__} {generator!r} (a list of one torch.Generator "
                    f"per particle also works)")


def first_generator(generator) -> torch.Generator | None:
    """The generator that drives shared draws (resampling offsets): the first of a list."""
    return generator[0] if isinstance(generator, list) else generator


def per_particle_normal(shape: tuple[int, ...], generators: list[torch.Generator],
                        device: torch.device | str, dtype: torch.dtype = torch.float32
                        ) -> torch.Tensor:
    """Standard normals ``(N, *S)``: row ``i`` drawn from ``generators[i]`` on its own device."""
    rows = [torch.randn(shape[1:], generator=g, device=g.device, dtype=torch.float32)
            for g in generators]
    return torch.stack([r.to(device) for r in rows]).to(dtype)


def initial_noise(shape: tuple[int, ...], generator, device, dtype=torch.float32) -> torch.Tensor:
    """``N(0, I)`` particles ``(N, *S)`` from ``None``, one generator or one per particle."""
    if isinstance(generator, list):
        return per_particle_normal(shape, generator, device, dtype)
    x = torch.randn(shape, generator=generator,
                    device=generator.device if generator is not None else device,
                    dtype=torch.float32)
    return x.to(device=device, dtype=dtype)
