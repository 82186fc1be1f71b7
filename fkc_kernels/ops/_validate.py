"""Argument checks shared by the public ops (docs/design.md, "Bad input").

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


def _byte_span(t: torch.Tensor) -> tuple[int, int] | None:
    """``[first byte, one past the last byte)`` that ``t`` can touch (strides are >= 0, so
    ``data_ptr()`` is its lowest address)."""
    numel = t.numel()
    if numel == 0:
        return None
    start = t.data_ptr()
    if t.is_contiguous():  # the common case, without a Python loop over the dims
        return start, start + numel * t.element_size()
    last = sum((size - 1) * stride for size, stride in zip(t.shape, t.stride(), strict=True))
    return start, start + (last + 1) * t.element_size()


def has_internal_overlap(t: torch.Tensor) -> bool:
    """Whether two elements of ``t`` share memory (a stride-0 expanded dim or overlapping
    strides): such a tensor cannot be written element by element."""
    if t.is_contiguous():
        return False
    dims = sorted((stride, size) for size, stride in zip(t.shape, t.stride(), strict=True)
                  if size > 1)
    reach = 0  # elements spanned by the faster dims
    for stride, size in dims:
        if stride <= reach:
            return True
        reach += stride * (size - 1)
    return False


def check_writable(name: str, t: torch.Tensor, op: str) -> None:
    """An output written in place must not have overlapping elements."""
    if has_internal_overlap(t):
        raise ValueError(
            f"{name}: {op} writes {name} in place, but some of its elements share memory "
            f"(an expand()ed or stride-0 view, strides {tuple(t.stride())} for shape "
            f"{tuple(t.shape)}); pass {name}.clone() or use the out-of-place op"
        )


def check_no_shared_memory(outputs: dict, inputs: dict, op: str) -> None:
    """Outputs written in place must not share memory with an input they are computed from, nor
    with each other (kernels read inputs while they write outputs; the result would depend on
    the order). ``outputs`` and ``inputs`` map names to tensors; ``None`` inputs are skipped."""
    if torch.compiler.is_compiling():
        return  # addresses are not traceable; eager calls check
    spans = [(name, _byte_span(t)) for name, t in inputs.items() if t is not None]
    for out_name, out in outputs.items():
        span = _byte_span(out)
        if span is not None:
            for name, other in spans:
                if other is not None and other[0] < span[1] and span[0] < other[1]:
                    raise ValueError(
                        f"{out_name}: {op} writes {out_name} in place, but it shares memory with "
                        f"{name} (overlapping views of one buffer); pass a copy of {name}"
                    )
        # a later output must not overlap this one either (x is checked against w)
        spans.append((out_name, span))


def needs_autograd(tensors: dict) -> str | None:
    """Name of the first tensor that would need a backward graph here, else ``None``."""
    if not torch.is_grad_enabled():
        return None
    for name, t in tensors.items():
        if t is not None and t.requires_grad:
            return name
    return None


def check_autograd_support(backend_name: str, grad_name: str | None, op: str) -> None:
    """The compiled backends (cpu, triton, cuda) have no backward: refuse rather than return
    a result silently cut from the graph. The reference backend differentiates."""
    if grad_name is not None and backend_name != "reference":
        raise RuntimeError(
            f"{grad_name}: requires grad, but the {backend_name!r} backend of {op} has no "
            f"autograd (only 'reference' does; backend='auto' picks it for such inputs). Use "
            f"backend='reference', or detach the inputs / call under torch.no_grad()"
        )


def check_not_grad_leaf(name: str, t: torch.Tensor, op: str) -> None:
    """In place on a leaf that requires grad is refused (as torch refuses it), on every backend."""
    if torch.is_grad_enabled() and t.requires_grad and t.is_leaf:
        raise RuntimeError(
            f"{name}: a leaf tensor that requires grad cannot be updated in place by {op}; use "
            f"the out-of-place op, or call it under torch.no_grad()"
        )


def check_usable_log_weights(name: str, logw: torch.Tensor) -> None:
    """The resampling/ESS policy for non-finite log-weights, the same on every backend.

    NaN and ``-inf`` count as zero weight. ``+inf`` anywhere, or no finite entry at all, has no
    meaningful normalisation: ``ValueError`` naming ``name`` and what was found. One host sync.
    """
    if logw.numel() == 0 or torch.compiler.is_compiling() or (
            logw.is_cuda and torch.cuda.is_current_stream_capturing()):
        return  # a traced or captured graph cannot branch on data: eager calls check
    # one reduction and one sync: the largest weight with NaN as zero weight is finite
    # exactly when there is no +inf and at least one finite entry
    top = torch.nan_to_num(logw, nan=-math.inf, posinf=math.inf, neginf=-math.inf).amax()
    if math.isfinite(float(top)):
        return
    n_pos = int(torch.isposinf(logw).sum())
    n_nan = int(torch.isnan(logw).sum())
    n_neg = int(torch.isneginf(logw).sum())
    counts = f"{n_pos} +inf, {n_nan} NaN, {n_neg} -inf of {logw.numel()}"
    if n_pos:
        first = int(torch.nonzero(torch.isposinf(logw))[0, 0])
        raise ValueError(f"{name}: expected no +inf log-weight (an infinite weight cannot be "
                         f"normalised), got +inf at index {first} ({counts})")
    raise ValueError(f"{name}: expected at least one finite log-weight (NaN and -inf count as "
                     f"zero weight), got none ({counts})")
