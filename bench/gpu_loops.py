"""The K-step loops of bench/gpu_check.py (sections ``loop`` and ``gmmloop``) and bench_step.py.

* ``gaussian_loops``: data ``N(1, 0.25·I)``, reward ``0.1·Σx``: the eager-glue loop and the loop
  with a compiled score+reward function beside the fused step (two kernels a step at best).
* ``mixture_loops``: the mixture step (docs/design.md, "The mixture step"): a Gaussian mixture's
  score and Gaussian bumps' reward either in one ``torch.compile``'d function beside the fused
  ``fkc_step_`` (the two-kernel loop) or inside ``gmm_step_`` (one kernel a step).

A loop factory returns ``loop(backend)``, which runs all K steps in place (seeds from one
draw, no host sync, so one CUDA graph can capture it). :func:`time_loops` times them eagerly and
in one CUDA graph and counts the kernels a step launches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

import fkc_kernels as fk
from fkc_kernels import reference
from fkc_kernels.bench.measure import mixture_model
from fkc_kernels.ops.gmm_loop import _step_kwargs as gmm_step_kwargs

Loop = Callable[[str], None]


def _schedule(n_steps: int):
    sched = fk.VPSchedule()
    return sched, [sched.at_step(i, n_steps) for i in range(n_steps)]


def gaussian_loops(dev: torch.device, n: int, d: int, n_steps: int,
                   compile_backend: str) -> list[tuple[str, Loop]]:
    """``glue`` (score and reward in eager ops, a seed draw a step) and ``fused`` (one seed draw,
    the schedule's score coefficients in a device table, score+reward compiled)."""
    _, coefs = _schedule(n_steps)
    tilt = fk.LinearTilt(2.0)
    mu, var0 = 1.0, 0.25  # data N(mu, var0 I): the score is closed form at every tau
    x = torch.randn(n, d, device=dev)
    w = torch.zeros(n, device=dev)
    gr = torch.full((n, d), 0.1, device=dev)  # r(x) = 0.1 * sum(x)

    def glue_loop(backend: str) -> None:
        for c in coefs:
            s = (c.alpha * mu - x) / (c.alpha**2 * var0 + c.sigma**2)
            fk.fkc_step_(x, w, s, gr, 0.1 * x.sum(1), h=c.h, g=c.g, lam=tilt.lam(c.t),
                         dlam=tilt.dlam(c.t), f_coef=c.f_coef, dw_clip=None, w_clip=None,
                         backend=backend)

    # rows of 4 float32: 16-byte aligned views, one per step
    table = torch.tensor([[c.alpha * mu, 1.0 / (c.alpha**2 * var0 + c.sigma**2), 0.0, 0.0]
                          for c in coefs], dtype=torch.float32, device=dev)

    def score_and_reward(x: torch.Tensor, row: torch.Tensor):
        return (row[0] - x) * row[1], 0.1 * x.sum(1)

    torch._dynamo.reset()
    model = torch.compile(score_and_reward, fullgraph=True, dynamic=False,
                          backend=compile_backend)

    def fused_loop(backend: str) -> None:
        seeds = fk.draw_philox_seeds(None, dev, n_steps=n_steps)
        for k, c in enumerate(coefs):
            s, r = model(x, table[k])
            fk.fkc_step_(x, w, s, gr, r, h=c.h, g=c.g, lam=tilt.lam(c.t), dlam=tilt.dlam(c.t),
                         f_coef=c.f_coef, dw_clip=None, w_clip=None, seeds=seeds[k],
                         backend=backend)

    return [("glue", glue_loop), ("fused", fused_loop)]


def mixture_loops(dev: torch.device, n: int, d: int, n_steps: int,
                  compile_backend: str) -> list[tuple[str, Loop]]:
    """``two-kernel``: the mixture's score and the bumps' reward in one compiled function
    (``(α, σ)`` from a device table), then ``fkc_step_``; ``one-kernel``: ``gmm_step_`` a step
    (score, reward and step fused); ``one-launch``: ``gmm_loop_`` (all K steps in one kernel
    where the backend has a loop kernel, else as ``one-kernel``). All draw the K seeds at once
    and start from the same particles each call."""
    sched, coefs = _schedule(n_steps)
    tilt = fk.LinearTilt(4.0)
    mix, bumps = mixture_model(d, dev)
    x0 = torch.randn(n, d, generator=torch.Generator().manual_seed(0)).to(dev)
    x, w = x0.clone(), torch.zeros(n, device=dev)
    table = torch.tensor([[c.alpha, c.sigma, 0.0, 0.0] for c in coefs], dtype=torch.float32,
                         device=dev)

    def score_and_reward(x: torch.Tensor, row: torch.Tensor):
        s = reference.mixture_score(x, mix, row[0], row[1])
        r, gr = reference.bump_reward(x, bumps)
        return s, gr, r

    torch._dynamo.reset()
    model = torch.compile(score_and_reward, fullgraph=True, dynamic=False,
                          backend=compile_backend)

    def two_kernel(backend: str) -> None:
        x.copy_(x0)
        w.zero_()
        seeds = fk.draw_philox_seeds(None, dev, n_steps=n_steps)
        for k, c in enumerate(coefs):
            s, gr, r = model(x, table[k])
            fk.fkc_step_(x, w, s, gr, r, h=c.h, g=c.g, lam=tilt.lam(c.t), dlam=tilt.dlam(c.t),
                         f_coef=c.f_coef, dw_clip=None, w_clip=None, seeds=seeds[k],
                         backend=backend)

    steps = gmm_step_kwargs(sched, tilt, n_steps, "fkc", None, None)  # gmm_loop_'s own steps

    def one_kernel(backend: str) -> None:
        x.copy_(x0)
        w.zero_()
        seeds = fk.draw_philox_seeds(None, dev, n_steps=n_steps)
        for k, kw in enumerate(steps):
            fk.gmm_step_(x, w, mix, bumps, seeds=seeds[k], backend=backend, **kw)

    def one_launch(backend: str) -> None:
        x.copy_(x0)
        w.zero_()
        fk.gmm_loop_(x, w, mix, bumps, sched, tilt, n_steps, backend=backend)

    return [("two-kernel", two_kernel), ("one-kernel", one_kernel), ("one-launch", one_launch)]


# (rows a program, warps) of the Triton mixture loop kernel: the default (a 1024-element tile:
# 16 rows of 64 on 4 warps, 256 programs at N = 4096) first, then fewer rows a program, so more
# programs share the SMs. At N = 4096 the default leaves about 8 warps on each SM, and each
# program runs its K steps one after another: latency, not bandwidth.
TRITON_TILES = [(None, 4), (8, 4), (4, 4), (4, 2), (2, 2), (2, 1), (1, 1)]


def _one_launch(dev: torch.device, n: int, d: int, n_steps: int):
    """``make(mix, bumps, backend)`` -> a loop of ``gmm_loop_`` (all K steps, VP, LinearTilt(4))
    over ``(n, d)`` particles, from the same start and seeds each call: what the sweeps time."""
    sched, tilt = fk.VPSchedule(), fk.LinearTilt(4.0)
    x0 = torch.randn(n, d, generator=torch.Generator().manual_seed(0)).to(dev)
    x, w = x0.clone(), torch.zeros(n, device=dev)
    seeds = fk.draw_philox_seeds(None, dev, n_steps=n_steps)

    def make(mix, bumps, backend: str) -> Callable[[], None]:
        def loop() -> None:
            x.copy_(x0)
            w.zero_()
            fk.gmm_loop_(x, w, mix, bumps, sched, tilt, n_steps, seeds=seeds, backend=backend)

        return loop

    return make


def _sweep_ms(loop: Callable[[], None], dev: torch.device, bench_ms) -> float:
    """Milliseconds of ``loop`` after a first call (which compiles): in one CUDA graph, else
    eagerly (twice)."""
    loop()
    return _graph_ms(loop, bench_ms) if dev.type == "cuda" else bench_ms(loop, dev, reps=2)


def triton_tile_sweep(rows, dev: torch.device, n: int, d: int, n_steps: int, bench_ms,
                      tiles=TRITON_TILES) -> None:
    """Rows ``rows a program, warps, ms per loop, us per step``: ``gmm_loop_`` on the Triton
    backend (one launch for the K steps) with the loop kernel's tile overridden, in one CUDA
    graph (eagerly off CUDA)."""
    import fkc_kernels.triton as triton_backend

    loop = _one_launch(dev, n, d, n_steps)(*mixture_model(d, dev), "triton")
    default = triton_backend._gmm_loop
    for block_n, warps in tiles:
        triton_backend._gmm_loop = (lambda *args, b=block_n, nw=warps, **kw:
                                    default(*args, block_n=b, num_warps=nw, **kw))
        label = "default (a 1024-element tile)" if block_n is None else str(block_n)
        try:
            ms = _sweep_ms(loop, dev, bench_ms)  # compiles this tile first
            rows.append([label, str(warps), f"{ms:.3f}", f"{1e3 * ms / n_steps:.1f}"])
        except Exception as exc:
            rows.append([label, str(warps), f"error: {exc}", ""])
        finally:
            triton_backend._gmm_loop = default


# (component tables, components in pairs) of the Triton loop kernel, the default first
TRITON_VARIANTS = [(True, True), (True, False), (False, True), (False, False)]


def triton_variant_sweep(rows, dev: torch.device, n: int, d: int, n_steps: int, bench_ms,
                         variants=TRITON_VARIANTS) -> None:
    """Rows ``component tables, pairs, ms per loop, us per step``: ``gmm_loop_`` on the Triton
    backend with its component tables (``triton.gmm_loop.TABLES``) and its components in pairs
    (``triton.gmm_step.PAIRS``) switched on and off, in one CUDA graph (eagerly off CUDA): what
    each buys, measured in the same run."""
    from fkc_kernels.triton import gmm_loop as loop_module
    from fkc_kernels.triton import gmm_step as step_module

    loop = _one_launch(dev, n, d, n_steps)(*mixture_model(d, dev), "triton")
    saved = loop_module.TABLES, step_module.PAIRS
    for tables, pairs in variants:
        loop_module.TABLES, step_module.PAIRS = tables, pairs
        label = ["yes" if tables else "no", "yes" if pairs else "no"]
        try:
            ms = _sweep_ms(loop, dev, bench_ms)  # compiles this variant first
            rows.append([*label, f"{ms:.3f}", f"{1e3 * ms / n_steps:.1f}"])
        except Exception as exc:
            rows.append([*label, f"error: {exc}", ""])
        finally:
            loop_module.TABLES, step_module.PAIRS = saved


# (mixture components, reward bumps) of the component sweep: the bench model's sizes (8, 2) first
COMPONENT_CASES = [(8, 2), (1, 1), (2, 1), (4, 1), (8, 1), (16, 1), (16, 4)]


def component_sweep(rows, backends: list[str], dev: torch.device, n: int, d: int, n_steps: int,
                    bench_ms, cases=COMPONENT_CASES) -> None:
    """Rows ``backend, components, bumps, ms per loop, us per step``: the one-launch loop
    (``gmm_loop_``) on the bench's model with its first ``components`` modes (of 16) and
    reward bumps on its first ``bumps`` modes, in one CUDA graph (eagerly off CUDA); then a
    least-squares line through the points against components + bumps. A row walks its
    components and bumps one after another, so the slope is one component's latency a step and
    the intercept the rest (noise, move, weight, tables)."""
    means = mixture_model(d, dev, n_modes=16)[0].means
    make = _one_launch(dev, n, d, n_steps)
    for name in backends:
        points = []
        for n_mix, n_bumps in cases:
            mix = fk.gaussian_mixture(means[:n_mix], 0.15**2)
            bumps = fk.gaussian_bumps(means[:n_bumps], 0.5**2)
            try:
                ms = _sweep_ms(make(mix, bumps, name), dev, bench_ms)
            except Exception as exc:
                rows.append([name, str(n_mix), str(n_bumps), f"error: {exc}", ""])
                continue
            us = 1e3 * ms / n_steps
            points.append((n_mix + n_bumps, us))
            rows.append([name, str(n_mix), str(n_bumps), f"{ms:.3f}", f"{us:.2f}"])
        if len(points) >= 2:
            slope, intercept = _line(points)
            rows.append([name, "fit", "", f"{slope:.3f} us a component a step",
                         f"{intercept:.2f} us at 0"])


def _line(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares slope and intercept of y on x."""
    xs = torch.tensor([p[0] for p in points], dtype=torch.float64)
    ys = torch.tensor([p[1] for p in points], dtype=torch.float64)
    xm, ym = xs.mean(), ys.mean()
    slope = ((xs - xm) * (ys - ym)).sum() / ((xs - xm) ** 2).sum().clamp_min(1e-12)
    return float(slope), float(ym - slope * xm)


def mixture_agreement(dev: torch.device, n: int, d: int, backend: str) -> tuple[float, float]:
    """Max |x'| and |w'| difference of one fused mixture step against the reference at the
    loop's model and shape (explicit noise, VP step at tau = 0.5)."""
    mix, bumps = mixture_model(d, dev)
    c = fk.VPSchedule().at_step(50, 100)
    x = torch.randn(n, d, device=dev)
    z = torch.randn(n, d, device=dev)
    w = torch.zeros(n, device=dev)
    kw = dict(alpha=c.alpha, sigma=c.sigma, h=c.h, g=c.g, lam=2.0, dlam=4.0, f_coef=c.f_coef,
              dw_clip=None, w_clip=None)
    xt, wt = fk.gmm_step(x, w, mix, bumps, noise=z, backend=backend, **kw)
    xr, wr = reference.gmm_step(x, w, mix, bumps, z, **kw)
    return (xt - xr).abs().max().item(), (wt - wr).abs().max().item()


def kernels_per_step(fn: Callable[[], object], n_steps: int, dev: torch.device) -> str:
    """GPU kernels one call of ``fn`` launches, per step (torch.profiler); CPU: n/a."""
    if dev.type != "cuda":
        return "n/a (CPU)"
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA
               and not e.name.startswith(("Memcpy", "Memset"))]
    return f"{len(kernels) / n_steps:.2f}"


def _graph_ms(fn: Callable[[], None], bench_ms) -> float:
    """Milliseconds a replay of one CUDA graph holding a call of ``fn`` (warmed on a side
    stream first, as capture requires)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()  # generator draws inside capture replay with new offsets
    return bench_ms(graph.replay, torch.device("cuda"), reps=20)


def time_loops(rows, loops: list[tuple[str, Loop]], backends: list[str], dev: torch.device,
               n_steps: int, bench_ms, skip: Callable[[str, str], bool] = lambda b, loop: False
               ) -> None:
    """Rows ``backend, loop, mode, ms per loop, us per step, kernels per step``: each loop on
    each backend eagerly, then (CUDA, compiled backends) as one CUDA graph."""
    for name in backends:
        for label, loop in loops:
            if skip(name, label):
                continue
            run = (lambda loop=loop, name=name: loop(name))
            try:
                run()  # warm up: compile kernels, fill the caching allocator
                ms = bench_ms(run, dev, reps=20)
                rows.append([name, label, "eager", f"{ms:.3f}", f"{1e3 * ms / n_steps:.1f}",
                             kernels_per_step(run, n_steps, dev)])
            except Exception as exc:
                rows.append([name, label, "eager", f"error: {exc}", "", ""])
                continue
            if dev.type != "cuda":
                rows.append([name, label, "CUDA graph", "skipped (needs CUDA)", "", ""])
                continue
            try:
                ms = _graph_ms(run, bench_ms)
                rows.append([name, label, "one CUDA graph", f"{ms:.3f}",
                             f"{1e3 * ms / n_steps:.1f}", ""])
            except Exception as exc:
                rows.append([name, label, "one CUDA graph", f"error: {exc}", "", ""])
