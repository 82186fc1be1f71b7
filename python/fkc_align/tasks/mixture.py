"""Gaussian-mixture densities under VP noising: the exact score of the built-in base models.

An empirical set of images smoothed by a small variance (the ``digits`` tasks) and an isotropic
mixture (``gmm``, ``rare-mode``) are both ``sum_m pi_m N(mu_m, var0 I)``; its VP-noised density
at every forward time is again a mixture, whose score :func:`mixture_score` computes exactly.
"""

from __future__ import annotations

import math

import torch


def mixture_score(
    x: torch.Tensor,
    means: torch.Tensor,
    var0: float,
    alpha: float,
    sigma: float,
    log_weights: torch.Tensor | None = None,
    chunk: int = 4096,
) -> torch.Tensor:
    """Exact score of ``sum_m pi_m N(alpha*mu_m, (alpha^2 var0 + sigma^2) I)`` at ``x``.

    This is the VP-noised density at forward time tau of the data distribution
    ``sum_m pi_m N(mu_m, var0 I)``: an empirical set smoothed by ``var0`` or an isotropic GMM.
    The score is ``(E[alpha*mu | x] - x) / v`` with posterior weights ``softmax_m`` of
    ``log pi_m - |x - alpha mu_m|^2 / (2v)``; the means are processed in chunks with a running
    logsumexp so memory stays ``O(N * chunk)``.

    Args:
        x: ``(N, *S)`` float tensor.
        means: ``(M, D)`` with ``D = prod(S)``, same dtype/device as ``x`` (or castable).
        var0: per-coordinate data variance around each mean (> 0).
        alpha, sigma: the schedule's ``alpha(tau)`` and ``sigma(tau)``.
        log_weights: ``(M,)`` mixture log-weights, uniform when ``None``.

    Returns:
        ``(N, *S)`` score in ``x``'s dtype.
    """
    shape, n = x.shape, x.shape[0]
    xf = x.reshape(n, -1).to(means.dtype)
    v = alpha * alpha * var0 + sigma * sigma
    x_sq = (xf * xf).sum(1, keepdim=True)
    run_max = torch.full((n, 1), -math.inf, dtype=xf.dtype, device=xf.device)
    run_sum = torch.zeros((n, 1), dtype=xf.dtype, device=xf.device)
    run_mean = torch.zeros_like(xf)  # sum_m exp(logit_m - run_max) * alpha*mu_m
    for start in range(0, means.shape[0], chunk):
        mu = alpha * means[start:start + chunk]
        # |x - mu|^2 = |x|^2 - 2 x.mu + |mu|^2, as one matmul
        d2 = x_sq - 2.0 * xf @ mu.T + (mu * mu).sum(1)[None, :]
        logits = -d2.clamp_min(0.0) / (2.0 * v)
        if log_weights is not None:
            logits = logits + log_weights[start:start + chunk][None, :]
        new_max = torch.maximum(run_max, logits.max(1, keepdim=True).values)
        rescale = torch.exp(run_max - new_max)
        p = torch.exp(logits - new_max)
        run_sum = run_sum * rescale + p.sum(1, keepdim=True)
        run_mean = run_mean * rescale + p @ mu
        run_max = new_max
    posterior_mean = run_mean / run_sum
    return ((posterior_mean - xf) / v).reshape(shape).to(x.dtype)


def mixture_log_density(x, means, var0, alpha, sigma, log_weights=None):
    """``log q_tau(x)`` of the same mixture as :func:`mixture_score` (for tests), ``(N,)``."""
    n = x.shape[0]
    xf = x.reshape(n, -1)
    d = xf.shape[1]
    v = alpha * alpha * var0 + sigma * sigma
    d2 = ((xf[:, None, :] - alpha * means[None, :, :]) ** 2).sum(-1)
    if log_weights is None:
        log_weights = torch.full((means.shape[0],), -math.log(means.shape[0]),
                                 dtype=xf.dtype, device=xf.device)
    comp = log_weights[None, :] - d2 / (2 * v) - 0.5 * d * math.log(2 * math.pi * v)
    return torch.logsumexp(comp, dim=1)


__all__ = ["mixture_log_density", "mixture_score"]
