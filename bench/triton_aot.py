"""Compile every Triton kernel of fkc_kernels for a GPU target, ahead of time, without a GPU.

A kernel that runs under the interpreter can still fail to compile for a GPU: a pass that
crashes on one specialisation (triton 3.6 did on the selection kernel when N fit one program),
a type only the compiler checks. This script makes a set of representative calls of the Triton
backend's launchers on CPU tensors with every kernel swapped for a recorder, so the launch
arguments are exactly the ones a GPU call passes. It then builds each launch's specialisation
the way the JIT does (signature, integer arguments equal to 1 made constants, 16-byte
divisibility of pointers and integers) and compiles it with ``triton.compile`` for
``GPUTarget("cuda", ARCH, 32)``. Each compile runs in a forked child, so a compiler abort is a
failure line, not a crash.

    python bench/triton_aot.py [--arch 90] [--only gmm_loop ...]   # TRITON_INTERPRET unset

Prints one line a launch; exits 1 if any failed. tests/backends/test_triton_gpu_compile.py runs
it in CI (triton 3.8); on another triton put it first on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import sys
from collections.abc import Callable

os.environ.pop("TRITON_INTERPRET", None)  # the kernels must be JIT functions, not interpreted
os.environ.setdefault("FKC_DISABLE_EXT", "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch  # noqa: E402

# (module, kernel attribute) of every Triton kernel the launchers below call
KERNELS = {
    "fkc_step": ["_fkc_step_kernel", "_finish_w_kernel"],
    "gmm_step": ["_gmm_step_kernel"],
    "gmm_loop": ["_gmm_tables_kernel", "_gmm_loop_kernel"],
    "select_particles": ["_select_kernel"],
    "systematic_resample": ["_block_max_kernel", "_block_cumsum_kernel", "_normalize_kernel",
                            "_search_kernel"],
    "noise": ["_philox_normal_kernel"],
}


class _Recorder:
    """Stands in for a ``@triton.jit`` kernel: ``rec[grid](*args, **kw)`` records the launch."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __getitem__(self, grid):
        return lambda *args, **kwargs: self.calls.append((grid, args, kwargs))


@contextlib.contextmanager
def _recording(module):
    recs = {n: _Recorder(getattr(module, n)) for n in KERNELS[module.__name__.split(".")[-1]]}
    try:
        for n, r in recs.items():
            setattr(module, n, r)
        yield recs
    finally:
        for n, r in recs.items():
            setattr(module, n, r.fn)


def _model(d: int, log: bool = True):
    import fkc_kernels as fk

    gen = torch.Generator().manual_seed(0)
    mix = fk.gaussian_mixture(torch.randn(8, d, generator=gen), 0.1)
    return mix, fk.gaussian_bumps(torch.randn(2, d, generator=gen), 0.25, log=log)


def step_call(n, d, dtype, increment="fkc", explicit=False, extra=False, split=None):
    from fkc_kernels.ops._step_args import StepScalars, StepTensors
    from fkc_kernels.triton import fkc_step as mod

    x = torch.randn(n, d).to(dtype)
    w, r = torch.zeros(n), torch.zeros(n)
    t = StepTensors(x, w, x.clone(), x.clone(), r, torch.zeros(n) if extra else None, None,
                    x.clone() if explicit else None, torch.zeros(2, dtype=torch.int64),
                    torch.empty_like(x), torch.empty_like(w))
    c = StepScalars(0.01, 1.2, 0.8, 1.0, -0.3, 0.1, 0.1, 10.0, increment)
    return mod, lambda: mod.fkc_step(t, c, split=split)


def gmm_call(n, d, dtype, k=None, increment="fkc", log=True):
    from fkc_kernels.ops import gmm_loop as ops_loop
    from fkc_kernels.ops._gmm_args import GmmScalars, GmmTensors
    from fkc_kernels.schedules import LinearTilt, VPSchedule
    from fkc_kernels.triton import gmm_loop as loop_mod
    from fkc_kernels.triton import gmm_step as step_mod

    mix, bumps = _model(d, log)
    x, w = torch.randn(n, d).to(dtype), torch.zeros(n)
    seeds = torch.zeros(k or 1, 2, dtype=torch.int64)
    t = GmmTensors(x, w, *mix, *bumps[:3], None, None, seeds[0], x.clone(), w.clone())
    if k is None:
        c = GmmScalars(0.6, 0.8, 0.01, 2.3, 1.5, 3.0, -2.6, 0.1, 0.1, 10.0, increment, log)
        return step_mod, lambda: step_mod.launch(t, c)
    steps = ops_loop._step_kwargs(VPSchedule(), LinearTilt(2.0), k, increment, None, None)
    table = torch.tensor(ops_loop._coef_rows(steps, log), dtype=torch.float32)
    return loop_mod, lambda: loop_mod.gmm_loop(t, table, seeds, ratio=increment == "ratio",
                                               log_reward=log)


def select_call(n, k, n_random):
    from fkc_kernels.triton import select_particles as mod

    w, seeds = torch.randn(n), torch.tensor([1, 2], dtype=torch.int64)
    return mod, lambda: mod.select_particles_kernel(w, k, n_random, seeds)


def resample_call(n):
    from fkc_kernels.triton import systematic_resample as mod

    lw, u = torch.randn(n), torch.tensor([0.37], dtype=torch.float64)
    return mod, lambda: mod.systematic_resample(lw, u)


