"""One-call GPU check: build, verify every op of every CUDA backend, and time it.

    python bench/gpu_check.py            # on the GPU machine; writes $OUT/gpu_check.md
    python bench/gpu_check.py --dry-run  # tiny shapes on the CPU under TRITON_INTERPRET=1

Sections, in the order they run (each in a process of its own: a failure prints its error and
the script goes on; the tests and the kernels not yet seen right on a GPU come first, so a budget
cut loses least):
  1. env: loads every backend (this JIT-builds the C++/CUDA extension when it is present), lists
     those that run CUDA tensors; every later section loops over them.
  2. pytest: ``pytest -m cuda tests`` on the device with compiled Triton (its failing tests, last
     lines and exit status; the whole log in $OUT/pytest_cuda.log).
  3. correct: on the device against the reference, one op at a time (a failing op does not hide
     the others): fused step (explicit noise per dtype, in-kernel noise with the same generator
     state, both increments), noise bits against the CPU kernel, selection index for index (and
     Triton's one-launch kernel, which the op does not dispatch on GPUs yet), resampling.
  4. selprobe: the Triton selection's parts against host computations
     (bench/probe_triton_select.py).
  5. select: selection timing vs eager topk + randperm, eager calls and the op alone in a CUDA
     graph.
  6. gmmloop: the K=100 mixture loop at (4096, 64), the two-kernel loop (compiled mixture score
     and bump reward, then fkc_step_) against gmm_loop_ (one kernel a step), eager and in one
     CUDA graph, after a one-step check against the reference (bench/gpu_loops.py); then
     Triton's loop tile, Triton's loop with its component tables and pairs switched off, and
     the one-launch loop against the number of mixture components and reward bumps (the slope:
     one component's latency a step).
  7. step: fused step timing: median time, GB/s over the bytes a fused step must move (read x,
     s, ∇r; write x; plus 12 bytes a particle) and the ratio to the device copy of the same
     bytes (eager rows against the eager copy, graph rows against the copy in a graph), next to
     the eager reference and torch.compile(reference); both weight increments.
  8. loop: K=100 sampler loop at (4096, 64), closed-form Gaussian score, eager and as one CUDA
     graph: the eager-glue loop, and the fused loop with its kernels per step counted by
     torch.profiler (bench/gpu_loops.py).
  9. resample: resampling timing (N = 65536 and 2^20) against the reference, eager and in a
     CUDA graph.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable

DRY = "--dry-run" in sys.argv
if DRY:  # must precede any @triton.jit import
    os.environ["TRITON_INTERPRET"] = "1"

import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_correct  # noqa: E402  (bench/, beside this file)
import gpu_loops  # noqa: E402
import probe_triton_select  # noqa: E402

import fkc_kernels as fk  # noqa: E402
from fkc_kernels import reference  # noqa: E402
from fkc_kernels.bench import measure, timing  # noqa: E402
from fkc_kernels.ops import BACKEND_NAMES, get_backend_object, unavailable_reason  # noqa: E402,I001

COEFS = measure.COEFS
LINES: list[str] = []


REPORT_PATH: str | None = None  # rows are appended here as soon as they are measured


def emit(line: str = "") -> None:
    print(line, flush=True)
    LINES.append(line)
    if REPORT_PATH is not None:
        with open(REPORT_PATH, "a") as fh:
            fh.write(line + "\n")


def section(title: str):
    """Decorator: run a section, print any error with its traceback and carry on."""
    def wrap(fn: Callable[..., None]) -> Callable[..., None]:
        def run(*args, **kwargs) -> None:
            emit(f"\n## {title}\n")
            t0 = time.perf_counter()
            try:
                fn(*args, **kwargs)
            except Exception as exc:  # robustness: one broken section must not hide the rest
                emit(f"**section failed**: `{type(exc).__name__}: {exc}`")
                traceback.print_exc()
            emit(f"\n_section time {time.perf_counter() - t0:.1f} s_")
        return run
    return wrap


# the timers of python -m fkc_kernels.bench, so this report and that command time alike
sync = timing.sync


def graph_ms(fn: Callable[[], object], device: torch.device, calls: int = 10) -> float:
    """Device milliseconds a call of ``fn`` in a CUDA graph (:func:`timing.graph_ms`)."""
    return timing.graph_ms(fn, device, calls)


def bench_ms(fn: Callable[[], object], device: torch.device, reps: int = 50) -> float:
    """Median milliseconds of ``fn`` (:func:`timing.bench_ms`); the dry run times twice."""
    return timing.bench_ms(fn, device, reps if device.type == "cuda" or not DRY else 2)


class StreamTable:
    """A markdown table whose rows are written the moment they are appended."""

    def __init__(self, header: list[str]) -> None:
        emit("| " + " | ".join(header) + " |")
        emit("|" + "---|" * len(header))

    def append(self, row: list[str]) -> None:
        emit("| " + " | ".join(row) + " |")


class Check:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.device = torch.device("cpu" if args.dry_run else "cuda")
        self.backends: list[str] = []
        self.compile_backend = "aot_eager" if args.dry_run else "inductor"

    # ---------------------------------------------------------------- env
    @section("Environment and backends")
    def environment(self) -> None:
        emit(f"- python {platform.python_version()}, torch {torch.__version__}")
        try:
            import triton

            emit(f"- triton {triton.__version__}")
        except ImportError:
            emit("- triton: not installed")
        if self.device.type == "cuda":
            p = torch.cuda.get_device_properties(0)
            emit(f"- device: {p.name}, {p.total_memory / 2**30:.0f} GiB, "
                 f"{p.multi_processor_count} SMs, CUDA {torch.version.cuda}")
        else:
            emit("- device: CPU (dry run, Triton interpreter)")
        names = ("reference", "triton") if self.args.dry_run else BACKEND_NAMES
        for name in names:
            t0 = time.perf_counter()
            get_backend_object(name)  # imports (and JIT-builds an extension) once
            reason = unavailable_reason(name, self.device)
            took = time.perf_counter() - t0
            emit(f"- backend `{name}`: {'runs here' if reason is None else reason} "
                 f"(load {took:.1f} s)")
            if reason is None and name != "reference":
                self.backends.append(name)
        emit(f"- checked and timed: {self.backends}")

    # ---------------------------------------------------------------- correct
    @section("Correctness against the reference (on the device)")
    def correctness(self) -> None:
        rows = StreamTable(["backend", "op", "shape", "max abs diff", "status"])
        checks = [gpu_correct.check_step, gpu_correct.check_noise_bits,
                  gpu_correct.check_select, gpu_correct.check_resample,
                  gpu_correct.check_gmm_loop]
        # cuda first: a CUDA fault is sticky for the process, so a Triton one must not hide it
        for name in sorted(self.backends, key=lambda b: b != "cuda"):
            for check in checks:
                # one op's failure (a compile error, say) must not hide the other ops' rows
                try:
                    check(self.device, name, rows, self.args.dry_run)
                except Exception as exc:
                    rows.append([name, check.__name__[6:], "", f"error: {type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0][:200]}", "**FAIL**"])

    # ---------------------------------------------------------------- step
    @section("Fused step: time, GB/s, fraction of copy bandwidth")
    def step_timing(self) -> None:
        dev = self.device
        shapes = ([(4, 12)] if self.args.dry_run
                  else [(65536, 64), (4096, 3072), (1024, 12288), (256, 12288),
                        (4096, 16384)])
        dtypes = [torch.float32] if self.args.dry_run else [torch.float32, torch.bfloat16]
        emit("bytes = 4·N·D·element size (read x, s, ∇r; write x) + 12·N; medians. Rows timed "
             "in a CUDA graph are read against the copy timed in a graph.")
        rows = StreamTable(["shape", "implementation", "ms", "GB/s", "of copy BW"])
        for n, d in shapes:
            for dtype in dtypes:
                x, s, gr = (torch.randn(n, d, device=dev, dtype=dtype) for _ in range(3))
                w, r = torch.zeros(n, device=dev), torch.randn(n, device=dev)
                nbytes = measure.step_bytes(n, d, x.element_size())
                label = f"{n}x{d} {str(dtype)[6:]}"
                copy_gbs = self._copy_baselines(rows, label, nbytes)
                # the compiled backends also in a CUDA graph: kernel time without the Python
                # and launch overhead that bounds eager calls at small shapes
                candidates = self._step_candidates(label, x, w, s, gr, r)
                timed = [(what, fn, bench_ms) for what, fn in candidates]
                timed += [(f"{what}, in a CUDA graph", fn, graph_ms)
                          for what, fn in candidates
                          if what.endswith("(in-kernel noise)") and dev.type == "cuda"]
                for what, fn, timer in timed:
                    try:
                        ms = timer(fn, dev)
                        gbs = nbytes / ms / 1e6
                        base = copy_gbs["graph" if timer is graph_ms else "eager"]
                        rows.append([label, what, f"{ms:.4f}", f"{gbs:.0f}",
                                     f"{gbs / base:.2f}"])
                    except Exception as exc:
                        rows.append([label, what, f"error: {exc}", "", ""])

    def _copy_baselines(self, rows: StreamTable, label: str, nbytes: int) -> dict[str, float]:
        """GB/s of a device copy of ``nbytes``, eager and (on CUDA) in a graph. Graph rows are
        read against the copy in a graph: an eager copy of a few MB still pays its launch,
        which would flatter a kernel timed without one."""
        dev = self.device
        src = torch.empty(nbytes // 2, dtype=torch.uint8, device=dev)
        dst = torch.empty_like(src)
        gbs = {}
        timers = [("eager", "device copy (same bytes)", bench_ms)]
        if dev.type == "cuda":
            timers.append(("graph", "device copy, in a CUDA graph", graph_ms))
        for key, what, timer in timers:
            ms = timer(lambda dst=dst, src=src: dst.copy_(src), dev)
            gbs[key] = nbytes / ms / 1e6
            rows.append([label, what, f"{ms:.4f}", f"{gbs[key]:.0f}", "1.00"])
        gbs.setdefault("graph", gbs["eager"])
        return gbs

    def _step_candidates(self, label: str, x, w, s, gr, r) -> list[tuple[str, Callable]]:
        """The eager reference, torch.compile of it, and every backend's in-place step (fp32:
        both weight increments, the ratio one being the exact SMC weight of the stepper)."""
        def ref_step(x=x, w=w, s=s, gr=gr, r=r):
            return reference.fkc_step(x, w, s, gr, r, torch.randn_like(x), **COEFS)

        candidates: list[tuple[str, Callable[[], object]]] = [("reference eager", ref_step)]
        try:
            # one static graph per shape: without the reset the second shape would recompile
            # as dynamic and time a different kernel
            torch._dynamo.reset()
            compiled = torch.compile(ref_step, fullgraph=True, dynamic=False,
                                     backend=self.compile_backend)
            compiled()
            candidates.append((f"torch.compile(reference) [{self.compile_backend}]", compiled))
        except Exception as exc:
            emit(f"- torch.compile(reference) failed at {label}: {exc}")
        increments = ("fkc", "ratio") if x.dtype == torch.float32 else ("fkc",)
        for name in self.backends:
            for inc in increments:
                def step(name=name, inc=inc):
                    return fk.fkc_step_(x, w, s, gr, r, backend=name, increment=inc, **COEFS)
                what = name if inc == "fkc" else f"{name} increment=ratio"
                candidates.append((f"{what} (in-kernel noise)", step))
        return candidates

    # ---------------------------------------------------------------- resample
    @section("Resampling: time")
    def resample_timing(self) -> None:
        dev = self.device
        sizes = [300] if self.args.dry_run else [65536, 1 << 20]
        rows = StreamTable(["N", "implementation", "ms"])
        for n in sizes:
            lw = torch.randn(n, device=dev) * 3
            u = torch.tensor([0.37], dtype=torch.float64, device=dev)
            for name in ["reference", *self.backends]:
                obj = get_backend_object(name)
                fn = (lambda obj=obj, lw=lw, u=u: obj.systematic_resample(lw, u))
                timers = [("", bench_ms)] + ([(", in a CUDA graph", graph_ms)]
                                             if name != "reference" and dev.type == "cuda"
                                             else [])
                for suffix, timer in timers:
                    try:
                        rows.append([str(n), name + suffix, f"{timer(fn, dev):.4f}"])
                    except Exception as exc:
                        rows.append([str(n), name + suffix, f"error: {exc}"])

    @staticmethod
    def _select(w: torch.Tensor, k: int, n_random: int, backend: str) -> Callable[[], object]:
        return lambda: fk.select_particles(w, k, n_random, backend=backend)

    # ---------------------------------------------------------------- select
    @section("Selection: time vs eager topk + randperm")
    def selection_timing(self) -> None:
        dev = self.device
        cases = [(64, 4)] if self.args.dry_run else [(65536, 64), (1 << 20, 256)]
        rows = StreamTable(["case", "implementation", "ms"])
        for n, k in cases:
            n_random = k // 2
            w = torch.randn(n, device=dev)

            def eager(w=w, k=k, n=n, n_random=n_random):
                top = torch.topk(w, k - n_random).indices
                rest = torch.ones(n, dtype=torch.bool, device=dev)
                rest[top] = False
                others = torch.nonzero(rest).flatten()  # host sync, as eager code does
                pick = others[torch.randperm(others.numel(), device=dev)[:n_random]]
                return torch.cat([top, pick])

            cands = [("eager topk + randperm", eager),
                     ("reference (sort, philox keys)",
                      self._select(w, k, n_random, "reference"))]
            timed = [(what, fn, bench_ms) for what, fn in cands]
            seeds = torch.tensor([12345, 678], dtype=torch.int64, device=dev)
            for name in sorted(self.backends, key=lambda b: b != "cuda"):  # sticky faults
                timed.append((name, self._select(w, k, n_random, name), bench_ms))
                for what, op in gpu_correct.select_ops(name):
                    label = name if what == "select_particles" else f"{name} {what}"
                    call = (lambda op=op, w=w, k=k, nr=n_random, seeds=seeds: op(w, k, nr, seeds))
                    if what != "select_particles":
                        timed.append((label, call, bench_ms))
                    if dev.type == "cuda":
                        timed.append((f"{label}, op alone in a CUDA graph", call, graph_ms))
            for what, fn, timer in timed:
                try:
                    rows.append([f"N={n} k={k}", what, f"{timer(fn, dev):.4f}"])
                except Exception as exc:
                    rows.append([f"N={n} k={k}", what, f"error: {exc}"])

    # ---------------------------------------------------------------- loop
    @section("Sampler loop: K=100 fused steps, eager vs one CUDA graph")
    def sampler_loop(self) -> None:
        n, d, n_steps = (16, 8, 3) if self.args.dry_run else (4096, 64, 100)
        emit(f"N={n}, D={d}, K={n_steps}. `glue`: score and reward in eager torch ops and a seed "
             "draw around each step; `fused`: one seed draw per loop, coefficients in a device "
             "table, score+reward in one torch.compile'd function. Kernels per step counted by "
             "torch.profiler (CUDA kernels of one eager loop / K).")
        rows = StreamTable(["backend", "loop", "mode", "ms per loop", "us per step",
                            "kernels per step"])
        loops = gpu_loops.gaussian_loops(self.device, n, d, n_steps, self.compile_backend)
        gpu_loops.time_loops(rows, loops, ["reference", *self.backends], self.device, n_steps,
                             bench_ms, skip=lambda b, loop: b == "reference" and loop == "fused")

    # ---------------------------------------------------------------- select probe
    @section("Triton selection, part by part (bench/probe_triton_select.py)")
    def selection_probe(self) -> None:
        if "triton" not in self.backends:
            emit("skipped: the Triton backend does not run here")
            return
        emit("```")
        for line in probe_triton_select.main(["--dry-run"] if self.args.dry_run else []):
            emit(line)
        emit("```")

    # ---------------------------------------------------------------- gmm loop
    @section("Mixture loop: K=100 steps, score+reward compiled beside the step vs gmm_step")
    def mixture_loop(self) -> None:
        n, d, n_steps = (16, 8, 3) if self.args.dry_run else (4096, 64, 100)
        emit(f"N={n}, D={d}, K={n_steps}; the `gmm` task's model in {d} dimensions (8 modes, "
             "std 0.15; reward log-sum of two bumps, width 0.5), VP, LinearTilt(4). "
             "`two-kernel`: mixture score + bump reward in one torch.compile'd function, then "
             "fkc_step_; `one-kernel`: gmm_step_ a step (score, reward and step in one kernel); "
             "`one-launch`: gmm_loop_ (all K steps in one kernel on a backend with a loop "
             "kernel). All draw the K seeds at once. Target (issue 20): <= 300 us a loop in one "
             "graph.")
        check = StreamTable(["backend", "one step vs reference (explicit noise)", "status"])
        for name in self.backends:
            ex, ew = gpu_loops.mixture_agreement(self.device, n, d, name)
            # tests/ops/test_gmm_step.py tolerances at |x| ~ 2, rows of 64
            ok = ex < 1e-4 and ew < 1e-3
            check.append([name, f"x {ex:.2e}, w {ew:.2e}", "ok" if ok else "**FAIL**"])
        emit("")
        rows = StreamTable(["backend", "loop", "mode", "ms per loop", "us per step",
                            "kernels per step"])
        loops = gpu_loops.mixture_loops(self.device, n, d, n_steps, self.compile_backend)
        gpu_loops.time_loops(rows, loops, ["reference", *self.backends], self.device, n_steps,
                             bench_ms, skip=lambda b, loop: b == "reference" and not DRY)
        if "triton" in self.backends:
            emit("\nTriton's tile for the one-launch loop (rows a program, warps), in one graph:")
            sweep = StreamTable(["rows a program", "warps", "ms per loop", "us per step"])
            tiles = gpu_loops.TRITON_TILES[:2] if DRY else gpu_loops.TRITON_TILES
            gpu_loops.triton_tile_sweep(sweep, self.device, n, d, n_steps, bench_ms, tiles)
            emit("\nTriton's one-launch loop with its component tables and its pairs of "
                 "components switched off, in one graph:")
            variants = StreamTable(["component tables", "pairs", "ms per loop", "us per step"])
            gpu_loops.triton_variant_sweep(variants, self.device, n, d, n_steps, bench_ms)
        emit("\nThe one-launch loop against the model's size (components of the mixture, bumps "
             "of the reward), in one graph; the fit's slope is one component's latency a step:")
        comp = StreamTable(["backend", "components", "bumps", "ms per loop", "us per step"])
        cases = gpu_loops.COMPONENT_CASES[:2] if DRY else gpu_loops.COMPONENT_CASES
        gpu_loops.component_sweep(comp, self.backends, self.device, n, d, n_steps, bench_ms,
                                  cases)

    # ---------------------------------------------------------------- pytest
    @section("CUDA tests on the device (pytest -m cuda)")
    def cuda_tests(self) -> None:
        if self.args.dry_run:
            emit("skipped in the dry run (no GPU)")
            return
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        # a bare GPU machine runs the source tree uninstalled (fkc_align lives in python/),
        # and compiled Triton on the device (tests/conftest.py defaults to the interpreter)
        env = dict(os.environ, TRITON_INTERPRET="0", PYTHONPATH=os.pathsep.join(
            [root, os.path.join(root, "python"), os.environ.get("PYTHONPATH", "")]))
        proc = subprocess.run([sys.executable, "-m", "pytest", "-m", "cuda", "-q",
                               "-p", "no:cacheprovider", os.path.join(root, "tests")],
                              capture_output=True, text=True, cwd=root, env=env)
        text = proc.stdout + proc.stderr
        # the whole log beside the report: a tail alone hides which tests failed and why
        with open(os.path.join(self.args.out, "pytest_cuda.log"), "w") as fh:
            fh.write(text)
        failed = sorted({ln.split(" ")[1].split("[")[0] for ln in text.splitlines()
                         if ln.startswith("FAILED ")})
        tail = text.strip().splitlines()[-8:]
        emit(f"failing tests (parameters folded): {failed or 'none'}")
        emit("```")
        for line in tail:
            emit(line)
        emit("```")
        emit(f"exit status {proc.returncode}")

    def discover_backends(self) -> None:
        """The backends that run on this device, without printing (for a section's subprocess)."""
        names = ("reference", "triton") if self.args.dry_run else BACKEND_NAMES
        self.backends = [n for n in names
                         if n != "reference" and unavailable_reason(n, self.device) is None]

    def run_sections(self, names: list[str]) -> None:
        if "env" not in names:
            self.discover_backends()
        for name in names:
            getattr(self, SECTIONS[name])()


# in the order they run: the tests and the kernels never yet seen right on a GPU first, so a
# budget cut loses least
SECTIONS = {"env": "environment", "pytest": "cuda_tests", "correct": "correctness",
            "selprobe": "selection_probe", "select": "selection_timing",
            "gmmloop": "mixture_loop", "step": "step_timing", "loop": "sampler_loop",
            "resample": "resample_timing"}


def run_isolated(args: argparse.Namespace, path: str) -> None:
    """Each section in a fresh process, within the time budget.

    A CUDA fault is sticky for the process that hit it, so a failing section must not take the
    later ones down; the extension build and Triton's kernel cache are on disk, so later
    processes reuse what the first one compiled.
    """
    t0 = time.perf_counter()
    for name in args.sections:
        left = args.budget_s - (time.perf_counter() - t0)
        if left < 5:
            emit(f"\n## {name}: skipped, the {args.budget_s:.0f} s budget is spent\n")
            continue
        cmd = [sys.executable, os.path.abspath(__file__), "--sections", name, "--no-isolate",
               "--report", path, "--out", args.out] + (["--dry-run"] if args.dry_run else [])
        try:
            rc = subprocess.run(cmd, timeout=left).returncode
            if rc != 0:
                emit(f"\n**section `{name}` process exited with {rc}** (see its output above)")
        except subprocess.TimeoutExpired:
            emit(f"\n**section `{name}` stopped at the budget** ({args.budget_s:.0f} s in all)")
    emit(f"\n_total {time.perf_counter() - t0:.1f} s_")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true",
                        help="tiny shapes on the CPU under the Triton interpreter")
    parser.add_argument("--out", default=os.environ.get("OUT", "bench/out"),
                        help="folder for gpu_check.md (default $OUT or bench/out)")
    parser.add_argument("--sections", type=lambda v: v.split(","), default=list(SECTIONS),
                        help=f"comma-separated subset of {','.join(SECTIONS)} (default: all)")
    parser.add_argument("--budget-s", type=float, default=420.0,
                        help="wall-clock budget; sections that would start later are skipped")
    parser.add_argument("--no-isolate", action="store_true",
                        help="run the sections in this process (default: one process each)")
    parser.add_argument("--report", help=argparse.SUPPRESS)  # set by the isolating parent
    args = parser.parse_args(argv)
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"--sections: unknown {unknown}; expected some of {list(SECTIONS)}")
    global DRY, REPORT_PATH
    DRY = args.dry_run
    if not args.dry_run and not torch.cuda.is_available():
        print("no CUDA device visible; use --dry-run for the CPU smoke test", file=sys.stderr)
        return 2
    path = args.report
    if path is None:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "gpu_check_dry.md" if args.dry_run else "gpu_check.md")
        with open(path, "w") as fh:
            fh.write(f"# fkc-kernels GPU check ({time.strftime('%Y-%m-%d %H:%M')})\n")
    REPORT_PATH = path
    if args.no_isolate:
        Check(args).run_sections(args.sections)
    else:
        run_isolated(args, path)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
