"""Public fused FKC step: validation, flattening to ``(N, D)``, backend dispatch."""

from __future__ import annotations

import math

import torch

from . import _validate as v
from ._backends import resolve_backend
from ._step_args import StepScalars, StepTensors
from .noise import draw_philox_seeds

_INF = math.inf
INCREMENTS = ("fkc", "ratio")


def _as_rows(t: torch.Tensor, n: int) -> torch.Tensor:
    """``(N, *S)`` -> ``(N, D)`` with unit inner stride, a view whenever strides allow."""
    # D spelled out: reshape(n, -1) is ambiguous when the tensor is empty
    t2 = t.reshape(n, math.prod(t.shape[1:])) if t.dim() != 2 else t
    if t2.dim() == 2 and t2.shape[1] > 1 and t2.stride(1) != 1:
        t2 = t2.contiguous()
    return t2


def _as_f32_vector(t: torch.Tensor) -> torch.Tensor:
    """float32 with unit stride, as backends take ``(N,)`` vectors; free on the hot path."""
    if t.dtype == torch.float32 and t.is_contiguous():
        return t
    return t.to(torch.float32).contiguous()


def _check_seeds(seeds, noise, generator, device):
    if seeds is None:
        return
    if noise is not None or generator is not None:
        given = "noise" if noise is not None else "generator"
        raise ValueError(f"seeds: expected None when {given} is given (both choose the noise)")
    v.check_tensor("seeds", seeds)
    if seeds.dtype != torch.int64 or tuple(seeds.shape) != (2,):
        raise ValueError(f"seeds: expected an int64 tensor of shape (2,) [S, O], got "
                         f"{seeds.dtype} {tuple(seeds.shape)}")
    v.check_same_device("seeds", seeds, device)


def validate_scalars(h, g, lam, dlam, f_coef, dw_clip, w_clip, increment) -> StepScalars:
    """The step's scalars checked (``ValueError``/``TypeError`` naming the argument), with the
    clips that are off as ``±inf``."""
    if not isinstance(increment, str) or increment not in INCREMENTS:
        raise ValueError(f"increment: expected 'fkc' or 'ratio', got {increment!r}")
    h = v.check_finite_scalar("h", h, positive=True)
    g = v.check_finite_scalar("g", g, nonnegative=True)
    lam = v.check_finite_scalar("lam", lam)
    dlam = v.check_finite_scalar("dlam", dlam)
    f_coef = v.check_finite_scalar("f_coef", f_coef)
    if dw_clip is None:
        dw_clip = _INF
    else:
        dw_clip = v.check_finite_scalar("dw_clip", dw_clip, positive=True)
    if w_clip is None:
        w_min, w_max = -_INF, _INF
    else:
        if not isinstance(w_clip, (tuple, list)) or len(w_clip) != 2:
            raise TypeError(f"w_clip: expected None or a pair (w_min, w_max), got {w_clip!r}")
        w_min = v.check_finite_scalar("w_clip[0]", w_clip[0])
        w_max = v.check_finite_scalar("w_clip[1]", w_clip[1])
        if w_min > w_max:
            raise ValueError(f"w_clip: expected w_min <= w_max, got ({w_min}, {w_max})")
    return StepScalars(h=h, g=g, lam=lam, dlam=dlam, f_coef=f_coef, dw_clip=dw_clip,
                       w_min=w_min, w_max=w_max, increment=increment)


def _validate_step(x, w, score, reward_grad, reward, h, g, lam, dlam, f_coef, f, noise,
                   generator, dw_clip, w_clip, extra_dw, seeds, increment):
    if not isinstance(increment, str) or increment not in INCREMENTS:
        raise ValueError(f"increment: expected 'fkc' or 'ratio', got {increment!r}")
    x = v.check_float_tensor("x", x, v.PARTICLE_DTYPES)
    if x.dim() < 1:
        raise ValueError("x: expected particles of shape (N, *S), got a 0-d tensor")
    n = x.shape[0]
    w = v.check_weights("w", w, n)
    for name, t in (("score", score), ("reward_grad", reward_grad), ("f", f), ("noise", noise)):
        if t is None and name in ("f", "noise"):
            continue
        t = v.check_float_tensor(name, t)
        if t.shape != x.shape:
            raise ValueError(
                f"{name}: expected shape {tuple(x.shape)} (the shape of x), got {tuple(t.shape)}"
            )
        if t.dtype != x.dtype:
            raise TypeError(f"{name}: expected dtype {x.dtype} (the dtype of x), got {t.dtype}")
        v.check_same_device(name, t, x.device)
    reward = v.check_weights("reward", reward, n)
    v.check_same_device("w", w, x.device)
    v.check_same_device("reward", reward, x.device)
    if extra_dw is not None:
        extra_dw = v.check_weights("extra_dw", extra_dw, n)
        v.check_same_device("extra_dw", extra_dw, x.device)
    v.check_generator(generator, x.device)
    _check_seeds(seeds, noise, generator, x.device)
    scalars = validate_scalars(h, g, lam, dlam, f_coef, dw_clip, w_clip, increment)
    return x, w, reward, extra_dw, scalars


