"""Every Triton kernel compiles for a GPU (sm_90), ahead of time, on this CPU-only machine.

The interpreter runs the kernels' Python; a GPU compile can still fail (a pass that crashes on
one specialisation, as triton 3.6 did on the selection kernel when N fit one program).
bench/triton_aot.py records the launches of representative calls and compiles each with
``triton.compile`` for ``GPUTarget("cuda", 90, 32)``; this runs it in a fresh process (the test
session imports the kernels interpreted).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_every_triton_kernel_compiles_for_sm90():
    pytest.importorskip("triton")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "triton_aot.py")], env=env,
                          capture_output=True, text=True, timeout=900)
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    results = [ln for ln in lines[1:] if ln.strip()]
    assert len(results) >= 14 and all(ln.startswith("OK") for ln in results), proc.stdout
    for kernel in ("_fkc_step_kernel", "_finish_w_kernel", "_gmm_step_kernel",
                   "_gmm_tables_kernel",
                   "_gmm_loop_kernel", "_select_kernel", "_search_kernel",
                   "_philox_normal_kernel"):
        assert kernel in proc.stdout, kernel


def test_mixture_loop_components_have_no_barrier():
    """The loop kernel's component loops read their tables and sum each logit within a warp:
    no barrier inside them (the mixture's log-determinant summed across warps put two a
    component there). bench/triton_sass.py counts the SASS for sm_90."""
    pytest.importorskip("triton")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "triton_sass.py"), "--op",
                           "gmm_loop"], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    kernel = proc.stdout.split("_gmm_loop_kernel:")[1]
    loop_lines = [ln for ln in kernel.splitlines() if ln.strip().startswith("loop ")]
    # the component loops (mixture and bumps, in pairs and one at a time) inside the loop over
    # the steps
    assert len(loop_lines) >= 3, proc.stdout
    assert all(ln.endswith(" 0 barriers") for ln in loop_lines), proc.stdout
