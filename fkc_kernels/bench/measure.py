"""The measurements of ``python -m fkc_kernels.bench``, one function per row kind.

Every function takes a backend name and sizes, builds its inputs from a fixed seed on
``device``, times the public op a user calls (so validation and dispatch are included) and
returns a JSON-ready dict. Definitions:

* fused step (``fkc_step_``, in place, in-kernel noise): ``bytes = 4·N·D·itemsize + 12·N`` (read
  x, s, ∇r, write x; read w, r, write w), ``GB/s = bytes / time``, ``particle_steps_per_s =
  N / time``, ``of_copy = copy time / step time`` with the copy of the same bytes
  (``dst.copy_(src)`` of ``bytes/2``: it reads and writes them) timed in the same run, in
  alternation with the step on the CPU (so both see the same bandwidth drift). 1.0 is memory
  speed.
* selection: ``select_particles(w, k, k // 2)`` (half top-by-weight, half random).
* resampling: ``systematic_resample(logw)``.
* loop: K steps of a sampler with a closed-form Gaussian score (two torch ops a step), the K
  seed pairs from one draw, per step; and the K steps of ``gmm_loop_`` on the ``gmm`` task's
  mixture (score, reward and step fused; all K in one launch on a backend with a loop kernel);
  on CUDA also each whole loop in one CUDA graph.
"""

from __future__ import annotations

import torch

from .. import ops
from ..ops.noise import draw_philox_seeds
from ..schedules import LinearTilt, VPSchedule
from .timing import bench_ms, graph_ms, interleaved_ms

COEFS = dict(h=0.01, g=1.2, lam=0.8, dlam=1.0, f_coef=-0.3)
SEED = 1234


def step_inputs(n: int, d: int, device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float32):
    """``(x, w, score, reward_grad, reward)`` of an ``(n, d)`` step from a fixed seed."""
    gen = torch.Generator().manual_seed(SEED)
    x, s, gr = (torch.randn(n, d, generator=gen).to(device, dtype) for _ in range(3))
    return x, torch.ones(n, device=device), s, gr, torch.randn(n, generator=gen).to(device)


def step_bytes(n: int, d: int, itemsize: int = 4) -> int:
    """Bytes a fused step must move: read x, s, ∇r and write x; 12 bytes a particle for w, r."""
    return 4 * n * d * itemsize + 12 * n


def _on_cuda(device: torch.device) -> bool:
    return torch.device(device).type == "cuda"


