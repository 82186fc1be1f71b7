"""Base transitions of :class:`~fkc_kernels.diffusers.FKCScheduler`: the pipeline's own step.

Each proposal turns ``(model_output, timestep, sample)`` into a Gaussian base transition
``N(mean, std²)`` in the sample space of the pipeline, plus the denoised estimate: the FKC step
adds the guidance to ``mean`` and weights by the exact log-ratio of base to guided transition
(docs/design.md, "Exact weights"), so with ``lam = 0`` the step *is* the base transition.

- ``"ddpm"``: DDPMScheduler's posterior (every ``variance_type``), drawn as it draws.
- ``"ddim"``: DDIMScheduler with the pipeline's ``eta`` (``eta = 1`` when it passes 0: DDIM
  with ``eta = 0`` is deterministic, and ``eta = 1`` is the DDPM posterior on DDIM's grid).
- ``"euler_ancestral"``: EulerAncestralDiscreteScheduler, in its sigma-scaled sample space.
- ``"posterior"``: the DDPM posterior ``q(x_prev | x_t, x̂0)`` on the FKC grid from the
  schedule's ``alphas_cumprod``: the stand-in for deterministic sources (DDIM with eta = 0
  only through ``"ddim"``, Euler, DPM-Solver, UniPC, PNDM, LMS, Heun, ...); for flow matching
  and EDM the same posterior of their own interpolant (:mod:`.sigma_sources`).
- ``"euler_maruyama"``: the reverse SDE's Euler-Maruyama step on the grid (the seed's
  Algorithm 2; the only proposal for ``weights="fkc"`` / ``"seed"``).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from ..schedules import score_from_prediction, x0_from_score
from ..stepper import Move
from .sigma_sources import SIGMA_SOURCES

PROPOSALS = ("auto", "ddpm", "ddim", "euler_ancestral", "posterior", "euler_maruyama")
_NATIVE = {"DDPMScheduler": "ddpm", "DDIMScheduler": "ddim",
           "EulerAncestralDiscreteScheduler": "euler_ancestral"}


class BaseStep(NamedTuple):
    """One step's base transition: ``move`` (moved in place), the denoised estimate, the step's
    standard normals (``None``: the kernel draws them from the generator), and the sample
    space's ``(alpha, sigma)`` (``sample = alpha·x0 + sigma·eps``)."""

    move: Move
    x0_hat: torch.Tensor
    noise: torch.Tensor | None
    alpha: float
    sigma: float


def choose_proposal(proposal: str, source: Any, exact: bool) -> str:
    """The proposal ``"auto"`` resolves to for ``source`` (its class name decides)."""
    if proposal not in PROPOSALS:
        raise ValueError(f"proposal: expected one of {PROPOSALS}, got {proposal!r}")
    if not exact:
        if proposal not in ("auto", "euler_maruyama"):
            raise ValueError(f"proposal: {proposal!r} needs weights='smc' (the FKC increments "
                             f"are those of Euler-Maruyama steps)")
        if type(source).__name__ in SIGMA_SOURCES:
            raise ValueError(f"weights: {type(source).__name__} needs weights='smc' (its "
                             f"stand-in is the posterior proposal)")
        return "euler_maruyama"
    if type(source).__name__ in SIGMA_SOURCES and proposal not in ("auto", "posterior"):
        raise ValueError(f"proposal: {type(source).__name__} takes 'posterior' (the "
                         f"interpolant's own posterior), got {proposal!r}")
    if proposal == "auto":
        return _NATIVE.get(type(source).__name__, "posterior")
    if proposal in _NATIVE.values() and _NATIVE.get(type(source).__name__) != proposal:
        raise ValueError(f"proposal: {proposal!r} needs a {proposal} source scheduler, got "
                         f"{type(source).__name__}")
    return proposal


def _draw(shape, generator, device, dtype) -> torch.Tensor:
    """Standard normals as diffusers' schedulers draw them (``randn_tensor``)."""
    from diffusers.utils.torch_utils import randn_tensor
    return randn_tensor(shape, generator=generator, device=device, dtype=dtype)


def _throwaway(device) -> torch.Generator:
    """A generator for the source's own draw, so the user's stream is drawn once, by FKC."""
    return torch.Generator(device=device).manual_seed(0)


def _ddpm(src, out, t, x, generator, noise):
    n_ch = x.shape[1]
    pv = out[:, n_ch:] if out.shape[1] == 2 * n_ch else None
    x0 = src.step(out, t, x, generator=_throwaway(x.device)).pred_original_sample
    t = int(t)
    prev_t = int(src.previous_timestep(t))
    ac = src.alphas_cumprod
    a_t, a_p = float(ac[t]), float(ac[prev_t]) if prev_t >= 0 else 1.0
    cur_a = a_t / a_p
    mean = (math.sqrt(a_p) * (1 - cur_a) / (1 - a_t)) * x0 \
        + (math.sqrt(cur_a) * (1 - a_p) / (1 - a_t)) * x
    if t == 0:
        return mean, 0.0, x0, torch.zeros_like(x)
    if noise is None:
        noise = _draw(out.shape if pv is None else x.shape, generator, out.device, out.dtype)
    v = src._get_variance(t, predicted_variance=pv)
    vt = src.config.variance_type
    std = v if vt == "fixed_small_log" else (torch.exp(0.5 * v) if vt == "learned_range"
                                             else v ** 0.5)
    if isinstance(std, torch.Tensor) and std.numel() == 1:
        std = float(std)
    return mean, std, x0, noise


