"""The command line of ``python -m fkc_kernels.bench`` (also ``fkc-kernels-bench``).

    python -m fkc_kernels.bench                          # default shapes, a table
    python -m fkc_kernels.bench --shape 4096x3072 --shape 65536x64 --json
    python -m fkc_kernels.bench --backend all --skip loop

Backends: by default every compiled backend that runs on the device (cpu: the C++ extension;
cuda: the CUDA extension and Triton); the pure-PyTorch reference (the spec, orders of magnitude
slower) and Triton under ``TRITON_INTERPRET=1`` run only when named (``--backend reference``,
``--backend all``), or when no compiled backend runs here.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import torch

from ..ops import BACKEND_NAMES, unavailable_reason
from .machine import machine_info, versions
from .measure import loop_row, resample_row, select_row, step_row

DEFAULT_SHAPES = [(4096, 3072), (65536, 64), (256, 12288)]
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
KINDS = ("step", "select", "resample", "loop")


def _positive_ints(text: str, sep: str, what: str, count: int) -> tuple[int, ...]:
    parts = text.lower().split(sep)
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != count or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return values


def _shape(text: str) -> tuple[int, int]:
    return _positive_ints(text, "x", "NxD, positive particles x dims (e.g. 4096x3072)", 2)


def _select_case(text: str) -> tuple[int, int]:
    return _positive_ints(text, ":", "N:k, positive particles:picked (e.g. 65536:64)", 2)


def _count(text: str) -> int:
    return _positive_ints(text, ",", "a positive integer", 1)[0]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m fkc_kernels.bench",
        description="Particle throughput of fkc-kernels' fused ops on this machine.")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: cuda when a GPU is visible, else cpu")
    p.add_argument("--backend", action="append", metavar="NAME",
                   help=f"one of {list(BACKEND_NAMES)} or 'all' (repeatable; default: the "
                        "compiled backends that run on the device)")
    p.add_argument("--shape", action="append", type=_shape, metavar="NxD",
                   help="fused-step shape (repeatable; default: "
                        + ", ".join(f"{n}x{d}" for n, d in DEFAULT_SHAPES) + ")")
    p.add_argument("--dtype", choices=list(DTYPES), default="float32", help="particle dtype")
    p.add_argument("--select", action="append", type=_select_case, metavar="N:k",
                   help="selection case (repeatable; default 65536:64, on CUDA also 1048576:256)")
    p.add_argument("--resample", action="append", type=_count, metavar="N",
                   help="resampling size (repeatable; default 65536, on CUDA also 1048576)")
    p.add_argument("--loop", type=_shape, default=(4096, 64), metavar="NxD",
                   help="shape of the K-step loop (default 4096x64)")
    p.add_argument("--loop-steps", type=_count, default=100, metavar="K",
                   help="K, steps of the loop (default 100)")
    p.add_argument("--skip", action="append", choices=KINDS, default=[],
                   help="leave out a kind of measurement (repeatable)")
    p.add_argument("--reps", type=_count, default=15,
                   help="timed calls per number on the CPU (median); on CUDA, milliseconds of "
                        "triton.testing.do_bench (default 15)")
    p.add_argument("--budget-s", type=float, default=5.0,
                   help="CPU: stop a number's reps after this many seconds (at least 3 calls)")
    p.add_argument("--threads", type=_count, help="torch threads (default: torch's)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    return p


def _device(parser: argparse.ArgumentParser, name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        parser.error("--device: 'cuda' was asked for, but no CUDA device is visible "
                     "(torch.cuda.is_available() is False)")
    return torch.device(name)


def _interpreted(name: str, device: torch.device) -> bool:
    return name == "triton" and device.type == "cpu"


def choose_backends(parser: argparse.ArgumentParser, asked: list[str] | None,
                    device: torch.device) -> tuple[list[str], dict[str, str]]:
    """The backends to time, and the ones left out with why."""
    runs = {n: unavailable_reason(n, device) for n in BACKEND_NAMES}
    if asked:
        for name in asked:
            if name != "all" and name not in BACKEND_NAMES:
                parser.error(f"--backend: expected 'all' or one of {list(BACKEND_NAMES)}, "
                             f"got {name!r}")
            if name in runs and runs[name] is not None:
                parser.error(f"--backend: {name!r} cannot run {device.type} tensors here: "
                             f"{runs[name]}")
        chosen = [n for n in BACKEND_NAMES
                  if runs[n] is None and ("all" in asked or n in asked)]
    else:
        chosen = [n for n in BACKEND_NAMES if runs[n] is None and n != "reference"
                  and not _interpreted(n, device)] or ["reference"]
    left = {n: why or _why_not_timed(n, device, bool(asked))
            for n, why in runs.items() if n not in chosen}
    return chosen, left


def _why_not_timed(name: str, device: torch.device, asked: bool) -> str:
    """Why a backend that runs here is left out."""
    if asked:
        return f"not asked for (--backend {name})"
    if name == "reference":
        return "the pure-PyTorch spec, not timed by default (--backend reference)"
    return "runs under the Triton interpreter only here (--backend triton)"


def run(args: argparse.Namespace, device: torch.device, backends: list[str],
        skipped: dict[str, str]) -> dict:
    """Every measurement the arguments ask for; the command's JSON object."""
    cuda = device.type == "cuda"
    dtype = DTYPES[args.dtype]
    shapes = args.shape or DEFAULT_SHAPES
    selects = args.select or ([(65536, 64), (1 << 20, 256)] if cuda else [(65536, 64)])
    resamples = args.resample or ([65536, 1 << 20] if cuda else [65536])
    timing = dict(reps=args.reps, budget_s=args.budget_s)
    out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "machine": machine_info(device), "versions": versions(), "device": str(device),
           "dtype": args.dtype, "backends": backends, "not_timed": skipped,
           "load_average_before": [round(v, 2) for v in os.getloadavg()],
           "step": [], "select": [], "resample": [], "loop": []}
    for b in backends:
        if "step" not in args.skip:
            out["step"] += [step_row(b, n, d, device, dtype=dtype, **timing) for n, d in shapes]
        if "select" not in args.skip:
            out["select"] += [select_row(b, n, k, device, **timing) for n, k in selects]
        if "resample" not in args.skip:
            out["resample"] += [resample_row(b, n, device, **timing) for n in resamples]
        if "loop" not in args.skip:
            out["loop"].append(loop_row(b, *args.loop, args.loop_steps, device, **timing))
    out["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    return out


def _num(v: float | None, digits: int = 2) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def _header(res: dict) -> list[str]:
    m, v = res["machine"], res["versions"]
    isa = "AVX-512" if m["avx512"] else "AVX2" if m["avx2"] else "no AVX2"
    gpu = m["gpu"]
    gpu_text = (f"{gpu['name']} ({gpu['memory_gib']} GiB, {gpu['sms']} SMs, CUDA {gpu['cuda']})"
                if gpu else "none used")
    left = "; ".join(f"{n}: {why}" for n, why in res["not_timed"].items()) or "none"
    return [
        f"fkc-kernels bench, {res['date']}",
        f"machine: {m['cpu']}, {m['cores']} logical cores, {m['torch_threads']} torch threads, "
        f"{isa} (cpu noise path: {m['cpu_noise_isa'] or 'not built'}); load average "
        f"{' '.join(map(str, res['load_average_before']))} before, "
        f"{' '.join(map(str, res['load_average_after']))} after",
        f"gpu: {gpu_text}",
        f"versions: python {v['python']}, torch {v['torch']}, triton {v['triton'] or '-'}, "
        f"fkc-kernels {v['fkc_kernels']}",
        f"device: {res['device']}, dtype {res['dtype']}, backends timed: "
        f"{', '.join(res['backends'])}; not timed: {left}",
    ]


def format_tables(res: dict) -> str:
    """The result as text: the header lines, then one markdown table per measurement kind."""
    lines = _header(res)
    tables = [
        ("Fused step (fkc_step_, in place, in-kernel noise); of copy = same-run copy time of "
         "the same bytes / step time", "step",
         ["backend", "N x D", "ms", "particles·steps/s", "GB/s", "copy GB/s", "of copy",
          "in a CUDA graph, ms"],
         lambda r: [r["backend"], "{} x {}".format(*r["shape"]), _num(r["ms"], 3),
                    f"{r['particle_steps_per_s']:.3g}", _num(r["gb_per_s"], 1),
                    _num(r["copy_gb_per_s"], 1), _num(r["of_copy"]), _num(r["graph_ms"], 4)]),
        ("Selection (select_particles, k/2 of them random)", "select",
         ["backend", "N", "k", "µs"],
         lambda r: [r["backend"], str(r["n"]), str(r["k"]), _num(r["us"], 1)]),
        ("Resampling (systematic_resample)", "resample", ["backend", "N", "µs"],
         lambda r: [r["backend"], str(r["n"]), _num(r["us"], 1)]),
        ("K-step loops, µs per step, seeds from one draw: a closed-form Gaussian score beside "
         "fkc_step_, and gmm_loop_ (the gmm task's mixture score and reward fused into the step; "
         "one launch for all K on a backend with a loop kernel)", "loop",
         ["backend", "N x D", "K", "Gaussian", "Gaussian, one CUDA graph", "gmm_loop_",
          "gmm_loop_, one CUDA graph"],
         lambda r: [r["backend"], "{} x {}".format(*r["shape"]), str(r["steps"]),
                    _num(r["us_per_step"], 1), _num(r["graph_us_per_step"], 1),
                    _num(r["mixture_us_per_step"], 1), _num(r["mixture_graph_us_per_step"], 1)]),
    ]
    for title, key, head, row in tables:
        if not res[key]:
            continue
        lines += ["", title, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row(r)) + " |" for r in res[key]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, measure, print; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not (math.isfinite(args.budget_s) and args.budget_s > 0):
        parser.error(f"--budget-s: expected a positive number of seconds, got {args.budget_s}")
    device = _device(parser, args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    backends, skipped = choose_backends(parser, args.backend, device)
    res = run(args, device, backends, skipped)
    print(json.dumps(res, indent=1) if args.json else format_tables(res))
    return 0


def console_main() -> None:
    """Entry point of the ``fkc-kernels-bench`` console script."""
    sys.exit(main())
