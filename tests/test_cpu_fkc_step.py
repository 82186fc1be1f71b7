"""C++ CPU backend of fkc_step against the reference (DESIGN section 8)."""

from __future__ import annotations

import os

import pytest
import torch

import fkc_kernels
from fkc_kernels import reference

pytestmark = pytest.mark.usefixtures("cpu_backend")


SHAPES = [(1, 1), (3, 7), (1000, 123), (4, 3, 8, 8), (3, 1), (2, 1029)]
# the kernel rounds x' once to x.dtype, like the reference; allow one ulp of that dtype
X_TOL = {torch.float32: (1e-5, 1e-5), torch.float16: (1e-3, 1e-5),
         torch.bfloat16: (8e-3, 1e-5)}
SCALARS = dict(h=0.02, g=1.3, lam=0.7, dlam=2.0)


def _inputs(shape, dtype, explicit_f=False):
    n = shape[0]
    x, s, gr = (torch.randn(shape).to(dtype) for _ in range(3))
    f = torch.randn(shape).to(dtype) if explicit_f else None
    w = torch.rand(n) * 3 + 0.5
    r = torch.randn(n)
    return x, w, s, gr, r, f


def _ref(x, w, s, gr, r, noise, f=None, f_coef=-0.4, dw_clip=0.1, w_clip=(0.1, 10.0)):
    return reference.fkc_step(x, w, s, gr, r, noise, f=f, f_coef=f_coef, dw_clip=dw_clip,
                              w_clip=w_clip, **SCALARS)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("explicit_f", [False, True])
