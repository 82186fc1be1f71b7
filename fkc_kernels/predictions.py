"""Scores from network outputs (eps, v, x0, flow velocity) and Tweedie's denoised estimate.

``x = alpha*x0 + sigma*eps`` at the network's forward time; every function broadcasts and keeps
``x``'s shape and dtype.
"""

from __future__ import annotations


def score_from_eps(eps, sigma):
    """Score from an epsilon-prediction network: ``s = -eps / sigma`` (broadcasting shapes)."""
    return -eps / sigma


def score_from_x0(x0, x, alpha, sigma):
    """Score from a data-prediction network: ``s = (alpha*x0 - x) / sigma^2``."""
    return (alpha * x0 - x) / (sigma * sigma)


def score_from_v(v, x, alpha, sigma):
    """Score from a v-prediction network (``v = alpha*eps - sigma*x0``, diffusers' convention):
    ``eps = (alpha*v + sigma*x) / (alpha^2 + sigma^2)`` and ``s = -eps / sigma``."""
    return -(alpha * v + sigma * x) / ((alpha * alpha + sigma * sigma) * sigma)


def score_from_flow(v, x, alpha, sigma):
    """Score from a flow-matching velocity ``v = eps - x0`` with ``x = alpha*x0 + sigma*eps``
    and ``alpha + sigma = 1``: ``eps = x + alpha*v`` and ``s = -eps / sigma``."""
    return -(x + alpha * v) / sigma


PREDICTION_TYPES = ("epsilon", "v_prediction", "sample", "flow_prediction")


def score_from_prediction(prediction, x, alpha: float, sigma: float, prediction_type: str):
    """The score ``∇log q_tau(x)`` from a network's output of the given ``prediction_type``.

    ``"epsilon"`` (noise), ``"v_prediction"`` (``alpha*eps - sigma*x0``), ``"sample"`` (``x0``)
    or ``"flow_prediction"`` (velocity ``eps - x0``); ``alpha``, ``sigma`` at the network's
    forward time. Same shapes and dtype as ``x``.
    """
    if prediction_type == "epsilon":
        return score_from_eps(prediction, sigma)
    if prediction_type == "v_prediction":
        return score_from_v(prediction, x, alpha, sigma)
    if prediction_type == "sample":
        return score_from_x0(prediction, x, alpha, sigma)
    if prediction_type == "flow_prediction":
        return score_from_flow(prediction, x, alpha, sigma)
    raise ValueError(f"prediction_type: expected one of {PREDICTION_TYPES}, got "
                     f"{prediction_type!r}")


def x0_from_score(score, x, alpha: float, sigma: float):
    """Tweedie's denoised estimate ``x0_hat = (x + sigma^2 * score) / alpha``."""
    return (x + (sigma * sigma) * score) / alpha