def step_row(backend: str, n: int, d: int, device: torch.device, *,
             dtype: torch.dtype = torch.float32, reps: int = 15,
             budget_s: float | None = None) -> dict:
    """Time the in-place fused step against a copy of the same bytes (module docstring)."""
    x, w, s, gr, r = step_inputs(n, d, device, dtype)
    nbytes = step_bytes(n, d, x.element_size())
    src = torch.ones(nbytes // 2, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    # CUDA: the device's default generator, the one CUDA graph capture takes without a
    # register_generator_state call
    gen = None if _on_cuda(device) else torch.Generator().manual_seed(SEED)

    def step():
        return ops.fkc_step_(x, w, s, gr, r, generator=gen, backend=backend, **COEFS)

    graph = None
    if _on_cuda(device):
        copy_ms = bench_ms(lambda: dst.copy_(src), device, reps)
        ms = bench_ms(step, device, reps)
        if backend != "reference":
            graph = graph_ms(step, device, reps=reps)
    else:
        copy_ms, ms = interleaved_ms([(dst.copy_, (src,)), (step, ())], reps,
                                     budget_s=budget_s)
    return {"backend": backend, "shape": [n, d], "dtype": str(dtype).removeprefix("torch."),
            "bytes": nbytes, "ms": ms, "particle_steps_per_s": n / (ms * 1e-3),
            "gb_per_s": nbytes / ms / 1e6, "copy_ms": copy_ms,
            "copy_gb_per_s": nbytes / copy_ms / 1e6, "of_copy": copy_ms / ms,
            "graph_ms": graph}


def select_row(backend: str, n: int, k: int, device: torch.device, *, reps: int = 15,
               budget_s: float | None = None) -> dict:
    """Microseconds of ``select_particles(w, k, k // 2)`` on ``n`` random weights."""
    w = torch.randn(n, generator=torch.Generator().manual_seed(SEED)).to(device)
    n_random = k // 2
    us = 1e3 * bench_ms(lambda: ops.select_particles(w, k, n_random, backend=backend), device,
                        reps, budget_s=budget_s)
    return {"backend": backend, "n": n, "k": k, "n_random": n_random, "us": us}


def resample_row(backend: str, n: int, device: torch.device, *, reps: int = 15,
                 budget_s: float | None = None) -> dict:
    """Microseconds of ``systematic_resample(logw)`` on ``n`` random log-weights."""
    lw = 3 * torch.randn(n, generator=torch.Generator().manual_seed(SEED)).to(device)
    us = 1e3 * bench_ms(lambda: ops.systematic_resample(lw, backend=backend), device, reps,
                        budget_s=budget_s)
    return {"backend": backend, "n": n, "us": us}


def gaussian_loop(backend: str, n: int, d: int, steps: int, device: torch.device):
    """A K-step sampler loop over ``(n, d)`` particles, in place: data ``N(1, 0.25·I)`` (its
    score is closed form at every noise level), reward ``0.1·Σx``, VP schedule, linear tilt,
    all K seed pairs from one draw. Returns the loop as a function of no arguments."""
    sched, tilt = VPSchedule(), LinearTilt(2.0)
    coefs = [sched.at_step(i, steps) for i in range(steps)]
    mu, var0 = 1.0, 0.25
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(SEED)).to(device)
    w = torch.zeros(n, device=device)
    gr = torch.full((n, d), 0.1, device=device)

    def loop() -> None:
        seeds = draw_philox_seeds(None, device, n_steps=steps)
        for k, c in enumerate(coefs):
            s = (c.alpha * mu - x) / (c.alpha**2 * var0 + c.sigma**2)
            ops.fkc_step_(x, w, s, gr, 0.1 * x.sum(1), h=c.h, g=c.g, lam=tilt.lam(c.t),
                          dlam=tilt.dlam(c.t), f_coef=c.f_coef, dw_clip=None, w_clip=None,
                          seeds=seeds[k], backend=backend)

    return loop


def mixture_model(d: int, device: torch.device | str, n_modes: int = 8):
    """fkc_align's ``gmm`` task in ``d`` dimensions: ``n_modes`` equal modes (std 0.15) at
    distance 2 from the origin, reward ``log Σ exp(−|x − m|²/(2·0.5²))`` over modes 0 and 3."""
    gen = torch.Generator().manual_seed(20)
    dirs = torch.randn(n_modes, d, generator=gen)
    means = 2.0 * dirs / dirs.norm(dim=1, keepdim=True)
    mix = ops.gaussian_mixture(means.to(device), 0.15**2)
    bumps = ops.gaussian_bumps(means[[0, 3]].to(device), 0.5**2)
    return mix, bumps


def mixture_loop(backend: str, n: int, d: int, steps: int, device: torch.device):
    """``gmm_loop_`` over ``(n, d)`` particles on :func:`mixture_model`, VP schedule, linear
    tilt, all K seed pairs from one draw, from the same start each call. Returns the loop."""
    sched, tilt = VPSchedule(), LinearTilt(4.0)
    mix, bumps = mixture_model(d, device)
    x0 = torch.randn(n, d, generator=torch.Generator().manual_seed(SEED)).to(device)
    x, w = x0.clone(), torch.zeros(n, device=device)

    def loop() -> None:
        x.copy_(x0)
        w.zero_()
        seeds = draw_philox_seeds(None, device, n_steps=steps)
        ops.gmm_loop_(x, w, mix, bumps, sched, tilt, steps, seeds=seeds, backend=backend)

    return loop


def loop_row(backend: str, n: int, d: int, steps: int, device: torch.device, *,
             reps: int = 15, budget_s: float | None = None) -> dict:
    """Microseconds a step of :func:`gaussian_loop` and of :func:`mixture_loop`: eager, and on
    CUDA in one CUDA graph."""
    row = {"backend": backend, "shape": [n, d], "steps": steps}
    for key, make in (("", gaussian_loop), ("mixture_", mixture_loop)):
        loop = make(backend, n, d, steps, device)
        row[f"{key}us_per_step"] = 1e3 * bench_ms(loop, device, reps, budget_s=budget_s) / steps
        row[f"{key}graph_us_per_step"] = None
        if _on_cuda(device) and backend != "reference":
            row[f"{key}graph_us_per_step"] = \
                1e3 * graph_ms(loop, device, calls=1, reps=reps) / steps
    return row
