"""Registers, spills, shared memory and load/store vector widths of every GPU kernel, without a GPU.

    python bench/kernel_resources.py [--out bench/out/kernel_resources.md]

CUDA: each csrc/cuda/*.cu is compiled for sm_90 with the extension's nvcc flags into a cubin
(``-Xptxas -v`` gives registers, spills, smem per kernel). Triton: each kernel configuration the
launchers pick at the benchmark shapes is compiled ahead of time for ``GPUTarget("cuda", 90, 32)``
with the pointer and stride alignment the JIT would see (interpreter off), and its PTX is
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


def _triton_compile(fn, signature: dict, constexprs: dict, aligned: set[str], num_warps: int):
    import triton
    from triton.backends.compiler import GPUTarget

    attrs = {(fn.arg_names.index(a),): [["tt.divisibility", 16]] for a in aligned}
    sig = {name: ("constexpr" if name in constexprs else signature[name])
           for name in fn.arg_names}
    src = triton.compiler.ASTSource(fn=fn, signature=sig, constexprs=constexprs, attrs=attrs)
    target = GPUTarget("cuda", 90, 32)
    backend = triton.compiler.make_backend(target)
    options = backend.parse_options({"num_warps": num_warps})
    return triton.compile(src, target=target, options=options.__dict__)


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


def triton_rows(tmp: str) -> list[str]:
    try:
        import torch
        import triton

        from fkc_kernels.triton import fkc_step as ts
        from fkc_kernels.triton import systematic_resample as rs
    except Exception as exc:  # triton missing: say so
        return [f"(Triton kernels skipped: {type(exc).__name__}: {exc})"]
    rows = []
    for n, d in STEP_SHAPES:
        block_n, block_d, warps = ts.block_sizes(n, d)
        splits = ts.d_splits(triton.cdiv(n, block_n), d, block_d, torch.device("cuda"))
        d_per = triton.cdiv(triton.cdiv(d, block_d), splits) * block_d
        split = triton.cdiv(d, d_per) > 1
        # both increments in fp32 (the ratio's row sums replace the FKC ones), bf16 the FKC one
        for tname, ratio in [("fp32", False), ("fp32", True), ("bf16", False)]:
            p = f"*{tname}"
            sig = dict(x_ptr=p, s_ptr=p, gr_ptr=p, f_ptr=p, z_ptr=p, r_ptr="*fp32",
                       e_ptr="*fp32", w_ptr="*fp32", seeds_ptr="*i64", xo_ptr=p,
                       wo_ptr="*fp32", part_ptr="*fp32", N="i32", D="i32", stride_x="i32",
                       stride_s="i32", stride_gr="i32", stride_f="i32", stride_z="i32",
                       stride_xo="i32", d_per_program="i32")
            sig.update({k: "fp32" for k in ("h", "g2", "half_lam", "g_sqrt_h", "f_coef", "lam",
                                             "dlam", "half_g2_lam", "ratio_gg", "ratio_gz",
                                             "dw_clip", "w_min", "w_max")})
            const = dict(HAS_F=False, HAS_NOISE=False, HAS_EXTRA=False, RATIO=ratio,
                         NOISE_BY_GROUP=d % 4 == 0, SPLIT_D=split, BLOCK_N=block_n,
                         BLOCK_D=block_d, MULTI_TILE=d_per > block_d, stride_f=0, stride_z=0)
            aligned = {k for k, v in sig.items() if v.startswith("*")}
            aligned |= {k for k in ("D", "stride_x", "stride_s", "stride_gr", "stride_xo",
                                    "d_per_program") if d % 16 == 0}
            aligned -= set(const)
            config = (f"({n}, {d}) {tname}{' ratio' if ratio else ''}: BLOCK {block_n}x{block_d}, "
                      f"{warps} warps{', split D' if split else ''}")
            t0 = time.perf_counter()
            compiled = _triton_compile(ts._fkc_step_kernel, sig, const, aligned, warps)
            took = f" ({time.perf_counter() - t0:.0f} s)"
            rows.append(_triton_row("triton fkc_step", config + took, compiled, tmp))
    n = 65536
    block = 1024
    n_blocks = triton.cdiv(n, block)
    for fn, sig, const in [
        (rs._block_max_kernel, dict(logw_ptr="*fp32", max_ptr="*fp64", N="i32"),
         dict(BLOCK=block)),
        (rs._block_cumsum_kernel, dict(logw_ptr="*fp32", max_ptr="*fp64", cdf_ptr="*fp64",
                                       sum_ptr="*fp64", N="i32", n_blocks="i32"),
         dict(BLOCK=block, CHUNK=max(16, triton.next_power_of_2(n_blocks)))),
        (rs._normalize_kernel, dict(cdf_ptr="*fp64", sum_ptr="*fp64", N="i32", n_blocks="i32"),
         dict(BLOCK=block, CHUNK=max(16, triton.next_power_of_2(n_blocks)))),
        (rs._search_kernel, dict(cdf_ptr="*fp64", u_ptr="*fp64", out_ptr="*i64", N="i32"),
         dict(N_STEPS=n.bit_length() + 1, BLOCK=block)),
    ]:
        aligned = {k for k, v in sig.items() if v.startswith("*")} | {"N"}
        compiled = _triton_compile(fn, sig, const, aligned, 4)
        rows.append(_triton_row(f"triton {fn.__name__}", f"N={n}", compiled, tmp))
    rows.extend(_selection_rows(tmp))
    rows.extend(_gmm_rows(tmp))
    return rows


def _gmm_rows(tmp: str) -> list[str]:
    """The mixture step's kernel at the loop's shape and at the row-length extremes."""
    import triton

    from fkc_kernels.triton import gmm_step as gs

    rows = []
    for n, d, tname, ratio in [(4096, 64, "fp32", False), (4096, 64, "fp32", True),
                               (4096, 64, "bf16", False), (65536, 2, "fp32", False),
                               (256, 1024, "fp32", False)]:
        p = f"*{tname}"
        sig = dict(x_ptr=p, z_ptr=p, w_ptr="*fp32", e_ptr="*fp32", seeds_ptr="*i64", xo_ptr=p,
                   wo_ptr="*fp32", n_mix="i32", n_bumps="i32", N="i32", D="i32",
                   stride_x="i32", stride_z="i32", stride_xo="i32")
        sig.update({k: "*fp32" for k in ("mu_ptr", "var_ptr", "lw_ptr", "rc_ptr", "rv_ptr",
                                         "rk_ptr")})
        sig.update({k: "fp32" for k in ("alpha", "alpha2", "sigma2", "g2", "half_lam",
                                         "g_sqrt_h", "f_coef", "h", "lam", "dlam", "half_g2_lam",
                                         "ratio_gg", "ratio_gz", "dw_clip", "w_min", "w_max")})
        block_d = max(4, triton.next_power_of_2(d))
        block_n = max(1, min(gs._TILE // block_d, triton.next_power_of_2(n)))
        const = dict(HAS_NOISE=False, HAS_EXTRA=False, NOISE_BY_GROUP=d % 4 == 0, RATIO=ratio,
                     LOG_REWARD=True, BLOCK_N=block_n, BLOCK_D=block_d, stride_z=0)
        aligned = {k for k, v in sig.items() if v.startswith("*")}
        aligned |= {k for k in ("D", "stride_x", "stride_xo") if d % 16 == 0}
        aligned -= set(const)
        t0 = time.perf_counter()
        compiled = _triton_compile(gs._gmm_step_kernel, sig, const, aligned, 4)
        config = (f"({n}, {d}) {tname}{' ratio' if ratio else ''}: BLOCK {block_n}x{block_d}, "
                  f"4 warps ({time.perf_counter() - t0:.0f} s)")
        rows.append(_triton_row("triton gmm_step", config, compiled, tmp))
    return rows


def _selection_rows(tmp: str) -> list[str]:
    from fkc_kernels.triton import select_particles as sp

    rows = []
    sig = dict(w_ptr="*fp32", seeds_ptr="*i64", N="i32", n_top="i32", n_random="i32",
               top_key="*i64", top_idx="*i64", rnd_key="*i64", rnd_idx="*i64", counters="*i32",
               n_blocks="i32", out_ptr="*i64")
    for n, k in [(65536, 64), (1 << 20, 256)]:
        const = sp.launch_config(n, k, k // 2)
        t0 = time.perf_counter()
        compiled = _triton_compile(sp._select_kernel, sig, const,
                                   {a for a, t in sig.items() if t.startswith("*")}, sp.NUM_WARPS)
        rows.append(_triton_row("triton _select_kernel",
                                f"N={n} k={k} ({time.perf_counter() - t0:.0f} s)", compiled, tmp))
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
