"""fkc_step / fkc_step_ on every backend: against an independent float64 statement, against the
reference (per-backend tolerances in conftest.py), the noise contract, layouts and the op schema.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _closed_forms import fkc_step_f64
from _tolerances import NOISE_TOL, STEP_X_TOL, step_w_tol

from fkc_kernels import fkc_step, fkc_step_, reference
from fkc_kernels.ops._step_args import StepScalars, StepTensors

# (37, 32), (37, 64), (5, 66): the CUDA kernel's 8- and 16-thread rows and the next width up
SHAPES = [(1, 1), (3, 7), (3, 1), (37, 32), (37, 64), (5, 66), (1000, 1), (5, 123), (3, 3, 8, 8),
          (2, 3, 5), (1000, 123), (2, 1029)]
DTYPES = [torch.float32, torch.float16, torch.bfloat16]
# against the float64 statement: output rounding of x' to the particle dtype dominates
F64_TOL = {torch.float32: (2e-5, 2e-5), torch.float16: (2e-3, 2e-3),
           torch.bfloat16: (1.6e-2, 1e-2)}
COEFS = dict(h=0.01, g=1.7, lam=0.8, dlam=2.0, f_coef=-3.1)
NO_CLIPS = dict(dw_clip=None, w_clip=None)
NOISE_SEEDS = torch.tensor([0x1234_5678_9ABC_DEF, 0xFEDC_BA98_7654], dtype=torch.int64)


def make_inputs(shape, dtype, device="cpu", scale=1.0):
    """``x, w, score, ∇r, r, ξ, f`` for particles of ``shape`` (score pulls towards 0)."""
    n = shape[0]
    x = torch.randn(shape, device=device).to(dtype)
    s = (-x.float() + 0.3 * torch.randn(shape, device=device)).to(dtype)
    gr = (scale * torch.randn(shape, device=device)).to(dtype)
    r = torch.randn(n, device=device)
    w = torch.rand(n, device=device) * 2
    xi = torch.randn(shape, device=device).to(dtype)
    f = torch.randn(shape, device=device).to(dtype)
    return x, w, s, gr, r, xi, f


def _close_to_f64(x_new, w_new, ref, dtype, n):
    x_ref, w_ref = ref
    rtol, atol = F64_TOL[dtype]
    torch.testing.assert_close(x_new.double().cpu().reshape(n, -1), torch.from_numpy(x_ref),
                               rtol=rtol, atol=atol)
    torch.testing.assert_close(w_new.double().cpu(), torch.from_numpy(w_ref), rtol=1e-5,
                               atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("explicit_f", [False, True])
def test_matches_float64_statement_and_reference(backend, shape, dtype, explicit_f):
    if backend == "triton" and math.prod(shape) > 10_000:
        pytest.skip("too slow under the Triton interpreter (the smaller shapes cover its paths)")
    x, w, s, gr, r, xi, f = make_inputs(shape, dtype, backend.device)
    f = f if explicit_f else None
    x_new, w_new = fkc_step(x, w, s, gr, r, f=f, noise=xi, backend=backend, **COEFS)
    assert x_new.shape == x.shape and x_new.dtype == dtype and x_new.device == x.device
    assert w_new.shape == w.shape and w_new.dtype == torch.float32
    _close_to_f64(x_new, w_new, fkc_step_f64(x, w, s, gr, r, xi, f=f, **COEFS), dtype, shape[0])
    x0, w0 = reference.fkc_step(x, w, s, gr, r, xi, f=f, **COEFS)
    rtol, atol = STEP_X_TOL[backend][dtype]
    torch.testing.assert_close(x_new, x0, rtol=rtol, atol=atol)
    torch.testing.assert_close(w_new, w0, **step_w_tol(backend, math.prod(shape[1:])))


@pytest.mark.parametrize("shape", [(3, 7), (5, 123), (2, 3, 5)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("clips", [(0.1, (0.1, 10.0)), (None, None), (0.05, (-1.0, 1.0))])
def test_clips_match_float64_statement(backend, shape, dtype, clips):
    dw_clip, w_clip = clips
    x, w, s, gr, r, xi, _ = make_inputs(shape, dtype, backend.device, scale=30.0)
    x_new, w_new = fkc_step(x, w, s, gr, r, noise=xi, dw_clip=dw_clip, w_clip=w_clip,
                            backend=backend, **COEFS)
    ref = fkc_step_f64(x, w, s, gr, r, xi, dw_clip=dw_clip, w_clip=w_clip, **COEFS)
    _close_to_f64(x_new, w_new, ref, dtype, shape[0])


def test_float64_reference_is_exact():
    x, w, s, gr, r, xi, _ = (t.double() for t in make_inputs((7, 33), torch.float32))
    x_ref, w_ref = fkc_step_f64(x, w, s, gr, r, xi, **NO_CLIPS, **COEFS)
    x_new, w_new = reference.fkc_step(x, w, s, gr, r, xi, **NO_CLIPS,
                                      compute_dtype=torch.float64, **COEFS)
    np.testing.assert_allclose(x_new.numpy(), x_ref, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(w_new.numpy(), w_ref, rtol=1e-13, atol=1e-13)


def test_clips_are_applied_in_order(backend):
    # a huge increment: dw is clipped to +0.1 first, then w + dw to w_max
    n, d = 3, 4
    dev = backend.device
    x = torch.ones(n, d, device=dev)
    w = torch.tensor([0.0, 5.0, 9.95], device=dev)
    r = torch.full((n,), 100.0, device=dev)
    z = torch.zeros(n, d, device=dev)
    kw = dict(h=0.5, g=1.0, lam=0.0, dlam=1.0, noise=z, backend=backend)
    _, w_new = fkc_step(x, w, z, z, r, **kw)
    torch.testing.assert_close(w_new.cpu(), torch.tensor([0.1, 5.1, 10.0]))
    _, w_off = fkc_step(x, w, z, z, r, **NO_CLIPS, **kw)
    torch.testing.assert_close(w_off, w + 50.0)


@pytest.mark.parametrize("n,d", [(1, 1), (3, 7), (5, 12), (37, 64), (37, 123), (3, 192),
                                 (7, 192), (2, 4096)])
def test_in_kernel_noise_is_the_contract(backend, n, d):
    """h = g = 1 and zero fields: x' - x is the kernel's noise, compared with philox_normal."""
    dev = backend.device
    x = torch.randn(n, d, device=dev)
    zeros = torch.zeros(n, d, device=dev)
    x_out, w_out = torch.empty_like(x), torch.empty(n, device=dev)
    backend.impl.fkc_step(
        StepTensors(x, torch.zeros(n, device=dev), zeros, zeros, torch.zeros(n, device=dev),
                    None, None, None, NOISE_SEEDS.to(dev), x_out, w_out),
        StepScalars(h=1.0, g=1.0, lam=0.0, dlam=0.0, f_coef=0.0, dw_clip=math.inf,
                    w_min=-math.inf, w_max=math.inf))
    got = (x_out - x).cpu()
    z32 = reference.philox_normal(NOISE_SEEDS[0], NOISE_SEEDS[1], n * d).view(n, d)
    z64 = reference.philox_normal(NOISE_SEEDS[0], NOISE_SEEDS[1], n * d,
                                  dtype=torch.float64).view(n, d)
    rtol, atol = NOISE_TOL[backend]
    # x' = x + z rounds once more than z itself: one ulp of |x| on top of the table
    torch.testing.assert_close(got, z32, rtol=rtol, atol=atol + 4e-7 * x.abs().max().item())
    # float64 Box-Muller on the same integers: the float32 path is within its rounding
    torch.testing.assert_close(got.double(), z64, rtol=0, atol=2e-5)


def test_in_kernel_noise_bits_equal_cpu_and_cuda(backend):
    """The C++ kernels give the contract's normals to the last bit on most elements, and CUDA
    the CPU kernel's bits: one definition of the polynomials with explicit fmas
    (csrc/core/fastmath.h) and IEEE sqrt."""
    if backend not in ("cpu", "cuda"):
        pytest.skip(f"a check of the C++ kernels, not of {backend!r}")
    n, d = 64, 4096
    outs = {}
    for dev in {"cpu", str(backend.device)}:
        zeros = torch.zeros(n, d, device=dev)
        x_out, w_out = torch.empty(n, d, device=dev), torch.empty(n, device=dev)
        backend.op("fkc_step")(zeros, torch.zeros(n, device=dev), zeros, zeros,
                               torch.zeros(n, device=dev), None, None, None,
                               NOISE_SEEDS.to(dev), x_out, w_out, 1.0, 1.0, 0.0, 0.0, 0.0,
                               math.inf, -math.inf, math.inf)
        outs[dev] = x_out.cpu()
    z32 = reference.philox_normal(NOISE_SEEDS[0], NOISE_SEEDS[1], n * d).view(n, d)
    assert (outs["cpu"] == z32).float().mean() > 0.3
    assert torch.equal(outs[str(backend.device)], outs["cpu"])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("n,d", [(3, 8), (37, 123), (300, 77)])
def test_same_generator_state_same_step_as_reference(backend, dtype, n, d):
    if backend == "triton" and n * d > 10_000:
        pytest.skip("too slow under the Triton interpreter (the smaller shapes cover its paths)")
    x, w, s, gr, r, _, _ = make_inputs((n, d), dtype, backend.device)
    out = {}
    for name in (backend, "reference"):
        gen = torch.Generator(device=backend.device).manual_seed(2026)
        out[name] = fkc_step(x, w, s, gr, r, generator=gen, backend=name, **COEFS)
    rtol, atol = STEP_X_TOL[backend][dtype]
    torch.testing.assert_close(out[backend][0], out["reference"][0], rtol=rtol,
                               atol=max(atol, NOISE_TOL[backend][1]))
    torch.testing.assert_close(out[backend][1], out["reference"][1], **step_w_tol(backend, d))
    # a generator that moved on gives fresh noise
    gen = torch.Generator(device=backend.device).manual_seed(2026)
    fkc_step(x, w, s, gr, r, generator=gen, backend=backend, **COEFS)
    x2, _ = fkc_step(x, w, s, gr, r, generator=gen, backend=backend, **COEFS)
    assert not torch.allclose(x2, out[backend][0])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_non_contiguous_inputs(backend, dtype):
    dev = backend.device
    x = torch.randn(6, 20, device=dev).to(dtype)[:, ::2]  # inner stride 2
    s = torch.randn(10, 6, device=dev).to(dtype).t()  # transposed
    gr = torch.randn(12, 10, device=dev).to(dtype)[1:7]  # row slice: row stride 10, offset
    _, _, _, _, r, xi, _ = make_inputs((6, 10), dtype, dev)
    w = torch.rand(12, device=dev)[::2]
    kw = dict(noise=xi, backend=backend, **COEFS)
    x_ref, w_ref = fkc_step(x.contiguous(), w.contiguous(), s.contiguous(), gr.contiguous(), r,
                            **kw)
    x_new, w_new = fkc_step(x, w, s, gr, r, **kw)
    assert torch.equal(x_new, x_ref) and torch.equal(w_new, w_ref)


@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 4, 4)])
def test_in_place_equals_out_of_place(backend, shape):
    x, w, s, gr, r, xi, _ = make_inputs(shape, torch.float32, backend.device)
    kw = dict(noise=xi, backend=backend, **COEFS)
    x_ref, w_ref = fkc_step(x, w, s, gr, r, **kw)
    x_ip, w_ip = x.clone(), w.clone()
    out = fkc_step_(x_ip, w_ip, s, gr, r, **kw)
    assert out[0] is x_ip and out[1] is w_ip
    assert torch.equal(x_ip, x_ref) and torch.equal(w_ip, w_ref)
    # a strided view is updated in place too (through one temporary when needed)
    if len(shape) == 2:
        big = torch.zeros(shape[0], 2 * shape[1], device=backend.device)
        view = big[:, ::2]
        view.copy_(x)
        fkc_step_(view, w.clone(), s, gr, r, **kw)
        assert torch.equal(big[:, ::2], x_ref)
        assert (big[:, 1::2] == 0).all()


@pytest.mark.parametrize("lead", [3, 1])
def test_strided_rows_and_in_place_alias(backend, lead):
    """Rows with a row stride (and, for CUDA, misaligned starts) are updated in place; the columns
    outside the view stay untouched."""
    n, d = 37, 64
    dev = backend.device
    big = torch.randn(n, d + 13, device=dev)
    x = big[:, lead:lead + d]
    s = torch.randn(n, 2 * d, device=dev)[:, ::2]  # inner stride 2: the wrapper copies it
    gr = torch.randn(n, d, device=dev)
    w = torch.rand(n, device=dev) + 1.0
    r = torch.randn(n, device=dev)
    noise = torch.randn(n, d, device=dev)
    x0, w0 = reference.fkc_step(x.clone(), w.clone(), s, gr, r, noise, **COEFS)
    before = big.clone()
    xi, wi = fkc_step_(x, w, s, gr, r, noise=noise, backend=backend, **COEFS)
    assert xi.data_ptr() == x.data_ptr() and wi.data_ptr() == w.data_ptr()
    rtol, atol = STEP_X_TOL[backend][torch.float32]
    torch.testing.assert_close(x, x0, rtol=rtol, atol=atol)
    torch.testing.assert_close(w, w0, **step_w_tol(backend, d))
    assert torch.equal(big[:, :lead], before[:, :lead])
    assert torch.equal(big[:, lead + d:], before[:, lead + d:])


def test_in_place_on_strided_view_and_particle_shape(backend):
    n, dev = 4, backend.device
    big = torch.randn(n, 3, 8, 8, device=dev)
    x = big[:, 1]  # (N, 8, 8) rows of stride 192: updated in place through a view
    s, gr = torch.randn(n, 8, 8, device=dev), torch.randn(n, 8, 8, device=dev)
    w, r = torch.rand(n, device=dev) + 1, torch.randn(n, device=dev)
    x_r, w_r = fkc_step(x, w, s, gr, r, generator=torch.Generator(dev).manual_seed(1),
                        backend="reference", **COEFS)
    untouched = big[:, 0].clone()
    x_ret, w_ret = fkc_step_(x, w, s, gr, r, generator=torch.Generator(dev).manual_seed(1),
                             backend=backend, **COEFS)
    assert x_ret is x and w_ret is w
    torch.testing.assert_close(big[:, 1], x_r, rtol=1e-5, atol=2e-5)
    torch.testing.assert_close(w, w_r, rtol=1e-5, atol=1e-5)
    assert torch.equal(big[:, 0], untouched)


@pytest.mark.parametrize("d", [10, 16])  # 16: the CPU kernel's short-row loop
def test_explicit_f_clips_and_non_contiguous_rows(backend, d):
    n, dev = 6, backend.device
    base = torch.randn(n, 3 * d, device=dev)
    x, s = base[:, :d], base[:, d:2 * d]  # strided rows
    gr = torch.randn(d, n, device=dev).t()  # transposed
    f = torch.randn(2 * n, d, device=dev)[::2]  # every other row
    z = torch.randn(n, d, device=dev)
    w, r = torch.randn(n, device=dev) * 5, torch.randn(n, device=dev) * 50
    kw = dict(h=0.05, g=0.9, lam=1.5, dlam=3.0, f_coef=0.0)
    x_t, w_t = fkc_step(x, w, s, gr, r, f=f, noise=z, backend=backend, **kw)
    x_r, w_r = reference.fkc_step(x, w, s, gr, r, z, f=f, **kw)
    torch.testing.assert_close(x_t, x_r, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(w_t, w_r, rtol=1e-6, atol=1e-6)
    assert ((w_t == 0.1) | (w_t == 10.0)).any(), "inputs were meant to hit the w clip"


def test_non_finite_values_propagate(backend):
    n, d, dev = 5, 9, backend.device
    x, w, s, gr, r, xi, _ = make_inputs((n, d), torch.float32, dev)
    x[0, 2] = float("nan")
    s[1, 3] = float("nan")
    gr[2, 0] = float("inf")
    w[3] = float("nan")
    x_new, w_new = fkc_step(x, w, s, gr, r, noise=xi, backend=backend, **COEFS)
    x0, w0 = reference.fkc_step(x, w, s, gr, r, xi, **COEFS)
    torch.testing.assert_close(x_new, x0, rtol=1e-5, atol=1e-5, equal_nan=True)
    torch.testing.assert_close(w_new, w0, rtol=1e-5, atol=1e-5, equal_nan=True)
    assert torch.isnan(x_new[0, 2]) and torch.isnan(w_new[0])
    assert torch.isnan(x_new[1, 3]) and torch.isnan(w_new[1])
    assert not torch.isfinite(x_new[2, 0]) and not torch.isfinite(w_new[2])
    assert torch.isnan(w_new[3])
    assert torch.isfinite(x_new[3:]).all() and torch.isfinite(w_new[4])


def test_zero_noise_moves_along_the_score(backend):
    # with h > 0 a step must move particles *towards* the data (along the score): the sign
    # convention of docs/design.md
    dev = backend.device
    x = torch.full((1, 1), 3.0, device=dev)
    z = torch.zeros(1, 1, device=dev)
    x_new, _ = fkc_step(x, torch.zeros(1, device=dev), -x, z, torch.zeros(1, device=dev), h=0.1,
                        g=1.0, lam=0.0, dlam=0.0, noise=z, backend=backend)
    assert x_new.item() < 3.0


def test_reference_mirrors_public_api_and_is_float64_capable():
    x, w, s, gr, r, xi, _ = (t.double() for t in make_inputs((6, 11), torch.float32))
    # float64 in -> float64 math and outputs by default
    x_new, w_new = reference.fkc_step(x, w, s, gr, r, noise=xi, **COEFS)
    assert x_new.dtype == torch.float64 and w_new.dtype == torch.float64
    x_ref, _ = fkc_step_f64(x, w, s, gr, r, xi, **COEFS)
    np.testing.assert_allclose(x_new.numpy(), x_ref, rtol=1e-13, atol=1e-13)
    # in-kernel noise from a generator: the reference and the public op draw the same
    x32, w32, s32, gr32 = x.float(), w.float(), s.float(), gr.float()
    a = reference.fkc_step(x32, w32, s32, gr32, r, generator=torch.Generator().manual_seed(9),
                           **COEFS)
    b = fkc_step(x32, w32, s32, gr32, r, generator=torch.Generator().manual_seed(9),
                 backend="reference", **COEFS)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_one_dimensional_particles(backend):
    # particles of shape (N,): D = 1, each particle's row reduction is its own product
    x, w, s, gr, r, xi, _ = make_inputs((9,), torch.float32, backend.device)
    x_ref, w_ref = fkc_step_f64(x, w, s, gr, r, xi, **COEFS)
    x_new, w_new = fkc_step(x, w, s, gr, r, noise=xi, backend=backend, **COEFS)
    assert x_new.shape == (9,)
    torch.testing.assert_close(x_new.double().cpu(), torch.from_numpy(x_ref[:, 0]), rtol=2e-5,
                               atol=2e-5)
    torch.testing.assert_close(w_new.double().cpu(), torch.from_numpy(w_ref), rtol=1e-5,
                               atol=1e-5)


@pytest.mark.parametrize("shape", [(0, 5), (0,), (3, 0), (0, 2, 3)])
def test_empty_blocks(backend, shape):
    dev = backend.device
    x = torch.zeros(shape, device=dev)
    w, r = torch.zeros(shape[0], device=dev), torch.ones(shape[0], device=dev)
    x_new, w_new = fkc_step(x, w, x, x, r, h=0.5, g=1.0, lam=0.0, dlam=1.0, backend=backend)
    assert x_new.shape == shape and w_new.shape == (shape[0],)
    # D = 0 still updates the weights: dw = h * dlam * r, clipped to 0.1
    torch.testing.assert_close(w_new.cpu(), torch.full((shape[0],), 0.1))


def test_float64_weights(backend):
    x, w, s, gr, r, xi, _ = make_inputs((5, 6), torch.float32, backend.device)
    _, w1 = fkc_step(x, w.double(), s, gr, r.double(), noise=xi, backend=backend, **COEFS)
    _, w0 = reference.fkc_step(x, w, s, gr, r, xi, **COEFS)
    assert w1.dtype == torch.float32
    torch.testing.assert_close(w1, w0, rtol=1e-5, atol=1e-5)


def test_opcheck_schema_and_fake(compiled_backend):
    n, d, dev = 6, 10, compiled_backend.device
    x = torch.randn(n, d, device=dev)
    args = (x, torch.rand(n, device=dev), torch.randn(n, d, device=dev),
            torch.randn(n, d, device=dev), torch.randn(n, device=dev), None, None, None,
            torch.tensor([3, 4], device=dev), torch.empty(n, d, device=dev),
            torch.empty(n, device=dev), 0.1, 1.0, 0.5, 1.0, -0.2, 0.1, 0.1, 10.0)
    torch.library.opcheck(compiled_backend.op("fkc_step").default, args,
                          test_utils=("test_schema", "test_faketensor"))


def test_op_refuses_outputs_that_partly_overlap(compiled_backend):
    """A direct call of the C++ op whose x_out is x shifted by a row (rows are written in
    parallel: a race) is refused; exactly in place is allowed."""
    if str(compiled_backend) == "triton":
        pytest.skip("the Triton op is checked by the Python layer")
    n, d, dev = 6, 10, compiled_backend.device
    buf = torch.randn(n + 1, d, device=dev)
    w = torch.rand(n, device=dev)
    rest = (torch.randn(n, d, device=dev), torch.randn(n, d, device=dev),
            torch.randn(n, device=dev), None, None, torch.randn(n, d, device=dev), None)
    coefs = (0.1, 1.0, 0.5, 1.0, -0.2, 0.1, 0.1, 10.0)
    op = compiled_backend.op("fkc_step").default
    with pytest.raises(RuntimeError, match="refer to a single memory location"):
        op(buf[:n], w, *rest, buf[1:], torch.empty(n, device=dev), *coefs)
    want = fkc_step(buf[:n].clone(), w, *rest[:3], noise=rest[5], h=0.1, g=1.0, lam=0.5,
                    dlam=1.0, f_coef=-0.2, backend=str(compiled_backend))
    op(buf[:n], w, *rest, buf[:n], w, *coefs)  # in place
    torch.testing.assert_close(buf[:n], want[0], rtol=0, atol=0)
    torch.testing.assert_close(w, want[1], rtol=0, atol=0)


def test_torch_compile_fullgraph(compiled_backend):
    """The op is one opaque call with a fake kernel: fullgraph compile gives the eager result."""
    x, w, s, gr, r, xi, _ = make_inputs((8, 5), torch.float32, compiled_backend.device)

    name = str(compiled_backend)

    def step(x, w, s, gr, r, xi):
        return fkc_step(x, w, s, gr, r, noise=xi, backend=name, **COEFS)

    # the C++ backends through inductor; Triton through aot_eager (dynamo and the fake kernel,
    # no C++ compiler for the interpreter's CPU tensors)
    how = "aot_eager" if compiled_backend == "triton" else "inductor"
    got = torch.compile(step, fullgraph=True, backend=how)(x, w, s, gr, r, xi)
    want = step(x, w, s, gr, r, xi)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
