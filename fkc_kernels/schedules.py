"""Noise schedules (VP, VE) and reward-tilt schedules, evaluated per sampler step.

Generative time ``t`` runs 0 -> 1 in ``K`` steps of ``h = 1/K``; step ``i`` sits at
``t_i = i*h`` and forward (noising) time ``tau_i = 1 - t_i``. The forward SDE is
``dx = f_coef(tau)*x dtau + g(tau) dW`` and ``x_tau | x_0 ~ N(alpha*x_0, sigma^2 I)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class StepCoefficients:
    """Everything a step needs at ``t = i*h`` (all Python floats)."""

    i: int
    h: float
    t: float
    tau: float
    g: float
    f_coef: float
    alpha: float
    sigma: float


class _Schedule:
    prior_std: float = 1.0

    def g2(self, tau: float) -> float:
        raise NotImplementedError

    def g(self, tau: float) -> float:
        """Diffusion coefficient ``g(tau) = sqrt(g2(tau))``."""
        return math.sqrt(self.g2(tau))

    def f_coef(self, tau: float) -> float:
        raise NotImplementedError

    def alpha(self, tau: float) -> float:
        raise NotImplementedError

    def sigma(self, tau: float) -> float:
        raise NotImplementedError

    def at_step(self, i: int, n_steps: int) -> StepCoefficients:
        """Coefficients of step ``i`` of ``n_steps`` (``0 <= i < n_steps``)."""
        if not 0 <= i < n_steps:
            raise ValueError(f"i: expected 0 <= i < n_steps={n_steps}, got {i}")
        h = 1.0 / n_steps
        t = i * h
        tau = 1.0 - t
        return StepCoefficients(i=i, h=h, t=t, tau=tau, g=self.g(tau),
                                f_coef=self.f_coef(tau), alpha=self.alpha(tau),
                                sigma=self.sigma(tau))


class VPSchedule(_Schedule):
    """Variance-preserving schedule, ``beta(tau) = beta_min + tau*(beta_max - beta_min)``.

    ``f = -beta/2 * x``, ``g^2 = beta``, ``alpha = exp(-int_0^tau beta/2)``,
    ``sigma^2 = 1 - alpha^2``; the prior at ``tau = 1`` is ``N(0, I)``.
    """

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0) -> None:
        if not (0 < beta_min <= beta_max and math.isfinite(beta_max)):
            raise ValueError(
                f"beta_min, beta_max: expected 0 < beta_min <= beta_max < inf, got "
                f"({beta_min}, {beta_max})"
            )
        self.beta_min, self.beta_max = float(beta_min), float(beta_max)
        self.prior_std = 1.0

    def beta(self, tau: float) -> float:
        return self.beta_min + tau * (self.beta_max - self.beta_min)

    def g2(self, tau: float) -> float:
        return self.beta(tau)

    def f_coef(self, tau: float) -> float:
        return -0.5 * self.beta(tau)

    def log_alpha(self, tau: float) -> float:
        return -0.5 * (self.beta_min * tau + 0.5 * (self.beta_max - self.beta_min) * tau * tau)

    def alpha(self, tau: float) -> float:
        return math.exp(self.log_alpha(tau))

    def sigma(self, tau: float) -> float:
        return math.sqrt(-math.expm1(2.0 * self.log_alpha(tau)))

    def __repr__(self) -> str:
        return f"VPSchedule(beta_min={self.beta_min}, beta_max={self.beta_max})"


class VESchedule(_Schedule):
    """Variance-exploding schedule ``sigma(tau) = sigma_min*(sigma_max/sigma_min)**tau``.

    ``f = 0``, ``g^2 = d sigma^2/d tau = 2 sigma^2 log(sigma_max/sigma_min)``, ``alpha = 1``;
    the prior at ``tau = 1`` is ``N(0, sigma_max^2 I)``.
    """

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0) -> None:
        if not (0 < sigma_min < sigma_max and math.isfinite(sigma_max)):
            raise ValueError(
                f"sigma_min, sigma_max: expected 0 < sigma_min < sigma_max < inf, got "
                f"({sigma_min}, {sigma_max})"
            )
        self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)
        self.prior_std = self.sigma_max

    def g2(self, tau: float) -> float:
        return 2.0 * self.sigma(tau) ** 2 * math.log(self.sigma_max / self.sigma_min)

    def f_coef(self, tau: float) -> float:
        return 0.0

    def alpha(self, tau: float) -> float:
        return 1.0

    def sigma(self, tau: float) -> float:
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** tau

    def __repr__(self) -> str:
        return f"VESchedule(sigma_min={self.sigma_min}, sigma_max={self.sigma_max})"


class LinearTilt:
    """Reward tilt ``lam(t) = lam_max * t`` along generative time; ``dlam/dt = lam_max``.

    The terminal target is proportional to ``q_0(x) * exp(lam_max * r(x))``.
    """

    def __init__(self, lam_max: float) -> None:
        if not math.isfinite(lam_max):
            raise ValueError(f"lam_max: expected a finite number, got {lam_max}")
        self.lam_max = float(lam_max)

    def lam(self, t: float) -> float:
        return self.lam_max * t

    def dlam(self, t: float) -> float:
        return self.lam_max

    def __repr__(self) -> str:
        return f"LinearTilt(lam_max={self.lam_max})"


def score_from_eps(eps, sigma):
    """Score from an epsilon-prediction network: ``s = -eps / sigma`` (broadcasting shapes)."""
    return -eps / sigma


def score_from_x0(x0, x, alpha, sigma):
    """Score from a data-prediction network: ``s = (alpha*x0 - x) / sigma^2``."""
    return (alpha * x0 - x) / (sigma * sigma)