def _run(x, w, score, reward_grad, reward, extra_dw, f, noise, generator, seeds, backend, scalars,
         x_out, w_out):
    n = x.shape[0]
    if x.numel() == 0 and n == 0:
        return  # no particles: nothing to update (and no generator state consumed)
    grad_name = v.needs_autograd({"x": x, "w": w, "score": score, "reward_grad": reward_grad,
                                  "reward": reward, "extra_dw": extra_dw, "f": f,
                                  "noise": noise})
    if grad_name is not None and backend == "auto":
        backend = "reference"  # the one backend with a backward: keep the graph
    impl = resolve_backend(backend, x.device)
    v.check_autograd_support(impl.name, grad_name, "fkc_step")
    if noise is None and seeds is None:
        seeds = draw_philox_seeds(generator, x.device)
    # backends take float32, unit-stride (N,) vectors; these are no-ops on the hot path
    impl.fkc_step(StepTensors(
        _as_rows(x, n), _as_f32_vector(w), _as_rows(score, n),
        _as_rows(reward_grad, n), _as_f32_vector(reward),
        None if extra_dw is None else _as_f32_vector(extra_dw),
        None if f is None else _as_rows(f, n), None if noise is None else _as_rows(noise, n),
        seeds, x_out, w_out,
    ), scalars)


def _check_in_place_outputs(x, w, score, reward_grad, reward, extra_dw, f, noise) -> None:
    """What every backend refuses for ``fkc_step_`` (checked here, so the text is the same)."""
    op = "fkc_step_"
    v.check_not_grad_leaf("x", x, op)
    v.check_not_grad_leaf("w", w, op)
    v.check_writable("x", x, op)
    v.check_writable("w", w, op)
    inputs = {"score": score, "reward_grad": reward_grad, "reward": reward,
              "extra_dw": extra_dw, "f": f, "noise": noise}
    v.check_no_shared_memory({"w": w, "x": x}, inputs, op)


