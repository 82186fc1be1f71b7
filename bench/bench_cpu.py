"""C++ CPU backend of the fused step against the copy bandwidth and the reference.

    .venv/bin/python -m pytest bench/bench_cpu.py --benchmark-only   # pytest-benchmark suite
    .venv/bin/python bench/bench_cpu.py [--reps 15] [--threads 2]    # prints a table

The table's baseline is ``dst.copy_(src)`` of the step's bytes in the same run (4·N·D·4: read x,
s, ∇r and write x, float32): ``of copy`` is copy time / step time, so 1.0 is memory speed. The
``cpu`` rows draw the noise contract's Philox normals in-kernel (the ``noise`` ISA column says
which vector path: FKC_CPU_ISA=avx2|scalar caps it; the inputs of the next window of elements are
prefetched while the noise of this one is made, a burst every 128 normals (FKC_CPU_SLICE=<n>
changes the 128): FKC_CPU_PREFETCH=window prefetches each window's own inputs in one burst instead,
FKC_CPU_PREFETCH=0 not at all); ``cpu, explicit`` reads a given
noise tensor instead (one more stream of bytes, no noise math). ``cpu in place`` is
``fkc_step_``, the call the sampler makes: the out-of-place ``fkc_step`` also allocates a fresh
N×D output each call, and a buffer that large comes from the OS zeroed page by page, which costs
about as much as the copy itself (a page-fault cost of the allocation, not of the kernel). The
reference rows draw their noise with ``torch.randn_like`` (what an eager user writes). The load
average is printed with the table: other processes on the machine skew every number.
"""

from __future__ import annotations

import argparse
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import fkc_kernels as fk  # noqa: E402
from fkc_kernels import reference  # noqa: E402
from fkc_kernels.bench.measure import COEFS, SEED, step_bytes, step_inputs  # noqa: E402
from fkc_kernels.bench.timing import interleaved_ms, time_ms  # noqa: E402
from fkc_kernels.ops import unavailable_reason  # noqa: E402

SHAPES = [(16384, 64), (1024, 3072), (256, 12288)]  # pytest-benchmark suite
TABLE_SHAPES = [(4096, 3072), (65536, 64), (1024, 12288), (256, 12288)]
# the step's inputs, coefficients, bytes and timers are fkc_kernels.bench's (the measurements
# of python -m fkc_kernels.bench), so this table and that command time the same thing
inputs = step_inputs


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


def cpu_step_in_place(x, w, s, gr, r, gen=_GEN):
    return fk.fkc_step_(x, w, s, gr, r, generator=gen, backend="cpu", **COEFS)


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--interleaved", action="store_true",
                        help="time the copy and the in-place step in alternation, call by call "
                             "(both run slower than back to back: each starts cold)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the eager and torch.compile reference rows")
    parser.add_argument("--shapes", default=",".join(f"{n}x{d}" for n, d in TABLE_SHAPES))
    parser.add_argument("--increment", choices=("fkc", "ratio"), default="fkc",
                        help="the weight increment of every step row (docs/design.md)")
    args = parser.parse_args(argv)
    COEFS["increment"] = args.increment
    reason = unavailable_reason("cpu", torch.device("cpu"))
    if reason is not None:
        sys.exit(f"the cpu backend is unavailable: {reason}")
    torch.set_num_threads(args.threads)
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"noise ISA {torch.ops.fkc.cpu_noise_isa()}; increment {args.increment!r}; median of "
          f"{args.reps}; load average "
          f"before {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("| N x D | copy ms | cpu in place ms | of copy | cpu ms | of copy | cpu, explicit ms "
          "| of copy | eager ms | compile ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n, d in shapes:
        a = inputs(n, d)
        src = torch.randn(2 * n * d)
        dst = torch.empty_like(src)
        noise = torch.randn(n, d)

        def explicit(x, w, s, gr, r, noise=noise):
            return fk.fkc_step(x, w, s, gr, r, noise=noise, backend="cpu", **COEFS)

        step_args = tuple(t.clone() for t in a)
        if args.interleaved:
            # the ratio's two terms in alternation; the out-of-place calls apart (each maps and
            # frees a fresh output, which would disturb whatever runs next)
            t_copy, t_inp = interleaved_ms(
                [(dst.copy_, (src,)), (cpu_step_in_place, step_args)], args.reps)
        else:
            t_copy = time_ms(dst.copy_, (src,), args.reps)
            t_inp = time_ms(cpu_step_in_place, step_args, args.reps)
        t_cpu = time_ms(cpu_step, a, args.reps)
        t_exp = time_ms(explicit, a, args.reps)
        if args.no_reference:
            t_eager = t_comp = float("nan")
        else:
            t_eager = time_ms(reference_step, a, args.reps)
            t_comp = time_ms(compiled_step(), a, args.reps)
        print(f"| {n} x {d} | {t_copy:.2f} | {t_inp:.2f} | {t_copy / t_inp:.2f} | {t_cpu:.2f} | "
              f"{t_copy / t_cpu:.2f} | {t_exp:.2f} | "
              f"{t_copy / t_exp:.2f} | {t_eager:.2f} | {t_comp:.2f} |", flush=True)
    print(f"load average after {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
