"""``extra_dw=``: a per-particle term added to the log-weight increment, fused in every backend.

Every backend runs the same checks: against the float64 statement (reference), against the
reference (kernels), bit-identity of ``extra_dw = 0`` with no term, the clip order, in place, the
split-D Triton path, argument errors and the op schemas with their fake kernels.
"""

from __future__ import annotations

import math

import pytest
import torch
from _closed_forms import fkc_step_f64

import fkc_kernels as fk
from fkc_kernels import reference
from fkc_kernels.ops import unavailable_reason
from fkc_kernels.ops._step_args import StepScalars, StepTensors

COEFS = dict(h=0.02, g=1.3, lam=0.7, dlam=2.0, f_coef=-0.4)


def _device(backend) -> str:
    # the backend fixture (tests/ops/conftest.py) knows its device
    return str(backend.device)


def _inputs(n, d, device="cpu", dtype=torch.float32):
    x, s, gr, z = (torch.randn(n, d, device=device).to(dtype) for _ in range(4))
    w = torch.rand(n, device=device) * 3 + 0.5
    r = torch.randn(n, device=device)
    extra = 0.05 * torch.randn(n, device=device)
    return x, w, s, gr, r, z, extra


def _w_tol(d: int) -> dict:
    # the kernels sum a row's d products in another order than torch: sqrt(d) ulps of the sum
    return dict(rtol=1e-5, atol=1e-6 * math.sqrt(d))


@pytest.mark.parametrize("n,d", [(1, 1), (3, 7), (37, 64), (5, 123), (4, 1029)])
@pytest.mark.parametrize("clips", [(None, None), (0.1, (0.1, 10.0))])
def test_matches_reference(backend, n, d, clips):
    dw_clip, w_clip = clips
    dev = _device(backend)
    x, w, s, gr, r, z, extra = _inputs(n, d, dev)
    kw = dict(COEFS, dw_clip=dw_clip, w_clip=w_clip)
    x1, w1 = fk.fkc_step(x, w, s, gr, r, noise=z, extra_dw=extra, backend=backend, **kw)
    x_ref, w_ref = fkc_step_f64(x.cpu(), w.cpu(), s.cpu(), gr.cpu(), r.cpu(), z.cpu(), **kw)
    extra64 = extra.cpu().double().numpy()
    # the float64 statement with the term: recompute dw without clips, add, then clip
    _, w_free = fkc_step_f64(x.cpu(), torch.zeros(n), s.cpu(), gr.cpu(), r.cpu(), z.cpu(),
                             **dict(COEFS, dw_clip=None, w_clip=None))
    dw = w_free + extra64
    if dw_clip is not None:
        dw = dw.clip(-dw_clip, dw_clip)
    w_want = w.cpu().double().numpy() + dw
    if w_clip is not None:
        w_want = w_want.clip(*w_clip)
    torch.testing.assert_close(x1.cpu().double(), torch.from_numpy(x_ref), rtol=2e-5, atol=2e-5)
    torch.testing.assert_close(w1.cpu().double(), torch.from_numpy(w_want), rtol=1e-5,
                               atol=1e-5)
    if backend != "reference":
        x0, w0 = fk.fkc_step(x, w, s, gr, r, noise=z, extra_dw=extra, backend="reference", **kw)
        torch.testing.assert_close(w1, w0, **_w_tol(d))
        torch.testing.assert_close(x1, x0, rtol=1e-6, atol=1e-6)


def test_zero_term_is_bit_identical_to_none(backend):
    dev = _device(backend)
    x, w, s, gr, r, z, _ = _inputs(9, 33, dev)
    gen = dict(generator=torch.Generator(dev).manual_seed(5))
    a = fk.fkc_step(x, w, s, gr, r, extra_dw=torch.zeros(9, device=dev), backend=backend,
                    **gen, **COEFS)
    gen = dict(generator=torch.Generator(dev).manual_seed(5))
    b = fk.fkc_step(x, w, s, gr, r, backend=backend, **gen, **COEFS)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_term_is_clipped_with_the_increment(backend):
    # a large term: dw = h*(...) + extra is clipped to +-dw_clip first, then w + dw to w_clip
    dev = _device(backend)
    n, d = 4, 8
    zeros = torch.zeros(n, d, device=dev)
    w = torch.tensor([0.0, 5.0, 9.95, 5.0], device=dev)
    extra = torch.tensor([3.0, -3.0, 3.0, 0.02], device=dev)
    _, w1 = fk.fkc_step(zeros, w, zeros, zeros, torch.zeros(n, device=dev), h=0.5, g=1.0,
                        lam=0.0, dlam=1.0, noise=zeros, extra_dw=extra, backend=backend)
    want = torch.tensor([0.1, 4.9, 10.0, 5.02], device=dev)
    torch.testing.assert_close(w1, want)


