"""C++ CPU backend of systematic_resample: the reference's ancestors for the same uniform."""

from __future__ import annotations

import pytest
import torch

import fkc_kernels
from fkc_kernels import reference

pytestmark = pytest.mark.usefixtures("cpu_backend")


def _logw(n, kind):
    if kind == "normal":
        return torch.randn(n, dtype=torch.float64) * 2
    if kind == "spread":  # a few particles dominate
        return torch.randn(n, dtype=torch.float64) * 30
    lw = torch.randn(n, dtype=torch.float64)  # NaN and -inf are zero weight
    lw[torch.rand(n) < 0.3] = float("nan")
    lw[torch.rand(n) < 0.2] = -float("inf")
    lw[0] = 0.5  # at least one finite weight
    return lw


@pytest.mark.parametrize("n", [1, 3, 1000, 4097])
@pytest.mark.parametrize("kind", ["normal", "spread", "zeros"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_matches_reference(n, kind, dtype):
    lw = _logw(n, kind).to(dtype)
    for u in (0.0, 0.5, 1.0 - 2.0**-53, torch.rand(()).item()):
        ut = torch.tensor([u], dtype=torch.float64)
        got = torch.ops.fkc.systematic_resample_ext(lw, ut)
        want = reference.systematic_resample(lw, u=ut)
        assert got.dtype == torch.int64 and got.shape == (n,)
        assert torch.equal(got, want), (u, (got != want).nonzero()[:5])
        # NaN and -inf log-weights get no offspring (for u -> 1 the last position can round
        # to 1.0 and clamp to particle N-1, dead or not: the reference does the same)
        dead = torch.isnan(lw) | torch.isneginf(lw)
        if u <= 0.5:
            assert not dead[got].any(), (u, got)


def test_offspring_counts_are_floor_or_ceil():
    n = 1000
    lw = torch.randn(n, dtype=torch.float64)
    idx = fkc_kernels.systematic_resample(lw, generator=torch.Generator().manual_seed(3),
                                          backend="cpu")
    counts = torch.bincount(idx, minlength=n).double()
    expected = n * torch.softmax(lw, 0)
    assert ((counts - expected).abs() < 1.0 + 1e-9).all()
    assert (idx[1:] >= idx[:-1]).all()


def test_public_api_same_generator_state():
    lw = torch.randn(300)
    got = fkc_kernels.systematic_resample(lw, generator=torch.Generator().manual_seed(5),
                                          backend="cpu")
    want = fkc_kernels.systematic_resample(lw, generator=torch.Generator().manual_seed(5),
                                           backend="reference")
    assert torch.equal(got, want)
