"""``noise_normals``: the contract's normals of a range of flat elements, with the bits each
backend's fused step draws in-kernel for those elements (what lets W ranks add the noise one
process adds: tests/distributed/test_distributed_same_questions.py)."""

from __future__ import annotations

import pytest
import torch
from _tolerances import NOISE_TOL

import fkc_kernels as fk
from fkc_kernels.ops import noise_normals

# D % 4 == 0 and not: the Triton step draws the two by different device functions; N * D spans
# several of the CPU kernel's noise windows at the two larger shapes, in its short-row loop
# (D a multiple of 8, at most 256) at (40, 64)
SHAPES = [(6, 8), (5, 7), (3, 1), (40, 64), (33, 260)]


def _seeds(backend, k: int) -> torch.Tensor:
    return fk.draw_philox_seeds(torch.Generator().manual_seed(k), backend.device)


def _in_kernel_noise(backend, seeds, n: int, d: int) -> torch.Tensor:
    """What the step adds as noise: from x = 0 with zero score and reward gradient, no drift,
    h = 1 and g = 1, ``x' = 0 + 1·0 + 1·ξ = ξ`` exactly."""
    zero = torch.zeros(n, d, device=backend.device)
    x_new, _ = fk.fkc_step(zero, torch.zeros(n, device=backend.device), zero, zero,
                           torch.zeros(n, device=backend.device), h=1.0, g=1.0, lam=0.0,
                           dlam=0.0, f_coef=0.0, dw_clip=None, w_clip=None, seeds=seeds,
                           backend=backend)
    return x_new


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous().view(torch.int32)


@pytest.mark.parametrize("n,d", SHAPES)
def test_equals_the_steps_in_kernel_noise_bit_for_bit(backend, n, d):
    seeds = _seeds(backend, n * d)
    step = _in_kernel_noise(backend, seeds, n, d)
    whole = noise_normals(seeds, n * d, backend=backend)
    assert torch.equal(_bits(whole), _bits(step.reshape(-1)))
    # a shard of rows alone: the rows the step wrote for them
    lo, hi = n // 3, n - n // 4
    part = noise_normals(seeds, (hi - lo) * d, start=lo * d, backend=backend)
    assert torch.equal(_bits(part), _bits(step[lo:hi].reshape(-1)))
    # and they are the contract's normals (the reference's, within the backend's noise tolerance)
    rtol, atol = NOISE_TOL[backend]
    ref = fk.philox_normal(seeds[0], seeds[1], n * d, device=backend.device)
    torch.testing.assert_close(whole, ref, rtol=rtol, atol=atol)


def test_any_start_and_length(backend):
    """Ranges that start and end inside a Philox group of four, and an empty one."""
    seeds = _seeds(backend, 7)
    full = noise_normals(seeds, 40, backend=backend)
    for start, numel in ((0, 1), (1, 2), (3, 5), (5, 30), (38, 2), (13, 0)):
        got = noise_normals(seeds, numel, start=start, backend=backend)
        assert got.dtype == torch.float32 and got.shape == (numel,)
        assert got.device.type == backend.device.type
        assert torch.equal(_bits(got), _bits(full[start:start + numel])), (start, numel)


@pytest.mark.parametrize("d", [12, 64])
def test_a_shards_explicit_noise_steps_like_the_in_kernel_noise(backend, d):
    """The sharded sampler's step: rows ``lo..hi`` with ``noise=`` their global normals write
    what one process's in-kernel step writes for those rows (x' and w', bit for bit). D = 64
    takes the CPU kernel's short-row loop, whose groups of eight rows start elsewhere in a
    shard."""
    n = 9
    dev = backend.device
    x, s, gr = (torch.randn(n, d, device=dev) for _ in range(3))
    w, r = torch.rand(n, device=dev), torch.randn(n, device=dev)
    coefs = dict(h=0.03, g=1.1, lam=0.6, dlam=1.5, f_coef=-0.3, backend=backend)
    seeds = _seeds(backend, 3)
    x_one, w_one = fk.fkc_step(x, w, s, gr, r, seeds=seeds, **coefs)
    lo, hi = 4, 9
    z = noise_normals(seeds, (hi - lo) * d, start=lo * d, backend=backend).view(hi - lo, d)
    x_sh, w_sh = fk.fkc_step(x[lo:hi], w[lo:hi], s[lo:hi], gr[lo:hi], r[lo:hi], noise=z,
                             **coefs)
    assert torch.equal(_bits(x_sh), _bits(x_one[lo:hi]))
    assert torch.equal(_bits(w_sh), _bits(w_one[lo:hi]))


def test_auto_picks_the_steps_backend():
    """``backend="auto"`` gives the noise of the step ``"auto"`` picks on the same device."""
    seeds = fk.draw_philox_seeds(torch.Generator().manual_seed(5), torch.device("cpu"))
    zero = torch.zeros(4, 6)
    x_new, _ = fk.fkc_step(zero, torch.zeros(4), zero, zero, torch.zeros(4), h=1.0, g=1.0,
                           lam=0.0, dlam=0.0, dw_clip=None, w_clip=None, seeds=seeds)
    assert torch.equal(_bits(noise_normals(seeds, 24)), _bits(x_new.reshape(-1)))


@pytest.mark.parametrize("args,kwargs,exc,match", [
    ((torch.zeros(3, dtype=torch.int64), 4), {}, ValueError,
     r"seeds: expected an int64 tensor of shape \(2,\) \[S, O\], got torch.int64 \(3,\)"),
    ((torch.zeros(2), 4), {}, ValueError, r"seeds: expected an int64 tensor of shape \(2,\)"),
    (([1, 2], 4), {}, TypeError, r"seeds: expected a torch.Tensor, got list"),
    ((torch.zeros(2, dtype=torch.int64), -1), {}, ValueError,
     r"numel: expected an int >= 0, got -1"),
    ((torch.zeros(2, dtype=torch.int64), 2.0), {}, TypeError,
     r"numel: expected an int, got float 2.0"),
    ((torch.zeros(2, dtype=torch.int64), 4), {"start": -4}, ValueError,
     r"start: expected an int >= 0, got -4"),
    ((torch.zeros(2, dtype=torch.int64), 4), {"start": 1 << 62}, ValueError,
     r"start: expected an int <= 2\*\*62 - numel"),
    ((torch.zeros(2, dtype=torch.int64), 4), {"backend": "gpu"}, ValueError,
     r"backend: expected 'auto' or one of"),
])
def test_bad_input_names_the_argument(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        noise_normals(*args, **kwargs)
