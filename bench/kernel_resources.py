"""Registers, spills, shared memory and load/store vector widths of every GPU kernel, without a GPU.

    python bench/kernel_resources.py [--out bench/out/kernel_resources.md]

CUDA: each csrc/cuda/*.cu is compiled for sm_90 with the extension's nvcc flags into a cubin
(``-Xptxas -v`` gives registers, spills, smem per kernel). Triton: the launches the launchers make
at the benchmark shapes are recorded and compiled ahead of time for ``GPUTarget("cuda", 90, 32)``
as the JIT would specialise them (bench/triton_aot.py; interpreter off), and each PTX is
assembled by triton's ptxas with ``-v``. For every kernel the SASS (cuobjdump) gives the number
of global loads and stores by width (``LDG.E.128`` = 16 bytes a thread). A regression in
registers, spills or vector width shows here before any GPU run. The Triton selection kernel is
compiled at N = 65536, k = 64 and N = 2^20, k = 256 (2-3 s each).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter

os.environ.pop("TRITON_INTERPRET", None)  # compile, never interpret

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import triton_aot  # noqa: E402  (bench/, beside this file: records and compiles the launches)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ARCH = "sm_90"
STEP_SHAPES = [(65536, 64), (4096, 3072), (1024, 12288), (256, 12288), (4096, 16384)]


def _tool(name: str) -> str | None:
    """A CUDA binary tool: the toolkit's, else the one triton ships."""
    cuda = os.environ.get("CUDA_HOME", "/usr/local/cuda")
    for cand in (os.path.join(cuda, "bin", name), shutil.which(name)):
        if cand and os.path.exists(cand):
            return cand
    try:
        import triton

        cand = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", name)
        return cand if os.path.exists(cand) else None
    except ImportError:
        return None


def _demangle(names: list[str]) -> dict[str, str]:
    if not names or shutil.which("c++filt") is None:
        return {n: n for n in names}
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True)
    return dict(zip(names, out.stdout.splitlines(), strict=False))


def parse_ptxas(text: str) -> dict[str, dict]:
    """Per kernel (mangled name): registers, spill stores/loads (bytes), smem, stack."""
    info: dict[str, dict] = {}
    current = None
    for line in text.splitlines():
        m = re.search(r"(?:Compiling entry function|Function properties for) '?([\w$]+)'?", line)
        if m:
            current = m.group(1)
            info.setdefault(current, {})
            continue
        if current is None:
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill "
                      r"loads", line)
        if m:
            info[current].update(stack=int(m.group(1)), spill_st=int(m.group(2)),
                                 spill_ld=int(m.group(3)))
        m = re.search(r"Used (\d+) registers", line)
        if m:
            info[current]["regs"] = int(m.group(1))
            sm = re.search(r"(\d+) bytes smem", line)
            info[current]["smem"] = int(sm.group(1)) if sm else 0
    return info


def sass_widths(cubin: str) -> dict[str, tuple[Counter, Counter]]:
    """Per kernel: Counter of global load widths and of store widths, from cuobjdump -sass."""
    tool = _tool("cuobjdump")
    if tool is None:
        return {}
    text = subprocess.run([tool, "-sass", cubin], capture_output=True, text=True).stdout
    out: dict[str, tuple[Counter, Counter]] = {}
    name = None
    for line in text.splitlines():
        m = re.search(r"Function : (\S+)", line)
        if m:
            name = m.group(1)
            out[name] = (Counter(), Counter())
            continue
        if name is None:
            continue
        m = re.search(r"\b(LDG|STG)\.E((?:\.\w+)*)", line)
        if m:
            mods = m.group(2).split(".")
            width = next((w for w in ("128", "64", "U16", "16", "U8", "8") if w in mods), "32")
            out[name][0 if m.group(1) == "LDG" else 1][width] += 1
    return out


def _widths(c: Counter) -> str:
    order = ["128", "64", "32", "16", "U16", "8", "U8"]
    return " ".join(f"{w}b×{c[w]}" for w in order if c[w]) or "-"


ROW_HEADER = ("| kernel | config | regs | spill st/ld B | smem B | LDG widths | STG widths |\n"
              "|---|---|---|---|---|---|---|")


def _row(kernel: str, config: str, info: dict, ld: Counter, st: Counter) -> str:
    return (f"| {kernel} | {config} | {info.get('regs', '?')} | "
            f"{info.get('spill_st', '?')}/{info.get('spill_ld', '?')} | {info.get('smem', 0)} | "
            f"{_widths(ld)} | {_widths(st)} |")


