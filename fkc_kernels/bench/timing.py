"""Timers shared by ``python -m fkc_kernels.bench``, bench/bench_cpu.py, bench/bench_step.py and
bench/gpu_check.py: one definition of "how long a call takes" for every number the project
reports.

On the CPU a timer calls the function back to back and takes the median wall time, within a
time budget (a slow reference step is timed fewer times, never fewer than three). On CUDA it
uses ``triton.testing.do_bench`` (L2 flushed between calls, median) when triton is installed,
else CUDA events around each call.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import torch

MIN_CALLS = 3


def sync(device: torch.device) -> None:
    """Wait for ``device``'s queued work (a no-op on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def interleaved_ms(calls: Sequence[tuple[Callable, tuple]], reps: int, *, warmup: int = 2,
                   budget_s: float | None = None) -> list[float]:
    """Median wall milliseconds of each ``(fn, args)`` in ``calls``, timed in turn every rep.

    On a small shared machine the memory bandwidth drifts within a minute; timing a copy
    baseline and a kernel in alternation keeps their ratio from following the drift. CPU calls
    only (a CUDA call returns before its kernel ends). With ``budget_s`` the reps stop once that
    much time has passed (after at least :data:`MIN_CALLS` of each).
    """
    for fn, args in calls:
        for _ in range(warmup):
            fn(*args)
    times: list[list[float]] = [[] for _ in calls]
    start = time.perf_counter()
    for rep in range(reps):
        for (fn, args), acc in zip(calls, times, strict=True):
            t0 = time.perf_counter()
            fn(*args)
            acc.append((time.perf_counter() - t0) * 1e3)
        if budget_s is not None and rep + 1 >= MIN_CALLS \
                and time.perf_counter() - start > budget_s:
            break
    return [statistics.median(t) for t in times]


def time_ms(fn: Callable, args: tuple, reps: int, *, budget_s: float | None = None) -> float:
    """Median wall milliseconds of ``fn(*args)`` over ``reps`` calls after two warm-ups."""
    return interleaved_ms([(fn, args)], reps, budget_s=budget_s)[0]


def _cuda_events_ms(fn: Callable[[], object], reps: int) -> float:
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    fn()
    times = []
    for _ in range(reps):
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def bench_ms(fn: Callable[[], object], device: torch.device, reps: int = 50, *,
             budget_s: float | None = None) -> float:
    """Median milliseconds of one call of ``fn``.

    CUDA: ``triton.testing.do_bench(fn, warmup=10, rep=reps)`` (``reps`` is its time budget in
    ms), else CUDA events over ``reps`` calls. CPU: ``reps`` calls after one warm-up (within
    ``budget_s`` seconds when given).
    """
    if torch.device(device).type == "cuda":
        try:
            from triton.testing import do_bench
        except ImportError:
            return _cuda_events_ms(fn, reps)
        return float(do_bench(fn, warmup=10, rep=reps, return_mode="median"))
    return interleaved_ms([(fn, ())], reps, warmup=1, budget_s=budget_s)[0]


def graph_ms(fn: Callable[[], object], device: torch.device, calls: int = 10,
             reps: int = 50) -> float:
    """Device milliseconds of a call of ``fn``: ``calls`` calls captured in one CUDA graph and
    replayed (:func:`bench_ms` of the replay / ``calls``).

    Eager calls are timed by the host when a call's Python and launch overhead exceeds its
    kernels' time; in a graph only the kernels remain. CUDA only.
    """
    if torch.device(device).type != "cuda":
        raise RuntimeError("graph_ms: needs a CUDA device")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up (compiles, allocator) off the capture stream
        for _ in range(2):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            fn()
    return bench_ms(graph.replay, device, reps) / calls
