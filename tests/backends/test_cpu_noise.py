"""The C++ CPU noise path (csrc/cpu/noise_simd.cpp): every instruction set writes the same bits,
the fused step uses exactly those normals, and they are the reference's to a stated bound."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

import fkc_kernels as fk
from fkc_kernels import reference
from fkc_kernels.reference.philox import draw_philox_seeds

pytestmark = pytest.mark.usefixtures("cpu_backend")

SEEDS = torch.tensor([0x1234_5678_9ABC_DEF, 0xFEDC_BA98_7654], dtype=torch.int64)
ISAS = ("avx512", "avx2", "scalar")


def _supported(isa: str) -> bool:
    try:
        torch.ops.fkc.philox_normal_cpu(SEEDS, 4, 0, isa)
    except RuntimeError as exc:
        assert "cannot run" in str(exc), exc
        return False
    return True


def _ulp_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distance in float32 steps (monotone integer image of the bits)."""
    def ordered(t):
        i = t.view(torch.int32).long()
        return torch.where(i < 0, -(i & 0x7FFFFFFF), i)
    return (ordered(a) - ordered(b)).abs()


@pytest.mark.parametrize("numel,start", [(1, 0), (3, 5), (64, 0), (130, 2), (5000, 7),
                                         (40_000, 1)])
def test_every_instruction_set_writes_the_same_bits(numel, start):
    isas = [i for i in ISAS if _supported(i)]
    assert "scalar" in isas
    outs = {i: torch.ops.fkc.philox_normal_cpu(SEEDS, numel, start, i) for i in isas}
    for isa in isas:
        assert torch.equal(outs[isa], outs["scalar"]), isa


def test_this_machine_runs_a_vector_path_when_it_can():
    isa = torch.ops.fkc.cpu_noise_isa()
    assert isa in ISAS
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    if "FKC_CPU_ISA" in os.environ:
        return
    if all(f" {f}" in flags for f in ("avx512f", "avx512dq", "avx512bw", "avx512vl", "fma")):
        assert isa == "avx512"
    elif " avx2" in flags and " fma" in flags:
        assert isa == "avx2"


def test_carry_into_the_high_counter_word():
    """Groups whose low counter word wraps inside one vector step take the scalar path."""
    start = (1 << 34) - 4 * 20  # 20 groups before group 2**32
    outs = {i: torch.ops.fkc.philox_normal_cpu(SEEDS, 4 * 64, start, i)
            for i in ISAS if _supported(i)}
    ref = reference.philox_normal(SEEDS[0], SEEDS[1], 4 * 64, start=start)
    for isa, z in outs.items():
        assert torch.equal(z, outs["scalar"]), isa
    assert int(_ulp_distance(outs["scalar"], ref).max()) <= 8


def test_normals_are_the_contract_within_a_few_ulps():
    """Integers are exact; log/sin/cos polynomials differ from torch's by a few ulps (measured
    max 4 ulps over 4M normals, README); the float64 statement bounds both alike."""
    n = 1 << 16
    z = torch.ops.fkc.philox_normal_cpu(SEEDS, n, 3, "auto")
    ref32 = reference.philox_normal(SEEDS[0], SEEDS[1], n, start=3)
    ref64 = reference.philox_normal(SEEDS[0], SEEDS[1], n, start=3, dtype=torch.float64)
    assert int(_ulp_distance(z, ref32).max()) <= 8
    # same float32 angle rounding as the reference: the same distance to the exact statement
    err = (z.double() - ref64).abs().max()
    err_ref = (ref32.double() - ref64).abs().max()
    assert err <= err_ref + 4e-7, (err, err_ref)


@pytest.mark.parametrize("n,d", [(3, 7), (37, 64), (5, 1029), (2, 4100)])
def test_step_noise_is_the_noise_path(n, d):
    """h = g = 1 and zero fields: x' is the kernel's noise, bit for bit the noise path's."""
    zeros = torch.zeros(n, d)
    gen = torch.Generator().manual_seed(3)
    seeds = draw_philox_seeds(torch.Generator().manual_seed(3), torch.device("cpu"))
    x_new, _ = fk.fkc_step(zeros, torch.zeros(n), zeros, zeros, torch.zeros(n), h=1.0, g=1.0,
                           lam=0.0, dlam=0.0, generator=gen, backend="cpu")
    z = torch.ops.fkc.philox_normal_cpu(seeds, n * d, 0, "auto").view(n, d)
    assert torch.equal(x_new, z)


@pytest.mark.parametrize("var,mode", [("FKC_CPU_PREFETCH", "window"), ("FKC_CPU_PREFETCH", "0"),
                                      ("FKC_CPU_SLICE", "4"), ("FKC_CPU_SLICE", "2048"),
                                      ("FKC_CPU_ISA", "avx2"), ("FKC_CPU_ISA", "scalar")])
def test_every_prefetch_mode_draws_the_same_step(var, mode):
    """The prefetch mode and slice only move loads earlier, the instruction set only changes
    the width: x' is the scalar noise path's bits under each setting (the defaults are the test
    above), over many windows and tasks on 2 threads, in the general loop and the short-row one
    (D = 64, 192)."""
    code = (
        "import torch, fkc_kernels as fk\n"
        "from fkc_kernels.reference.philox import draw_philox_seeds\n"
        "torch.set_num_threads(2)\n"
        "for n, d in [(300, 1029), (9000, 7), (3, 4100), (2000, 64), (700, 192)]:\n"
        "    zeros = torch.zeros(n, d)\n"
        "    gen = torch.Generator().manual_seed(5)\n"
        "    seeds = draw_philox_seeds(torch.Generator().manual_seed(5), torch.device('cpu'))\n"
        "    x, _ = fk.fkc_step(zeros, torch.zeros(n), zeros, zeros, torch.zeros(n), h=1.0,"
        " g=1.0, lam=0.0, dlam=0.0, generator=gen, backend='cpu')\n"
        "    z = torch.ops.fkc.philox_normal_cpu(seeds, n * d, 0, 'scalar').view(n, d)\n"
        "    assert torch.equal(x, z), (n, d)\n"
    )
    env = dict(os.environ, **{var: mode})
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_bad_instruction_set_is_named():
    with pytest.raises(RuntimeError, match="isa: expected 'auto', 'avx512', 'avx2' or 'scalar'"):
        torch.ops.fkc.philox_normal_cpu(SEEDS, 4, 0, "sse9")
