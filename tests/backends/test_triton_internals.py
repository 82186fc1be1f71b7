"""Triton backend internals: the split-D step, block sizes, the selection's merge tree and the
device sort fallback, resampling over many blocks, and when the backend says it cannot run.

Runs under TRITON_INTERPRET=1 (tests/conftest.py): small grids only. What every backend must do
is in tests/ops/.
"""

from __future__ import annotations

import math

import pytest
import torch

import fkc_kernels as fk
from fkc_kernels import reference
from fkc_kernels.ops import get_backend_object
from fkc_kernels.ops._step_args import StepScalars, StepTensors

triton_backend = get_backend_object("triton")
pytestmark = pytest.mark.skipif(
    triton_backend is None or triton_backend.unavailable_reason(torch.device("cpu")) is not None,
    reason="the Triton backend cannot run CPU tensors here (needs triton and TRITON_INTERPRET=1)",
)
if triton_backend is not None:
    import triton

    from fkc_kernels.triton import fkc_step as triton_step_module
    from fkc_kernels.triton import select_particles as sel_module
    from fkc_kernels.triton import systematic_resample as rs_module

COEFS = dict(h=0.02, g=1.3, lam=0.7, dlam=2.0, f_coef=-0.4)


def _inputs(n: int, d: int, dtype=torch.float32):
    x, s, gr = (torch.randn(n, d).to(dtype) for _ in range(3))
    return x, torch.randn(n), s, gr, torch.randn(n)


@pytest.mark.parametrize("n,d,split", [(5, 123, 3), (4, 64, 2), (2, 2100, 2)])
def test_split_d_path(n, d, split):
    """Few rows, long rows: D split over programs plus a finishing kernel for w."""
    x, w, s, gr, r = _inputs(n, d)
    seeds = torch.tensor([99, 7], dtype=torch.int64)
    x_out, w_out = torch.empty_like(x), torch.empty(n)
    triton_step_module.fkc_step(StepTensors(x, w, s, gr, r, None, None, None, seeds, x_out,
                                            w_out),
                                StepScalars(**COEFS, dw_clip=0.1, w_min=-1.0, w_max=1.0),
                                split=split)
    z = reference.philox_normal(99, 7, n * d).view(n, d)
    x_r, w_r = reference.fkc_step(x, w, s, gr, r, z, **COEFS, dw_clip=0.1, w_clip=(-1.0, 1.0))
    torch.testing.assert_close(x_out, x_r, rtol=1e-6, atol=2e-6)
    torch.testing.assert_close(w_out, w_r, rtol=1e-5, atol=1e-6 * math.sqrt(d))


def test_block_sizes_and_split_heuristic():
    from fkc_kernels.triton.fkc_step import block_sizes, d_splits

    for n, d in [(1, 1), (65536, 64), (4096, 3072), (1024, 12288), (3, 7)]:
        bn, bd, _ = block_sizes(n, d)
        assert bd >= 4 and bd % 4 == 0 and bn * bd <= 4096 and bn <= max(1, 2 * n)
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert d_splits(4, 16384, 1024, cpu) == 1  # never on the interpreter
    assert d_splits(4, 16384, 1024, cuda) == 16
    assert d_splits(1024, 16384, 1024, cuda) == 1


def _check_select(w, k, n_random, seeds):
    got = triton_backend.select_particles(w, k, n_random, seeds)
    assert torch.equal(got, reference.select_particles(w, k, n_random, seeds))


@pytest.mark.parametrize("n", [120, 300])
def test_merge_tree_over_many_levels(monkeypatch, n):
    """Tiny programs and merge tiles force many blocks and several merge levels on small inputs:
    ties and NaN spanning blocks, top particles among the random winners, k above a block."""
    monkeypatch.setattr(sel_module, "_BLOCK_MIN", 16)
    monkeypatch.setattr(sel_module, "_BLOCK_MAX", 16)
    monkeypatch.setattr(sel_module, "_TILE", 32)
    launches = []
    kernel = sel_module._select_kernel
    monkeypatch.setattr(sel_module, "_select_kernel",
                        type("Counted", (), {"__getitem__": lambda _, grid: (
                            launches.append(grid), kernel[grid])[1]})())
    w = torch.randn(n)
    w[10:40] = w[5]  # ties across blocks
    w[50:60] = float("nan")
    for k, n_random in [(5, 2), (12, 4), (16, 0), (16, 16), (9, 9), (20, 3)]:
        _check_select(w, k, n_random, torch.tensor([k, n_random]))
    assert len(launches) == 6, "one kernel launch a selection"
    assert all(grid == (triton.cdiv(n, 16),) for grid in launches)


