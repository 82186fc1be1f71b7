"""pytest-benchmark suite for the fused step, CPU-runnable.

Run: ``TRITON_INTERPRET=1 .venv/bin/python -m pytest bench/bench_step.py --benchmark-only``
(without TRITON_INTERPRET the Triton backend is skipped on CPU; on a GPU machine add
``FKC_BENCH_DEVICE=cuda``). Baselines are the reference op the tests use, eager and under
``torch.compile``, at the same shapes and with a fixed seed, so the rows compare like for like.
The reference rows draw noise with ``torch.randn`` (what an eager user would write); backend rows
draw it in-kernel from the noise contract. ``test_mixture_loop`` times the K-step mixture loop of
bench/gpu_loops.py: score and reward compiled beside ``fkc_step_`` against ``gmm_loop_``.
"""

from __future__ import annotations

import os
import sys

import pytest
import torch

import fkc_kernels as fk
from fkc_kernels import reference
from fkc_kernels.bench.measure import COEFS, SEED, step_inputs
from fkc_kernels.bench.timing import sync
from fkc_kernels.ops import get_backend_object

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_loops import mixture_loops  # noqa: E402  (bench/, beside this file)

DEVICE = torch.device(os.environ.get("FKC_BENCH_DEVICE", "cpu"))
SHAPES = [(256, 64), (64, 3072)] if DEVICE.type == "cpu" else [(65536, 64), (4096, 3072)]
# (N, D, K) of the mixture loop: issue 20's (4096, 64, 100) on a GPU, a small one on the CPU
MIXTURE_LOOP = (64, 8, 5) if DEVICE.type == "cpu" else (4096, 64, 100)


def _inputs(n: int, d: int):
    """The inputs ``python -m fkc_kernels.bench`` times the step with."""
    return step_inputs(n, d, DEVICE)


def _reference_step(x, w, s, gr, r):
    return reference.fkc_step(x, w, s, gr, r, torch.randn_like(x), **COEFS)


def _backends() -> list[str]:
    """Backends other than the reference that can run on DEVICE (loads each one once)."""
    names = []
    for name in ("triton", "cpu", "cuda"):
        obj = get_backend_object(name)
        if obj is not None and obj.unavailable_reason(DEVICE) is None:
            names.append(name)
    return names


def _run(fn, *args):
    def call():
        out = fn(*args)
        sync(DEVICE)
        return out
    return call


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_reference_eager(benchmark, shape):
    benchmark.group = f"fkc_step {shape[0]}x{shape[1]}"
    torch.manual_seed(SEED)
    benchmark(_run(_reference_step, *_inputs(*shape)))


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_reference_compiled(benchmark, shape):
    benchmark.group = f"fkc_step {shape[0]}x{shape[1]}"
    torch.manual_seed(SEED)
    compiled = torch.compile(_reference_step, fullgraph=True)
    args = _inputs(*shape)
    compiled(*args)  # compile outside the timing
    benchmark(_run(compiled, *args))


@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_backend(benchmark, shape, backend):
    benchmark.group = f"fkc_step {shape[0]}x{shape[1]}"
    x, w, s, gr, r = _inputs(*shape)
    gen = torch.Generator(device=DEVICE).manual_seed(SEED)

    def step():
        return fk.fkc_step_(x, w, s, gr, r, generator=gen, backend=backend, **COEFS)

    step()  # compile/load outside the timing
    benchmark(_run(step))


@pytest.mark.parametrize("backend", ["reference", *_backends()])
@pytest.mark.parametrize("loop", ["two-kernel", "one-kernel", "one-launch"])
def test_mixture_loop(benchmark, loop, backend):
    n, d, k = MIXTURE_LOOP
    benchmark.group = f"mixture loop {n}x{d}, K={k}"
    how = "inductor" if DEVICE.type == "cuda" else "aot_eager"
    run = dict(mixture_loops(DEVICE, n, d, k, how))[loop]
    run(backend)  # compile/load outside the timing
    benchmark(_run(run, backend))
