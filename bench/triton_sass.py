"""Count a Triton kernel's SASS instructions per loop body, without a GPU.

A GPU kernel whose programs are few (the mixture loop at (4096, 64): 256 programs of 4 warps on
132 SMs) is bound by the instructions its warps issue and by barriers, not by memory. This
script compiles the launches of one of bench/triton_aot.py's cases for sm_90, disassembles the
cubin with the nvdisasm that ships with triton, and prints, for each loop of the SASS (a
backward branch), the instructions and barriers of its body. It counts; it does not time:
the GPU run (bench/gpu_check.py's ``gmmloop``) says whether fewer instructions made it faster.

    python bench/triton_sass.py [--op gmm_loop] [--case 0] [--arch 90]   # TRITON_INTERPRET unset
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

import triton_aot  # unsets TRITON_INTERPRET and puts fkc_kernels on the path

_INSTRUCTION = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(.*?);")
_LABEL = re.compile(r"^(\.L_x_\d+):")
_BRANCH = re.compile(r"\bBRA\b.*`\((\.L_x_\d+)\)")


def parse_sass(text: str) -> tuple[list[tuple[int, str]], dict[str, int]]:
    """The instructions ``(address, text)`` of ``nvdisasm -c`` output and each label's address
    (that of the instruction after it)."""
    instructions, labels, pending = [], {}, []
    for line in text.splitlines():
        m = _LABEL.match(line.strip())
        if m:
            pending.append(m.group(1))
            continue
        m = _INSTRUCTION.search(line)
        if m:
            address = int(m.group(1), 16)
            for name in pending:
                labels[name] = address
            pending = []
            instructions.append((address, m.group(2).strip()))
    return instructions, labels


def loops(instructions: list[tuple[int, str]], labels: dict[str, int]) -> list[dict]:
    """Each backward branch's body: its first and last address, instructions and barriers."""
    found = []
    for address, text in instructions:
        m = _BRANCH.search(text)
        # a branch to itself is the trap after the exit, not a loop
        if not m or labels.get(m.group(1), address) >= address:
            continue
        start = labels[m.group(1)]
        body = [t for a, t in instructions if start <= a <= address]
        found.append(dict(start=start, end=address, instructions=len(body),
                          barriers=sum("BAR.SYNC" in t for t in body)))
    return found


def disassemble(cubin: bytes) -> str:
    """``nvdisasm -c`` of a cubin, with the nvdisasm of triton's NVIDIA backend."""
    import triton

    tool = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "nvdisasm")
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        return subprocess.run([tool, "-c", f.name], capture_output=True, text=True,
                              check=True).stdout


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--op", default="gmm_loop", choices=sorted(triton_aot.CASES))
    ap.add_argument("--case", type=int, default=0, help="index into the op's cases (default 0)")
    ap.add_argument("--arch", type=int, default=90, help="compute capability (default 90)")
    args = ap.parse_args(argv)
    import triton

    label, call = triton_aot.CASES[args.op][args.case]
    print(f"triton {triton.__version__}, sm_{args.arch}, {args.op} {label}")
    for name, fn, launch_args, kwargs in triton_aot.launches(call):
        compiled = triton_aot.compile_launch(fn, launch_args, kwargs, args.arch)
        instructions, labels = parse_sass(disassemble(compiled.asm["cubin"]))
        barriers = sum("BAR.SYNC" in t for _, t in instructions)
        print(f"{name}: {len(instructions)} instructions, {barriers} barriers")
        for lp in loops(instructions, labels):
            print(f"  loop {lp['start']:#06x}-{lp['end']:#06x}: {lp['instructions']} "
                  f"instructions, {lp['barriers']} barriers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
