"""Triton systematic resampling: equal to the reference for the same ``u`` (TRITON_INTERPRET=1)."""

from __future__ import annotations

import pytest
import torch

import fkc_kernels as fk
from fkc_kernels import reference
from fkc_kernels.ops._backends import get_backend_object

triton_backend = get_backend_object("triton")
pytestmark = pytest.mark.skipif(
    triton_backend is None or triton_backend.unavailable_reason(torch.device("cpu")) is not None,
    reason="the Triton backend cannot run CPU tensors here (needs triton and TRITON_INTERPRET=1)",
)
if triton_backend is not None:
    from fkc_kernels.triton import systematic_resample as rs_module


def _check(logw: torch.Tensor, u: float) -> torch.Tensor:
    ut = torch.tensor([u], dtype=torch.float64)
    got = triton_backend.systematic_resample(logw, ut)
    want = reference.systematic_resample(logw, u=ut)
    assert got.dtype == torch.int64 and got.shape == logw.shape
    assert torch.equal(got, want), f"triton {got.tolist()} != reference {want.tolist()}"
    return got


@pytest.mark.parametrize("n", [1, 7, 37, 1000])
@pytest.mark.parametrize("u", [0.0, 0.37, 1.0 - 2.0**-53])
def test_matches_reference(n, u):
    _check(torch.randn(n) * 3, u)


def test_zero_weights_nan_and_peaks():
    logw = torch.randn(40)
    logw[::3] = -float("inf")
    logw[1::5] = float("nan")
    idx = _check(logw, 0.5)
    assert not torch.isin(idx, torch.nonzero(~torch.isfinite(logw)).flatten()).any()
    peaked = torch.full((16,), -1e4)
    peaked[11] = 0.0
    assert _check(peaked, 0.9).tolist() == [11] * 16
    _check(torch.randn(30, dtype=torch.float64) * 40, 0.1)
    _check(torch.randn(30).half(), 0.2)


def test_many_blocks(monkeypatch):
    """Tiny blocks force the cross-block max, prefix sums and normalisation on a small input."""
    monkeypatch.setattr(rs_module, "_BLOCK", 16)
    for n in (17, 100):
        logw = torch.randn(n) * 2
        logw[n // 2] = float("nan")
        _check(logw, 0.61)


def test_offspring_counts_are_floor_or_ceil():
    logw = torch.randn(64)
    idx = triton_backend.systematic_resample(logw, torch.tensor([0.25], dtype=torch.float64))
    expected = 64 * torch.softmax(logw.double(), 0)
    counts = torch.bincount(idx, minlength=64).double()
    assert ((counts >= expected.floor()) & (counts <= expected.ceil())).all()
    assert (idx[1:] >= idx[:-1]).all()


def test_public_op_same_generator_same_ancestors():
    logw = torch.randn(50)
    got = fk.systematic_resample(logw, generator=torch.Generator().manual_seed(5),
                                 backend="triton")
    want = fk.systematic_resample(logw, generator=torch.Generator().manual_seed(5),
                                  backend="reference")
    assert torch.equal(got, want)
