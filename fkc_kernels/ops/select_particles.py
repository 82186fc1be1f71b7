"""Public particle selection and the epsilon-greedy split of the active loop."""

from __future__ import annotations

import math

import torch

from . import _validate as v
from ._backends import resolve_backend
from .noise import draw_philox_seeds


def select_particles(
    w: torch.Tensor,
    k: int,
    n_random: int,
    *,
    generator: torch.Generator | None = None,
    backend: str = "auto",
) -> torch.Tensor:
    """Indices of ``k`` particles: the ``k - n_random`` best by weight, then ``n_random`` others.

    The top part is in descending ``w``, ties to the lower index, NaN ranked lowest. The random
    part is uniform without replacement over the particles not in the top part: the ones with
    the smallest Philox random keys for ``(S, O)`` drawn from ``generator`` (so equal generator
    states pick the same particles on every backend).

    Args:
        w: ``(N,)`` floating log-weights.
        k: number of particles picked, ``0 <= k <= N``.
        n_random: how many of them are random, ``0 <= n_random <= k``.
        generator: source of the random part (device default when ``None``).
        backend: ``"auto"`` or a backend name.

    Returns:
        int64 tensor ``(k,)`` on ``w.device``.
    """
    w = v.check_weights("w", w)
    n = w.shape[0]
    k = v.check_int("k", k, high=n, high_name=f"N={n} (the number of particles)")
    n_random = v.check_int("n_random", n_random, high=k, high_name=f"k={k}")
    v.check_generator(generator, w.device)
    impl = resolve_backend(backend, w.device)
    seeds = draw_philox_seeds(generator, w.device)
    return impl.select_particles(w, k, n_random, seeds)


def epsilon_greedy_split(
    step: int, total_steps: int, k: int, eps_start: float = 0.8, eps_end: float = 0.1
) -> tuple[int, int]:
    """How many of ``k`` shown particles are top-by-weight and how many random at ``step``.

    ``eps = eps_start - (eps_start - eps_end) * step / total_steps``;
    ``n_random = floor(eps * k)``; ``n_top = k - n_random``.

    Returns:
        ``(n_top, n_random)``.
    """
    total_steps = v.check_int("total_steps", total_steps, low=1)
    step = v.check_int("step", step, high=total_steps, high_name=f"total_steps={total_steps}")
    k = v.check_int("k", k)
    eps_start = v.check_finite_scalar("eps_start", eps_start)
    eps_end = v.check_finite_scalar("eps_end", eps_end)
    for name, e in (("eps_start", eps_start), ("eps_end", eps_end)):
        if not 0.0 <= e <= 1.0:
            raise ValueError(f"{name}: expected a probability in [0, 1], got {e}")
    eps = eps_start - (eps_start - eps_end) * step / total_steps
    # a hair of slack so that eps*k that is an integer in exact arithmetic is not floored below
    n_random = min(k, int(math.floor(eps * k + 1e-9)))
    return k - n_random, n_random
