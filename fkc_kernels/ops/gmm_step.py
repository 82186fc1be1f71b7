"""Public mixture step (docs/design.md, "The mixture step"): a closed-form Gaussian-mixture score
and Gaussian-bump reward inside the fused FKC step, so a K-step loop launches one kernel a step.

Backends with a fused kernel (``cpu``, ``triton``, ``cuda``; for the models their ``gmm_fused``
accepts) run score, reward and step in one pass. Elsewhere (``reference``, models a GPU kernel
does not hold) the op composes the reference's score and reward in float32 with that backend's
``fkc_step``, so every backend returns the same step with its own in-kernel noise bits.
"""

from __future__ import annotations

import math

import torch

from ..reference.gmm_step import GaussianBumps, GaussianMixture, bump_reward, mixture_score
from . import _validate as v
from ._backends import resolve_backend
from ._gmm_args import GmmScalars, GmmTensors
from ._step_args import StepTensors
from .fkc_step import _as_f32_vector, _as_rows, _check_seeds, validate_scalars
from .noise import draw_philox_seeds


def _per_component(name: str, values, m: int, d: int, device) -> torch.Tensor:
    """A scalar, ``(M,)`` or ``(M, D)`` of positive finite values as float32 ``(M, D)``."""
    t = torch.as_tensor(values, dtype=torch.float32, device=device)
    if t.dim() == 0 or tuple(t.shape) == (m,):
        t = t.reshape(-1, 1).expand(m, d) if t.dim() == 1 else t.expand(m, d)
    if tuple(t.shape) != (m, d):
        raise ValueError(f"{name}: expected a scalar, ({m},) or ({m}, {d}), got "
                         f"{tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()) or not bool((t > 0).all()):
        raise ValueError(f"{name}: expected finite values > 0")
    return t.contiguous()


def _centres(name: str, t: object) -> torch.Tensor:
    t = v.check_float_tensor(name, t)
    if t.dim() != 2 or t.shape[0] < 1:
        raise ValueError(f"{name}: expected (M, D) with M >= 1, got {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name}: expected finite values")
    return t.to(torch.float32).contiguous()


def _log_positive(name: str, values, m: int, device) -> torch.Tensor:
    """``log`` of ``m`` non-negative finite values (a scalar broadcasts), float32 ``(M,)``."""
    t = torch.as_tensor(values, dtype=torch.float64, device=device)
    t = t.expand(m) if t.dim() == 0 else t
    if tuple(t.shape) != (m,):
        raise ValueError(f"{name}: expected a scalar or ({m},), got {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()) or bool((t < 0).any()) or not bool((t > 0).any()):
        raise ValueError(f"{name}: expected finite values >= 0, at least one > 0")
    return torch.log(t).to(torch.float32)


def gaussian_mixture(means: torch.Tensor, variances, weights=None) -> GaussianMixture:
    """The data mixture ``Σ_m π_m N(μ_m, diag(v_m))`` for :func:`gmm_step`.

    Args:
        means: ``(M, D)`` floating.
        variances: per-coordinate data variance around each mean: a scalar (one isotropic
            variance), ``(M,)`` (isotropic per component) or ``(M, D)`` (diagonal); > 0.
        weights: ``(M,)`` non-negative mixture weights (normalised here), uniform when None.

    Returns:
        float32 tensors on ``means``' device.
    """
    mu = _centres("means", means)
    m, d = mu.shape
    var = _per_component("variances", variances, m, d, mu.device)
    lw = _log_positive("weights", 1.0 if weights is None else weights, m, mu.device)
    return GaussianMixture(mu, var, lw - torch.logsumexp(lw, 0))


def gaussian_bumps(centers: torch.Tensor, variances, coefs=None, *,
                   log: bool = True) -> GaussianBumps:
    """The reward ``r(x) = log Σ_j κ_j exp(−½ Σ_d (x_d − c_jd)²/u_jd)`` (``log=True``) or
    ``Σ_j κ_j exp(…)`` (``log=False``) for :func:`gmm_step`.

    ``fkc_align``'s built-in tasks: ``gmm`` is ``log=True`` with two centres, ``u = w²`` and
    ``κ = 1``; ``rare-mode`` is ``log=False`` with ``κ = (1, decoy_value)``.

    Args:
        centers: ``(J, D)`` floating. variances: ``u``, as for :func:`gaussian_mixture`.
        coefs: ``(J,)`` non-negative ``κ_j`` (not normalised), all 1 when None.
    """
    c = _centres("centers", centers)
    j, d = c.shape
    var = _per_component("variances", variances, j, d, c.device)
    lk = _log_positive("coefs", 1.0 if coefs is None else coefs, j, c.device)
    if not isinstance(log, bool):
        raise TypeError(f"log: expected a bool, got {type(log).__name__}")
    return GaussianBumps(c, var, lk, log)


def _check_model(name: str, model, kind: type, d: int, device: torch.device) -> tuple:
    if not isinstance(model, kind):
        raise TypeError(f"{name}: expected a {kind.__name__} (fkc_kernels."
                        f"{'gaussian_mixture' if kind is GaussianMixture else 'gaussian_bumps'}"
                        f"), got {type(model).__name__}")
    centres, variances, logs = model[:3]
    if centres.dim() != 2 or centres.shape[1] != d:
        raise ValueError(f"{name}: expected {d} columns (x's row size), got centres of shape "
                         f"{tuple(centres.shape)}")
    m = centres.shape[0]
    if tuple(variances.shape) != (m, d) or tuple(logs.shape) != (m,):
        raise ValueError(f"{name}: expected variances ({m}, {d}) and log weights ({m},), got "
                         f"{tuple(variances.shape)} and {tuple(logs.shape)}")
    for t in model[:3]:
        v.check_same_device(name, t, device)
    return tuple(t.to(torch.float32).contiguous() for t in model[:3])


def _validate(x, w, mixture, reward, alpha, sigma, noise, generator, seeds, extra_dw, scalars):
    x = v.check_float_tensor("x", x, v.PARTICLE_DTYPES)
    if x.dim() < 1:
        raise ValueError("x: expected particles of shape (N, *S), got a 0-d tensor")
    n, d = x.shape[0], math.prod(x.shape[1:])
    w = v.check_weights("w", w, n)
    v.check_same_device("w", w, x.device)
    if noise is not None:
        noise = v.check_float_tensor("noise", noise)
        if noise.shape != x.shape or noise.dtype != x.dtype:
            raise ValueError(f"noise: expected {x.dtype} {tuple(x.shape)} (like x), got "
                             f"{noise.dtype} {tuple(noise.shape)}")
        v.check_same_device("noise", noise, x.device)
    if extra_dw is not None:
        extra_dw = v.check_weights("extra_dw", extra_dw, n)
        v.check_same_device("extra_dw", extra_dw, x.device)
    mix = _check_model("mixture", mixture, GaussianMixture, d, x.device)
    bumps = _check_model("reward", reward, GaussianBumps, d, x.device)
    alpha = v.check_finite_scalar("alpha", alpha, positive=True)
    sigma = v.check_finite_scalar("sigma", sigma, nonnegative=True)
    v.check_generator(generator, x.device)
    _check_seeds(seeds, noise, generator, x.device)
    c = GmmScalars(alpha, sigma, *scalars, log_reward=reward.log)
    return x, w, extra_dw, mix, bumps, c


def _composed(impl, t: GmmTensors, c: GmmScalars) -> None:
    """Score and reward by the reference in float32, then the backend's own ``fkc_step``."""
    xf = t.x.float()
    s = mixture_score(xf, GaussianMixture(t.means, t.variances, t.log_weights), c.alpha, c.sigma)
    r, gr = bump_reward(xf, GaussianBumps(t.centers, t.reward_variances, t.log_coefs,
                                          c.log_reward))
    x_out = t.x_out if t.x_out.dtype == torch.float32 else torch.empty_like(xf)
    noise = None if t.noise is None else t.noise.float()
    impl.fkc_step(StepTensors(xf, t.w, s, gr, r, t.extra_dw, None, noise, t.seeds, x_out,
                              t.w_out), c.step_scalars())
    if x_out is not t.x_out:
        t.x_out.copy_(x_out)


def _run(x, w, extra_dw, mix, bumps, noise, generator, seeds, backend, c, x_out, w_out) -> None:
    n = x.shape[0]
    if n == 0:
        return
    grad_name = v.needs_autograd({"x": x, "w": w, "extra_dw": extra_dw, "noise": noise})
    if grad_name is not None and backend == "auto":
        backend = "reference"
    impl = resolve_backend(backend, x.device)
    v.check_autograd_support(impl.name, grad_name, "gmm_step")
    if noise is None and seeds is None:
        seeds = draw_philox_seeds(generator, x.device)
    t = GmmTensors(_as_rows(x, n), _as_f32_vector(w), *mix, *bumps,
                   None if extra_dw is None else _as_f32_vector(extra_dw),
                   None if noise is None else _as_rows(noise, n), seeds, x_out, w_out)
    if hasattr(impl, "gmm_step") and impl.gmm_fused(t.x.shape[1], t.means.shape[0],
                                                    t.centers.shape[0]):
        impl.gmm_step(t, c)
    else:
        _composed(impl, t, c)


def gmm_step(
    x: torch.Tensor,
    w: torch.Tensor,
    mixture: GaussianMixture,
    reward: GaussianBumps,
    *,
    alpha: float,
    sigma: float,
    h: float,
    g: float,
    lam: float,
    dlam: float,
    f_coef: float = 0.0,
    noise: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    dw_clip: float | None = 0.1,
    w_clip: tuple[float, float] | None = (0.1, 10.0),
    extra_dw: torch.Tensor | None = None,
    seeds: torch.Tensor | None = None,
    increment: str = "fkc",
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """One FKC step whose score and reward are closed forms, fused into one kernel.

    The score is that of ``mixture`` (:func:`gaussian_mixture`) diffused to
    ``x_τ = α·x_0 + σ·ε``; the reward and its gradient are those of ``reward``
    (:func:`gaussian_bumps`) at ``x``; then the step of :func:`fkc_kernels.fkc_step` with
    ``f(x) = f_coef·x``. The spec is :func:`fkc_kernels.reference.gmm_step`.

    Args:
        x: particles ``(N, *S)``, float32/float16/bfloat16; ``D = prod(S)`` columns in the
            mixture and the reward.
        w: log-weights ``(N,)``.
        mixture, reward: on x's device.
        alpha, sigma: ``α(τ) > 0`` and ``σ(τ) >= 0`` of the step's forward time (a schedule's
            ``at_step(i, K).alpha`` and ``.sigma``).
        h, g, lam, dlam, f_coef, noise, generator, dw_clip, w_clip, extra_dw, seeds, increment,
        backend: as in :func:`fkc_kernels.fkc_step` (same noise contract, same bits).

    Returns:
        ``(x_new, w_new)``: like ``x`` (contiguous) and float32 ``(N,)``.
    """
    scalars = validate_scalars(h, g, lam, dlam, f_coef, dw_clip, w_clip, increment)
    x, w, extra_dw, mix, bumps, c = _validate(x, w, mixture, reward, alpha, sigma, noise,
                                              generator, seeds, extra_dw, scalars)
    n = x.shape[0]
    x_out = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    w_out = torch.empty(n, dtype=torch.float32, device=x.device)
    _run(x, w, extra_dw, mix, bumps, noise, generator, seeds, backend, c, _as_rows(x_out, n),
         w_out)
    return x_out, w_out


def gmm_step_(x: torch.Tensor, w: torch.Tensor, mixture: GaussianMixture,
              reward: GaussianBumps, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    """In-place :func:`gmm_step` (same keyword arguments): updates ``x`` and float32 ``w``.

    ``x`` must be contiguous and ``w`` float32 and contiguous (a K-step loop updates one buffer
    in place, graph-capturable); other layouts go through :func:`gmm_step` and a copy.
    """
    if not (isinstance(x, torch.Tensor) and isinstance(w, torch.Tensor) and x.is_contiguous()
            and w.is_contiguous() and w.dtype == torch.float32):
        x_new, w_new = gmm_step(x, w, mixture, reward, **kwargs)
        x.copy_(x_new)
        w.copy_(w_new)
        return x, w
    x, w, extra_dw, mix, bumps, c = validate_in_place(x, w, mixture, reward, kwargs)
    n = x.shape[0]
    _run(x, w, extra_dw, mix, bumps, kwargs.get("noise"), kwargs.get("generator"),
         kwargs.get("seeds"), kwargs.get("backend", "auto"), c, _as_rows(x, n), w)
    return x, w


def validate_in_place(x: torch.Tensor, w: torch.Tensor, mixture: GaussianMixture,
                      reward: GaussianBumps, kwargs: dict) -> tuple:
    """:func:`gmm_step_`'s checks of a contiguous ``x`` and float32 ``w`` updated in place:
    ``(x, w, extra_dw, mixture tensors, bump tensors, GmmScalars)``."""
    scalars = validate_scalars(*(kwargs.get(k, d) for k, d in _STEP_DEFAULTS))
    unknown = set(kwargs) - _KEYWORDS
    if unknown:
        raise TypeError(f"gmm_step_: unexpected keyword arguments {sorted(unknown)}")
    x, w, extra_dw, mix, bumps, c = _validate(
        x, w, mixture, reward, kwargs.get("alpha"), kwargs.get("sigma"), kwargs.get("noise"),
        kwargs.get("generator"), kwargs.get("seeds"), kwargs.get("extra_dw"), scalars)
    for name, t in (("x", x), ("w", w)):
        v.check_not_grad_leaf(name, t, "gmm_step_")
        v.check_writable(name, t, "gmm_step_")
    v.check_no_shared_memory({"w": w, "x": x}, {"noise": kwargs.get("noise"),
                                                "extra_dw": extra_dw}, "gmm_step_")
    return x, w, extra_dw, mix, bumps, c


# gmm_step's step scalars with their defaults, in validate_scalars' order
_STEP_DEFAULTS = (("h", None), ("g", None), ("lam", None), ("dlam", None), ("f_coef", 0.0),
                  ("dw_clip", 0.1), ("w_clip", (0.1, 10.0)), ("increment", "fkc"))
_KEYWORDS = {k for k, _ in _STEP_DEFAULTS} | {"alpha", "sigma", "noise", "generator",
                                              "extra_dw", "seeds", "backend"}

