"""The closed-form Gaussian tilt through a diffusers scheduler (issue 18's check).

Data ``x0 ~ N(mu, 0.25 I)`` in 8 dims, an exact denoiser for the scheduler's own
``alphas_cumprod`` (eps, v or sample prediction), reward ``r(x) = a·x`` with ``|a| = 2`` and
``lam = 2``: the tilt of any Gaussian output ``N(m0, v0)`` along ``a`` has mean
``m0 + lam·v0·|a|``. Shared by tests/integrations/test_diffusers_tilt.py and
bench/bench_closed_form_tilt.py.
"""

from __future__ import annotations

import math

import torch

DIM, VAR, LAM, A_NORM = 8, 0.25, 2.0, 2.0
MU = torch.full((DIM,), 0.2)
A = torch.full((DIM,), A_NORM / math.sqrt(DIM))
UNIT = A / A_NORM


def _posterior_mean(xd: torch.Tensor, a: float, s: float) -> torch.Tensor:
    """``E[x0 | a·x0 + s·ε = x]`` for the Gaussian data."""
    return MU + a * VAR * (xd - a * MU) / (a * a * VAR + s * s)


def sigma_denoiser(scheduler):
    """``model(model_input, t)`` for an FKC scheduler on a flow-matching or EDM source: the
    exact velocity ``ε - x0`` (flow, ``σ = t / T``), or the EDM-preconditioned output ``F``
    with ``c_skip·x + c_out·F = E[x0 | x]`` (the model sees ``c_in·x``, ``σ = exp(4t)``)."""
    sched = scheduler.schedule

    def model(x_in: torch.Tensor, t) -> torch.Tensor:
        s = sched.timestep_to_tau(float(t))
        xd = x_in.double()
        if sched.kind == "flow":
            x0 = _posterior_mean(xd, 1.0 - s, s)
            return ((xd - (1.0 - s) * x0) / s - x0).to(x_in.dtype)
        xd = xd / float(sched.scale_model_input(torch.ones(1, dtype=torch.float64), t))
        skip = sched.x0_from_output(torch.zeros(1), torch.ones(1), s).double()
        c_out = sched.x0_from_output(torch.ones(1), torch.zeros(1), s).double()
        return ((_posterior_mean(xd, 1.0, s) - skip * xd) / c_out).to(x_in.dtype)

    return model


def denoiser(scheduler, prediction_type: str):
    """``model(x_vp, t)``: the exact network output for the Gaussian data at timestep ``t``."""
    if hasattr(getattr(scheduler, "schedule", None), "kind"):
        return sigma_denoiser(scheduler)
    ac = torch.as_tensor(scheduler.alphas_cumprod).double()

    def model(x: torch.Tensor, t) -> torch.Tensor:
        a2 = float(ac[int(round(float(t)))])
        a, s = math.sqrt(a2), math.sqrt(max(1.0 - a2, 1e-12))
        xd = x.double()
        x0 = _posterior_mean(xd, a, s)
        eps = (xd - a * x0) / s
        out = {"epsilon": eps, "v_prediction": a * eps - s * x0, "sample": x0}[prediction_type]
        return out.to(x.dtype)

    return model


def linear_reward(x: torch.Tensor) -> torch.Tensor:
    """``r(x) = a·x`` ``(N,)`` for ``x`` ``(N, 8)``."""
    return x.float() @ A


def run(scheduler, prediction_type: str, n: int, steps: int, seed: int) -> tuple:
    """Sample ``n`` particles through ``scheduler`` as a pipeline would.

    Returns ``(x (n, 8), log_weights (n,) or None)`` (None for a scheduler without weights).
    """
    model = denoiser(scheduler, prediction_type)
    gen = torch.Generator().manual_seed(seed)
    scheduler.set_timesteps(steps)
    x = torch.randn(n, DIM, generator=gen) * float(scheduler.init_noise_sigma)
    for t in scheduler.timesteps:
        out = model(scheduler.scale_model_input(x, t), t)
        x = scheduler.step(out, t, x, generator=gen).prev_sample
    return x, getattr(scheduler, "log_weights", None)


def along_a(x: torch.Tensor, logw: torch.Tensor | None) -> tuple[float, float, float]:
    """Weighted mean and variance of ``x·a/|a|`` and the ESS fraction."""
    u = x.double() @ UNIT.double()
    if logw is None:
        return float(u.mean()), float(u.var()), 1.0
    p = torch.softmax(logw.double(), 0)
    m = float((p * u).sum())
    return m, float((p * (u - m) ** 2).sum()), float(1.0 / (p * p).sum() / len(p))
