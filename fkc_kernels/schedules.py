"""Noise schedules (VP, VE, discrete VP, EDM, flow matching) and reward-tilt schedules.

Generative time ``t`` runs 0 -> 1 in ``K`` steps; forward (noising) time ``tau`` runs 1 -> 0.
The forward SDE is ``dx = f_coef(tau)*x dtau + g(tau) dW`` and
``x_tau | x_0 ~ N(alpha*x_0, sigma^2 I)``. The continuous :class:`VPSchedule` and
:class:`VESchedule` take uniform steps ``h = 1/K`` at ``t_i = i*h``, ``tau_i = 1 - t_i``; a
:class:`GridSchedule` (discrete VP from a diffusers ``alphas_cumprod``, EDM, flow matching) steps
along a grid of forward times of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# the network-output conversions live in predictions.py; re-exported here, where they were
from .predictions import (  # noqa: F401
    PREDICTION_TYPES,
    score_from_eps,
    score_from_flow,
    score_from_prediction,
    score_from_v,
    score_from_x0,
    x0_from_score,
)


@dataclass(frozen=True)
class StepCoefficients:
    """Everything step ``i`` needs (all Python floats).

    Attributes:
        i: the step index.
        h: the step size in generative time (> 0; the steps of a run sum to 1).
        t: generative time at the start of the step (0 at the first step).
        tau: forward time at which the score is evaluated (1 = noise for the uniform schedules).
        g, f_coef: the SDE coefficients used for the step (``g**2*h`` is the variance the step's
            noise adds, ``f_coef*h`` the drift factor).
        alpha, sigma: ``x_tau | x_0 ~ N(alpha*x_0, sigma^2 I)`` at ``tau``.
    """

    i: int
    h: float
    t: float
    tau: float
    g: float
    f_coef: float
    alpha: float
    sigma: float


class Schedule:
    """Base of the noise schedules: subclass it for your own (``alpha``, ``sigma``, ``g2``,
    ``f_coef`` of the forward time ``tau``, ``prior_std`` of the particles at the first step).
    ``at_step(i, n_steps)`` evaluates them at uniform steps ``h = 1/n_steps``."""

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


_Schedule = Schedule  # the name this base had before it was public


class VPSchedule(Schedule):
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


class VESchedule(Schedule):
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

def _as_float_list(name: str, values) -> list[float]:
    if hasattr(values, "detach"):  # a torch tensor (any device, any float dtype)
        values = values.detach().double().cpu().reshape(-1).tolist()
    elif hasattr(values, "tolist"):  # a numpy array
        values = values.reshape(-1).tolist()
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected a 1-D sequence of numbers, got "
                        f"{type(values).__name__}") from exc
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name}: expected finite values, got a non-finite one")
    return out


def _check_n_steps(n_steps) -> int:
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps: expected an int >= 1, got {n_steps!r}")
    return n_steps


def _exact_variance_factor(rho: float) -> float:
    """``2 rho^2 ln(rho) / (rho^2 - 1)`` (1 at ``rho = 1``): see :class:`GridSchedule`."""
    u = 2.0 * math.log(rho)
    return 1.0 if u == 0.0 else rho * rho * u / math.expm1(u)


class GridSchedule(Schedule):
    """A schedule stepped along a grid of forward times ``tau_0 > tau_1 > ... > tau_K >= 0``.

    Step ``i`` moves the particles from ``tau_i`` to ``tau_{i+1}`` and evaluates the score at
    ``tau_i``. Generative time is the share of the grid covered, ``t_i = (tau_0 - tau_i) /
    (tau_0 - tau_K)``, so the steps' ``h`` sum to 1 and a tilt reaches its end value.

    ``f_coef`` and ``g`` are constant over a step and chosen so that the forward (noising)
    transition from ``tau_{i+1}`` to ``tau_i`` is exact: with ``rho = alpha_{i+1} / alpha_i``,
    ``f_coef*h = -ln(rho)`` and ``g^2*h = v * 2 rho^2 ln(rho) / (rho^2 - 1)``, where
    ``v = sigma_i^2 - sigma_{i+1}^2 / rho^2`` is the variance that transition adds (for a discrete
    VP schedule ``g^2*h = ln(alphas_cumprod_{i+1} / alphas_cumprod_i)``, for a VE/EDM one
    ``g^2*h = sigma_i^2 - sigma_{i+1}^2``). The reverse step is then Euler-Maruyama with these
    coefficients, which is accurate while the signal-to-noise ratio changes moderately per step.

    Subclasses give ``alpha(tau)``, ``sigma(tau)``, ``grid(n_steps)`` (``n_steps + 1`` strictly
    decreasing forward times, the last >= 0) and ``prior_std``.
    """

    def grid(self, n_steps: int) -> list[float]:
        raise NotImplementedError

    def checked_grid(self, n_steps: int) -> list[float]:
        """``grid(n_steps)``, validated (and remembered: steps ask for it every time)."""
        n_steps = _check_n_steps(n_steps)
        cache = self.__dict__.setdefault("_grid_cache", {})
        if n_steps not in cache:
            taus = [float(v) for v in self.grid(n_steps)]
            if len(taus) != n_steps + 1:
                raise ValueError(f"grid: expected {n_steps + 1} forward times for "
                                 f"n_steps={n_steps}, got {len(taus)}")
            if not all(a > b for a, b in zip(taus, taus[1:], strict=False)) or taus[-1] < 0:
                raise ValueError(f"grid: expected strictly decreasing forward times ending >= 0,"
                                 f" got {taus[:4]}...{taus[-2:]}")
            if len(cache) > 16:
                cache.clear()
            cache[n_steps] = taus
        return cache[n_steps]

    def at_step(self, i: int, n_steps: int) -> StepCoefficients:
        """Coefficients of step ``i`` of ``n_steps`` (``0 <= i < n_steps``)."""
        taus = self.checked_grid(n_steps)
        if not 0 <= i < n_steps:
            raise ValueError(f"i: expected 0 <= i < n_steps={n_steps}, got {i}")
        tau_a, tau_b = taus[i], taus[i + 1]
        span = taus[0] - taus[-1]
        h = (tau_a - tau_b) / span
        alpha_a, alpha_b = self.alpha(tau_a), self.alpha(tau_b)
        sigma_a, sigma_b = self.sigma(tau_a), self.sigma(tau_b)
        if not alpha_a > 0:
            raise ValueError(f"{self!r}: alpha({tau_a}) = {alpha_a}; a step needs alpha > 0 at "
                             f"its start (start the grid below the point where alpha vanishes)")
        rho = alpha_b / alpha_a
        v = sigma_a * sigma_a - (sigma_b / rho) ** 2
        if v < -1e-9 * max(sigma_a * sigma_a, 1e-30):
            raise ValueError(f"{self!r}: sigma/alpha must decrease along the grid, but at step "
                             f"{i} it goes {sigma_a / alpha_a} -> {sigma_b / alpha_b}")
        g2h = max(v, 0.0) * _exact_variance_factor(rho)
        return StepCoefficients(i=i, h=h, t=(taus[0] - tau_a) / span, tau=tau_a,
                                g=math.sqrt(g2h / h), f_coef=-math.log(rho) / h,
                                alpha=alpha_a, sigma=sigma_a)


def timestep_to_tau(timestep, num_train_timesteps: int):
    """Forward time of a diffusers timestep: ``tau = (timestep + 1) / num_train_timesteps``.

    Timestep ``T - 1`` (the noisiest a ``T``-step scheduler trains on) is ``tau = 1``; ``tau = 0``
    is clean data (timestep -1). Works on floats and tensors.
    """
    return (timestep + 1) / num_train_timesteps


def tau_to_timestep(tau, num_train_timesteps: int):
    """Inverse of :func:`timestep_to_tau`: ``tau * num_train_timesteps - 1``; a float within
    1e-6 of an integer comes back as that integer (so a grid point maps to its timestep)."""
    t = tau * num_train_timesteps - 1
    if isinstance(t, float) and abs(t - round(t)) < 1e-6:
        return int(round(t))
    return t


def trailing_timesteps(n_steps: int, num_train_timesteps: int) -> list[int]:
    """``n_steps`` timesteps from ``T - 1`` down, evenly spaced (diffusers' "trailing")."""
    n_steps = _check_n_steps(n_steps)
    if n_steps > num_train_timesteps:
        raise ValueError(f"n_steps: expected <= num_train_timesteps={num_train_timesteps}, "
                         f"got {n_steps}")
    step = num_train_timesteps / n_steps
    return [int(round(num_train_timesteps - i * step)) - 1 for i in range(n_steps)]


class DiscreteVPSchedule(GridSchedule):
    """The discrete variance-preserving schedule of a diffusers scheduler (DDPM, DDIM, ...).

    ``alphas_cumprod[t]`` is ``alpha^2`` at timestep ``t`` (``0 <= t < T``); timestep ``t`` sits
    at forward time ``tau = (t + 1) / T`` and ``tau = 0`` is clean data (``alpha = 1``). Between
    timesteps ``log alphas_cumprod`` is interpolated linearly, so fractional timesteps (Euler,
    LMS) work and ``beta = -d log(alpha^2)/dtau`` is constant between trained timesteps.

    Args:
        alphas_cumprod: ``(T,)`` values in (0, 1], strictly decreasing (a tensor, array or list).
        timesteps: the sampling timesteps, strictly decreasing in [0, T - 1]: ``None`` (evenly
            spaced from ``T - 1``, any ``n_steps <= T``), a sequence (a fixed grid: ``n_steps``
            must equal its length) or a callable ``n_steps -> timesteps`` (e.g. a diffusers
            scheduler's ``set_timesteps``; see ``fkc_kernels.diffusers.schedule_from_scheduler``).
    """

    def __init__(self, alphas_cumprod, timesteps=None) -> None:
        ac = _as_float_list("alphas_cumprod", alphas_cumprod)
        if len(ac) < 2:
            raise ValueError(f"alphas_cumprod: expected at least 2 values, got {len(ac)}")
        if not all(0.0 < a <= 1.0 for a in ac):
            bad = next(a for a in ac if not 0.0 < a <= 1.0)
            raise ValueError(f"alphas_cumprod: expected values in (0, 1], got {bad}")
        if not all(a > b for a, b in zip(ac, ac[1:], strict=False)):
            raise ValueError(
                "alphas_cumprod: expected strictly decreasing values (every beta > 0)")
        self.num_train_timesteps = len(ac)
        self._alphas_cumprod = ac
        # knots k = 0..T at tau = k/T; knot 0 is clean data (log alpha^2 = 0)
        self._log_ac = [0.0] + [math.log(a) for a in ac]
        if timesteps is not None and not callable(timesteps):
            timesteps = self._check_timesteps(_as_float_list("timesteps", timesteps))
        self._timesteps = timesteps
        self.prior_std = 1.0

    @property
    def alphas_cumprod(self) -> list[float]:
        """The ``(T,)`` values the schedule was built from."""
        return list(self._alphas_cumprod)

    def with_timesteps(self, timesteps) -> DiscreteVPSchedule:
        """The same ``alphas_cumprod`` with other sampling ``timesteps`` (see the class)."""
        return DiscreteVPSchedule(self._alphas_cumprod, timesteps=timesteps)

    def _check_timesteps(self, ts: list[float]) -> list[float]:
        if not ts:
            raise ValueError("timesteps: expected at least one timestep, got none")
        if not all(a > b for a, b in zip(ts, ts[1:], strict=False)):
            raise ValueError(f"timesteps: expected strictly decreasing values, got "
                             f"{ts[:6]}{'...' if len(ts) > 6 else ''}")
        if ts[0] > self.num_train_timesteps - 1 or ts[-1] < 0:
            raise ValueError(f"timesteps: expected values in [0, {self.num_train_timesteps - 1}],"
                             f" got {ts[0]} .. {ts[-1]}")
        return ts

    def timesteps(self, n_steps: int) -> list[float]:
        """The ``n_steps`` sampling timesteps (strictly decreasing)."""
        n_steps = _check_n_steps(n_steps)
        if self._timesteps is None:
            return [float(t) for t in trailing_timesteps(n_steps, self.num_train_timesteps)]
        if callable(self._timesteps):
            ts = self._check_timesteps(_as_float_list("timesteps", self._timesteps(n_steps)))
            if len(ts) != n_steps:
                raise ValueError(f"timesteps: the callable gave {len(ts)} timesteps for "
                                 f"n_steps={n_steps}")
            return ts
        if len(self._timesteps) != n_steps:
            raise ValueError(
                f"n_steps: this schedule has a fixed grid of {len(self._timesteps)} timesteps, "
                f"got n_steps={n_steps} (pass timesteps=None or a callable n_steps -> timesteps "
                f"to accept any n_steps)")
        return list(self._timesteps)

    def grid(self, n_steps: int) -> list[float]:
        return [self.timestep_to_tau(t) for t in self.timesteps(n_steps)] + [0.0]

    def timestep_to_tau(self, timestep):
        """``(timestep + 1) / T``."""
        return timestep_to_tau(timestep, self.num_train_timesteps)

    def tau_to_timestep(self, tau):
        """``tau * T - 1`` (an int at grid points): the timestep a network is called with."""
        return tau_to_timestep(tau, self.num_train_timesteps)

    timestep = tau_to_timestep

    def _knot(self, tau: float) -> tuple[int, float]:
        u = min(max(tau, 0.0), 1.0) * self.num_train_timesteps
        k = min(int(math.floor(u)), self.num_train_timesteps - 1)
        return k, u - k

    def log_alphas_cumprod(self, tau: float) -> float:
        """``log alpha(tau)^2``, linear between timesteps."""
        k, frac = self._knot(tau)
        return (1.0 - frac) * self._log_ac[k] + frac * self._log_ac[k + 1]

    def alpha(self, tau: float) -> float:
        return math.exp(0.5 * self.log_alphas_cumprod(tau))

    def sigma(self, tau: float) -> float:
        return math.sqrt(-math.expm1(self.log_alphas_cumprod(tau)))

    def g2(self, tau: float) -> float:
        """``beta(tau) = -d log(alpha^2)/dtau``, constant between timesteps."""
        u = min(max(tau, 0.0), 1.0) * self.num_train_timesteps
        j = min(max(math.ceil(u) - 1, 0), self.num_train_timesteps - 1)
        return (self._log_ac[j] - self._log_ac[j + 1]) * self.num_train_timesteps

    def f_coef(self, tau: float) -> float:
        return -0.5 * self.g2(tau)

    def __repr__(self) -> str:
        kind = ("trailing" if self._timesteps is None else
                "callable" if callable(self._timesteps) else f"{len(self._timesteps)} fixed")
        return f"DiscreteVPSchedule(T={self.num_train_timesteps}, timesteps={kind})"


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

