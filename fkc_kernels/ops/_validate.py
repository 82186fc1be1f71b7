"""Argument checks shared by the public ops (DESIGN section 7).

Every message names the argument, what was expected and what was given.
"""

from __future__ import annotations

import math
from numbers import Real

import torch

PARTICLE_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def check_tensor(name: str, t: object) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    return t


def check_float_tensor(name: str, t: object, dtypes=None) -> torch.Tensor:
    t = check_tensor(name, t)
    if not t.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {t.dtype}")
    if dtypes is not None and t.dtype not in dtypes:
        raise TypeError(
            f"{name}: expected dtype in {[str(d) for d in dtypes]}, got {t.dtype}"
        )
    return t


def check_same_device(name: str, t: torch.Tensor, device: torch.device, ref: str = "x") -> None:
    if t.device != device:
        raise ValueError(f"{name}: expected a tensor on {ref}'s device {device}, got {t.device}")


def check_finite_scalar(name: str, v: object, *, positive: bool = False,
                        nonnegative: bool = False) -> float:
    # plain floats and ints skip the (slow) numbers.Real ABC check: this runs every step
    if type(v) is float or type(v) is int:
        v = float(v)
        if math.isfinite(v) and not (positive and v <= 0) and not (nonnegative and v < 0):
            return v
    if isinstance(v, torch.Tensor):
        if v.numel() != 1:
            raise TypeError(
                f"{name}: expected a real scalar, got a tensor of shape {tuple(v.shape)}"
            )
        v = v.item()
    if isinstance(v, bool) or not isinstance(v, Real):
        raise TypeError(f"{name}: expected a real number, got {type(v).__name__} {v!r}")
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {v}")
    if positive and v <= 0:
        raise ValueError(f"{name}: expected a number > 0, got {v}")
    if nonnegative and v < 0:
        raise ValueError(f"{name}: expected a number >= 0, got {v}")
    return v


def check_int(name: str, v: object, *, low: int = 0, high: int | None = None,
              high_name: str | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name}: expected an int, got {type(v).__name__} {v!r}")
    if v < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {v}")
    if high is not None and v > high:
        raise ValueError(f"{name}: expected an int <= {high_name or high}, got {v}")
    return v


def check_generator(generator: object, device: torch.device) -> None:
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator: expected a torch.Generator or None, got {type(generator).__name__}"
        )
    if generator.device.type != "cpu" and generator.device.type != device.type:
        raise ValueError(
            f"generator: expected a CPU generator or one on {device.type}, got one on "
            f"{generator.device}"
        )


def check_weights(name: str, w: object, n: int | None = None) -> torch.Tensor:
    w = check_float_tensor(name, w)
    if w.dim() != 1:
        raise ValueError(f"{name}: expected a 1-D tensor (N,), got shape {tuple(w.shape)}")
    if n is not None and w.shape[0] != n:
        raise ValueError(f"{name}: expected shape ({n},) to match x's N={n}, got {tuple(w.shape)}")
    return w
