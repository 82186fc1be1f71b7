"""The Gaussian-mixture tasks: a 2-D ring of modes (:func:`gmm`) and a rare liked mode behind a
decoy (:func:`rare_mode`), each with its exact base score."""

from __future__ import annotations

import functools
import math
from typing import Any

import torch

from fkc_kernels import VPSchedule

from .mixture import mixture_score
from .task import Task


def gmm(
    n_modes: int = 8,
    radius: float = 2.0,
    mode_std: float = 0.15,
    liked: tuple[int, int] = (0, 3),
    reward_width: float = 0.5,
) -> Task:
    """A 2-D mixture of ``n_modes`` Gaussians on a circle; the user likes two of the modes.

    Reward: ``log(exp(-|x-m_a|^2/2w^2) + exp(-|x-m_b|^2/2w^2))`` for the liked modes ``a, b``
    (``w = reward_width``), so it is multimodal. A hit is a particle within ``3*mode_std`` of a
    liked mode; ``hit_breakdown`` tells which liked modes were found.
    """
    if isinstance(n_modes, bool) or not isinstance(n_modes, int) or n_modes < 2:
        raise ValueError(f"n_modes: expected an int >= 2, got {n_modes!r}")
    liked = tuple(int(i) for i in liked)
    if len(liked) != 2 or len(set(liked)) != 2 or not all(0 <= i < n_modes for i in liked):
        raise ValueError(
            f"liked: expected two distinct mode indices in [0, {n_modes}), got {liked}")
    angles = torch.arange(n_modes, dtype=torch.float32) * (2 * math.pi / n_modes)
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    liked_means = means[list(liked)]
    schedule = VPSchedule()
    var0 = mode_std ** 2
    hit_radius = 3.0 * mode_std

    def score_fn(x: torch.Tensor, tau: float) -> torch.Tensor:
        return mixture_score(x, means.to(x.device), var0, schedule.alpha(tau), schedule.sigma(tau))

    def oracle(x: torch.Tensor) -> torch.Tensor:
        d2 = ((x.float().cpu()[:, None, :] - liked_means[None]) ** 2).sum(-1)
        return torch.logsumexp(-d2 / (2 * reward_width ** 2), dim=1)

    def nearest_liked(x: torch.Tensor) -> torch.Tensor:
        d = ((x.float().cpu()[:, None, :] - liked_means[None]) ** 2).sum(-1).sqrt()
        dist, which = d.min(1)
        return torch.where(dist <= hit_radius, which, torch.full_like(which, -1))

    def is_hit(x: torch.Tensor) -> torch.Tensor:
        return nearest_liked(x) >= 0

    def breakdown(x: torch.Tensor) -> dict[str, Any]:
        which = nearest_liked(x)
        per_mode = {str(m): int((which == j).sum()) for j, m in enumerate(liked)}
        return {"hits_per_liked_mode": per_mode,
                "both_modes_found": all(c > 0 for c in per_mode.values())}

    plot = functools.partial(_plot_modes, means, liked_means, "liked modes")

    return Task(
        name="gmm", shape=(2,), score_fn=score_fn, oracle=oracle, is_hit=is_hit,
        schedule=schedule,
        params={"n_modes": n_modes, "radius": radius, "mode_std": mode_std, "liked": list(liked),
                "reward_width": reward_width},
        defaults={"lam_max": 4.0, "n_particles": 256, "n_steps": 60},
        hit_breakdown=breakdown, plot_particles=plot,
    )


