"""Particle-throughput benchmarks of the installed library: ``python -m fkc_kernels.bench``.

The command times, on this machine's device and each available backend, the fused step
(particles·steps per second, GB/s, fraction of a same-run copy of the same bytes), selection
and resampling (µs) and a K-step sampler loop (µs per step), and prints a table (or ``--json``)
headed by the machine, the versions and the backends. :mod:`.timing` and :mod:`.measure` are
the code bench/ (the pytest-benchmark suites, bench/gpu_check.py) times with as well.
"""

from .cli import main, run
from .machine import machine_info, versions
from .measure import loop_row, resample_row, select_row, step_bytes, step_inputs, step_row
from .timing import bench_ms, graph_ms, interleaved_ms, sync, time_ms

__all__ = [
    "bench_ms",
    "graph_ms",
    "interleaved_ms",
    "loop_row",
    "machine_info",
    "main",
    "resample_row",
    "run",
    "select_row",
    "step_bytes",
    "step_inputs",
    "step_row",
    "sync",
    "time_ms",
    "versions",
]
