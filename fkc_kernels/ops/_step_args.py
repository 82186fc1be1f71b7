"""The fused step's arguments as two bundles, and the flat op schema derived from them.

``StepTensors`` and ``StepScalars`` are the one Python statement of what a backend's step takes
and in which order: the ``fkc::fkc_step_<backend>`` schema (``STEP_SCHEMA``), the adapters that
call the ops (``flat_step_args``) and the op implementations that receive them
(``split_step_args``) are all derived from them. ``StepScalars`` mirrors the inputs of the C++
``make_step_coefs`` (csrc/core/step.h), whose ``StepCoefs`` are these scalars combined once in
double and rounded to float32. Adding an argument: a field here (with its schema type below when
it is not a plain ``Tensor``/``float``), and in C++ the op's signature
(csrc/ops/fkc_step.cpp) and ``make_step_coefs``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch


class StepTensors(NamedTuple):
    """The step's tensors, validated: ``(N, D)`` rows with unit inner stride, one device.

    ``x``, ``score``, ``reward_grad`` and the optional ``f`` and ``noise``: ``(N, D)`` in x's
    dtype (float32/float16/bfloat16). ``w``, ``reward`` and the optional ``extra_dw``: float32
    ``(N,)``. ``seeds``: int64 ``(2,)`` ``[S, O]`` of the noise contract (read when ``noise`` is
    ``None``). Outputs: ``x_out`` ``(N, D)`` in x's dtype and ``w_out`` float32 ``(N,)``; either
    may alias its input.
    """

    x: torch.Tensor
    w: torch.Tensor
    score: torch.Tensor
    reward_grad: torch.Tensor
    reward: torch.Tensor
    extra_dw: torch.Tensor | None
    f: torch.Tensor | None
    noise: torch.Tensor | None
    seeds: torch.Tensor | None
    x_out: torch.Tensor
    w_out: torch.Tensor


class StepScalars(NamedTuple):
    """The step's scalars (docs/design.md, "One step"); clips that are off are ``±inf``.

    ``increment`` is ``"fkc"`` or ``"ratio"`` (docs/design.md, "The ratio increment").
    """

    h: float
    g: float
    lam: float
    dlam: float
    f_coef: float
    dw_clip: float
    w_min: float
    w_max: float
    increment: str = "fkc"


# The step's coefficients a fused kernel reads, in csrc/core/step.h StepCoefs' order.
STEP_COEFS = ("h", "g2", "half_lam", "noise_scale", "f_coef", "dlam", "lam", "half_g2_lam",
              "dw_clip", "w_min", "w_max", "ratio_gg", "ratio_gz")


def step_coefs(c: StepScalars) -> tuple[float, ...]:
    """The :data:`STEP_COEFS` of a step, combined in double as the reference and
    ``make_step_coefs`` combine them; a kernel rounds each to float32 once."""
    g2 = c.g * c.g
    return (c.h, g2, 0.5 * c.lam, c.g * math.sqrt(c.h), c.f_coef, c.dlam, c.lam,
            0.5 * g2 * c.lam, c.dw_clip, c.w_min, c.w_max, c.h * g2 * c.lam * c.lam / 8,
            0.5 * c.g * math.sqrt(c.h) * c.lam)


# schema types of the fields that are not a plain ``Tensor`` or ``float``
_SCHEMA_TYPES = {
    "extra_dw": "Tensor?", "f": "Tensor?", "noise": "Tensor?", "seeds": "Tensor?",
    "x_out": "Tensor(a!)", "w_out": "Tensor(b!)", "increment": "str",
}


def _schema_arg(name: str, default_type: str, defaults: dict, types: dict) -> str:
    arg = f"{types.get(name, default_type)} {name}"
    if name in defaults:
        value = defaults[name]
        arg += f'="{value}"' if isinstance(value, str) else f"={value!r}"
    return arg


def schema_of(tensors: type, scalars: type, types: dict) -> str:
    """A flat ``torch.library`` schema from two NamedTuple bundles: the tensor fields (type
    ``Tensor`` unless ``types`` says otherwise), then the scalar fields (``float`` unless
    ``types`` says otherwise, with their defaults); the op returns nothing."""
    args = [_schema_arg(n, "Tensor", {}, types) for n in tensors._fields]
    args += [_schema_arg(n, "float", scalars._field_defaults, types) for n in scalars._fields]
    return f"({', '.join(args)}) -> ()"


def step_schema() -> str:
    """The flat ``torch.library`` schema of ``fkc::fkc_step_<backend>``: the tensors, then the
    scalars, in field order; the op writes ``x_out`` and ``w_out`` and returns nothing."""
    return schema_of(StepTensors, StepScalars, _SCHEMA_TYPES)


STEP_SCHEMA = step_schema()
N_TENSORS = len(StepTensors._fields)


def flat_step_args(tensors: StepTensors, scalars: StepScalars) -> tuple:
    """The positional arguments of a ``fkc::fkc_step_<backend>`` call."""
    return (*tensors, *scalars)


def split_step_args(args: tuple) -> tuple[StepTensors, StepScalars]:
    """The two bundles from an op's positional arguments (a defaulted scalar may be missing)."""
    return StepTensors(*args[:N_TENSORS]), StepScalars(*args[N_TENSORS:])