def _ddim_eps(prediction_type: str, out: torch.Tensor, x: torch.Tensor,
              a_t: float) -> torch.Tensor:
    """The noise estimate from the network's output (only the one prediction type's)."""
    if prediction_type == "epsilon":
        return out
    if prediction_type == "sample":
        return (x - a_t ** 0.5 * out) / max(1 - a_t, 1e-30) ** 0.5
    if prediction_type == "v_prediction":
        return a_t ** 0.5 * out + (1 - a_t) ** 0.5 * x
    raise KeyError(prediction_type)


def _ddim(src, out, t, x, generator, noise, eta):
    eta = eta if eta > 0 else 1.0
    x0 = src.step(out, t, x, eta=eta, variance_noise=torch.zeros_like(out)).pred_original_sample
    t = int(t)
    prev_t = t - src.config.num_train_timesteps // src.num_inference_steps
    a_t = float(src.alphas_cumprod[t])
    a_p = float(src.alphas_cumprod[prev_t]) if prev_t >= 0 else float(src.final_alpha_cumprod)
    var = eta * eta * float(src._get_variance(t, prev_t))
    eps = _ddim_eps(src.config.prediction_type, out, x, a_t)
    # DDIM's mean; the max() keeps eta = 1 at zero terminal SNR (1 - a_p - var = -0) finite
    mean = a_p ** 0.5 * x0 + max(1 - a_p - var, 0.0) ** 0.5 * eps
    if noise is None:
        noise = _draw(out.shape, generator, out.device, out.dtype)
    return mean, var ** 0.5, x0, noise


def _euler_ancestral(src, out, t, x, generator, noise):
    res = src.step(out, t, x, generator=_throwaway(x.device))
    k = src.step_index - 1
    s_from, s_to = float(src.sigmas[k]), float(src.sigmas[k + 1])
    up = (s_to ** 2 * (s_from ** 2 - s_to ** 2) / s_from ** 2) ** 0.5
    down = (s_to ** 2 - up ** 2) ** 0.5
    x0 = res.pred_original_sample
    xf = x.float()
    mean = xf + (xf - x0) / s_from * (down - s_from)
    if noise is None:
        noise = _draw(out.shape, generator, out.device, out.dtype)
    return mean, up, x0, noise


def native_base(name: str, src, out, t, x, generator, noise, eta) -> tuple:
    """``(mean, std, x0_hat, noise)`` of the source scheduler's own stochastic step."""
    if name == "ddpm":
        return _ddpm(src, out, t, x, generator, noise)
    if name == "ddim":
        return _ddim(src, out, t, x, generator, noise, eta)
    return _euler_ancestral(src, out, t, x, generator, noise)


def grid_base(name: str, out, x, c, c_next, prediction_type: str,
              noise: torch.Tensor | None, x0: torch.Tensor | None = None) -> BaseStep:
    """Euler-Maruyama or the posterior ``q(x_prev | x_t, x̂0)`` on the FKC grid (VP latents,
    or a sigma source's own space: then ``x0`` is given and only the posterior applies)."""
    xf = x.float()
    if x0 is None:
        s = score_from_prediction(out.float(), xf, c.alpha, c.sigma, prediction_type)
        x0 = x0_from_score(s, xf, c.alpha, c.sigma)
    if name == "euler_maruyama":
        return BaseStep(Move(x.clone(), s.to(x.dtype), c.h, c.g, c.f_coef), x0, noise,
                        c.alpha, c.sigma)
    a_p, s_p = (1.0, 0.0) if c_next is None else (c_next.alpha, c_next.sigma)
    # q(x_prev | x_t, x0): the forward step adds σ_t² − (α_t/α_p)²σ_p², the posterior keeps
    # σ_p²/σ_t² of it (for VP: (σ_p/σ_t)²·(1 − α_t²/α_p²))
    var = (s_p / c.sigma) ** 2 * (c.sigma ** 2 - (c.alpha / a_p) ** 2 * s_p ** 2)
    eps = (xf - c.alpha * x0) / c.sigma
    mean = a_p * x0 + math.sqrt(max(s_p * s_p - var, 0.0)) * eps
    return BaseStep(Move(mean.to(x.dtype), torch.zeros_like(x), 1.0, math.sqrt(max(var, 0.0)),
                         0.0), x0, noise, c.alpha, c.sigma)
