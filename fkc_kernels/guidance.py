"""FKC's classifier-free-guidance / product-of-experts weight, as a per-particle ``Δw``.

Sampling with the guided score ``s_w = w*s_c + (1 - w)*s_u`` (classifier-free guidance with
scale ``w``) follows the reverse SDE of no density's marginals: the Feynman-Kac correction that
makes the particles target ``q_c(x)^w q_u(x)^(1 - w)`` at every noise level adds, per step,

    Δw = h * (g²/2) * w*(w - 1) * ||s_c - s_u||²

to each particle's log-weight (the Laplacian and drift terms cancel; the same for VP and VE
schedules). It is positive for ``w > 1``: particles where the conditional and unconditional
models disagree most gain weight. Pass it to ``fkc_step(..., extra_dw=...)`` beside the reward
terms.
"""

from __future__ import annotations

import torch


def cfg_log_weight_increment(s_uncond: torch.Tensor, s_cond: torch.Tensor,
                             guidance_scale: float, *, h: float, g: float) -> torch.Tensor:
    """``h*(g²/2)*w*(w-1)*||s_c - s_u||²`` per particle.

    Args:
        s_uncond, s_cond: unconditional and conditional scores ``(N, *S)`` (any float dtype).
        guidance_scale: ``w`` (1 = no guidance: the term is 0).
        h, g: the step's size and diffusion coefficient (``StepCoefficients.h``, ``.g``).

    Returns:
        float32 ``(N,)``.
    """
    if s_uncond.shape != s_cond.shape:
        raise ValueError(f"s_cond: expected the shape of s_uncond {tuple(s_uncond.shape)}, got "
                         f"{tuple(s_cond.shape)}")
    diff = (s_cond.float() - s_uncond.float()).reshape(s_cond.shape[0], -1)
    return cfg_log_weight_from_gap((diff * diff).sum(1), guidance_scale, h=h, g=g)


def cfg_log_weight_from_gap(sq_gap: torch.Tensor, guidance_scale: float, *, h: float,
                            g: float) -> torch.Tensor:
    """The same term from ``sq_gap = ||s_c - s_u||²`` ``(N,)``: float32 ``(N,)``."""
    w = float(guidance_scale)
    return (0.5 * h * g * g * w * (w - 1.0)) * sq_gap.float()
