"""The one particle stepper behind :class:`~fkc_kernels.FKCSampler` and the diffusers scheduler.

It owns what the two loops share: the reward (at the particle or at the denoised estimate), the
potential carried between steps, the log-weight increment (exact sequential-Monte-Carlo weights by
default, the seed's FKC increment as options), the final potential and resampling within groups.
The loops own the score, the noise and the proposal's mean; docs/design.md ("Exact weights")
derives the increment.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch

from .ops import effective_sample_size, fkc_step_, systematic_resample
from .particles import group_labels, resample_in_groups
from .rewards import GRAD_MODES, RewardFn, check_batch_size, reward_and_grad

WEIGHTS = ("smc", "fkc", "seed")


def check_weighting_options(weights: str, resample: str | None, ess_threshold: float,
                            reward_at: str, reward_grad: str) -> None:
    """The weight, resampling and reward options shared by every loop, checked with the same
    messages (``ValueError`` naming the argument)."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights: expected one of {WEIGHTS}, got {weights!r}")
    if resample not in (None, "auto", "ess", "always"):
        raise ValueError(f"resample: expected None, 'auto', 'ess' or 'always', got {resample!r}")
    if resample not in (None, "auto") and weights == "seed":
        raise ValueError(f"resample={resample!r} needs weights='smc' or 'fkc', got "
                         f"weights={weights!r}")
    if not 0.0 < ess_threshold <= 1.0:
        raise ValueError(f"ess_threshold: expected a fraction in (0, 1], got {ess_threshold}")
    if reward_at not in ("x", "x0_hat"):
        raise ValueError(f"reward_at: expected 'x' or 'x0_hat', got {reward_at!r}")
    if reward_grad not in GRAD_MODES:
        raise ValueError(f"reward_grad: expected one of {GRAD_MODES}, got {reward_grad!r}")


class Move(NamedTuple):
    """A Gaussian move ``x' = x + h·(g²·score − f_coef·x) + g·√h·ξ`` (plus the guidance).

    ``x`` is moved in place. Euler-Maruyama on the grid: the particle, its score and the step's
    coefficients. A pipeline's own step: ``x`` its base mean, ``score = 0``, ``h = 1``,
    ``f_coef = 0`` and ``g`` the step's standard deviation.
    """

    x: torch.Tensor
    score: torch.Tensor
    h: float
    g: float
    f_coef: float


def _ratio_step_(move: Move, w: torch.Tensor, grad: torch.Tensor, lam: float,
                 extra_dw: torch.Tensor | None, noise: torch.Tensor | None,
                 generator: torch.Generator | None, backend: str) -> None:
    """Guided move plus the log-ratio of the unguided (base) to the guided transition.

    ``Δw = −(h·g²·λ²/8)·‖∇r‖² − (g·√h·λ/2)·⟨∇r, ξ⟩ + extra_dw``, the exact
    ``log N(x'; base mean, g²h) − log N(x'; guided mean, g²h)`` (``lam`` sets the guidance
    shift ``h·g²·(λ/2)·∇r`` as in the FKC drift): the fused op's ``increment="ratio"``.
    """
    if isinstance(move.g, torch.Tensor):  # a per-element std (DDPM's learned variances)
        _tensor_ratio_step_(move, w, grad, lam, extra_dw, noise)
        return
    x = move.x
    fkc_step_(x, w, move.score, grad, torch.zeros(x.shape[0], dtype=torch.float32,
                                                  device=x.device),
              h=move.h, g=move.g, lam=lam, dlam=0.0, f_coef=move.f_coef,
              noise=None if noise is None else noise.to(x.dtype), generator=generator,
              dw_clip=None, w_clip=None, backend=backend, extra_dw=extra_dw,
              increment="ratio")


def _tensor_ratio_step_(move: Move, w: torch.Tensor, grad: torch.Tensor, lam: float,
                        extra_dw: torch.Tensor | None, noise: torch.Tensor) -> None:
    """:func:`_ratio_step_` for a per-element ``g`` (float32 torch; the kernel takes a scalar)."""
    x, h, g = move.x, move.h, move.g.float()
    n = x.shape[0]
    gr, xi = grad.float(), noise.float()
    drift = h * (g * g * (move.score.float() + (lam / 2.0) * gr) - move.f_coef * x.float())
    x.copy_((x.float() + drift + g * math.sqrt(h) * xi).to(x.dtype))
    dw = -(h * lam * lam / 8.0) * (g * g * gr * gr).reshape(n, -1).sum(1) \
        - (math.sqrt(h) * lam / 2.0) * (g * gr * xi).reshape(n, -1).sum(1)
    w.add_(dw if extra_dw is None else dw + extra_dw)