def test_in_place_with_term(backend):
    dev = _device(backend)
    x, w, s, gr, r, z, extra = _inputs(6, 20, dev)
    x0, w0 = fk.fkc_step(x, w, s, gr, r, noise=z, extra_dw=extra, backend=backend, **COEFS)
    x_ip, w_ip = x.clone(), w.clone()
    fk.fkc_step_(x_ip, w_ip, s, gr, r, noise=z, extra_dw=extra, backend=backend, **COEFS)
    assert torch.equal(x_ip, x0) and torch.equal(w_ip, w0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_other_float_dtypes_are_widened(backend, dtype):
    dev = _device(backend)
    x, w, s, gr, r, z, extra = _inputs(5, 12, dev)
    extra = extra.to(dtype)
    a = fk.fkc_step(x, w, s, gr, r, noise=z, extra_dw=extra, backend=backend, **COEFS)
    b = fk.fkc_step(x, w, s, gr, r, noise=z, extra_dw=extra.float(), backend=backend, **COEFS)
    assert torch.equal(a[1], b[1])


def test_triton_split_rows_add_the_term_once():
    """The split-D Triton path adds the term in its finishing kernel, once per row."""
    if unavailable_reason("triton", torch.device("cpu")) is not None:
        pytest.skip("the Triton backend cannot run CPU tensors here")
    from fkc_kernels.triton import fkc_step as triton_step

    n, d = 3, 2048
    x, w, s, gr, r, z, extra = _inputs(n, d)
    x_out, w_out = torch.empty(n, d), torch.empty(n)
    triton_step.fkc_step(StepTensors(x, w, s, gr, r, extra, None, z, None, x_out, w_out),
                         StepScalars(**COEFS, dw_clip=math.inf, w_min=-math.inf, w_max=math.inf),
                         split=2)
    _, w_ref = reference.fkc_step(x, w, s, gr, r, z, dw_clip=None, w_clip=None, extra_dw=extra,
                                  **COEFS)
    torch.testing.assert_close(w_out, w_ref, **_w_tol(d))


@pytest.mark.parametrize("bad,exc,match", [
    (torch.zeros(4), ValueError, r"extra_dw: expected shape \(3,\) to match x's N=3"),
    (torch.zeros(3, 1), ValueError, r"extra_dw: expected a 1-D tensor \(N,\), got shape"),
    (torch.zeros(3, dtype=torch.int64), TypeError, r"extra_dw: expected a floating-point"),
    ([0.0, 0.0, 0.0], TypeError, r"extra_dw: expected a torch.Tensor, got list"),
])
def test_bad_term_names_the_argument(bad, exc, match):
    x = torch.zeros(3, 4)
    with pytest.raises(exc, match=match):
        fk.fkc_step(x, torch.zeros(3), x, x, torch.zeros(3), h=0.1, g=1.0, lam=0.0, dlam=0.0,
                    extra_dw=bad)


@pytest.mark.parametrize("suffix", ["ext", "triton"])
def test_schema_and_fake_kernel_take_the_term(suffix):
    backend_name = "cpu" if suffix == "ext" else "triton"
    reason = unavailable_reason(backend_name, torch.device("cpu"))
    if reason is not None:
        pytest.skip(f"the {backend_name!r} backend is unavailable: {reason}")
    op = getattr(torch.ops.fkc, f"fkc_step_{suffix}").default
    assert "Tensor? extra_dw" in str(op._schema)
    n, d = 6, 8
    args = (torch.randn(n, d), torch.rand(n), torch.randn(n, d), torch.randn(n, d),
            torch.randn(n), torch.randn(n), None, None, torch.tensor([3, 4]),
            torch.empty(n, d), torch.empty(n), 0.1, 1.0, 0.5, 1.0, -0.2, 0.1, 0.1, 10.0)
    torch.library.opcheck(op, args, test_utils=("test_schema", "test_faketensor"))