def test_explicit_noise_matches_reference(shape, dtype, explicit_f):
    x, w, s, gr, r, f = _inputs(shape, dtype, explicit_f)
    noise = torch.randn(shape).to(dtype)
    x1, w1 = fkc_kernels.fkc_step(x, w, s, gr, r, f=f, f_coef=-0.4, noise=noise, backend="cpu",
                                  **SCALARS)
    x0, w0 = _ref(x, w, s, gr, r, noise, f=f)
    assert x1.dtype == dtype and x1.shape == x.shape and w1.dtype == torch.float32
    rtol, atol = X_TOL[dtype]
    torch.testing.assert_close(x1, x0, rtol=rtol, atol=atol)
    torch.testing.assert_close(w1, w0, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("clips", [(0.1, (0.1, 10.0)), (None, None)])
def test_clips_and_large_increments(clips):
    dw_clip, w_clip = clips
    x, w, s, gr, r, _ = _inputs((64, 33), torch.float32)
    r = r * 50  # increments far beyond the clips
    noise = torch.randn(64, 33)
    x1, w1 = fkc_kernels.fkc_step(x, w, s, gr, r, f_coef=-0.4, noise=noise, dw_clip=dw_clip,
                                  w_clip=w_clip, backend="cpu", **SCALARS)
    x0, w0 = _ref(x, w, s, gr, r, noise, dw_clip=dw_clip, w_clip=w_clip)
    torch.testing.assert_close(w1, w0, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x1, x0, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n,d", [(1, 1), (3, 7), (5, 123), (2, 4096), (7, 192)])
def test_in_kernel_noise_is_the_contract(n, d):
    """h = g = 1 and zero fields: x' is exactly the kernel's noise, compared with philox_normal."""
    seeds = torch.tensor([0x1234_5678_9ABC_DEF, 0xFEDC_BA98_7654], dtype=torch.int64)
    zeros = torch.zeros(n, d)
    x_out = torch.empty(n, d)
    w_out = torch.empty(n)
    torch.ops.fkc.fkc_step_ext(zeros, torch.zeros(n), zeros, zeros, torch.zeros(n), None, None,
                               None, seeds, x_out, w_out, 1.0, 1.0, 0.0, 0.0, 0.0, float("inf"),
                               -float("inf"), float("inf"))
    z32 = reference.philox_normal(seeds[0], seeds[1], n * d).view(n, d)
    z64 = reference.philox_normal(seeds[0], seeds[1], n * d, dtype=torch.float64).view(n, d)
    # integer part is exact, so only the last bits of log/sin/cos may differ
    torch.testing.assert_close(x_out, z32, rtol=4e-6, atol=2e-6)
    torch.testing.assert_close(x_out.double(), z64, rtol=4e-6, atol=2e-6)
    if n * d >= 1000:
        assert (x_out == z32).float().mean() > 0.3  # most values agree to the last bit


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_in_kernel_noise_same_generator_state_as_reference(dtype):
    x, w, s, gr, r, _ = _inputs((300, 77), dtype)
    g1 = torch.Generator().manual_seed(1234)
    g2 = torch.Generator().manual_seed(1234)
    x1, w1 = fkc_kernels.fkc_step(x, w, s, gr, r, generator=g1, backend="cpu", **SCALARS)
    x0, w0 = fkc_kernels.fkc_step(x, w, s, gr, r, generator=g2, backend="reference", **SCALARS)
    rtol, atol = X_TOL[dtype]
    torch.testing.assert_close(x1, x0, rtol=rtol, atol=atol)
    torch.testing.assert_close(w1, w0, rtol=1e-5, atol=1e-5)
    # the generator advanced identically, and the next draw gives fresh noise
    x2, _ = fkc_kernels.fkc_step(x, w, s, gr, r, generator=g1, backend="cpu", **SCALARS)
    assert not torch.equal(x2, x1)


def test_strided_rows_and_inplace_alias():
    n, d = 37, 50
    big = torch.randn(n, d + 13)
    x = big[:, 3:3 + d]  # row stride 63, inner stride 1
    s = torch.randn(n, 2 * d)[:, ::2]  # inner stride 2: the wrapper copies it
    gr = torch.randn(n, d)
    w = torch.rand(n) + 1.0
    r = torch.randn(n)
    noise = torch.randn(n, d)
    x0, w0 = _ref(x.clone(), w.clone(), s, gr, r, noise)
    before = big.clone()
    xi, wi = fkc_kernels.fkc_step_(x, w, s, gr, r, f_coef=-0.4, noise=noise, backend="cpu",
                                   **SCALARS)
    assert xi.data_ptr() == x.data_ptr() and wi.data_ptr() == w.data_ptr()
    torch.testing.assert_close(x, x0, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(w, w0, rtol=1e-5, atol=1e-5)
    # the columns outside the view are untouched
    assert torch.equal(big[:, :3], before[:, :3]) and torch.equal(big[:, 3 + d:], before[:, 3 + d:])


def test_non_finite_values_propagate():
    x, w, s, gr, r, _ = _inputs((4, 9), torch.float32)
    x[1, 3] = float("nan")
    s[2, 0] = float("inf")
    noise = torch.randn(4, 9)
    x1, w1 = fkc_kernels.fkc_step(x, w, s, gr, r, f_coef=-0.4, noise=noise, backend="cpu",
                                  **SCALARS)
    x0, w0 = _ref(x, w, s, gr, r, noise)
    torch.testing.assert_close(x1, x0, rtol=1e-5, atol=1e-5, equal_nan=True)
    torch.testing.assert_close(w1, w0, rtol=1e-5, atol=1e-5, equal_nan=True)
    assert torch.isnan(w1[1]) and torch.isnan(x1[1, 3])


def test_float64_weights():
    x, w, s, gr, r, _ = _inputs((5, 6), torch.float32)
    noise = torch.randn(5, 6)
    x1, w1 = fkc_kernels.fkc_step(x, w.double(), s, gr, r.double(), f_coef=-0.4, noise=noise,
                                  backend="cpu", **SCALARS)
    x0, w0 = _ref(x, w, s, gr, r, noise)
    torch.testing.assert_close(w1, w0, rtol=1e-5, atol=1e-5)


def test_auto_picks_cpu_for_cpu_tensors():
    from fkc_kernels.ops._backends import resolve_backend

    assert resolve_backend("auto", torch.device("cpu")).name == "cpu"


def test_opcheck_schema_and_fake():
    n, d = 6, 10
    x = torch.randn(n, d)
    args = (x, torch.rand(n), torch.randn(n, d), torch.randn(n, d), torch.randn(n), None, None,
            None, torch.tensor([3, 4]), torch.empty(n, d), torch.empty(n), 0.1, 1.0, 0.5, 1.0,
            -0.2, 0.1, 0.1, 10.0)
    torch.library.opcheck(torch.ops.fkc.fkc_step_ext.default, args,
                          test_utils=("test_schema", "test_faketensor"))


def test_fallback_when_the_extension_is_off():
    """With the library off, import works, "auto" falls back and "cpu" explains itself."""
    import subprocess
    import sys

    code = (
        "import torch, fkc_kernels as fk\n"
        "assert 'cpu' not in fk.available_backends(), fk.available_backends()\n"
        "x = torch.randn(3, 4)\n"
        "fk.fkc_step(x, torch.ones(3), x, x, torch.zeros(3), h=0.1, g=1.0, lam=0.0, dlam=0.0)\n"
        "try:\n"
        "    fk.fkc_step(x, torch.ones(3), x, x, torch.zeros(3), h=0.1, g=1.0, lam=0.0, dlam=0.0,"
        " backend='cpu')\n"
        "except ValueError as e:\n"
        "    assert 'FKC_DISABLE_EXT=1' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('backend=cpu did not raise')\n"
    )
    env = dict(os.environ, FKC_DISABLE_EXT="1")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_torch_compile_fullgraph():
    """The op is one opaque call with a fake kernel: fullgraph compile gives the eager result."""
    x, w, s, gr, r, _ = _inputs((8, 5), torch.float32)
    noise = torch.randn(8, 5)

    def step(x, w, s, gr, r, noise):
        return fkc_kernels.fkc_step(x, w, s, gr, r, noise=noise, backend="cpu", **SCALARS)

    got = torch.compile(step, fullgraph=True)(x, w, s, gr, r, noise)
    want = step(x, w, s, gr, r, noise)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