def test_largest_one_launch_k():
    """k = _MAX_KEEP (1024) on three programs: the widest rank tile and a partial last block."""
    w = torch.randn(2100)
    w[100:400] = w[7]
    _check_select(w, sel_module._MAX_KEEP, 512, torch.tensor([5, 6]))
    _check_select(w, sel_module._MAX_KEEP, 0, torch.tensor([5, 6]))


def test_select_kernel_keeps_n_blocks_a_runtime_int():
    """The JIT makes an int argument equal to 1 a constexpr; n_blocks == 1 (N <= BLOCK) would
    then fold the merge loop away and triton 3.6 aborts compiling it for a GPU (Coalesce on a
    dead region). Compiled JIT functions keep the list as an attribute, interpreted ones in
    their keyword arguments."""
    kernel = sel_module._select_kernel
    names = getattr(kernel, "do_not_specialize", None) or kernel.kwargs["do_not_specialize"]
    assert "n_blocks" in names


def test_merge_levels_sizes():
    assert sel_module._levels(1, 4) == (1, 0)
    assert sel_module._levels(19, 2) == (19 + 10 + 5 + 3 + 2 + 1, 10 + 5 + 3 + 2 + 1)
    assert sel_module._levels(256, 16) == (256 + 16 + 1, 17)


def test_large_k_falls_back_to_device_sort(monkeypatch):
    monkeypatch.setattr(sel_module, "_MAX_KEEP", 4)
    _check_select(torch.randn(40), 10, 3, torch.tensor([0x0123_4567_89AB, 42]))


def test_resample_over_many_blocks(monkeypatch):
    """Tiny blocks force the cross-block max, prefix sums and normalisation on a small input."""
    monkeypatch.setattr(rs_module, "_BLOCK", 16)
    for n in (17, 100):
        logw = torch.randn(n) * 2
        logw[n // 2] = float("nan")
        u = torch.tensor([0.61], dtype=torch.float64)
        got = triton_backend.systematic_resample(logw, u)
        assert torch.equal(got, reference.systematic_resample(logw, u=u))


def test_unavailable_reasons(monkeypatch):
    assert triton_backend.unavailable_reason(torch.device("cpu")) is None
    assert triton_backend.unavailable_reason(None) is None
    assert "CPU tensors only" in triton_backend.unavailable_reason(torch.device("cuda"))
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    reason = triton_backend.unavailable_reason(torch.device("cpu"))
    assert reason == "the Triton backend runs CPU tensors only under TRITON_INTERPRET=1"
    with pytest.raises(ValueError, match="TRITON_INTERPRET=1"):
        fk.fkc_step(*_inputs(2, 3), h=0.1, g=1.0, lam=0.0, dlam=0.0, backend="triton")


def test_host_launch_arithmetic_matches_triton():
    from fkc_kernels.triton import _host

    values = [*range(-3, 2100), 2**20 - 1, 2**20, 2**20 + 1, 2**31 - 1, 2**31, 3 * 2**40]
    assert [_host.next_power_of_2(n) for n in values] == [triton.next_power_of_2(n)
                                                          for n in values]
    pairs = [(a, b) for a in (*range(0, 70), 2**20 + 3, 2**31) for b in (1, 2, 3, 7, 64, 4096)]
    assert [_host.cdiv(a, b) for a, b in pairs] == [triton.cdiv(a, b) for a, b in pairs]


@pytest.mark.parametrize("block_n,num_warps", [(1, 1), (2, 2), (4, 4)])
def test_gmm_step_tile_override_keeps_the_result(block_n, num_warps):
    """The benchmark's tile sweep (bench/gpu_loops.py) times the same step: rows are
    independent, so any tile gives the default tile's result."""
    from fkc_kernels.ops._gmm_args import GmmScalars, GmmTensors
    from fkc_kernels.triton import gmm_step as gmm_module

    n, d, m = 7, 12, 3
    x, z = torch.randn(n, d), torch.randn(n, d)
    w = torch.randn(n)
    mix = fk.gaussian_mixture(torch.randn(m, d), 0.3)
    bumps = fk.gaussian_bumps(torch.randn(2, d), 0.5)
    scalars = GmmScalars(0.8, 0.6, 0.01, 1.3, 2.0, 4.0, -0.4, math.inf, -math.inf, math.inf)

    def run(**tile):
        x_out, w_out = torch.empty_like(x), torch.empty_like(w)
        t = GmmTensors(x, w, *mix, *bumps[:3], None, z, None, x_out, w_out)
        gmm_module.launch(t, scalars, **tile)
        return x_out, w_out

    want, got = run(), run(block_n=block_n, num_warps=num_warps)
    torch.testing.assert_close(got[0], want[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(got[1], want[1], rtol=0, atol=1e-5)
