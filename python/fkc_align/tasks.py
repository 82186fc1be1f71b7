"""Built-in tasks: what the active loop needs to know about a base model and a user.

A :class:`Task` bundles a score function (the base diffusion model), the particle shape, the
oracle (the true reward; in real use a person), an optional hit test and a reward-network
factory. Users build one for their own model with ``Task(...)``; :func:`digits`,
:func:`digits_unet` and :func:`gmm` are the built-in ones.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from fkc_kernels import VPSchedule

from .reward_models import make_reward_model

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


# ----------------------------------------------------------------------------- mixtures


def mixture_score(
    x: torch.Tensor,
    means: torch.Tensor,
    var0: float,
    alpha: float,
    sigma: float,
    log_weights: torch.Tensor | None = None,
    chunk: int = 4096,
) -> torch.Tensor:
    """Exact score of ``sum_m pi_m N(alpha*mu_m, (alpha^2 var0 + sigma^2) I)`` at ``x``.

    This is the VP-noised density at forward time tau of the data distribution
    ``sum_m pi_m N(mu_m, var0 I)``: an empirical set smoothed by ``var0`` or an isotropic GMM.
    The score is ``(E[alpha*mu | x] - x) / v`` with posterior weights ``softmax_m`` of
    ``log pi_m - |x - alpha mu_m|^2 / (2v)``; the means are processed in chunks with a running
    logsumexp so memory stays ``O(N * chunk)``.

    Args:
        x: ``(N, *S)`` float tensor.
        means: ``(M, D)`` with ``D = prod(S)``, same dtype/device as ``x`` (or castable).
        var0: per-coordinate data variance around each mean (> 0).
        alpha, sigma: the schedule's ``alpha(tau)`` and ``sigma(tau)``.
        log_weights: ``(M,)`` mixture log-weights, uniform when ``None``.

    Returns:
        ``(N, *S)`` score in ``x``'s dtype.
    """
    shape, n = x.shape, x.shape[0]
    xf = x.reshape(n, -1).to(means.dtype)
    v = alpha * alpha * var0 + sigma * sigma
    x_sq = (xf * xf).sum(1, keepdim=True)
    run_max = torch.full((n, 1), -math.inf, dtype=xf.dtype, device=xf.device)
    run_sum = torch.zeros((n, 1), dtype=xf.dtype, device=xf.device)
    run_mean = torch.zeros_like(xf)  # sum_m exp(logit_m - run_max) * alpha*mu_m
    for start in range(0, means.shape[0], chunk):
        mu = alpha * means[start:start + chunk]
        # |x - mu|^2 = |x|^2 - 2 x.mu + |mu|^2, as one matmul
        d2 = x_sq - 2.0 * xf @ mu.T + (mu * mu).sum(1)[None, :]
        logits = -d2.clamp_min(0.0) / (2.0 * v)
        if log_weights is not None:
            logits = logits + log_weights[start:start + chunk][None, :]
        new_max = torch.maximum(run_max, logits.max(1, keepdim=True).values)
        rescale = torch.exp(run_max - new_max)
        p = torch.exp(logits - new_max)
        run_sum = run_sum * rescale + p.sum(1, keepdim=True)
        run_mean = run_mean * rescale + p @ mu
        run_max = new_max
    posterior_mean = run_mean / run_sum
    return ((posterior_mean - xf) / v).reshape(shape).to(x.dtype)


def mixture_log_density(x, means, var0, alpha, sigma, log_weights=None):
    """``log q_tau(x)`` of the same mixture as :func:`mixture_score` (for tests), ``(N,)``."""
    n = x.shape[0]
    xf = x.reshape(n, -1)
    d = xf.shape[1]
    v = alpha * alpha * var0 + sigma * sigma
    d2 = ((xf[:, None, :] - alpha * means[None, :, :]) ** 2).sum(-1)
    if log_weights is None:
        log_weights = torch.full((means.shape[0],), -math.log(means.shape[0]),
                                 dtype=xf.dtype, device=xf.device)
    comp = log_weights[None, :] - d2 / (2 * v) - 0.5 * d * math.log(2 * math.pi * v)
    return torch.logsumexp(comp, dim=1)


# ----------------------------------------------------------------------------- digits

DIGITS_SMOOTHING_STD = 0.1  # data std around each training image, in [-1, 1] units
DIGITS_FEATURES = 16  # principal components in the novelty representation


@functools.lru_cache(maxsize=2)
def load_digits_data() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's bundled 8x8 digits: images float32 ``(1797, 1, 8, 8)`` in [-1, 1], labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32) / 8.0 - 1.0  # pixel range 0..16
    return images[:, None], torch.tensor(bunch.target, dtype=torch.long)


@functools.lru_cache(maxsize=2)
def _digit_classifier(c: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression on the digits: weights ``(10, 64)``, bias ``(10,)``."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    images, labels = load_digits_data()
    clf = LogisticRegression(C=c, max_iter=2000)
    # one BLAS thread: a 1797x64 fit gains nothing from more, and oversubscribed BLAS threads
    # on a busy 2-core machine made it 20x slower
    with threadpool_limits(limits=1):
        clf.fit(images.reshape(len(images), -1).numpy(), labels.numpy())
    return (torch.tensor(clf.coef_, dtype=torch.float32),
            torch.tensor(clf.intercept_, dtype=torch.float32))


def digit_log_probs(x: torch.Tensor) -> torch.Tensor:
    """The synthetic user's classifier: log-probabilities ``(n, 10)`` for ``x`` ``(n, 1, 8, 8)``."""
    weight, bias = _digit_classifier()
    logits = x.flatten(1).float().cpu() @ weight.T + bias
    return torch.log_softmax(logits, dim=1)


