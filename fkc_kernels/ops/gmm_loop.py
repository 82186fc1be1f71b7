"""Public K-step mixture loop (docs/design.md, "The mixture loop in one kernel"): ``gmm_loop_``
runs K steps of :func:`gmm_step_` in place, in one kernel launch on backends that have a loop
kernel (Triton: two, the steps' component tables first) and one launch a step elsewhere, with
the same bits either way.

A loop kernel reads step i's coefficients from row i of a float32 ``(K, 16)`` device table
(``fkc_kernels.ops._gmm_args.KERNEL_SCALARS``). Tables are kept in a small cache keyed by their
values, so a loop replayed with the same schedule copies nothing to the device, and a CUDA graph
can capture a loop whose table a warm-up call (which capture needs anyway) has built.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict

import torch

from ..reference.gmm_step import GaussianBumps, GaussianMixture
from . import _validate as v
from ._backends import resolve_backend
from ._gmm_args import GmmScalars, GmmTensors, kernel_scalars
from .fkc_step import _as_rows, validate_scalars
from .gmm_step import gmm_step_, validate_in_place
from .noise import draw_philox_seeds

_TABLE_CACHE_SIZE = 16
_TABLES: OrderedDict[tuple[str, bytes], torch.Tensor] = OrderedDict()
# tables a captured CUDA graph reads: a graph's replay reads the table, and nothing tells us when
# the graph is gone, so these are never evicted
_CAPTURED: dict[tuple[str, bytes], torch.Tensor] = {}


def _step_kwargs(schedule, tilt, n_steps: int, increment: str, dw_clip, w_clip) -> list[dict]:
    """:func:`gmm_step_`'s keyword arguments of each step, noise to data."""
    steps = []
    for i in range(n_steps):
        c = schedule.at_step(i, n_steps)
        steps.append(dict(alpha=c.alpha, sigma=c.sigma, h=c.h, g=c.g, lam=tilt.lam(c.t),
                          dlam=tilt.dlam(c.t), f_coef=c.f_coef, increment=increment,
                          dw_clip=dw_clip, w_clip=w_clip))
    return steps


def _coef_rows(steps: list[dict], log_reward: bool) -> tuple[tuple[float, ...], ...]:
    """Each step's kernel scalars, after the checks :func:`gmm_step_` makes of them."""
    rows = []
    for kw in steps:
        alpha = v.check_finite_scalar("alpha", kw["alpha"], positive=True)
        sigma = v.check_finite_scalar("sigma", kw["sigma"], nonnegative=True)
        s = validate_scalars(kw["h"], kw["g"], kw["lam"], kw["dlam"], kw["f_coef"],
                             kw["dw_clip"], kw["w_clip"], kw["increment"])
        rows.append(kernel_scalars(GmmScalars(alpha, sigma, *s, log_reward=log_reward)))
    return tuple(rows)


def _table_key(rows: tuple, device: torch.device) -> tuple[str, bytes]:
    """The cache key of a table: its device and the bits of its double values (``0.0`` and
    ``-0.0`` compare equal as floats but can give other results)."""
    return str(device), array("d", [v for row in rows for v in row]).tobytes()


def _coef_table(rows: tuple, device: torch.device) -> torch.Tensor | None:
    """The float32 ``(K, 16)`` table of ``rows`` on ``device``, from the cache when it holds it;
    ``None`` while a CUDA graph is being captured and it does not (a table made during capture
    would be freed while the graph still reads it)."""
    key = _table_key(rows, device)
    cuda = device.type == "cuda"
    capturing = cuda and torch.cuda.is_current_stream_capturing()
    table = _CAPTURED.get(key, _TABLES.get(key))
    if table is not None:
        if capturing:
            _CAPTURED[key] = table
        elif key in _TABLES:
            _TABLES.move_to_end(key)
        if cuda and not capturing:  # freed on eviction: not before this stream has read it
            table.record_stream(torch.cuda.current_stream(device))
        return table
    if capturing:
        return None
    host = torch.tensor(rows, dtype=torch.float32)
    # from pinned memory without blocking the host (the pinned allocator keeps the buffer
    # until the copy is done)
    table = host.pin_memory().to(device, non_blocking=True) if cuda else host.to(device)
    _TABLES[key] = table
    if len(_TABLES) > _TABLE_CACHE_SIZE:
        _TABLES.popitem(last=False)
    return table


