"""Triton one-pass selection: index-for-index equal to the reference (under TRITON_INTERPRET=1)."""

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
    from fkc_kernels.triton import select_particles as sel_module


def _seeds(a: int = 0x0123_4567_89AB, b: int = 42) -> torch.Tensor:
    return torch.tensor([a, b], dtype=torch.int64)


def _check(w: torch.Tensor, k: int, n_random: int, seeds: torch.Tensor | None = None) -> None:
    seeds = _seeds() if seeds is None else seeds
    got = triton_backend.select_particles(w, k, n_random, seeds)
    want = reference.select_particles(w, k, n_random, seeds)
    assert got.dtype == torch.int64 and got.shape == (k,)
    assert torch.equal(got, want), f"triton {got.tolist()} != reference {want.tolist()}"
    assert len(set(got.tolist())) == k


@pytest.mark.parametrize("n,k,n_random", [(1, 1, 0), (1, 1, 1), (3, 2, 1), (3, 3, 3), (37, 0, 0),
                                          (37, 5, 0), (37, 5, 5), (37, 12, 4), (200, 64, 20)])
def test_matches_reference(n, k, n_random):
    _check(torch.randn(n), k, n_random)


def test_ties_nan_inf_and_signed_zero():
    w = torch.tensor([0.5, float("nan"), 2.0, -float("inf"), 2.0, -0.0, 0.0, float("inf"),
                      float("nan"), 0.5, -0.0, float("inf")])
    for k in (0, 3, 11):
        _check(w, k, 0)
    top = triton_backend.select_particles(w, len(w), 0, _seeds())
    # descending, ties to the lower index, -0.0 == 0.0, NaN below -inf
    assert top.tolist() == [7, 11, 2, 4, 0, 9, 5, 6, 10, 3, 1, 8]
    _check(w, 7, 3)
    _check(torch.full((20,), float("nan")), 6, 2)
    _check(torch.zeros(20), 6, 3)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_dtypes(dtype):
    w = torch.randn(50).to(dtype)
    w[::7] = w[3]  # low precision ties
    _check(w, 10, 4)
    if dtype == torch.float64:  # distinct in float64, equal in float32: keys must stay float64
        w = torch.tensor([1.0, 1.0 + 2.0**-40, 1.0 + 2.0**-41, 0.0], dtype=torch.float64)
        assert triton_backend.select_particles(w, 3, 0, _seeds()).tolist() == [1, 2, 0]


def test_merge_rounds(monkeypatch):
    """Small programs force several candidate blocks and merge rounds on tiny inputs."""
    monkeypatch.setattr(sel_module, "_MIN_BLOCK", 16)
    w = torch.randn(120)
    w[10:40] = w[5]  # ties across blocks
    w[50:60] = float("nan")
    for k, n_random in [(5, 2), (12, 4)]:
        _check(w, k, n_random, _seeds(k, n_random))


def test_large_k_falls_back_to_device_sort(monkeypatch):
    monkeypatch.setattr(sel_module, "_MAX_KEEP", 4)
    _check(torch.randn(40), 10, 3)


def test_random_part_follows_the_seeds():
    w = torch.randn(40)
    picks = {tuple(triton_backend.select_particles(w, 8, 6, _seeds(s, 0)).tolist())
             for s in range(3)}
    assert len(picks) == 3
    assert all(p[:2] == next(iter(picks))[:2] for p in picks)  # the top part never moves


def test_public_op_same_generator_same_pick():
    w = torch.randn(64)
    got = fk.select_particles(w, 9, 4, generator=torch.Generator().manual_seed(3), backend="triton")
    want = fk.select_particles(w, 9, 4, generator=torch.Generator().manual_seed(3),
                               backend="reference")
    assert torch.equal(got, want)
