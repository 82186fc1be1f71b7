"""Evaluating a reward and its gradient on particles, in bounded-memory chunks.

A reward either returns ``r`` ``(n,)`` (the gradient comes from autograd) or the pair
``(r, grad_r)``. ``grad="none"`` asks for the value only (the potential-only mode of the
samplers: no gradient is taken and none is needed).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

RewardFn = Callable[[torch.Tensor], "torch.Tensor | tuple[torch.Tensor, torch.Tensor]"]
GRAD_MODES = ("autograd", "none")


def zero_reward(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The reward of unguided sampling: ``(r (n,), grad_r (n, *S))``, both zero, on ``x``'s
    device and in its dtype. With ``LinearTilt(0.0)`` a sampler then draws the base model."""
    return x.new_zeros(x.shape[0]), torch.zeros_like(x)


def check_batch_size(name: str, value) -> int | None:
    """``None`` or an int >= 1 (micro-batch sizes)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected None or an int >= 1, got {value!r}")
    return value


def _check_reward(out, n: int) -> torch.Tensor:
    if not isinstance(out, torch.Tensor) or out.shape != (n,):
        raise ValueError(
            f"reward_fn: expected a tensor of shape ({n},) or a pair (r, grad_r), "
            f"got {type(out).__name__} {tuple(getattr(out, 'shape', ()))}")
    return out


def _chunk_reward_and_grad(reward_fn: RewardFn, x: torch.Tensor, grad: str):
    n = x.shape[0]
    if grad == "none":
        with torch.no_grad():
            out = reward_fn(x)
        r = out[0] if isinstance(out, tuple) else out
        return _check_reward(r, n).detach().float(), None
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        out = reward_fn(xg)
        if isinstance(out, tuple):
            r, g = out
            _check_reward(r, n)
            if g is None or tuple(g.shape) != tuple(x.shape):
                raise ValueError(f"reward_fn: the gradient of a pair (r, grad_r) must have the "
                                 f"particles' shape {tuple(x.shape)}, got "
                                 f"{None if g is None else tuple(g.shape)}")
            return r.detach().float(), g.detach().to(x.dtype)
        _check_reward(out, n)
        if not out.requires_grad:
            raise ValueError(
                "reward_fn: its output does not depend on the particles through autograd, so the "
                "sampler cannot take the gradient it needs for guidance (the reward may be "
                "computed under torch.no_grad(), detached, or by a non-differentiable model). "
                "Return the pair (r, grad_r) yourself, or use the potential-only mode "
                "(reward_grad='none'), which needs no gradient.")
        (g,) = torch.autograd.grad(out.sum(), xg, allow_unused=True)
        if g is None:
            g = torch.zeros_like(xg)
    return out.detach().float(), g.detach().to(x.dtype)


def reward_and_grad(reward_fn: RewardFn, x: torch.Tensor, *, batch_size: int | None = None,
                    grad: str = "autograd") -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(r, ∇r)`` at particles ``x`` ``(N, *S)``, evaluated ``batch_size`` particles at a time.

    Args:
        reward_fn: ``reward_fn(x) -> r`` ``(n,)`` (``∇r`` by autograd) or ``-> (r, ∇r)``.
        x: particles; the chunks are views of it.
        batch_size: particles per call (``None``: all at once). Autograd graphs live one chunk
            at a time, so peak memory is set by ``batch_size``, not by ``N``.
        grad: ``"autograd"`` (the gradient is needed: a clear error when the reward gives none)
            or ``"none"`` (values only, under ``no_grad``; ``∇r`` comes back as ``None``).

    Returns:
        ``r`` float32 ``(N,)`` and ``∇r`` ``(N, *S)`` in ``x``'s dtype (or ``None``).
    """
    if grad not in GRAD_MODES:
        raise ValueError(f"grad: expected one of {GRAD_MODES}, got {grad!r}")
    batch_size = check_batch_size("batch_size", batch_size)
    n = x.shape[0]
    if batch_size is None or batch_size >= n:
        return _chunk_reward_and_grad(reward_fn, x, grad)
    rs, gs = [], []
    for start in range(0, n, batch_size):
        r, g = _chunk_reward_and_grad(reward_fn, x[start:start + batch_size], grad)
        rs.append(r)
        gs.append(g)
    return torch.cat(rs), (None if grad == "none" else torch.cat(gs))