def cuda_rows(tmp: str) -> list[str]:
    nvcc = _tool("nvcc")
    if nvcc is None:
        return ["(no nvcc: CUDA kernels skipped)"]
    import sysconfig

    from torch.utils.cpp_extension import include_paths

    from fkc_kernels.extension import _build_config as cfg

    rows = []
    for src in cfg.CUDA_SOURCES:
        cubin = os.path.join(tmp, os.path.basename(src) + ".cubin")
        cmd = [nvcc, "-std=c++20", f"-arch={ARCH}", "-cubin", "-Xptxas", "-v", "-o", cubin,
               *cfg.nvcc_flags(), "-I", os.path.join(ROOT, "csrc"),
               "-I", sysconfig.get_paths()["include"],
               *[f"-I{p}" for p in include_paths()], os.path.join(ROOT, src)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            rows.append(f"| {src} | compile failed | | | | | |\n\n```\n{proc.stderr[-2000:]}\n```")
            continue
        info = parse_ptxas(proc.stderr)
        widths = sass_widths(cubin)
        names = _demangle(sorted(info))
        for mangled in sorted(info, key=lambda m: names[m]):
            ld, st = widths.get(mangled, (Counter(), Counter()))
            pretty = names[mangled].replace("(anonymous namespace)::", "")
            pretty = re.sub(r"^void ", "", pretty).replace("fkc::cuda::", "")
            pretty = re.sub(r"\((?:[^()]|\([^()]*\))*\)$", "", pretty)  # the parameter list
            pretty = pretty.replace("c10::", "")
            rows.append(_row(pretty, os.path.basename(src), info[mangled], ld, st))
    return rows


def _triton_row(kernel: str, config: str, compiled, tmp: str) -> str:
    ptx = os.path.join(tmp, "k.ptx")
    with open(ptx, "w") as fh:
        fh.write(compiled.asm["ptx"])
    # triton emits sm_90a PTX (Hopper-specific features allowed)
    proc = subprocess.run([_tool("ptxas"), f"-arch={ARCH}a", "-v", ptx, "-o",
                           os.path.join(tmp, "k.o")], capture_output=True, text=True)
    info = next(iter(parse_ptxas(proc.stderr).values()), {})
    cubin = os.path.join(tmp, "k.cubin")
    with open(cubin, "wb") as fh:
        fh.write(compiled.asm["cubin"])
    ld, st = next(iter(sass_widths(cubin).values()), (Counter(), Counter()))
    return _row(kernel, config, info, ld, st)


def _launch_rows(config: str, call, tmp: str) -> list[str]:
    """A row per launch of ``call`` (a bench/triton_aot.py call builder), compiled for sm_90 as
    the JIT would specialise it."""
    rows = []
    for name, fn, args, kwargs in triton_aot.launches(call):
        t0 = time.perf_counter()
        compiled = triton_aot.compile_launch(fn, args, kwargs, 90)
        took = f" ({time.perf_counter() - t0:.0f} s)"
        rows.append(_triton_row(f"triton {name}", config + took, compiled, tmp))
    return rows


def triton_rows(tmp: str) -> list[str]:
    """The Triton kernels at the benchmark shapes, from the launches their launchers make
    (bench/triton_aot.py records them on CPU tensors)."""
    try:
        import torch

        from fkc_kernels.triton import fkc_step as ts
        from fkc_kernels.triton._host import cdiv
    except Exception as exc:  # triton missing: say so
        return [f"(Triton kernels skipped: {type(exc).__name__}: {exc})"]
    rows = []
    for n, d in STEP_SHAPES:
        block_n, block_d, warps = ts.block_sizes(n, d)
        splits = ts.d_splits(cdiv(n, block_n), d, block_d, torch.device("cuda"))
        # both increments in fp32 (the ratio's row sums replace the FKC ones), bf16 the FKC one
        for tname, dtype, inc in [("fp32", torch.float32, "fkc"), ("fp32", torch.float32, "ratio"),
                                  ("bf16", torch.bfloat16, "fkc")]:
            config = (f"({n}, {d}) {tname}{' ratio' if inc == 'ratio' else ''}: BLOCK "
                      f"{block_n}x{block_d}, {warps} warps{', split D' if splits > 1 else ''}")
            rows += _launch_rows(config, lambda n=n, d=d, dt=dtype, i=inc, s=splits:
                                 triton_aot.step_call(n, d, dt, i, split=s), tmp)
    rows += _launch_rows("N=65536", lambda: triton_aot.resample_call(65536), tmp)
    for n, k in [(65536, 64), (1 << 20, 256)]:
        rows += _launch_rows(f"N={n} k={k}",
                             lambda n=n, k=k: triton_aot.select_call(n, k, k // 2), tmp)
    # the mixture step at the loop's shape and at the row-length extremes, and its K-step loop
    for n, d, tname, inc in [(4096, 64, "fp32", "fkc"), (4096, 64, "fp32", "ratio"),
                             (4096, 64, "bf16", "fkc"), (65536, 2, "fp32", "fkc"),
                             (256, 1024, "fp32", "fkc")]:
        dtype = torch.float32 if tname == "fp32" else torch.bfloat16
        config = f"({n}, {d}) {tname}{' ratio' if inc == 'ratio' else ''}"
        rows += _launch_rows(config, lambda n=n, d=d, dt=dtype, i=inc:
                             triton_aot.gmm_call(n, d, dt, None, i), tmp)
    rows += _launch_rows("(4096, 64) fp32, K = 100",
                         lambda: triton_aot.gmm_call(4096, 64, torch.float32, 100), tmp)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the table to this markdown file")
    parser.add_argument("--skip-triton", action="store_true")
    args = parser.parse_args(argv)
    lines = [f"Kernel resources for {ARCH} ({time.strftime('%Y-%m-%d %H:%M')}; "
             f"`python bench/kernel_resources.py`)", "", ROW_HEADER]
    print("\n".join(lines), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows = cuda_rows(tmp)
        for r in rows:
            print(r, flush=True)
        lines += rows
        if not args.skip_triton:
            trows = triton_rows(tmp)
            for r in trows:
                print(r, flush=True)
            lines += trows
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as fh:
            fh.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
