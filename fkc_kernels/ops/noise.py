"""Where the noise contract's ``(S, O)`` come from: one draw from a ``torch.Generator``."""

from __future__ import annotations

import torch

_SEED_BOUND = 1 << 62


def draw_philox_seeds(generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Draw ``[S, O]`` as an int64 ``(2,)`` tensor on ``device``, each uniform in ``[0, 2**62)``.

    The draw is a ``torch.randint`` on the generator (the device's default one when ``None``),
    so it consumes generator state: consecutive calls get fresh noise, equal generator states
    give equal ``(S, O)`` and so equal noise on every backend, ``torch.manual_seed`` makes runs
    reproducible, and under CUDA graph capture the draw is replayed with fresh Philox offsets
    (graph-safe). The values stay on the device: no host sync.
    """
    if generator is None:
        return torch.randint(0, _SEED_BOUND, (2,), device=device, dtype=torch.int64)
    seeds = torch.randint(0, _SEED_BOUND, (2,), device=generator.device, dtype=torch.int64,
                          generator=generator)
    return seeds.to(device, non_blocking=True)


def draw_uniform(generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """One float64 uniform in ``[0, 1)`` as a ``(1,)`` tensor on ``device`` (for resampling)."""
    if generator is None:
        return torch.rand(1, device=device, dtype=torch.float64)
    u = torch.rand(1, device=generator.device, dtype=torch.float64, generator=generator)
    return u.to(device, non_blocking=True)
