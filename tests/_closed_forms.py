"""Independent statements used as oracles by the tests (float64 numpy, closed forms)."""

from __future__ import annotations

import math

import numpy as np
import torch


def fkc_step_f64(x, w, s, gr, r, xi, *, h, g, lam, dlam, f_coef=0.0, f=None, dw_clip=0.1,
                 w_clip=(0.1, 10.0)):
    """The step of docs/design.md ("One step") in float64 numpy, rows flattened.

    Returns:
        ``(x_new (N, D), w_new (N,))``.
    """
    n = x.shape[0]

    def rows(t):  # .cpu(): the statement is numpy, the inputs may live on a GPU
        return t.detach().cpu().double().reshape(n, -1).numpy()

    x, s, gr, xi = rows(x), rows(s), rows(gr), rows(xi)
    r = r.detach().cpu().double().numpy()
    w = w.detach().cpu().double().numpy()
    fx = rows(f) if f is not None else f_coef * x
    drift = g * g * (s + lam / 2 * gr) - fx
    x_new = x + h * drift + g * np.sqrt(h) * xi
    dw = h * (dlam * r - lam * np.einsum("nd,nd->n", gr, fx)
              + g * g / 2 * lam * np.einsum("nd,nd->n", gr, s))
    if dw_clip is not None:
        dw = np.clip(dw, -dw_clip, dw_clip)
    w_new = w + dw
    if w_clip is not None:
        w_new = np.clip(w_new, *w_clip)
    return x_new, w_new


def gmm_vp_log_density(x: torch.Tensor, means: torch.Tensor, stds: torch.Tensor,
                       probs: torch.Tensor, alpha: float, sigma: float) -> torch.Tensor:
    """log q_tau(x) for isotropic GMM data pushed through the VP kernel, x (N, D) -> (N,)."""
    var = alpha**2 * stds**2 + sigma**2  # (M,)
    d = x.shape[1]
    diff = x[:, None, :] - alpha * means[None]  # (N, M, D)
    logp = (-0.5 * (diff**2).sum(-1) / var - 0.5 * d * torch.log(2 * torch.pi * var)
            + torch.log(probs))
    return torch.logsumexp(logp, dim=1)


def gmm_vp_score(x, means, stds, probs, alpha, sigma):
    """Closed-form score of the VP-noised GMM: sum_m resp_m * (alpha*mu_m - x) / var_m."""
    var = alpha**2 * stds**2 + sigma**2
    d = x.shape[1]
    diff = x[:, None, :] - alpha * means[None]
    logp = (-0.5 * (diff**2).sum(-1) / var - 0.5 * d * torch.log(2 * torch.pi * var)
            + torch.log(probs))
    resp = torch.softmax(logp, dim=1)  # (N, M)
    return -(resp[:, :, None] * diff / var[None, :, None]).sum(1)


def ratio_step_f64(x, s, gr, xi, *, h, g, lam, f_coef=0.0, f=None):
    """``increment="ratio"`` stated from its definition, in float64 torch, rows flattened.

    ``x' = mu_guided + g√h·ξ`` and ``dw = log N(x'; mu_base, g²h·I) − log N(x'; mu_guided, g²h·I)``
    with ``mu_base = x + h(g²s − f)`` (the unguided Euler-Maruyama mean) and ``mu_guided =
    mu_base + h·g²·(λ/2)·∇r``: each log density evaluated with ``torch.distributions.Normal``, not
    the closed form the kernels use. Needs ``g > 0``.

    Returns:
        ``(x_new (N, D), dw (N,))`` float64.
    """
    n = x.shape[0]

    def rows(t):
        return t.detach().cpu().double().reshape(n, -1)

    x, s, gr, xi = rows(x), rows(s), rows(gr), rows(xi)
    fx = rows(f) if f is not None else f_coef * x
    mu_base = x + h * (g * g * s - fx)
    mu_guided = x + h * (g * g * (s + lam / 2 * gr) - fx)
    scale = g * math.sqrt(h)
    x_new = mu_guided + scale * xi
    log_base = torch.distributions.Normal(mu_base, scale).log_prob(x_new).sum(1)
    log_guided = torch.distributions.Normal(mu_guided, scale).log_prob(x_new).sum(1)
    return x_new, log_base - log_guided
