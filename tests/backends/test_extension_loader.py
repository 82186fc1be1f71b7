"""The C++ extension's loader and dispatch: "auto" picks it for CPU tensors, and with the library
off, import works, "auto" falls back and backend="cpu" says why."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

pytestmark = pytest.mark.usefixtures("cpu_backend")


def test_auto_picks_cpu_for_cpu_tensors():
    from fkc_kernels.ops._backends import resolve_backend

    assert resolve_backend("auto", torch.device("cpu")).name == "cpu"


def test_fallback_when_the_extension_is_off():
    code = (
        "import torch, fkc_kernels as fk\n"
        "assert 'cpu' not in fk.available_backends(), fk.available_backends()\n"
        "x = torch.randn(3, 4)\n"
        "fk.fkc_step(x, torch.ones(3), x, x, torch.zeros(3), h=0.1, g=1.0, lam=0.0, dlam=0.0)\n"
        "try:\n"
        "    fk.fkc_step(x, torch.ones(3), x, x, torch.zeros(3), h=0.1, g=1.0, lam=0.0, dlam=0.0,"
        " backend='cpu')\n"
        "except ValueError as e:\n"
        "    assert 'FKC_DISABLE_EXT=1' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('backend=cpu did not raise')\n"
    )
    env = dict(os.environ, FKC_DISABLE_EXT="1")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
