"""C++ CPU backend of the fused step against the reference, eager and under torch.compile.

    .venv/bin/python -m pytest bench/bench_cpu.py --benchmark-only   # pytest-benchmark suite
    .venv/bin/python bench/bench_cpu.py [--reps 20]                  # prints a table

Shapes (N, D): (16384, 64), (1024, 3072), (256, 12288). The reference rows draw their noise with
``torch.randn_like`` (what an eager user writes); the ``cpu`` row draws the noise contract's
Philox normals in-kernel, so it does strictly more work. GB/s counts the bytes a fused step must
move: read x, s, ∇r, write x (float32), plus 12 bytes a particle (w in, r in, w out).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import fkc_kernels as fk  # noqa: E402
from fkc_kernels import reference  # noqa: E402
from fkc_kernels.ops import unavailable_reason  # noqa: E402

SHAPES = [(16384, 64), (1024, 3072), (256, 12288)]
COEFS = dict(h=0.01, g=1.2, lam=0.8, dlam=1.0, f_coef=-0.3)
SEED = 1234


def inputs(n: int, d: int):
    gen = torch.Generator().manual_seed(SEED)
    x, s, gr = (torch.randn(n, d, generator=gen) for _ in range(3))
    return x, torch.ones(n), s, gr, torch.randn(n, generator=gen)


def reference_step(x, w, s, gr, r):
    return reference.fkc_step(x, w, s, gr, r, torch.randn_like(x), **COEFS)


_COMPILED = {}


def compiled_step():
    if "f" not in _COMPILED:
        _COMPILED["f"] = torch.compile(reference_step, dynamic=False)
    return _COMPILED["f"]


_GEN = torch.Generator().manual_seed(SEED)


def cpu_step(x, w, s, gr, r, gen=_GEN):
    return fk.fkc_step(x, w, s, gr, r, generator=gen, backend="cpu", **COEFS)


def step_bytes(n: int, d: int) -> int:
    return 4 * n * d * 4 + 12 * n


VARIANTS = {"eager": lambda: reference_step, "compile": compiled_step, "cpu": lambda: cpu_step}


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_step(benchmark, shape, variant):
    if variant == "cpu" and unavailable_reason("cpu", torch.device("cpu")) is not None:
        pytest.skip(f"cpu backend: {unavailable_reason('cpu', torch.device('cpu'))}")
    fn = VARIANTS[variant]()
    args = inputs(*shape)
    fn(*args)  # warm-up (compiles)
    benchmark.extra_info["bytes"] = step_bytes(*shape)
    benchmark(fn, *args)


def time_ms(fn, args, reps: int) -> float:
    """Median wall milliseconds over ``reps`` calls after two warm-ups."""
    for _ in range(2):
        fn(*args)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    reason = unavailable_reason("cpu", torch.device("cpu"))
    if reason is not None:
        sys.exit(f"the cpu backend is unavailable: {reason}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} cores; median of {args.reps}")
    print("| N x D | eager ms | compile ms | cpu ms | cpu GB/s | cpu vs eager | cpu vs compile |")
    print("|---|---|---|---|---|---|---|")
    for n, d in SHAPES:
        a = inputs(n, d)
        t = {name: time_ms(make(), a, args.reps) for name, make in VARIANTS.items()}
        gbs = step_bytes(n, d) / t["cpu"] / 1e6
        print(f"| {n} x {d} | {t['eager']:.2f} | {t['compile']:.2f} | {t['cpu']:.2f} | "
              f"{gbs:.1f} | {t['eager'] / t['cpu']:.1f}x | {t['compile'] / t['cpu']:.2f}x |",
              flush=True)


if __name__ == "__main__":
    main()
