"""Sigma-parametrised diffusers schedulers as FKC sources: flow matching and EDM.

``FlowMatchEulerDiscreteScheduler`` samples ``x = (1 - σ)·x0 + σ·ε`` (the model predicts the
velocity ``ε - x0``; timesteps are ``σ·num_train_timesteps`` after its shift) and
``EDMEulerScheduler`` samples ``x = x0 + σ·ε`` (the model sees ``c_in(σ)·x`` and its output is
preconditioned: ``x̂0 = c_skip·x + c_out·F``). Both samplers are deterministic, so
:class:`~fkc_kernels.diffusers.FKCScheduler` takes the stand-in ``proposal="posterior"``: the
posterior ``q(x_s | x_t, x̂0)`` of the same interpolant (DDIM with eta = 1, generalised to any
``x = α·x0 + σ·ε``), in the source's own sample space and on its own sigma grid, with the exact
SMC weights. :class:`SigmaSchedule` is that grid.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch

from ..schedules import GridSchedule, StepCoefficients, _check_n_steps

SIGMA_SOURCES = {"FlowMatchEulerDiscreteScheduler": "flow", "EDMEulerScheduler": "edm"}


class SigmaSchedule(GridSchedule):
    """The sigma grid of a flow-matching or EDM diffusers scheduler, in its own sample space.

    Forward time is the source's ``σ`` (``tau = σ``): ``alpha = 1 - σ``, ``sigma = σ`` for flow
    matching, ``alpha = 1``, ``sigma = σ`` for EDM. Step ``i`` of ``n`` runs at generative time
    ``t = i / n`` (the tilt's clock) from ``σ_i`` to ``σ_{i+1}`` of the source's
    ``set_timesteps(n)`` (its shift, Karras rho, final sigma). Only the posterior proposal
    steps on it (``g``, ``f_coef`` are 0: there is no Euler-Maruyama step here).

    Args:
        source: a ``FlowMatchEulerDiscreteScheduler`` or ``EDMEulerScheduler``.
    """

    def __init__(self, source: Any) -> None:
        kind = SIGMA_SOURCES.get(type(source).__name__)
        if kind is None:
            raise TypeError(f"source: expected one of {sorted(SIGMA_SOURCES)}, got "
                            f"{type(source).__name__}")
        self.kind, self._template = kind, copy.deepcopy(source)
        self.source_name = type(source).__name__
        self.num_train_timesteps = int(source.config.num_train_timesteps)
        # the model's own output convention: FKC converts it with the source's formulas
        self.prediction_type = "flow_prediction" if kind == "flow" else \
            source.config.prediction_type
        self.prior_std = 1.0 if kind == "flow" else float(source.init_noise_sigma)
        self._cache: dict[int, tuple[list[float], list[float]]] = {}

    def _sigmas_timesteps(self, n_steps: int) -> tuple[list[float], list[float]]:
        n_steps = _check_n_steps(n_steps)
        if n_steps not in self._cache:
            self._template.set_timesteps(n_steps)
            sig = [float(s) for s in self._template.sigmas.tolist()]
            ts = [float(t) for t in self._template.timesteps.tolist()]
            if len(sig) != n_steps + 1 or len(ts) != n_steps:
                raise ValueError(f"n_steps: {self.source_name}.set_timesteps({n_steps}) gave "
                                 f"{len(ts)} timesteps and {len(sig)} sigmas")
            self._cache[n_steps] = (sig, ts)
        return self._cache[n_steps]

    def grid(self, n_steps: int) -> list[float]:
        return self._sigmas_timesteps(n_steps)[0]

    def timesteps(self, n_steps: int) -> list[float]:
        """The source's ``n_steps`` timesteps (what the model is called with)."""
        return self._sigmas_timesteps(n_steps)[1]

    def with_timesteps(self, timesteps) -> SigmaSchedule:
        raise ValueError(f"timesteps: custom timesteps are not supported for {self.source_name}"
                         f" sources; pass num_inference_steps")

    def alpha(self, tau: float) -> float:
        return 1.0 - tau if self.kind == "flow" else 1.0

    def sigma(self, tau: float) -> float:
        return float(tau)

    def timestep_to_tau(self, timestep):
        """The source's ``σ`` of a timestep (flow: ``t / T``; EDM: ``exp(4·t)``)."""
        if self.kind == "flow":
            return timestep / self.num_train_timesteps
        return math.exp(4.0 * float(timestep))

    def at_step(self, i: int, n_steps: int) -> StepCoefficients:
        """Step ``i`` of ``n_steps``: ``t = i / n``, ``h = 1 / n``, at ``σ_i``."""
        sig = self.grid(n_steps)
        if not 0 <= i < n_steps:
            raise ValueError(f"i: expected 0 <= i < n_steps={n_steps}, got {i}")
        s = sig[i]
        return StepCoefficients(i=i, h=1.0 / n_steps, t=i / n_steps, tau=s, g=0.0, f_coef=0.0,
                                alpha=self.alpha(s), sigma=self.sigma(s))

    def scale_model_input(self, sample: torch.Tensor, timestep: Any) -> torch.Tensor:
        """What the model sees: the sample (flow) or ``c_in(σ)·sample`` (EDM)."""
        if self.kind == "flow":
            return sample
        sigma = self.timestep_to_tau(float(torch.as_tensor(timestep).reshape(-1)[0]))
        return self._template.precondition_inputs(sample, sigma)

    def x0_from_output(self, out: torch.Tensor, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """The denoised estimate (float32) from the model's output at ``σ``."""
        xf, of = x.float(), out.float()
        if self.kind == "flow":
            return xf - sigma * of  # v = ε - x0 and x = (1 - σ)·x0 + σ·ε
        return self._template.precondition_outputs(xf, of, sigma).float()

    def __repr__(self) -> str:
        form = "(1-σ)·x0 + σ·ε" if self.kind == "flow" else "x0 + σ·ε"
        return f"SigmaSchedule({self.source_name}, x = {form})"