def noise_call(numel):
    from fkc_kernels.triton import noise as mod

    return mod, lambda: mod.philox_normal(torch.tensor([1, 2], dtype=torch.int64), numel)


f32, bf16, f16 = torch.float32, torch.bfloat16, torch.float16
# name -> (label, call) of representative launches: shapes, dtypes and flags that change the
# specialisation (a row block, several tiles a row, D % 4 != 0, K = 1, N in one program, ...)
CASES: dict[str, list[tuple[str, Callable]]] = {
    "fkc_step": [("4096x64 fp32 in-kernel noise", lambda: step_call(4096, 64, f32)),
                 ("3x7 bf16 explicit noise, ratio, extra_dw",
                  lambda: step_call(3, 7, bf16, "ratio", True, True)),
                 ("4x16384 fp16 in-kernel noise", lambda: step_call(4, 16384, f16)),
                 ("4x16384 fp32, D split over 4 programs (as on CUDA)",
                  lambda: step_call(4, 16384, f32, split=4))],
    "gmm_step": [("4096x64 fp32", lambda: gmm_call(4096, 64, f32)),
                 ("7x5 fp16 ratio, sum reward", lambda: gmm_call(7, 5, f16, None, "ratio",
                                                                   False))],
    "gmm_loop": [("4096x64 K=100 fp32", lambda: gmm_call(4096, 64, f32, 100)),
                 ("1000x30 K=20 bf16 ratio", lambda: gmm_call(1000, 30, bf16, 20, "ratio")),
                 ("7x5 K=1 fp16 sum reward", lambda: gmm_call(7, 5, f16, 1, "fkc", False))],
    "select_particles": [("N=1000 k=16 random=5", lambda: select_call(1000, 16, 5)),
                         ("N=65536 k=64 random=32", lambda: select_call(65536, 64, 32))],
    "systematic_resample": [("N=1000", lambda: resample_call(1000)),
                            ("N=65536", lambda: resample_call(65536))],
    "noise": [("numel=1000", lambda: noise_call(1000))],
}


def compile_launch(fn, args: tuple, kwargs: dict, arch: int):
    """``triton.compile`` the specialisation of JIT function ``fn`` the JIT builds for this
    launch; returns the compiled kernel."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, make_backend
    from triton.runtime.jit import native_specialize_impl

    target = GPUTarget("cuda", arch, 32)
    backend = make_backend(target)
    kwargs = dict(kwargs)
    bound = {p.name: args[i] if i < len(args) else kwargs.pop(p.name, p.default)
             for i, p in enumerate(fn.params)}
    signature, constexprs, attrs = {}, {}, {}
    for i, p in enumerate(fn.params):
        value = bound[p.name]
        if p.is_constexpr:
            kind, spec = "constexpr", value
        else:
            kind, spec = native_specialize_impl(type(backend), value, p.is_const,
                                                not p.do_not_specialize,
                                                not p.do_not_specialize_on_alignment)
        signature[p.name] = kind
        if kind == "constexpr":
            constexprs[(i,)] = value
        elif isinstance(spec, str):
            attrs[(i,)] = backend.parse_attr(spec)
    # what is left of kwargs are the launch options (num_warps, ...)
    return triton.compile(ASTSource(fn, signature, constexprs, attrs), target=target,
                          options=kwargs)


def launches(call: Callable) -> list[tuple[str, object, tuple, dict]]:
    """``(kernel name, JIT function, args, kwargs)`` of every launch a case's call makes (the
    call builders above return ``(module, run)``)."""
    module, run = call()
    with _recording(module) as recs:
        run()
    return [(name, rec.fn, args, kwargs) for name, rec in recs.items()
            for _grid, args, kwargs in rec.calls]


def _compile_case(call: Callable, arch: int) -> str:
    done = []
    for name, fn, args, kwargs in launches(call):
        ck = compile_launch(fn, args, kwargs, arch)
        done.append(f"{name} ({len(ck.asm.get('cubin', b''))} B cubin)")
    return ", ".join(done) or "no launch"


def _child(queue, call, arch) -> None:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 2)  # MLIR prints a whole reproducer on failure
    try:
        queue.put(("OK", _compile_case(call, arch)))
    except Exception as exc:  # noqa: BLE001 - every failure is a result line
        lines = str(exc).strip().splitlines()
        queue.put(("FAIL", f"{type(exc).__name__}: {lines[-1] if lines else ''}"))


def run_case(call: Callable, arch: int, timeout: float = 600) -> tuple[str, str]:
    """``(status, detail)`` of compiling a case's launches in a forked child."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, call, arch))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        return "FAIL", f"timeout after {timeout:.0f} s"
    if queue.empty():
        return "FAIL", f"the compiler process died (exit code {proc.exitcode})"
    return queue.get()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", type=int, default=90, help="compute capability (default 90)")
    ap.add_argument("--only", nargs="*", choices=sorted(CASES), help="these ops only")
    args = ap.parse_args(argv)
    import triton

    print(f"triton {triton.__version__}, target sm_{args.arch}", flush=True)
    bad = 0
    for op in args.only or CASES:
        for label, call in CASES[op]:
            status, detail = run_case(call, args.arch)
            bad += status != "OK"
            print(f"{status:4} {op} {label}: {detail}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
