"""Reference FKC step (DESIGN section 3): the definition of a correct step, in pure PyTorch."""

from __future__ import annotations

import torch


def fkc_step(
    x: torch.Tensor,
    w: torch.Tensor,
    score: torch.Tensor,
    reward_grad: torch.Tensor,
    reward: torch.Tensor,
    noise: torch.Tensor,
    *,
    h: float,
    g: float,
    lam: float,
    dlam: float,
    f_coef: float = 0.0,
    f: torch.Tensor | None = None,
    dw_clip: float | None = 0.1,
    w_clip: tuple[float, float] | None = (0.1, 10.0),
    compute_dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One Euler-Maruyama step of the reward-tilted FKC SDE and its log-weight increment.

    Args:
        x, score, reward_grad, noise, f: particle-shaped ``(N, D)`` (any float dtype).
            ``f`` is the forward drift ``f_t(x)``; when ``None`` it is ``f_coef * x``.
        w, reward: ``(N,)``; ``w`` is a log-weight.
        h: step size ``> 0``; g: diffusion coefficient; lam, dlam: tilt and its derivative.
        dw_clip: clip of the increment (``None`` = off); w_clip: ``(w_min, w_max)`` or ``None``.
        compute_dtype: float32 (what kernels do) or float64 (an exact statement).

    Returns:
        ``(x_new, w_new)``: ``x_new`` in ``x.dtype`` shaped like ``x``; ``w_new`` float32
        (``compute_dtype`` when that is float64) shaped ``(N,)``.
    """
    cd = compute_dtype
    xs = x.to(cd)
    s = score.to(cd)
    gr = reward_grad.to(cd)
    fx = f.to(cd) if f is not None else f_coef * xs
    g2 = g * g
    drift = g2 * (s + (0.5 * lam) * gr) - fx
    x_new = xs + h * drift + (g * h**0.5) * noise.to(cd)
    dw = h * (dlam * reward.to(cd) - lam * (gr * fx).sum(-1) + (0.5 * g2 * lam) * (gr * s).sum(-1))
    if dw_clip is not None:
        dw = dw.clamp(-dw_clip, dw_clip)
    w_new = w.to(cd) + dw
    if w_clip is not None:
        w_new = w_new.clamp(w_clip[0], w_clip[1])
    out_w_dtype = torch.float64 if cd == torch.float64 else torch.float32
    return x_new.to(x.dtype), w_new.to(out_w_dtype)
