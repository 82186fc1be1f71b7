"""C++ CPU backend of select_particles: exactly the reference's indices, ties and NaN included."""

from __future__ import annotations

import pytest
import torch

import fkc_kernels
from fkc_kernels import reference

pytestmark = pytest.mark.usefixtures("cpu_backend")


def _seeds():
    return torch.randint(0, 1 << 62, (2,), dtype=torch.int64)


def _weights(n, kind, dtype):
    if kind == "normal":
        w = torch.randn(n)
    elif kind == "ties":  # few distinct values: ties must go to the lower index
        w = torch.randint(0, 4, (n,)).float()
    else:  # specials: NaN below -inf, -0.0 ties +0.0
        pool = torch.tensor([float("nan"), -float("inf"), float("inf"), -0.0, 0.0, 1.0, -1.0])
        w = pool[torch.randint(0, len(pool), (n,))]
    return w.to(dtype)


@pytest.mark.parametrize("n", [1, 3, 17, 1000])
@pytest.mark.parametrize("kind", ["normal", "ties", "specials"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
def test_matches_reference_exactly(n, kind, dtype):
    w = _weights(n, kind, dtype)
    for k, n_random in {(0, 0), (1, 0), (1, 1), (n, 0), (n, n), (n, n // 2),
                        (min(n, 5), min(n, 5) // 2), (min(n, 40), min(n, 3))}:
        seeds = _seeds()
        got = torch.ops.fkc.select_particles_ext(w, k, n_random, seeds)
        want = reference.select_particles(w, k, n_random, seeds)
        assert got.dtype == torch.int64 and got.shape == (k,)
        assert torch.equal(got, want), (k, n_random, got, want)
        assert len(set(got.tolist())) == k  # distinct


def test_public_api_same_generator_state():
    w = _weights(500, "ties", torch.float32)
    g1 = torch.Generator().manual_seed(7)
    g2 = torch.Generator().manual_seed(7)
    got = fkc_kernels.select_particles(w, 20, 8, generator=g1, backend="cpu")
    want = fkc_kernels.select_particles(w, 20, 8, generator=g2, backend="reference")
    assert torch.equal(got, want)


def test_top_part_order_and_nan_last():
    w = torch.tensor([1.0, float("nan"), 3.0, 3.0, -float("inf"), 2.0, float("nan")])
    got = torch.ops.fkc.select_particles_ext(w, 7, 0, _seeds())
    assert got.tolist() == [2, 3, 5, 0, 4, 1, 6]


def test_random_part_is_roughly_uniform():
    # 20000 draws of 1 random particle out of the 9 outside the top-1: each ~1/9
    w = torch.arange(10, dtype=torch.float32)
    counts = torch.zeros(10)
    gen = torch.Generator().manual_seed(0)
    for _ in range(2000):
        idx = fkc_kernels.select_particles(w, 2, 1, generator=gen, backend="cpu")
        assert idx[0] == 9
        counts[idx[1]] += 1
    assert counts[9] == 0
    frac = counts[:9] / 2000
    assert (frac - 1 / 9).abs().max() < 0.035
