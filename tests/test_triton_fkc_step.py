"""Triton fused step against the reference (explicit noise) and the noise contract (in-kernel).

Runs under TRITON_INTERPRET=1 (conftest): small grids only.
"""

from __future__ import annotations

import math

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
    from fkc_kernels.triton import fkc_step as triton_step_module

# (rtol, atol) per particle dtype: the kernel computes in float32 like the reference, so the only
# differences are the order of the row sums and one rounding of x' to the storage dtype
TOL = {torch.float32: (1e-6, 1e-6), torch.float16: (1e-3, 1e-5), torch.bfloat16: (8e-3, 1e-5)}
COEFS = dict(h=0.02, g=1.3, lam=0.7, dlam=2.0, f_coef=-0.4)


def _inputs(n: int, d: int, dtype=torch.float32):
    x, s, gr = (torch.randn(n, d).to(dtype) for _ in range(3))
    return x, torch.randn(n), s, gr, torch.randn(n)


def _w_tol(d: int) -> dict:
    # row sums of d products in another order: error grows like sqrt(d) ulps of the sum
    return dict(rtol=1e-5, atol=1e-6 * math.sqrt(d))


@pytest.mark.parametrize("n,d", [(1, 1), (3, 7), (37, 4), (3, 123), (37, 192)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_explicit_noise_matches_reference(n, d, dtype):
    x, w, s, gr, r = _inputs(n, d, dtype)
    z = torch.randn(n, d).to(dtype)
    kw = dict(COEFS, noise=z, dw_clip=None, w_clip=None)
    x_t, w_t = fk.fkc_step(x, w, s, gr, r, backend="triton", **kw)
    x_r, w_r = reference.fkc_step(x, w, s, gr, r, z, **{k: v for k, v in kw.items()
                                                          if k != "noise"})
    rtol, atol = TOL[dtype]
    assert x_t.dtype == dtype and w_t.dtype == torch.float32
    torch.testing.assert_close(x_t, x_r, rtol=rtol, atol=atol)
    torch.testing.assert_close(w_t, w_r, **_w_tol(d))


@pytest.mark.parametrize("n,d", [(1, 1), (3, 7), (5, 12), (37, 123), (3, 192)])
def test_in_kernel_noise_is_the_contract(n, d):
    """x' - x = ξ with s = ∇r = f = 0, h = g = 1: the kernel's noise, element for element."""
    x = torch.randn(n, d)
    zeros = torch.zeros(n, d)
    seeds = torch.tensor([0x1234_5678_9ABC, (1 << 62) - 7], dtype=torch.int64)
    x_out, w_out = torch.empty_like(x), torch.empty(n)
    triton_backend.fkc_step(x, torch.zeros(n), zeros, zeros, torch.zeros(n), None, None, None,
                            seeds, x_out, w_out, h=1.0, g=1.0, lam=0.0, dlam=0.0, f_coef=0.0,
                            dw_clip=math.inf, w_min=-math.inf, w_max=math.inf)
    z = reference.philox_normal(seeds[0], seeds[1], n * d).view(n, d)
    torch.testing.assert_close(x_out - x, z, rtol=0, atol=2e-6)
    # float64 Box-Muller on the same integers: the float32 path is within its rounding
    z64 = reference.philox_normal(seeds[0], seeds[1], n * d, dtype=torch.float64).view(n, d)
    torch.testing.assert_close((x_out - x).double(), z64, rtol=0, atol=2e-5)


@pytest.mark.parametrize("n,d", [(3, 8), (37, 123)])
def test_same_generator_state_same_step_as_reference(n, d):
    x, w, s, gr, r = _inputs(n, d)
    out = {}
    for backend in ("triton", "reference"):
        gen = torch.Generator().manual_seed(2026)
        out[backend] = fk.fkc_step(x, w, s, gr, r, generator=gen, backend=backend, **COEFS)
    torch.testing.assert_close(out["triton"][0], out["reference"][0], rtol=1e-6, atol=2e-6)
    torch.testing.assert_close(out["triton"][1], out["reference"][1], **_w_tol(d))
    # and a generator that moved on gives different noise
    gen = torch.Generator().manual_seed(2026)
    fk.fkc_step(x, w, s, gr, r, generator=gen, backend="triton", **COEFS)
    x2, _ = fk.fkc_step(x, w, s, gr, r, generator=gen, backend="triton", **COEFS)
    assert not torch.allclose(x2, out["triton"][0])


@pytest.mark.parametrize("n,d,split", [(5, 123, 3), (4, 64, 2), (2, 2100, 2)])
def test_split_d_path(n, d, split):
    """Few rows, long rows: D split over programs plus a finishing kernel for w."""
    x, w, s, gr, r = _inputs(n, d)
    seeds = torch.tensor([99, 7], dtype=torch.int64)
    x_out, w_out = torch.empty_like(x), torch.empty(n)
    triton_step_module.fkc_step(x, w, s, gr, r, None, None, seeds, x_out, w_out, **COEFS,
                                dw_clip=0.1, w_min=-1.0, w_max=1.0, split=split)
    z = reference.philox_normal(99, 7, n * d).view(n, d)
    x_r, w_r = reference.fkc_step(x, w, s, gr, r, z, **COEFS, dw_clip=0.1, w_clip=(-1.0, 1.0))
    torch.testing.assert_close(x_out, x_r, rtol=1e-6, atol=2e-6)
    torch.testing.assert_close(w_out, w_r, **_w_tol(d))


def test_block_sizes_and_split_heuristic():
    from fkc_kernels.triton.fkc_step import block_sizes, d_splits

    for n, d in [(1, 1), (65536, 64), (4096, 3072), (1024, 12288), (3, 7)]:
        bn, bd, _ = block_sizes(n, d)
        assert bd >= 4 and bd % 4 == 0 and bn * bd <= 4096 and bn <= max(1, 2 * n)
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert d_splits(4, 16384, 1024, cpu) == 1  # never on the interpreter
    assert d_splits(4, 16384, 1024, cuda) == 16
    assert d_splits(1024, 16384, 1024, cuda) == 1


def test_explicit_f_clips_and_non_contiguous_rows():
    n, d = 6, 10
    base = torch.randn(n, 3 * d)
    x, s, gr = base[:, :d], base[:, d:2 * d], torch.randn(d, n).t()  # strided rows; transposed
    f = torch.randn(2 * n, d)[::2]  # every other row
    z = torch.randn(n, d)
    w, r = torch.randn(n) * 5, torch.randn(n) * 50
    kw = dict(h=0.05, g=0.9, lam=1.5, dlam=3.0, f_coef=0.0)
    x_t, w_t = fk.fkc_step(x, w, s, gr, r, f=f, noise=z, backend="triton", **kw)
    x_r, w_r = reference.fkc_step(x, w, s, gr, r, z, f=f, **kw)
    torch.testing.assert_close(x_t, x_r, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(w_t, w_r, rtol=1e-6, atol=1e-6)
    assert ((w_t == 0.1) | (w_t == 10.0)).any(), "inputs were meant to hit the w clip"


def test_in_place_on_strided_view_and_particle_shape():
    n = 4
    big = torch.randn(n, 3, 8, 8)
    x = big[:, 1]  # (N, 8, 8) rows of stride 192: updated in place through a view
    s, gr = torch.randn(n, 8, 8), torch.randn(n, 8, 8)
    w, r = torch.rand(n) + 1, torch.randn(n)
    x_r, w_r = fk.fkc_step(x, w, s, gr, r, generator=torch.Generator().manual_seed(1),
                           backend="reference", **COEFS)
    untouched = big[:, 0].clone()
    x_ret, w_ret = fk.fkc_step_(x, w, s, gr, r, generator=torch.Generator().manual_seed(1),
                                backend="triton", **COEFS)
    assert x_ret is x and w_ret is w
    torch.testing.assert_close(big[:, 1], x_r, rtol=1e-6, atol=2e-6)
    torch.testing.assert_close(w, w_r, rtol=1e-5, atol=1e-6)
    assert torch.equal(big[:, 0], untouched)


def test_non_finite_values_propagate():
    n, d = 3, 5
    x, w, s, gr, r = _inputs(n, d)
    x[0, 2] = float("nan")
    w[1] = float("nan")
    z = torch.zeros(n, d)
    x_t, w_t = fk.fkc_step(x, w, s, gr, r, noise=z, backend="triton", **COEFS)
    assert torch.isnan(x_t[0, 2]) and torch.isnan(w_t[0]) and torch.isnan(w_t[1])
    assert torch.isfinite(x_t[1:]).all() and torch.isfinite(w_t[2])


def test_unavailable_reasons(monkeypatch):
    assert triton_backend.unavailable_reason(torch.device("cpu")) is None
    assert triton_backend.unavailable_reason(None) is None
    assert "CPU tensors only" in triton_backend.unavailable_reason(torch.device("cuda"))
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    reason = triton_backend.unavailable_reason(torch.device("cpu"))
    assert reason == "the Triton backend runs CPU tensors only under TRITON_INTERPRET=1"
    with pytest.raises(ValueError, match="TRITON_INTERPRET=1"):
        fk.fkc_step(*_inputs(2, 3), h=0.1, g=1.0, lam=0.0, dlam=0.0, backend="triton")


def test_torch_compile_fullgraph_sees_an_opaque_op():
    n, d = 3, 8
    x, w, s, gr, r = _inputs(n, d)
    z = torch.randn(n, d)

    def step(x, w, s, gr, r, z):
        return fk.fkc_step(x, w, s, gr, r, noise=z, backend="triton", **COEFS)

    # aot_eager: traces through dynamo and the fake kernel without a C++ compiler
    x_c, w_c = torch.compile(step, fullgraph=True, backend="aot_eager")(x, w, s, gr, r, z)
    x_e, w_e = step(x, w, s, gr, r, z)
    torch.testing.assert_close(x_c, x_e, rtol=0, atol=0)
    torch.testing.assert_close(w_c, w_e, rtol=0, atol=0)
