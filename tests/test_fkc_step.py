"""Reference FKC step and the public fkc_step/fkc_step_ against an independent float64 statement."""

import math

import numpy as np
import pytest
import torch
from _closed_forms import fkc_step_f64

from fkc_kernels import fkc_step, fkc_step_, reference

SHAPES = [(1, 1), (3, 7), (1000, 1), (5, 123), (3, 3, 8, 8), (2, 3, 5)]
# output rounding of x' to the particle dtype dominates; float32 math inside
TOL = {torch.float32: (2e-5, 2e-5), torch.float16: (2e-3, 2e-3), torch.bfloat16: (1.6e-2, 1e-2)}


def make_inputs(shape, dtype, scale=1.0):
    n = shape[0]
    x = torch.randn(shape).to(dtype)
    s = (-x.float() + 0.3 * torch.randn(shape)).to(dtype)
    gr = (scale * torch.randn(shape)).to(dtype)
    r = torch.randn(n)
    w = torch.rand(n) * 2
    xi = torch.randn(shape).to(dtype)
    return x, w, s, gr, r, xi


COEFS = dict(h=0.01, g=1.7, lam=0.8, dlam=2.0, f_coef=-3.1)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("clips", [(0.1, (0.1, 10.0)), (None, None), (0.05, (-1.0, 1.0))])
def test_step_matches_float64_statement(shape, dtype, clips):
    dw_clip, w_clip = clips
    x, w, s, gr, r, xi = make_inputs(shape, dtype)
    x_ref, w_ref = fkc_step_f64(x, w, s, gr, r, xi, dw_clip=dw_clip, w_clip=w_clip, **COEFS)
    x_new, w_new = fkc_step(x, w, s, gr, r, noise=xi, dw_clip=dw_clip, w_clip=w_clip,
                            backend="reference", **COEFS)
    assert x_new.shape == x.shape and x_new.dtype == dtype
    assert w_new.shape == w.shape and w_new.dtype == torch.float32
    rtol, atol = TOL[dtype]
    torch.testing.assert_close(x_new.double().reshape(shape[0], -1),
                               torch.from_numpy(x_ref), rtol=rtol, atol=atol)
    torch.testing.assert_close(w_new.double(), torch.from_numpy(w_ref), rtol=1e-5, atol=1e-5)


def test_float64_reference_is_exact():
    x, w, s, gr, r, xi = (t.double() for t in make_inputs((7, 33), torch.float32))
    x_ref, w_ref = fkc_step_f64(x, w, s, gr, r, xi, dw_clip=None, w_clip=None, **COEFS)
    x_new, w_new = reference.fkc_step(x, w, s, gr, r, xi, dw_clip=None, w_clip=None,
                                      compute_dtype=torch.float64, **COEFS)
    np.testing.assert_allclose(x_new.numpy(), x_ref, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(w_new.numpy(), w_ref, rtol=1e-13, atol=1e-13)


def test_explicit_forward_drift_overrides_f_coef():
    x, w, s, gr, r, xi = make_inputs((4, 9), torch.float32)
    f = torch.randn(4, 9)
    x_ref, w_ref = fkc_step_f64(x, w, s, gr, r, xi, f=f, dw_clip=None, w_clip=None, **COEFS)
    x_new, w_new = fkc_step(x, w, s, gr, r, f=f, noise=xi, dw_clip=None, w_clip=None, **COEFS)
    torch.testing.assert_close(x_new.double(), torch.from_numpy(x_ref), rtol=2e-5, atol=2e-5)
    torch.testing.assert_close(w_new.double(), torch.from_numpy(w_ref), rtol=1e-5, atol=1e-5)


def test_clips_are_applied_in_order():
    # a huge increment: dw is clipped to +0.1 first, then w + dw to w_max
    n, d = 3, 4
    x = torch.ones(n, d)
    w = torch.tensor([0.0, 5.0, 9.95])
    r = torch.full((n,), 100.0)
    z = torch.zeros(n, d)
    _, w_new = fkc_step(x, w, z, z, r, h=0.5, g=1.0, lam=0.0, dlam=1.0, noise=z)
    torch.testing.assert_close(w_new, torch.tensor([0.1, 5.1, 10.0]))
    _, w_off = fkc_step(x, w, z, z, r, h=0.5, g=1.0, lam=0.0, dlam=1.0, noise=z,
                        dw_clip=None, w_clip=None)
    torch.testing.assert_close(w_off, w + 50.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_non_contiguous_inputs(dtype):
    x = torch.randn(6, 20).to(dtype)[:, ::2]  # inner stride 2
    s = torch.randn(10, 6).to(dtype).t()  # transposed
    gr = torch.randn(12, 10).to(dtype)[1:7]  # row slice: row stride 10, offset
    _, w, _, _, r, xi = make_inputs((6, 10), dtype)
    w = torch.rand(12)[::2]
    x_ref, w_ref = fkc_step(x.contiguous(), w.contiguous(), s.contiguous(), gr.contiguous(), r,
                            noise=xi, **COEFS)
    x_new, w_new = fkc_step(x, w, s, gr, r, noise=xi, **COEFS)
    assert torch.equal(x_new, x_ref) and torch.equal(w_new, w_ref)


@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 4, 4)])
def test_in_place_equals_out_of_place(shape):
    x, w, s, gr, r, xi = make_inputs(shape, torch.float32)
    x_ref, w_ref = fkc_step(x, w, s, gr, r, noise=xi, **COEFS)
    x_ip, w_ip = x.clone(), w.clone()
    out = fkc_step_(x_ip, w_ip, s, gr, r, noise=xi, **COEFS)
    assert out[0] is x_ip and out[1] is w_ip
    assert torch.equal(x_ip, x_ref) and torch.equal(w_ip, w_ref)
    # a strided view is updated in place too (through one temporary when needed)
    big = torch.zeros(shape[0], 2 * math.prod(shape[1:]))
    view = big[:, ::2].reshape(shape) if len(shape) == 2 else big[:, ::2]
    if len(shape) == 2:
        view.copy_(x)
        fkc_step_(view, w.clone(), s, gr, r, noise=xi, **COEFS)
        assert torch.equal(big[:, ::2], x_ref)
        assert (big[:, 1::2] == 0).all()