@functools.lru_cache(maxsize=1)
def _digits_pca(n_components: int = DIGITS_FEATURES) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(64,)`` and top principal directions ``(64, n_components)`` of the digit images."""
    images, _ = load_digits_data()
    flat = images.reshape(len(images), -1).double()
    mean = flat.mean(0)
    _, _, vh = torch.linalg.svd(flat - mean, full_matrices=False)
    return mean.float(), vh[:n_components].T.float().contiguous()


def digits_features(x: torch.Tensor) -> torch.Tensor:
    """Novelty representation of digit particles: the top principal components of the training
    images (unsupervised: no labels), ``(n, 64) -> (n, DIGITS_FEATURES)``."""
    mean, basis = _digits_pca()
    return (x.reshape(x.shape[0], -1).float().cpu() - mean) @ basis


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
        hit_breakdown=breakdown, plot_particles=_plot_images, features=digits_features,
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
        hit_breakdown=breakdown, plot_particles=_plot_images, features=digits_features,
        liked_mode=liked_mode, n_liked=len(liked),
    )


def digits_unet(target: int = 3, confidence: float | None = None,
                weights: str | None = None) -> Task:
    """Steer a trained diffusers ``UNet2DModel`` of 8x8 digits towards digit ``target``.

    The base model is a learned network, not the exact score of the training set: the small
    UNet trained by :mod:`fkc_align.digits_unet` (weights shipped in the package), sampled
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

        from .digits_unet import load_digits_unet
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
        hit_breakdown=breakdown, plot_particles=_plot_images, features=digits_features,
    )


def _plot_images(fig, x: torch.Tensor, r: torch.Tensor, hits: torch.Tensor | None) -> None:
    n = x.shape[0]
    cols = min(8, max(n, 1))
    rows = max(1, math.ceil(n / cols))
    for i in range(n):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(x[i].reshape(x.shape[-2], x.shape[-1]).numpy(), cmap="gray_r", vmin=-1, vmax=1)
        mark = "" if hits is None else (" hit" if bool(hits[i]) else "")
        ax.set_title(f"{float(r[i]):.2f}{mark}", fontsize=7)
        ax.axis("off")


# ----------------------------------------------------------------------------- gmm


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

    def plot(fig, x, r, hits):
        ax = fig.add_subplot(1, 1, 1)
        ax.scatter(means[:, 0], means[:, 1], s=300, c="lightgray", label="base modes")
        ax.scatter(liked_means[:, 0], liked_means[:, 1], s=300, facecolors="none",
                   edgecolors="green", label="liked modes")
        ax.scatter(x[:, 0], x[:, 1], s=12, c=r.numpy(), cmap="viridis", label="observed")
        ax.set_aspect("equal")
        ax.legend(fontsize=7, loc="upper right")

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

    def plot(fig, x, r, hits):  # the first two coordinates
        ax = fig.add_subplot(1, 1, 1)
        ax.scatter(means[:, 0], means[:, 1], s=300, c="lightgray", label="base modes")
        ax.scatter(rare[0], rare[1], s=300, facecolors="none", edgecolors="green",
                   label="liked (rare) mode")
        ax.scatter(x[:, 0], x[:, 1], s=12, c=r.numpy(), cmap="viridis", label="observed")
        ax.set_aspect("equal")
        ax.legend(fontsize=7, loc="upper right")

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


TASKS: dict[str, Callable[..., Task]] = {"digits": digits, "digits-unet": digits_unet,
                                         "gmm": gmm,
                                         "digits-liked": digits_liked, "rare-mode": rare_mode}
