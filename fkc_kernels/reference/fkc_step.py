"""Reference FKC step (docs/design.md, "One step"): the definition of a correct step, in pure
PyTorch."""

from __future__ import annotations

import math

import torch

from .philox import draw_philox_seeds, philox_normal


def fkc_step(
    x: torch.Tensor,
    w: torch.Tensor,
    score: torch.Tensor,
    reward_grad: torch.Tensor,
    reward: torch.Tensor,
    noise: torch.Tensor | None = None,
    *,
    h: float,
    g: float,
    lam: float,
    dlam: float,
    f_coef: float = 0.0,
    f: torch.Tensor | None = None,
    dw_clip: float | None = 0.1,
    w_clip: tuple[float, float] | None = (0.1, 10.0),
    generator: torch.Generator | None = None,
    compute_dtype: torch.dtype | None = None,
    extra_dw: torch.Tensor | None = None,
    increment: str = "fkc",
) -> tuple[torch.Tensor, torch.Tensor]:
    """One Euler-Maruyama step of the reward-tilted FKC SDE and its log-weight increment.

    Args:
        x, score, reward_grad, f, noise: particles ``(N, *S)`` (any float dtype, any strides).
            ``f`` is the forward drift ``f_t(x)``; when ``None`` it is ``f_coef * x``.
            ``noise`` is ``ξ``; when ``None`` it is ``philox_normal(S, O, x.numel())`` with
            ``(S, O)`` drawn from ``generator`` (the noise contract every backend follows).
        w, reward: ``(N,)``; ``w`` is a log-weight.
        h: step size ``> 0``; g: diffusion coefficient; lam, dlam: tilt and its derivative.
        dw_clip: clip of the increment (``None`` = off); w_clip: ``(w_min, w_max)`` or ``None``.
        generator: source of ``(S, O)`` when ``noise`` is ``None`` (the device default if None).
        extra_dw: optional per-particle term ``(N,)`` added to the increment before its clip:
            ``dw = h[...] + extra_dw`` (e.g. a guidance weight; already multiplied by the step).
        increment: ``"fkc"``: ``dw = h[dlam·r − lam⟨∇r, f⟩ + (g²/2)lam⟨∇r, s⟩] + extra_dw``.
            ``"ratio"``: the log density ratio of the unguided Euler-Maruyama transition to the
            guided one at ``x'`` (docs/design.md, "The ratio increment"),
            ``dw = −(h g² lam²/8)‖∇r‖² − (g√h lam/2)⟨∇r, ξ⟩ + extra_dw`` (``reward`` and
            ``dlam`` unused).
        compute_dtype: float32 (what kernels do) or float64 (an exact statement); by default
            float64 when ``x`` is float64, else float32.

    Returns:
        ``(x_new, w_new)``: ``x_new`` in ``x.dtype`` shaped like ``x``; ``w_new`` float32
        (``compute_dtype`` when that is float64) shaped ``(N,)``.
    """
    if increment not in ("fkc", "ratio"):
        raise ValueError(f"increment: expected 'fkc' or 'ratio', got {increment!r}")
    cd = compute_dtype or (torch.float64 if x.dtype == torch.float64 else torch.float32)
    if noise is None:
        seeds = draw_philox_seeds(generator, x.device)
        noise = philox_normal(seeds[0], seeds[1], x.numel(), device=x.device).view(x.shape)
    xs = x.to(cd)
    s = score.to(cd)
    gr = reward_grad.to(cd)
    fx = f.to(cd) if f is not None else f_coef * xs
    g2 = g * g
    drift = g2 * (s + (0.5 * lam) * gr) - fx
    z = noise.to(cd)
    x_new = xs + h * drift + (g * math.sqrt(h)) * z
    n = x.shape[0]
    if increment == "ratio":
        gr_gr = (gr * gr).reshape(n, -1).sum(1)  # ‖∇r‖² per particle
        gr_z = (gr * z).reshape(n, -1).sum(1)  # <∇r, ξ> per particle
        dw = -((h * g2 * lam * lam / 8) * gr_gr + (0.5 * g * math.sqrt(h) * lam) * gr_z)
    else:
        gr_f = (gr * fx).reshape(n, -1).sum(1)  # <∇r, f(x)> per particle
        gr_s = (gr * s).reshape(n, -1).sum(1)  # <∇r, s> per particle
        dw = h * (dlam * reward.to(cd) - lam * gr_f + (0.5 * g2 * lam) * gr_s)
    if extra_dw is not None:
        dw = dw + extra_dw.to(cd)
    if dw_clip is not None:
        dw = dw.clamp(-dw_clip, dw_clip)
    w_new = w.to(cd) + dw
    if w_clip is not None:
        w_new = w_new.clamp(w_clip[0], w_clip[1])
    out_w_dtype = torch.float64 if cd == torch.float64 else torch.float32
    return x_new.to(x.dtype), w_new.to(out_w_dtype)