def test_non_finite_values_propagate():
    x, w, s, gr, r, xi = make_inputs((4, 6), torch.float32)
    s[1, 2] = float("nan")
    gr[2, 0] = float("inf")
    x_new, w_new = fkc_step(x, w, s, gr, r, noise=xi, **COEFS)
    assert torch.isnan(x_new[1, 2]) and torch.isnan(w_new[1])
    assert not torch.isfinite(x_new[2, 0]) and not torch.isfinite(w_new[2])
    assert torch.isfinite(x_new[[0, 3]]).all() and torch.isfinite(w_new[[0, 3]]).all()


def test_zero_noise_moves_along_the_score():
    # DESIGN pitfall: with h > 0 a step must move particles *towards* the data (along the score)
    x = torch.full((1, 1), 3.0)
    s = -x  # data at 0
    z = torch.zeros(1, 1)
    x_new, _ = fkc_step(x, torch.zeros(1), s, z, torch.zeros(1), h=0.1, g=1.0, lam=0.0, dlam=0.0,
                        noise=z)
    assert x_new.item() < 3.0


def test_reference_mirrors_public_api_and_is_float64_capable():
    x, w, s, gr, r, xi = (t.double() for t in make_inputs((6, 11), torch.float32))
    # float64 in -> float64 math and outputs by default
    x_new, w_new = reference.fkc_step(x, w, s, gr, r, noise=xi, **COEFS)
    assert x_new.dtype == torch.float64 and w_new.dtype == torch.float64
    x_ref, w_ref = fkc_step_f64(x, w, s, gr, r, xi, **COEFS)
    np.testing.assert_allclose(x_new.numpy(), x_ref, rtol=1e-13, atol=1e-13)
    # in-kernel noise from a generator: the reference and the public op draw the same
    x32, w32, s32, gr32 = x.float(), w.float(), s.float(), gr.float()
    a = reference.fkc_step(x32, w32, s32, gr32, r, generator=torch.Generator().manual_seed(9),
                           **COEFS)
    b = fkc_step(x32, w32, s32, gr32, r, generator=torch.Generator().manual_seed(9),
                 backend="reference", **COEFS)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_one_dimensional_particles():
    # particles of shape (N,): D = 1, each particle's row reduction is its own product
    x, w, s, gr, r, xi = make_inputs((9,), torch.float32)
    x_ref, w_ref = fkc_step_f64(x, w, s, gr, r, xi, **COEFS)
    x_new, w_new = fkc_step(x, w, s, gr, r, noise=xi, **COEFS)
    assert x_new.shape == (9,)
    torch.testing.assert_close(x_new.double(), torch.from_numpy(x_ref[:, 0]), rtol=2e-5,
                               atol=2e-5)
    torch.testing.assert_close(w_new.double(), torch.from_numpy(w_ref), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(0, 5), (0,), (3, 0), (0, 2, 3)])
def test_empty_blocks(shape):
    x = torch.zeros(shape)
    w, r = torch.zeros(shape[0]), torch.ones(shape[0])
    x_new, w_new = fkc_step(x, w, x, x, r, h=0.5, g=1.0, lam=0.0, dlam=1.0)
    assert x_new.shape == shape and w_new.shape == (shape[0],)
    # D = 0 still updates the weights: dw = h * dlam * r, clipped to 0.1
    torch.testing.assert_close(w_new, torch.full((shape[0],), 0.1))