def fkc_step(
    x: torch.Tensor,
    w: torch.Tensor,
    score: torch.Tensor,
    reward_grad: torch.Tensor,
    reward: torch.Tensor,
    *,
    h: float,
    g: float,
    lam: float,
    dlam: float,
    f_coef: float = 0.0,
    f: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    dw_clip: float | None = 0.1,
    w_clip: tuple[float, float] | None = (0.1, 10.0),
    extra_dw: torch.Tensor | None = None,
    seeds: torch.Tensor | None = None,
    increment: str = "fkc",
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """One fused reward-tilted FKC step (docs/design.md, "One step"), out of place.

    ``drift = g²(s + (λ/2)∇r) − f(x)``, ``x' = x + h·drift + g√h·ξ``,
    ``Δw = h[λ'r − λ⟨∇r, f(x)⟩ + (g²/2)λ⟨∇r, s⟩] + extra_dw`` clipped to ``±dw_clip``,
    ``w' = clip(w + Δw, *w_clip)``. With ``increment="ratio"`` the same move carries the
    log density ratio of the unguided Euler-Maruyama transition to the guided one instead
    (docs/design.md, "The ratio increment"):
    ``Δw = −(h·g²·λ²/8)·‖∇r‖² − (g·√h·λ/2)·⟨∇r, ξ⟩ + extra_dw`` (``reward`` and ``dlam`` unused).

    Args:
        x: particles ``(N, *S)``, float32/float16/bfloat16 (any strides).
        w: log-weights ``(N,)``, floating (math and result in float32).
        score: ``∇log q_t(x)``, shape and dtype of ``x``.
        reward_grad: ``∇r(x)``, shape and dtype of ``x``.
        reward: ``r(x)``, ``(N,)`` floating.
        h: step size, ``> 0`` (generative time runs forward).
        g: diffusion coefficient ``g_t >= 0``; lam, dlam: tilt ``λ_t`` and ``dλ/dt``.
        f_coef: linear forward drift ``f(x) = f_coef·x`` (VP: ``−β/2``; VE: 0).
        f: explicit forward drift ``f_t(x)`` (shape and dtype of ``x``); overrides ``f_coef``.
        noise: explicit ``ξ`` (shape and dtype of ``x``); by default in-kernel Philox noise.
        generator: where ``(S, O)`` of the noise contract are drawn (the device default if None).
        dw_clip: clip of ``Δw`` (``None``: off). w_clip: ``(w_min, w_max)`` (``None``: off).
        extra_dw: optional per-particle term ``(N,)`` (floating; the math is float32) added to
            ``Δw`` before its clip, fused into the same kernel: e.g. a guidance or
            product-of-experts weight. It is an increment, already multiplied by ``h``.
        seeds: the noise contract's ``[S, O]`` as an int64 ``(2,)`` tensor on x's device,
            instead of drawing them from ``generator``: e.g. row ``k`` of
            ``draw_philox_seeds(generator, device, n_steps=K)``, so a K-step loop draws all its
            seeds with one ``randint`` and a step launches no kernel but its own.
        increment: ``"fkc"`` (the FKC increment above) or ``"ratio"`` (the Gaussian log ratio
            ``log N(x'; x + h(g²s − f), g²h) − log N(x'; x + h·drift, g²h)`` of the base and the
            guided transition, ``ξ`` the step's own noise; a sequential Monte Carlo stepper adds
            its potential difference through ``extra_dw``).
        backend: ``"auto"``, ``"reference"``, ``"triton"``, ``"cpu"`` or ``"cuda"``.

    Returns:
        ``(x_new, w_new)``: ``x_new`` shaped and typed like ``x`` (contiguous), ``w_new`` float32
        ``(N,)``.

    Autograd: only the ``"reference"`` backend differentiates. With grad enabled and an input
    that requires grad, ``backend="auto"`` picks the reference (the graph is kept) and a named
    compiled backend (``cpu``, ``triton``, ``cuda``) raises ``RuntimeError`` instead of returning
    a result cut from the graph.
    """
    x, w, reward, extra_dw, scalars = _validate_step(x, w, score, reward_grad, reward, h, g, lam,
                                                     dlam, f_coef, f, noise, generator, dw_clip,
                                                     w_clip, extra_dw, seeds, increment)
    n = x.shape[0]
    x_out = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    w_out = torch.empty(n, dtype=torch.float32, device=x.device)
    _run(x, w, score, reward_grad, reward, extra_dw, f, noise, generator, seeds, backend,
         scalars, _as_rows(x_out, n), w_out)
    return x_out, w_out


def fkc_step_(
    x: torch.Tensor,
    w: torch.Tensor,
    score: torch.Tensor,
    reward_grad: torch.Tensor,
    reward: torch.Tensor,
    *,
    h: float,
    g: float,
    lam: float,
    dlam: float,
    f_coef: float = 0.0,
    f: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    dw_clip: float | None = 0.1,
    w_clip: tuple[float, float] | None = (0.1, 10.0),
    extra_dw: torch.Tensor | None = None,
    seeds: torch.Tensor | None = None,
    increment: str = "fkc",
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """In-place :func:`fkc_step`: updates ``x`` and ``w`` (which must be float32) and returns them.

    Same arguments and math as :func:`fkc_step`. Strided ``x`` is updated in place when its rows
    can be viewed as ``(N, D)`` with unit inner stride, else through one temporary copy.

    Refused on every backend with the same message (``ValueError``/``RuntimeError`` naming the
    argument): ``x`` or ``w`` with elements that share memory (``expand()``ed, stride 0), ``x``
    or ``w`` sharing memory with an input (``score``, ``reward_grad``, ``reward``, ``f``,
    ``noise``, ``extra_dw``, and ``w`` for ``x``), and, with grad enabled, ``x`` or ``w`` a leaf
    that requires grad. Autograd as in :func:`fkc_step`.
    """
    x, w, reward, extra_dw, scalars = _validate_step(x, w, score, reward_grad, reward, h, g, lam,
                                                     dlam, f_coef, f, noise, generator, dw_clip,
                                                     w_clip, extra_dw, seeds, increment)
    if w.dtype != torch.float32:
        raise TypeError(f"w: fkc_step_ updates w in place and expects float32, got {w.dtype}")
    _check_in_place_outputs(x, w, score, reward_grad, reward, extra_dw, f, noise)
    n = x.shape[0]
    x_rows = _as_rows(x, n)
    # a reshape that had to copy lands at a fresh address: then update through the copy
    if x_rows.data_ptr() == x.data_ptr() and w.is_contiguous():
        _run(x, w, score, reward_grad, reward, extra_dw, f, noise, generator, seeds, backend,
             scalars, x_rows, w)
        return x, w
    x_out = torch.empty(x_rows.shape, dtype=x.dtype, device=x.device)
    w_out = torch.empty(n, dtype=torch.float32, device=x.device)
    _run(x, w, score, reward_grad, reward, extra_dw, f, noise, generator, seeds, backend,
         scalars, x_out, w_out)
    x.copy_(x_out.view(x.shape))
    w.copy_(w_out)
    return x, w
