"""The discrete VP grid of a diffusers scheduler (its ``alphas_cumprod`` and timesteps)."""

from __future__ import annotations

import copy
from typing import Any

import torch

from ..schedules import DiscreteVPSchedule
from .sigma_sources import SIGMA_SOURCES, SigmaSchedule


def _spaced_timesteps(config: Any, n: int, num_train: int) -> list[float]:
    """diffusers' ``timestep_spacing`` rules ("leading", "trailing", "linspace")."""
    spacing = getattr(config, "timestep_spacing", "leading") if config is not None else "leading"
    offset = int(getattr(config, "steps_offset", 0) or 0) if config is not None else 0
    if n > num_train:
        raise ValueError(f"num_inference_steps: expected <= num_train_timesteps={num_train}, "
                         f"got {n}")
    if spacing == "trailing":
        ratio = num_train / n
        return [float(round(num_train - i * ratio) - 1) for i in range(n)]
    if spacing == "linspace":
        return [float(round((num_train - 1) * (1 - i / max(n - 1, 1)))) for i in range(n)]
    ratio = num_train // n
    return [float(min((n - 1 - i) * ratio + offset, num_train - 1)) for i in range(n)]


def _unique_descending(values: list[float]) -> list[float]:
    out: list[float] = []
    for v in values:
        if not out or v < out[-1]:
            out.append(v)
    return out


def schedule_from_scheduler(scheduler: Any) -> DiscreteVPSchedule | SigmaSchedule:
    """The :class:`~fkc_kernels.schedules.DiscreteVPSchedule` of a diffusers scheduler.

    Works for any scheduler exposing ``alphas_cumprod`` and ``set_timesteps``/``timesteps``
    (DDPM, DDIM, Euler, Euler ancestral, Heun, DPM-Solver, PNDM, LMS, DEIS, UniPC, ...). The
    schedule asks a copy of the scheduler for its timesteps, so any ``n_steps`` the scheduler
    accepts works, with its own spacing; repeated timesteps (PNDM's Runge-Kutta warm-up) are
    dropped, and where that leaves a count other than ``n_steps`` the scheduler's
    ``timestep_spacing`` rule is used instead. A zero-terminal-SNR schedule
    (``rescale_betas_zero_snr``) gets ``alphas_cumprod[T-1] = alphas_cumprod[T-2] / 2`` (the
    score is undefined at alpha = 0); its first Euler-Maruyama steps jump the SNR by orders of
    magnitude, so give such schedules more steps or custom ``timesteps`` starting lower.
    ``FlowMatchEulerDiscreteScheduler`` and ``EDMEulerScheduler`` get their own sigma grid
    (:class:`~fkc_kernels.diffusers.sigma_sources.SigmaSchedule`).
    """
    if isinstance(getattr(scheduler, "schedule", None), (DiscreteVPSchedule, SigmaSchedule)):
        return scheduler.schedule  # an FKC scheduler rebuilt with new settings
    if type(scheduler).__name__ in SIGMA_SOURCES:  # flow matching, EDM: their own sigma grid
        return SigmaSchedule(scheduler)
    missing = [name for name in ("alphas_cumprod", "set_timesteps")
               if getattr(scheduler, name, None) is None]
    if missing:
        raise TypeError(
            f"scheduler: {type(scheduler).__name__} has no {' and no '.join(missing)}; FKC "
            f"needs a discrete variance-preserving scheduler exposing alphas_cumprod and "
            f"set_timesteps/timesteps (DDPM, DDIM, Euler, DPM-Solver, PNDM, LMS, DEIS, UniPC, "
            f"...), or FlowMatchEulerDiscreteScheduler / EDMEulerScheduler")
    alphas_cumprod = torch.as_tensor(scheduler.alphas_cumprod).detach().double().cpu().clone()
    if len(alphas_cumprod) > 1 and not (0 < alphas_cumprod[-1] < alphas_cumprod[-2]):
        # zero terminal SNR (rescale_betas_zero_snr): alphas_cumprod ends at 0, or at diffusers'
        # stand-in 2**-24 above the value before it; alpha = 0 has no score, so the last
        # timestep gets half the previous value (SNR ~1e-9: still pure noise in practice)
        alphas_cumprod[-1] = alphas_cumprod[-2] / 2
    num_train = int(len(alphas_cumprod))
    template = copy.deepcopy(scheduler)
    config = getattr(scheduler, "config", None)

    def timesteps_for(n: int) -> list[float]:
        try:
            template.set_timesteps(n)
            ts = template.timesteps
            ts = [float(t) for t in (ts.tolist() if hasattr(ts, "tolist") else ts)]
        except Exception as exc:  # a scheduler that rejects n: report its own words
            raise ValueError(f"n_steps: {type(scheduler).__name__}.set_timesteps({n}) failed: "
                             f"{exc}") from exc
        ts = _unique_descending(ts)
        if len(ts) != n:
            ts = _spaced_timesteps(config, n, num_train)
        return ts

    return DiscreteVPSchedule(alphas_cumprod, timesteps=timesteps_for)