def _run_fused(x, w, mixture, reward, steps: list[dict], rows: tuple, seeds: torch.Tensor,
               backend: str) -> bool:
    """The K steps in one launch of the backend's loop kernel; ``False`` (nothing done) where
    there is none for these arguments, and the caller runs the steps one by one."""
    if not (isinstance(x, torch.Tensor) and isinstance(w, torch.Tensor) and x.is_contiguous()
            and w.is_contiguous() and w.dtype == torch.float32):
        return False
    if torch.compiler.is_compiling() or v.needs_autograd({"x": x, "w": w}) is not None:
        return False  # the step ops are what torch.compile and autograd know
    x, w, _, mix, bumps, c = validate_in_place(
        x, w, mixture, reward, {**steps[0], "seeds": seeds[0], "backend": backend})
    impl = resolve_backend(backend, x.device)
    n = x.shape[0]
    x_rows = _as_rows(x, n)
    if not hasattr(impl, "gmm_loop") or not impl.gmm_fused(x_rows.shape[1], mix[0].shape[0],
                                                           bumps[0].shape[0]):
        return False
    table = _coef_table(rows, x.device)
    if table is None:
        return False
    if n > 0:
        t = GmmTensors(x_rows, w, *mix, *bumps, None, None, None, x_rows, w)
        impl.gmm_loop(t, table, seeds.contiguous(), c.increment == "ratio", c.log_reward)
    return True


def gmm_loop_(x: torch.Tensor, w: torch.Tensor, mixture: GaussianMixture, reward: GaussianBumps,
              schedule, tilt, n_steps: int, *, generator: torch.Generator | None = None,
              seeds: torch.Tensor | None = None, increment: str = "fkc",
              dw_clip: float | None = None, w_clip: tuple[float, float] | None = None,
              backend: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """``n_steps`` mixture steps in place, noise to data, in one kernel launch where fused.

    Step ``i`` is :func:`gmm_step_` at ``schedule.at_step(i, n_steps)`` (its ``α``, ``σ``,
    ``h``, ``g``, ``f_coef``) and ``tilt.lam(t)``, ``tilt.dlam(t)``, with row ``i`` of
    ``seeds`` (int64 ``(K, 2)``; by default one ``draw_philox_seeds(generator, device,
    n_steps=K)``). No resampling: ``w`` accumulates the increments (unclipped by default). The
    same steps as :class:`fkc_kernels.FKCSampler` with ``weights="fkc"``, ``resample=None``,
    ``reward_at="x"`` and this mixture's score and reward. Start ``x`` from
    ``schedule.prior_std`` times standard normals.

    On a backend with a loop kernel (``cpu``, ``triton``, ``cuda``; for models its ``gmm_step``
    fuses; ``x`` contiguous, ``w`` float32 contiguous, no autograd, not under
    ``torch.compile``) all K steps are one call with the bits of the K steps; elsewhere one
    :func:`gmm_step_` a step.
    Every step's scalars are checked before the first step. No host sync either way (the step
    table goes to the device from pinned memory), so a CUDA graph can capture the loop: capture
    after one eager call with the same schedule, which puts the step table on the device.

    Args:
        x: particles ``(N, *S)``; w: log-weights ``(N,)``; mixture, reward: as for
            :func:`gmm_step`; schedule: has ``at_step(i, K)``; tilt: has ``lam(t)``,
            ``dlam(t)``; n_steps: ``K >= 1``; increment, dw_clip, w_clip, backend: as for
            :func:`gmm_step`.

    Returns:
        ``(x, w)``, updated in place.
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps: expected an int >= 1, got {n_steps!r}")
    if seeds is None:
        seeds = draw_philox_seeds(generator, x.device, n_steps=n_steps)
    elif not isinstance(seeds, torch.Tensor) or tuple(seeds.shape) != (n_steps, 2):
        got = tuple(seeds.shape) if isinstance(seeds, torch.Tensor) else type(seeds).__name__
        raise ValueError(f"seeds: expected an int64 tensor of shape ({n_steps}, 2), got {got}")
    steps = _step_kwargs(schedule, tilt, n_steps, increment, dw_clip, w_clip)
    # every step's scalars checked before any step moves x and w, on every backend
    rows = _coef_rows(steps, reward.log if isinstance(reward, GaussianBumps) else True)
    if not _run_fused(x, w, mixture, reward, steps, rows, seeds, backend):
        for i, kw in enumerate(steps):
            gmm_step_(x, w, mixture, reward, seeds=seeds[i], backend=backend, **kw)
    return x, w