class ParticleStepper:
    """Reward, potential, log-weights and resampling of one particle set.

    Args:
        reward_fn: ``reward_fn(x) -> r`` ``(N,)`` or ``(r, ∇r)``; ``None``: no reward.
        tilt: anything with ``lam(t)``, ``dlam(t)`` (generative time ``t`` in [0, 1]).
        weights: ``"smc"`` (default: the exact sequential-Monte-Carlo weight of the twisted
            target ``p_base·exp(λ_t·r_t)``, any proposal), ``"fkc"`` (the seed's Algorithm 2
            increment, unclipped: exact in the continuous-time limit for ``reward_at="x"``) or
            ``"seed"`` (the FKC increment, clipped: ranks particles only).
        resample: ``"auto"`` (default: ``"ess"``, or ``None`` with ``weights="seed"``),
            ``"ess"`` (when a group's ESS < ``ess_threshold`` of its size), ``"always"`` or
            ``None``.
        ess_threshold, groups: the ``"ess"`` rule's fraction; the groups resampled apart.
        reward_at: ``"x0_hat"`` (default) or ``"x"``.
        reward_grad: ``"autograd"`` (guided proposal) or ``"none"`` (no gradient: the base
            transition is the proposal, resampling steers).
        reward_batch_size: particles per reward call.
        dw_clip, w_clip: the clips of ``weights="seed"``.
        backend: of the fused ops.
    """

    def __init__(self, reward_fn: RewardFn | None, tilt, *, weights: str = "smc",
                 resample: str | None = "auto", ess_threshold: float = 0.5,
                 reward_at: str = "x0_hat", reward_grad: str = "autograd",
                 reward_batch_size: int | None = None, groups=None, backend: str = "auto",
                 dw_clip: float | None = 0.1,
                 w_clip: tuple[float, float] | None = (0.1, 10.0)) -> None:
        check_weighting_options(weights, resample, ess_threshold, reward_at, reward_grad)
        if groups is not None and not isinstance(groups, torch.Tensor) and (
                isinstance(groups, bool) or not isinstance(groups, int) or groups < 1):
            raise ValueError(f"groups: expected None, an int >= 1 or labels (N,), got {groups!r}")
        if resample == "auto":
            resample = None if weights == "seed" else "ess"
        self.reward_fn, self.tilt, self.weights = reward_fn, tilt, weights
        self.resample, self.ess_threshold = resample, float(ess_threshold)
        self.reward_at, self.reward_grad = reward_at, reward_grad
        self.reward_batch_size = check_batch_size("reward_batch_size", reward_batch_size)
        self.groups, self.backend = groups, backend
        self.dw_clip = dw_clip if weights == "seed" else None
        self.w_clip = w_clip if weights == "seed" else None
        self.potential: torch.Tensor | None = None

    @property
    def exact(self) -> bool:
        """Whether the increment is the SMC one (always so without a reward gradient)."""
        return self.weights == "smc" or self.reward_grad == "none"

    def reward_point(self, x: torch.Tensor, x0_hat: Callable[[], torch.Tensor], alpha: float,
                     sigma: float) -> tuple[torch.Tensor, float]:
        """Where the reward is read and the factor that carries its gradient to ``x``:
        ``(x, 1)`` for ``reward_at="x"``, else ``(x0_hat(), x0_hat_grad_scale(α, σ))``
        (``x0_hat`` is called only then)."""
        if self.reward_at == "x":
            return x, 1.0
        return x0_hat(), self.x0_hat_grad_scale(alpha, sigma)

    def x0_hat_grad_scale(self, alpha: float, sigma: float) -> float:
        """``∂x̂0/∂x`` used to carry ``∇r(x̂0)`` to the particle (the score held fixed).

        Exact weights: ``α/(α² + σ²)``, the Jacobian of Tweedie's estimate for unit-variance
        data, which is ``1/α`` as ``σ → 0`` and ``→ 0`` at pure noise (``1/α`` there would
        over-steer the proposal by ``1/α²`` and collapse the weights). The FKC increments keep
        the seed's ``1/α``.
        """
        if self.exact:
            return alpha / (alpha * alpha + sigma * sigma)
        return 1.0 / alpha

    def reset(self) -> None:
        """Forget the carried potential (a new particle set)."""
        self.potential = None

    def _reward(self, at: torch.Tensor, grad_scale: float, device: torch.device, dtype):
        n = at.shape[0]
        if self.reward_fn is None:
            return torch.zeros(n, dtype=torch.float32, device=device), None
        mode = "none" if self.reward_grad == "none" else "autograd"
        r, grad = reward_and_grad(self.reward_fn, at, batch_size=self.reward_batch_size,
                                  grad=mode)
        if mode == "none":
            return r.float().to(device), None
        return r.float().to(device), (grad * grad_scale).to(device=device, dtype=dtype)

    def step_(self, move: Move, w: torch.Tensor, at: torch.Tensor, *, t: float,
              grad_scale: float = 1.0, extra_dw: torch.Tensor | None = None,
              noise: torch.Tensor | None = None,
              generator: torch.Generator | None = None) -> None:
        """One move of ``move.x`` and ``w`` in place, the reward read at ``at`` (the particle or
        its denoised estimate, gradient times ``grad_scale``) at generative time ``t``."""
        x = move.x
        r, grad = self._reward(at, grad_scale, x.device, x.dtype)
        if grad is None:
            grad = torch.zeros_like(x)
        lam = self.tilt.lam(t)
        if not self.exact:
            fkc_step_(x, w, move.score, grad, r, h=move.h, g=move.g, lam=lam,
                      dlam=self.tilt.dlam(t), f_coef=move.f_coef, dw_clip=self.dw_clip,
                      w_clip=self.w_clip, backend=self.backend, extra_dw=extra_dw, noise=noise,
                      generator=generator)
            return
        # the potential λ_t·r_t replaces the previous step's: its difference completes the
        # previous step's weight (docs/design.md, "Exact weights")
        potential = lam * r
        inc = potential - (self.potential if self.potential is not None else 0.0)
        self.potential = potential
        extra = inc if extra_dw is None else inc + extra_dw
        # full-gradient proposal shift h·g²·λ·∇r: the kernel's λ/2 convention takes 2λ
        lam_q = 0.0 if self.reward_grad == "none" else 2.0 * lam
        _ratio_step_(move, w, grad, lam_q, extra, noise, generator, self.backend)

    def finish_(self, x: torch.Tensor, w: torch.Tensor) -> None:
        """The final potential ``λ(1)·r(x_0)`` at the clean particles (exact weights only)."""
        if self.exact and self.reward_fn is not None and self.potential is not None:
            r, _ = reward_and_grad(self.reward_fn, x, batch_size=self.reward_batch_size,
                                   grad="none")
            w.add_(self.tilt.lam(1.0) * r.float().to(w.device) - self.potential)
        self.potential = None

    def _no_group_below(self, w: torch.Tensor, ess: torch.Tensor) -> bool:
        """Whether every group's ESS is at least ``ess_threshold`` of its size (host sync);
        ``ess`` is the whole set's, which is the one group's without groups."""
        labels = group_labels(self.groups, w.shape[0], w.device)
        if labels is None:
            return bool(ess >= self.ess_threshold * w.shape[0])
        return all(bool(effective_sample_size(w[labels == g]) >=
                        self.ess_threshold * int((labels == g).sum()))
                   for g in torch.unique(labels).tolist())

    def resample_(self, x: torch.Tensor, w: torch.Tensor, ess: torch.Tensor,
                  generator: torch.Generator | None, lazy: bool = False,
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Resample ``x`` and ``w`` in place within groups when the rule says so.

        Returns ``(resampled, ancestors, did)``: ``resampled`` a 0-d bool (any group),
        ``ancestors`` int64 ``(N,)``, ``did`` bool ``(N,)`` (the slot's group resampled). With
        resampling on, one uniform per group is drawn at every call (no host sync), unless
        ``lazy``: then the ``"ess"`` rule is read on the host first and nothing is drawn when
        no group resamples, so a generator shared with the pipeline's noise stays in step with
        the source scheduler's.
        """
        n = w.shape[0]
        keep = torch.arange(n, device=w.device)
        if self.resample is None or (lazy and self.resample == "ess"
                                     and self._no_group_below(w, ess)):
            did = torch.zeros(n, dtype=torch.bool, device=w.device)
            return did.any(), keep, did
        if self.groups is None and self.resample == "ess":
            do = ess < self.ess_threshold * n  # the ESS the loop already took
            idx = torch.where(do, systematic_resample(w, generator=generator,
                                                      backend=self.backend), keep)
            did = do.expand(n)
        else:
            labels = group_labels(self.groups, n, w.device)
            idx, did = resample_in_groups(w, labels, mode=self.resample,
                                          ess_threshold=self.ess_threshold,
                                          generator=generator, backend=self.backend)
        x.copy_(x[idx])
        w.copy_(torch.where(did, torch.zeros_like(w), w[idx]))
        return did.any(), idx, did

    def reindex(self, ancestors: torch.Tensor,
                take: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> None:
        """Let the carried potential follow resampled particles (``take(t, ancestors)``,
        default ``t[ancestors]``; a sharded loop fetches rows across ranks)."""
        if self.potential is not None:
            self.potential = (take or (lambda t, a: t[a]))(self.potential, ancestors)