def rare_mode(dim: int = 4, n_common: int = 6, rare_weight: float = 0.015,
              radius: float = 2.0, rare_radius: float = 4.0, mode_std: float = 0.15,
              decoy_value: float = 0.3, reward_width: float = 0.5, layout: int = 0,
              between: bool = False) -> Task:
    """A rare liked mode behind a decoy, in a ``dim``-dimensional Gaussian mixture.

    ``n_common`` modes at distance ``radius`` from the origin share ``1 - rare_weight`` of the
    base model's mass; the liked mode holds ``rare_weight`` and sits at ``rare_radius``, far from
    them. The reward is ``exp(-|x - m_rare|²/2w²) + decoy_value·exp(-|x - m_decoy|²/2w²)`` with
    ``m_decoy`` common mode 0 (liked a fraction as much, and easy to find). A hit is a particle
    within ``4·mode_std`` of the liked mode. ``layout`` seeds the directions of the modes, so
    other instances of the scenario are one argument away. ``between=True`` puts the liked mode
    at the midpoint of the two farthest-apart common modes other than the decoy instead (inside
    the common modes' hull, not an outer outlier: farthest-point novelty does not favour it).
    """
    for name, value, low in (("dim", dim, 2), ("n_common", n_common, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
    if not 0.0 < rare_weight < 1.0:
        raise ValueError(f"rare_weight: expected a fraction in (0, 1), got {rare_weight}")
    gen = torch.Generator().manual_seed(int(layout))
    dirs = torch.randn(n_common + 1, dim, generator=gen, dtype=torch.float64)
    dirs = dirs / dirs.norm(dim=1, keepdim=True)
    means = torch.cat([radius * dirs[:n_common], rare_radius * dirs[n_common:]]).float()
    if between:
        if n_common < 3:
            raise ValueError(f"n_common: expected >= 3 with between=True, got {n_common}")
        d = torch.cdist(means[1:n_common], means[1:n_common])
        i, j = divmod(int(torch.argmax(d)), n_common - 1)
        means[n_common] = (means[1 + i] + means[1 + j]) / 2
    log_weights = torch.log(torch.tensor(
        [(1.0 - rare_weight) / n_common] * n_common + [rare_weight]))
    rare, decoy = means[n_common], means[0]
    schedule = VPSchedule()
    var0 = mode_std ** 2
    hit_radius = 4.0 * mode_std

    def score_fn(x: torch.Tensor, tau: float) -> torch.Tensor:
        return mixture_score(x, means.to(x.device), var0, schedule.alpha(tau),
                             schedule.sigma(tau), log_weights=log_weights.to(x.device))

    def oracle(x: torch.Tensor) -> torch.Tensor:
        xf = x.float().cpu()
        bump = lambda m: torch.exp(-((xf - m) ** 2).sum(1) / (2 * reward_width ** 2))  # noqa: E731
        return bump(rare) + decoy_value * bump(decoy)

    def liked_mode(x: torch.Tensor) -> torch.Tensor:
        near = (x.float().cpu() - rare).norm(dim=1) <= hit_radius
        return torch.where(near, 0, -1)

    def is_hit(x: torch.Tensor) -> torch.Tensor:
        return liked_mode(x) >= 0

    def breakdown(x: torch.Tensor) -> dict[str, Any]:
        return {"rare_mode_hits": int(is_hit(x).sum())}

    plot = functools.partial(_plot_modes, means, rare[None], "liked (rare) mode")

    return Task(
        name="rare-mode", shape=(dim,), score_fn=score_fn, oracle=oracle, is_hit=is_hit,
        schedule=schedule,
        params={"dim": dim, "n_common": n_common, "rare_weight": rare_weight, "radius": radius,
                "rare_radius": rare_radius, "mode_std": mode_std, "decoy_value": decoy_value,
                "reward_width": reward_width, "layout": layout,
                **({"between": True} if between else {})},
        defaults={"lam_max": 4.0, "n_particles": 128, "n_steps": 40},
        hit_breakdown=breakdown, plot_particles=plot, liked_mode=liked_mode, n_liked=1,
    )


def _plot_modes(means: torch.Tensor, liked: torch.Tensor, liked_label: str, fig, x: torch.Tensor,
                r: torch.Tensor, hits: torch.Tensor | None) -> None:
    """The base modes ``means`` ``(M, D)``, the liked ones ``liked`` ``(L, D)`` and the observed
    particles ``x`` ``(n, D)`` coloured by reward ``r``, in the first two coordinates."""
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(means[:, 0], means[:, 1], s=300, c="lightgray", label="base modes")
    ax.scatter(liked[:, 0], liked[:, 1], s=300, facecolors="none", edgecolors="green",
               label=liked_label)
    ax.scatter(x[:, 0], x[:, 1], s=12, c=r.numpy(), cmap="viridis", label="observed")
    ax.set_aspect("equal")
    ax.legend(fontsize=7, loc="upper right")


__all__ = ["gmm", "rare_mode"]
