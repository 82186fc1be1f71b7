"""Reference FKC step with a closed-form Gaussian-mixture score and reward (docs/design.md,
"The mixture step"): the definition of a correct ``gmm_step``, in pure PyTorch.

It composes three things the fused kernels compute in one pass: the exact score of the data
mixture diffused to forward time ``tau`` (:func:`mixture_score`), the reward and its gradient
(:func:`bump_reward`), and :func:`fkc_kernels.reference.fkc_step` with them.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .fkc_step import fkc_step


class GaussianMixture(NamedTuple):
    """Data distribution ``Σ_m π_m N(μ_m, diag(v_m))``.

    ``means`` ``(M, D)``, ``variances`` ``(M, D)`` (> 0; isotropic components repeat one value
    along D) and ``log_weights`` ``(M,)`` (``log π_m``, normalised), all float32 on x's device.
    Build one with :func:`fkc_kernels.gaussian_mixture`, which checks and broadcasts.
    """

    means: torch.Tensor
    variances: torch.Tensor
    log_weights: torch.Tensor


class GaussianBumps(NamedTuple):
    """Reward ``r(x) = log Σ_j κ_j exp(−½ Σ_d (x_d − c_jd)² / u_jd)`` (``log=True``) or the
    sum itself (``log=False``): unnormalised Gaussian bumps.

    ``centers`` ``(J, D)``, ``variances`` ``(J, D)`` (``u``, > 0), ``log_coefs`` ``(J,)``
    (``log κ_j``), float32 on x's device. Build one with :func:`fkc_kernels.gaussian_bumps`.
    """

    centers: torch.Tensor
    variances: torch.Tensor
    log_coefs: torch.Tensor
    log: bool = True


def _logits_and_pulls(x: torch.Tensor, centers: torch.Tensor, variances: torch.Tensor,
                      log_coefs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``logit_j = log_coefs_j − ½ Σ_d (x_d − c_jd)²/v_jd`` ``(N, J)`` and the pulls
    ``(c_jd − x_d)/v_jd`` ``(N, J, D)``: the per-component parts of a mixture's score."""
    diff = centers[None, :, :] - x[:, None, :]
    pull = diff / variances[None, :, :]
    logits = log_coefs[None, :] - 0.5 * (diff * pull).sum(-1)
    return logits, pull


def mixture_score(x: torch.Tensor, mixture: GaussianMixture, alpha: float,
                  sigma: float) -> torch.Tensor:
    """Exact score ``∇log q_τ(x)`` of the data mixture diffused to ``x_τ = α·x_0 + σ·ε``.

    ``q_τ = Σ_m π_m N(α μ_m, diag(V_m))`` with ``V_m = α² v_m + σ²``, so
    ``s(x) = Σ_m p_m(x) (α μ_m − x) / V_m`` with ``p = softmax_m(log π_m − ½ Σ_d log V_md −
    ½ Σ_d (x_d − α μ_md)² / V_md)``.

    Args:
        x: ``(N, D)`` float32 or float64 (the math is in x's dtype).
        mixture: the data mixture (tensors cast to x's dtype).
        alpha, sigma: the schedule's ``α(τ)``, ``σ(τ)``.

    Returns:
        ``(N, D)`` score in x's dtype.
    """
    dt = x.dtype
    var = (alpha * alpha) * mixture.variances.to(dt) + sigma * sigma
    log_w = mixture.log_weights.to(dt) - 0.5 * torch.log(var).sum(1)
    logits, pull = _logits_and_pulls(x, alpha * mixture.means.to(dt), var, log_w)
    p = torch.softmax(logits, dim=1)
    return (p[:, :, None] * pull).sum(1)


def bump_reward(x: torch.Tensor, reward: GaussianBumps) -> tuple[torch.Tensor, torch.Tensor]:
    """``(r, ∇r)`` of :class:`GaussianBumps` at ``x`` ``(N, D)``: ``(N,)`` and ``(N, D)``.

    ``log=True``: ``r = logsumexp_j(b_j)`` and ``∇r = Σ_j softmax(b)_j (c_j − x)/u_j``;
    ``log=False``: ``r = Σ_j exp(b_j)`` and ``∇r = Σ_j exp(b_j) (c_j − x)/u_j``, with
    ``b_j = log κ_j − ½ Σ_d (x_d − c_jd)²/u_jd``. In x's dtype.
    """
    dt = x.dtype
    logits, pull = _logits_and_pulls(x, reward.centers.to(dt), reward.variances.to(dt),
                                     reward.log_coefs.to(dt))
    if reward.log:
        return torch.logsumexp(logits, dim=1), (torch.softmax(logits, 1)[:, :, None] * pull).sum(1)
    # Σ exp(b_j) and its gradient, scaled by the largest bump so no term overflows
    top = logits.amax(1, keepdim=True).clamp_min(torch.finfo(dt).min)
    e = torch.exp(logits - top)
    scale = torch.exp(top[:, 0])
    return scale * e.sum(1), scale[:, None] * (e[:, :, None] * pull).sum(1)


def gmm_step(
    x: torch.Tensor,
    w: torch.Tensor,
    mixture: GaussianMixture,
    reward: GaussianBumps,
    noise: torch.Tensor | None = None,
    *,
    alpha: float,
    sigma: float,
    h: float,
    g: float,
    lam: float,
    dlam: float,
    f_coef: float = 0.0,
    dw_clip: float | None = 0.1,
    w_clip: tuple[float, float] | None = (0.1, 10.0),
    generator: torch.Generator | None = None,
    compute_dtype: torch.dtype | None = None,
    extra_dw: torch.Tensor | None = None,
    increment: str = "fkc",
) -> tuple[torch.Tensor, torch.Tensor]:
    """One FKC step with the mixture's score at ``(α, σ)`` and the bumps' reward at ``x``.

    ``s = mixture_score(x, mixture, alpha, sigma)``, ``(r, ∇r) = bump_reward(x, reward)``, then
    :func:`fkc_kernels.reference.fkc_step` (same ``noise``/``generator``, clips, ``extra_dw``
    and ``increment`` semantics). Score and reward are computed in ``compute_dtype`` (float32,
    or float64 when ``x`` is float64 or asked for) from x as stored.

    Args:
        x: particles ``(N, *S)``, float32/float16/bfloat16/float64; ``D = prod(S)``.
        w: log-weights ``(N,)``.
        mixture, reward: tensors with ``D`` columns (see the classes).
        noise: ``ξ`` shaped like ``x``, or ``None`` for the noise contract's normals.
        alpha, sigma: ``α(τ)``, ``σ(τ)`` of the step's forward time; the rest as in
            :func:`fkc_kernels.reference.fkc_step`.

    Returns:
        ``(x_new, w_new)`` as :func:`fkc_kernels.reference.fkc_step` returns them.
    """
    cd = compute_dtype or (torch.float64 if x.dtype == torch.float64 else torch.float32)
    n = x.shape[0]
    xf = x.reshape(n, -1).to(cd)
    s = mixture_score(xf, mixture, alpha, sigma)
    r, gr = bump_reward(xf, reward)
    # the score and ∇r enter the step as the fused kernels hold them: float32 (or cd) values
    return fkc_step(x, w, s.view(x.shape), gr.view(x.shape), r, noise, h=h, g=g, lam=lam,
                    dlam=dlam, f_coef=f_coef, dw_clip=dw_clip, w_clip=w_clip, generator=generator,
                    compute_dtype=cd, extra_dw=extra_dw, increment=increment)
