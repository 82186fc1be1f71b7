"""The task type: what the active loop needs to know about a base model and a user."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from fkc_kernels import VPSchedule

from ..reward_models import make_reward_model

ScoreFn = Callable[[torch.Tensor, float], torch.Tensor]
OracleFn = Callable[[torch.Tensor], torch.Tensor]
HitFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Task:
    """A base model plus a (synthetic or real) user.

    Attributes:
        name: short name, recorded in the run settings.
        shape: per-particle shape, e.g. ``(1, 8, 8)`` or ``(2,)``.
        score_fn: ``score_fn(x, tau) -> ∇log q_tau(x)``, ``x`` float32 ``(N, *shape)``, ``tau``
            the forward time (1 = noise) as a float.
        oracle: the true reward, ``oracle(x) -> r`` float ``(n,)`` for ``x`` ``(n, *shape)``.
            The loop asks it one particle at a time.
        is_hit: ``is_hit(x) -> bool (n,)``, or ``None`` when no hit test is known.
        reward_model_factory: ``factory(seed) -> nn.Module`` mapping ``(n, *shape)`` to ``(n,)``.
        schedule: the base model's noise schedule (a ``VPSchedule`` or ``VESchedule``).
        params: task parameters that identify it (e.g. ``{"target": 3}``); part of the settings.
        defaults: tuned sampler settings for this task (``lam_max``, ``n_particles``, ``n_steps``).
        hit_breakdown: optional ``hit_breakdown(x) -> dict`` summarising which hits were found.
        plot_particles: optional ``plot_particles(ax_grid_figure, x, r)`` used for best.png.
        features: optional ``features(x) -> (n, F)``: the representation in which the loop
            measures novelty (distance to what was already asked); flattened ``x`` when None.
        liked_mode: optional ``liked_mode(x) -> int64 (n,)``: which of the ``n_liked`` liked
            modes each particle is in (``-1``: none); coverage and balance are measured with it.
    """

    name: str
    shape: tuple[int, ...]
    score_fn: ScoreFn
    oracle: OracleFn
    is_hit: HitFn | None = None
    reward_model_factory: Callable[[int], torch.nn.Module] | None = None
    schedule: Any = field(default_factory=VPSchedule)
    params: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    hit_breakdown: Callable[[torch.Tensor], dict[str, Any]] | None = None
    plot_particles: Callable[..., None] | None = None
    features: Callable[[torch.Tensor], torch.Tensor] | None = None
    liked_mode: Callable[[torch.Tensor], torch.Tensor] | None = None
    n_liked: int = 0

    def __post_init__(self) -> None:
        self.shape = tuple(int(s) for s in self.shape)
        if not self.shape or any(s < 1 for s in self.shape):
            raise ValueError(
                f"shape: expected a non-empty tuple of positive ints, got {self.shape}")
        for name in ("score_fn", "oracle"):
            if not callable(getattr(self, name)):
                raise TypeError(f"{name}: expected a callable, got {type(getattr(self, name))}")
        if self.reward_model_factory is None:
            shape = self.shape
            self.reward_model_factory = lambda seed: make_reward_model(shape, seed=seed)

    @property
    def identity(self) -> dict[str, Any]:
        """What names this task in a run's settings (compared on resume)."""
        return {"name": self.name, **self.params}


__all__ = ["HitFn", "OracleFn", "ScoreFn", "Task"]
