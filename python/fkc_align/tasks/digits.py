"""The digits tasks: steer a model of 8x8 digits towards what a synthetic user likes.

:func:`digits` and :func:`digits_liked` sample the exact score of the smoothed training images;
:func:`digits_unet` samples a trained diffusers UNet (:mod:`fkc_align.tasks.unet_model`).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from fkc_kernels import VPSchedule

from .digits_data import DIGITS_SMOOTHING_STD, digit_log_probs, digits_features, load_digits_data
from .mixture import mixture_score
from .task import Task


def _digits_base(smoothing_std: float):
    if not smoothing_std > 0:
        raise ValueError(f"smoothing_std: expected > 0, got {smoothing_std}")
    images, _ = load_digits_data()
    means = images.reshape(len(images), -1)
    schedule = VPSchedule()
    var0 = smoothing_std ** 2

    def score_fn(x: torch.Tensor, tau: float) -> torch.Tensor:
        mu = means.to(x.device)
        return mixture_score(x, mu, var0, schedule.alpha(tau), schedule.sigma(tau))

    return score_fn, schedule


def _digit_user(target: int, confidence: float | None = None):
    """The synthetic user of the digits tasks: ``(oracle, is_hit, hit_breakdown, params)``."""
    if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target <= 9:
        raise ValueError(f"target: expected a digit 0..9 (int), got {target!r}")
    if confidence is not None and not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: expected a probability in (0, 1) or None, got "
                         f"{confidence}")

    def oracle(x: torch.Tensor) -> torch.Tensor:
        return digit_log_probs(x)[:, target]

    def is_hit(x: torch.Tensor) -> torch.Tensor:
        logp = digit_log_probs(x)
        hit = logp.argmax(1) == target
        if confidence is not None:
            hit &= logp[:, target] >= math.log(confidence)
        return hit

    def breakdown(x: torch.Tensor) -> dict[str, Any]:
        counts = torch.bincount(digit_log_probs(x).argmax(1), minlength=10)
        return {"labels_seen": {str(i): int(c) for i, c in enumerate(counts) if c > 0}}

    params: dict[str, Any] = {} if confidence is None else {"confidence": confidence}
    return oracle, is_hit, breakdown, params


def digits(target: int = 3, smoothing_std: float = DIGITS_SMOOTHING_STD,
           confidence: float | None = None) -> Task:
    """Steer a diffusion model of 8x8 digits towards digit ``target``.

    The base model is the exact VP score of the training images smoothed by ``smoothing_std``
    (no network, no download). The synthetic user's reward is a logistic-regression classifier's
    log-probability of ``target``; a hit is a particle the classifier labels ``target`` (with
    probability at least ``confidence`` when given: "a confident 8" is rare under the base
    model).
    """
    oracle, is_hit, breakdown, params = _digit_user(target, confidence)
    score_fn, schedule = _digits_base(smoothing_std)
    params = {"target": target, "smoothing_std": smoothing_std, **params}
    return Task(
        name="digits", shape=(1, 8, 8), score_fn=score_fn, oracle=oracle, is_hit=is_hit,
        schedule=schedule, params=params,
        defaults={"lam_max": 8.0, "n_particles": 128, "n_steps": 50},
        hit_breakdown=breakdown, plot_particles=plot_images, features=digits_features,
    )


def digits_liked(liked: tuple[int, ...] = (3, 8), cap: float = 0.8,
                 smoothing_std: float = DIGITS_SMOOTHING_STD) -> Task:
    """A multimodal preference: the user likes every digit in ``liked`` equally.

    Reward: ``log min(p(liked), cap)`` with ``p(liked)`` the classifier's total probability of
    the liked classes, so every clear liked digit is worth the same whatever its class (a
    reward that favoured one class would make collapsing onto it the right answer). A hit is a
    particle labelled with a liked class; ``liked_mode(x)`` tells which (``-1``: none), and the
    breakdown says whether every liked class was found.
    """
    liked = tuple(int(c) for c in liked)
    if not liked or len(set(liked)) != len(liked) or not all(0 <= c <= 9 for c in liked):
        raise ValueError(f"liked: expected distinct digits 0..9, got {liked}")
    if not 0.0 < cap <= 1.0:
        raise ValueError(f"cap: expected a probability in (0, 1], got {cap}")
    score_fn, schedule = _digits_base(smoothing_std)
    liked_t = torch.tensor(liked)
    log_cap = math.log(cap)

    def oracle(x: torch.Tensor) -> torch.Tensor:
        logp = digit_log_probs(x)[:, liked_t]
        return torch.logsumexp(logp, dim=1).clamp(max=log_cap)

    def liked_mode(x: torch.Tensor) -> torch.Tensor:
        label = digit_log_probs(x).argmax(1)
        which = (label[:, None] == liked_t[None]).long()
        return torch.where(which.any(1), which.argmax(1), torch.full_like(label, -1))

    def is_hit(x: torch.Tensor) -> torch.Tensor:
        return liked_mode(x) >= 0

    def breakdown(x: torch.Tensor) -> dict[str, Any]:
        which = liked_mode(x)
        per = {str(c): int((which == j).sum()) for j, c in enumerate(liked)}
        return {"hits_per_liked_class": per, "every_liked_class_found":
                all(v > 0 for v in per.values())}

    return Task(
        name="digits-liked", shape=(1, 8, 8), score_fn=score_fn, oracle=oracle, is_hit=is_hit,
        schedule=schedule,
        params={"liked": list(liked), "cap": cap, "smoothing_std": smoothing_std},
        defaults={"lam_max": 8.0, "n_particles": 128, "n_steps": 50},
        hit_breakdown=breakdown, plot_particles=plot_images, features=digits_features,
        liked_mode=liked_mode, n_liked=len(liked),
    )


def digits_unet(target: int = 3, confidence: float | None = None,
                weights: str | None = None) -> Task:
    """Steer a trained diffusers ``UNet2DModel`` of 8x8 digits towards digit ``target``.

    The base model is a learned network, not the exact score of the training set: the small
    UNet of :mod:`fkc_align.tasks.unet_model` (weights shipped in the package), sampled
    through the same diffusers path a user takes with their own model
    (:class:`fkc_kernels.diffusers.UNetScore` on the scheduler's
    :class:`~fkc_kernels.DiscreteVPSchedule`). User, reward and hit test are those of
    :func:`digits`. Needs the ``[diffusers]`` extra.

    Args:
        target, confidence: as for :func:`digits`.
        weights: a folder with retrained weights (default: the shipped ones).
    """
    oracle, is_hit, breakdown, params = _digit_user(target, confidence)
    try:
        from fkc_kernels.diffusers import UNetScore, schedule_from_scheduler

        from .unet_model import load_digits_unet
        unet, scheduler = load_digits_unet(weights)
    except ImportError as exc:
        raise ImportError(f"the digits-unet task needs diffusers: pip install "
                          f"'fkc-kernels[diffusers]' ({exc})") from exc
    unet.requires_grad_(False)
    schedule = schedule_from_scheduler(scheduler)
    score = UNetScore(unet, schedule, prediction_type=scheduler.config.prediction_type)

    def score_fn(x: torch.Tensor, tau: float) -> torch.Tensor:
        if unet.device != x.device:
            unet.to(x.device)
        return score(x, tau)

    params = {"target": target, **params}
    if weights is not None:
        params["weights"] = str(weights)
    return Task(
        name="digits-unet", shape=(1, 8, 8), score_fn=score_fn, oracle=oracle, is_hit=is_hit,
        schedule=schedule, params=params,
        defaults={"lam_max": 8.0, "n_particles": 128, "n_steps": 50},
        hit_breakdown=breakdown, plot_particles=plot_images, features=digits_features,
    )


def plot_images(fig, x: torch.Tensor, r: torch.Tensor, hits: torch.Tensor | None) -> None:
    """Draw ``x`` ``(n, 1, H, W)`` as a grid of images on ``fig``, titled by reward ``r``
    ``(n,)`` and marked where ``hits`` ``(n,)`` bool (None: no marks)."""
    n = x.shape[0]
    cols = min(8, max(n, 1))
    rows = max(1, math.ceil(n / cols))
    for i in range(n):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(x[i].reshape(x.shape[-2], x.shape[-1]).numpy(), cmap="gray_r", vmin=-1, vmax=1)
        mark = "" if hits is None else (" hit" if bool(hits[i]) else "")
        ax.set_title(f"{float(r[i]):.2f}{mark}", fontsize=7)
        ax.axis("off")


__all__ = ["digits", "digits_liked", "digits_unet", "plot_images"]
