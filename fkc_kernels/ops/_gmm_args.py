"""The mixture step's arguments as two bundles and its op schema (docs/design.md, "The mixture
step"), like ``_step_args`` for the plain step.

``fkc::gmm_step_<backend>(*GmmTensors, *GmmScalars) -> ()`` writes ``x_out`` and ``w_out``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ._step_args import _SCHEMA_TYPES, STEP_COEFS, StepScalars, schema_of, step_coefs


class GmmTensors(NamedTuple):
    """Validated tensors: ``x`` ``(N, D)`` float32/float16/bfloat16 with unit inner stride;
    ``w`` float32 ``(N,)``; the mixture (``means``, ``variances`` ``(M, D)``, ``log_weights``
    ``(M,)``) and the reward's bumps (``centers``, ``reward_variances`` ``(J, D)``,
    ``log_coefs`` ``(J,)``), contiguous float32; optional ``extra_dw`` float32 ``(N,)``,
    ``noise`` like ``x``, ``seeds`` int64 ``(2,)`` (read when ``noise`` is None); outputs
    ``x_out`` (x's dtype) and ``w_out`` (float32), which may alias ``x`` and ``w``."""

    x: torch.Tensor
    w: torch.Tensor
    means: torch.Tensor
    variances: torch.Tensor
    log_weights: torch.Tensor
    centers: torch.Tensor
    reward_variances: torch.Tensor
    log_coefs: torch.Tensor
    extra_dw: torch.Tensor | None
    noise: torch.Tensor | None
    seeds: torch.Tensor | None
    x_out: torch.Tensor
    w_out: torch.Tensor


class GmmScalars(NamedTuple):
    """``alpha``, ``sigma`` of the score's forward time, then the step's scalars (clips that are
    off are ``±inf``); ``log_reward``: ``r = log Σ bumps`` (True) or ``Σ bumps``."""

    alpha: float
    sigma: float
    h: float
    g: float
    lam: float
    dlam: float
    f_coef: float
    dw_clip: float
    w_min: float
    w_max: float
    increment: str = "fkc"
    log_reward: bool = True

    def step_scalars(self) -> StepScalars:
        """The plain step's scalars, taken by name (the composed fallback's ``fkc_step``)."""
        return StepScalars(**{name: getattr(self, name) for name in StepScalars._fields})


# What a fused kernel reads of one mixture step, in this order: the score's α, α², σ², then the
# step's coefficients (STEP_COEFS, csrc/core/step.h StepCoefs' order). A K-step loop kernel
# reads row i of a float32 (K, 16) table of them (fkc_kernels/ops/gmm_loop.py).
KERNEL_SCALARS = ("alpha", "alpha2", "sigma2", *STEP_COEFS)


def kernel_scalars(c: GmmScalars) -> tuple[float, ...]:
    """The :data:`KERNEL_SCALARS` of a step (the step's part from :func:`step_coefs`)."""
    return (c.alpha, c.alpha * c.alpha, c.sigma * c.sigma, *step_coefs(c.step_scalars()))


GMM_SCHEMA = schema_of(GmmTensors, GmmScalars, {**_SCHEMA_TYPES, "log_reward": "bool"})
_N_TENSORS = len(GmmTensors._fields)


def flat_gmm_args(tensors: GmmTensors, scalars: GmmScalars) -> tuple:
    """The positional arguments of a ``fkc::gmm_step_<backend>`` call."""
    return (*tensors, *scalars)


def split_gmm_args(args: tuple) -> tuple[GmmTensors, GmmScalars]:
    """The two bundles from an op's positional arguments (a defaulted scalar may be missing)."""
    return GmmTensors(*args[:_N_TENSORS]), GmmScalars(*args[_N_TENSORS:])
