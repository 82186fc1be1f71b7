"""EDM (Karras sigma grid) and flow-matching schedules: grids of forward times of their own.

Re-exported by :mod:`fkc_kernels.schedules`.
"""

from __future__ import annotations

import math

from .schedules import GridSchedule


class EDMSchedule(GridSchedule):
    """EDM (Karras et al. 2022): ``alpha = 1``, ``sigma`` on the Karras grid with exponent ``rho``.

    ``sigma(tau) = (sigma_min^(1/rho) + tau*(sigma_max^(1/rho) - sigma_min^(1/rho)))^rho`` and
    ``n_steps`` steps go uniformly in ``tau`` from 1 to 0, so they visit exactly the Karras grid
    of ``n_steps + 1`` sigmas from ``sigma_max`` to ``sigma_min``. The run ends at
    ``sigma_min`` (not 0): samples keep that much noise (EDM's 0.002 is invisible in images).
    The prior is ``N(0, (1 + sigma_max^2) I)`` (diffusers' ``init_noise_sigma``).
    """

    def __init__(self, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0):
        if not (0 < sigma_min < sigma_max and math.isfinite(sigma_max)):
            raise ValueError(f"sigma_min, sigma_max: expected 0 < sigma_min < sigma_max < inf, "
                             f"got ({sigma_min}, {sigma_max})")
        if not (math.isfinite(rho) and rho > 0):
            raise ValueError(f"rho: expected a finite number > 0, got {rho}")
        self.sigma_min, self.sigma_max, self.rho = float(sigma_min), float(sigma_max), float(rho)
        self._lo = self.sigma_min ** (1.0 / self.rho)
        self._hi = self.sigma_max ** (1.0 / self.rho)
        self.prior_std = math.hypot(1.0, self.sigma_max)

    def grid(self, n_steps: int) -> list[float]:
        return [1.0 - i / n_steps for i in range(n_steps)] + [0.0]

    def karras_sigmas(self, n_steps: int) -> list[float]:
        """The ``n_steps + 1`` sigmas the steps visit (``sigma_max`` ... ``sigma_min``)."""
        return [self.sigma(tau) for tau in self.checked_grid(n_steps)]

    def sigma(self, tau: float) -> float:
        return (self._lo + tau * (self._hi - self._lo)) ** self.rho

    def alpha(self, tau: float) -> float:
        return 1.0

    def sigma_to_tau(self, sigma: float) -> float:
        """Inverse of ``sigma(tau)``."""
        return (sigma ** (1.0 / self.rho) - self._lo) / (self._hi - self._lo)

    def timestep(self, tau: float) -> float:
        """EDM's noise conditioning ``c_noise = ln(sigma)/4`` (diffusers' ``EDMEulerScheduler``)."""
        return 0.25 * math.log(self.sigma(tau))

    def g2(self, tau: float) -> float:
        base = self._lo + tau * (self._hi - self._lo)
        return 2.0 * self.rho * base ** (2.0 * self.rho - 1.0) * (self._hi - self._lo)

    def f_coef(self, tau: float) -> float:
        return 0.0

    def __repr__(self) -> str:
        return (f"EDMSchedule(sigma_min={self.sigma_min}, sigma_max={self.sigma_max}, "
                f"rho={self.rho})")


class FlowMatchingSchedule(GridSchedule):
    """Rectified flow / flow matching: ``x = (1 - s)*x_0 + s*eps`` with ``s = sigma(tau)``.

    ``sigma(tau) = shift*tau / (1 + (shift - 1)*tau)`` (diffusers' ``FlowMatchEulerDiscrete``
    shift), ``alpha = 1 - sigma``. At ``tau = 1`` alpha is 0 and the SDE's drift is infinite, so
    the grid starts at ``tau_max < 1`` and steps uniformly to 0; the particles start from
    ``N(0, alpha(tau_max)^2 + sigma(tau_max)^2)``, which neglects the data's share
    ``alpha(tau_max)*x_0`` (small for ``tau_max`` near 1). A flow model's velocity
    ``v = eps - x_0`` gives the score ``-(x + (1 - s)*v) / s`` (``score_from_v``).

    Args:
        tau_max: where sampling starts, in (0, 1).
        shift: the timestep shift (1 = none).
        num_train_timesteps: the network's timestep scale: ``timestep = sigma * T``.
    """

    def __init__(self, tau_max: float = 0.98, shift: float = 1.0,
                 num_train_timesteps: int = 1000) -> None:
        if not 0.0 < tau_max < 1.0:
            raise ValueError(f"tau_max: expected 0 < tau_max < 1 (alpha vanishes at tau = 1), "
                             f"got {tau_max}")
        if not (math.isfinite(shift) and shift > 0):
            raise ValueError(f"shift: expected a finite number > 0, got {shift}")
        self.tau_max, self.shift = float(tau_max), float(shift)
        self.num_train_timesteps = int(num_train_timesteps)
        self.prior_std = math.hypot(self.alpha(self.tau_max), self.sigma(self.tau_max))

    def grid(self, n_steps: int) -> list[float]:
        return [self.tau_max * (1.0 - i / n_steps) for i in range(n_steps)] + [0.0]

    def sigma(self, tau: float) -> float:
        return self.shift * tau / (1.0 + (self.shift - 1.0) * tau)

    def alpha(self, tau: float) -> float:
        return 1.0 - self.sigma(tau)

    def timestep(self, tau: float) -> float:
        """``sigma(tau) * num_train_timesteps`` (what diffusers flow models are called with)."""
        return self.sigma(tau) * self.num_train_timesteps

    def _dsigma(self, tau: float) -> float:
        return self.shift / (1.0 + (self.shift - 1.0) * tau) ** 2

    def f_coef(self, tau: float) -> float:
        return -self._dsigma(tau) / self.alpha(tau)

    def g2(self, tau: float) -> float:
        s = self.sigma(tau)
        return 2.0 * s * self._dsigma(tau) / self.alpha(tau)

    def __repr__(self) -> str:
        return (f"FlowMatchingSchedule(tau_max={self.tau_max}, shift={self.shift}, "
                f"num_train_timesteps={self.num_train_timesteps})")
