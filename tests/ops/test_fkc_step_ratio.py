"""``increment="ratio"``: the log density ratio of the unguided Euler-Maruyama transition to the
guided one, fused in every backend (docs/design.md, "The ratio increment").

Every backend is checked against the float32 reference (per-backend tolerances of
_tolerances.py), against an independent float64 statement that evaluates the two Gaussian log
densities with ``torch.distributions`` (tests/_closed_forms.py, ``ratio_step_f64``), at ``g = 0``
(the increment is ``extra_dw``), with in-kernel noise (the weight uses the noise the step drew),
and through its op schema (opcheck, ``torch.compile``).
"""

from __future__ import annotations

import math

import pytest
import torch
from _closed_forms import ratio_step_f64
from _tolerances import NOISE_TOL, STEP_X_TOL, step_w_tol

from fkc_kernels import fkc_step, fkc_step_, reference
from fkc_kernels.ops import unavailable_reason
from fkc_kernels.ops._step_args import StepScalars, StepTensors

SHAPES = [(1, 1), (3, 7), (37, 32), (37, 64), (5, 66), (5, 123), (2, 3, 5), (2, 1029)]
DTYPES = [torch.float32, torch.float16, torch.bfloat16]
# x' against the float64 statement: the rounding of x' to the particle dtype dominates
F64_X_TOL = {torch.float32: (2e-5, 2e-5), torch.float16: (2e-3, 2e-3),
             torch.bfloat16: (1.6e-2, 1e-2)}
COEFS = dict(h=0.01, g=1.7, lam=0.8, dlam=2.0, f_coef=-3.1)
NO_CLIPS = dict(dw_clip=None, w_clip=None)
RATIO = dict(increment="ratio")
SEEDS = torch.tensor([0x0BAD_5EED_1234, 0x77], dtype=torch.int64)


def make_inputs(shape, dtype, device="cpu"):
    """``x, w, score, ∇r, r, ξ, f, extra_dw`` for particles of ``shape``."""
    n = shape[0]
    x = torch.randn(shape, device=device).to(dtype)
    s = (-x.float() + 0.3 * torch.randn(shape, device=device)).to(dtype)
    gr = torch.randn(shape, device=device).to(dtype)
    xi = torch.randn(shape, device=device).to(dtype)
    f = torch.randn(shape, device=device).to(dtype)
    w = torch.rand(n, device=device) * 2
    r = torch.randn(n, device=device)
    extra = 0.1 * torch.randn(n, device=device)
    return x, w, s, gr, r, xi, f, extra


def f64_w_tol(d: int) -> dict:
    """float32 row sums of d products (the kernels, the float32 reference) against float64."""
    return dict(rtol=1e-5, atol=max(1e-5, 1e-6 * math.sqrt(d)))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("explicit_f", [False, True])
def test_matches_gaussian_log_ratio_and_reference(backend, shape, dtype, explicit_f):
    x, w, s, gr, r, xi, f, extra = make_inputs(shape, dtype, backend.device)
    f = f if explicit_f else None
    kw = dict(COEFS, f=f, noise=xi, extra_dw=extra, **NO_CLIPS)
    x_new, w_new = fkc_step(x, w, s, gr, r, backend=backend, **RATIO, **kw)
    n, d = shape[0], math.prod(shape[1:])
    # (b) the definition: log N(x'; mu_base) - log N(x'; mu_guided), in float64
    x64, dw64 = ratio_step_f64(x, s, gr, xi, h=COEFS["h"], g=COEFS["g"], lam=COEFS["lam"],
                               f_coef=COEFS["f_coef"], f=f)
    rtol, atol = F64_X_TOL[dtype]
    torch.testing.assert_close(x_new.double().cpu().reshape(n, -1), x64, rtol=rtol, atol=atol)
    want_w = w.double().cpu() + dw64 + extra.double().cpu()
    torch.testing.assert_close(w_new.double().cpu(), want_w, **f64_w_tol(d))
    # (a) the float32 reference, with the tolerances of the fkc increment
    x0, w0 = reference.fkc_step(x, w, s, gr, r, xi, **RATIO, **{k: v for k, v in kw.items()
                                                               if k != "noise"})
    rtol, atol = STEP_X_TOL[backend][dtype]
    torch.testing.assert_close(x_new, x0, rtol=rtol, atol=atol)
    torch.testing.assert_close(w_new, w0, **step_w_tol(backend, d))
    # the move is the fkc mode's, bit for bit: only the weight changes
    x_fkc, _ = fkc_step(x, w, s, gr, r, backend=backend, **kw)
    assert torch.equal(x_new, x_fkc)


def test_float64_reference_is_the_definition():
    x, w, s, gr, r, xi, f, extra = (t.double() for t in make_inputs((7, 33), torch.float32))
    for fx in (None, f):
        _, w_new = reference.fkc_step(x, w, s, gr, r, xi, f=fx, extra_dw=extra, **COEFS,
                                      **NO_CLIPS, **RATIO, compute_dtype=torch.float64)
        _, dw64 = ratio_step_f64(x, s, gr, xi, h=COEFS["h"], g=COEFS["g"], lam=COEFS["lam"],
                                 f_coef=COEFS["f_coef"], f=fx)
        torch.testing.assert_close(w_new, w + dw64 + extra, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("with_extra", [False, True])
@pytest.mark.parametrize("clips", [(None, None), (0.05, (0.1, 10.0))])
def test_g_zero_increment_is_extra_dw(backend, with_extra, clips):
    dw_clip, w_clip = clips
    x, w, s, gr, r, xi, _, extra = make_inputs((9, 40), torch.float32, backend.device)
    extra = extra if with_extra else None
    gr = 100 * gr  # a large gradient: at g = 0 it must still contribute nothing
    kw = dict(COEFS, g=0.0, noise=xi, extra_dw=extra, dw_clip=dw_clip, w_clip=w_clip)
    x_new, w_new = fkc_step(x, w, s, gr, r, backend=backend, **RATIO, **kw)
    dw = torch.zeros_like(w) if extra is None else extra
    if dw_clip is not None:
        dw = dw.clamp(-dw_clip, dw_clip)
    want = w + dw
    if w_clip is not None:
        want = want.clamp(*w_clip)
    assert torch.equal(w_new, want)


def test_reward_and_dlam_are_unused(backend):
    x, w, s, gr, r, xi, _, _ = make_inputs((5, 12), torch.float32, backend.device)
    kw = dict(COEFS, noise=xi, backend=backend, **RATIO, **NO_CLIPS)
    _, w1 = fkc_step(x, w, s, gr, r, **kw)
    _, w2 = fkc_step(x, w, s, gr, 50 * r + 3, **dict(kw, dlam=-7.0))
    assert torch.equal(w1, w2)


@pytest.mark.parametrize("n,d", [(1, 1), (3, 7), (37, 64), (5, 123), (3, 192), (2, 1029)])
def test_in_kernel_noise_is_the_noise_of_the_weight(backend, n, d):
    """With in-kernel Philox noise the ratio is evaluated at the noise the step drew: the float64
    definition at the contract's normals (reference.philox_normal) gives the same weight."""
    x, w, s, gr, r, _, _, extra = make_inputs((n, d), torch.float32, backend.device)
    kw = dict(COEFS, extra_dw=extra, **NO_CLIPS, **RATIO)
    x_new, w_new = fkc_step(x, w, s, gr, r, seeds=SEEDS.to(backend.device), backend=backend,
                            **kw)
    z64 = reference.philox_normal(SEEDS[0], SEEDS[1], n * d, dtype=torch.float64).view(n, d)
    x64, dw64 = ratio_step_f64(x, s, gr, z64, h=COEFS["h"], g=COEFS["g"], lam=COEFS["lam"],
                               f_coef=COEFS["f_coef"])
    noise_atol = NOISE_TOL[backend][1] + 2e-5  # float32 normals against float64 Box-Muller
    torch.testing.assert_close(x_new.double().cpu(), x64, rtol=2e-5, atol=2e-5 + noise_atol)
    tol = f64_w_tol(d)
    # <∇r, ξ> carries the noise's rounding: g√h·λ/2 · |∇r|·|Δξ|·√d at most
    tol["atol"] += 0.5 * COEFS["g"] * math.sqrt(COEFS["h"]) * COEFS["lam"] * noise_atol * 4 * d
    torch.testing.assert_close(w_new.double().cpu(), w.double().cpu() + dw64 + extra.cpu(), **tol)
    # and the reference with the same seeds, within the backend's tolerances
    x0, w0 = fkc_step(x, w, s, gr, r, seeds=SEEDS.to(backend.device), backend="reference", **kw)
    torch.testing.assert_close(x_new, x0, rtol=STEP_X_TOL[backend][torch.float32][0],
                               atol=max(STEP_X_TOL[backend][torch.float32][1],
                                        NOISE_TOL[backend][1]))
    torch.testing.assert_close(w_new, w0, **step_w_tol(backend, d))


def test_generator_draws_the_same_noise_as_the_reference(backend):
    x, w, s, gr, r, _, _, _ = make_inputs((6, 40), torch.bfloat16, backend.device)
    out = {}
    for name in (backend, "reference"):
        gen = torch.Generator(device=backend.device).manual_seed(2027)
        out[name] = fkc_step(x, w, s, gr, r, generator=gen, backend=name, **COEFS, **RATIO)
    torch.testing.assert_close(out[backend][1], out["reference"][1], **step_w_tol(backend, 40))


def test_clips_apply_to_the_ratio(backend):
    x, w, s, gr, r, xi, _, extra = make_inputs((6, 50), torch.float32, backend.device)
    gr = 20 * gr  # |dw| well above the clip
    kw = dict(COEFS, noise=xi, extra_dw=extra, **RATIO)
    _, w_new = fkc_step(x, w, s, gr, r, backend=backend, dw_clip=0.1, w_clip=(0.5, 1.5), **kw)
    _, w_free = fkc_step(x, torch.zeros_like(w), s, gr, r, backend="reference", **NO_CLIPS, **kw)
    want = (w + w_free.clamp(-0.1, 0.1)).clamp(0.5, 1.5)
    torch.testing.assert_close(w_new, want, rtol=1e-6, atol=1e-6)
    assert (w_free.abs() > 0.1).all(), "inputs were meant to hit the dw clip"


@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 4, 4)])
def test_in_place_equals_out_of_place(backend, shape):
    x, w, s, gr, r, xi, _, extra = make_inputs(shape, torch.float32, backend.device)
    kw = dict(COEFS, noise=xi, extra_dw=extra, backend=backend, **RATIO)
    x_ref, w_ref = fkc_step(x, w, s, gr, r, **kw)
    x_ip, w_ip = x.clone(), w.clone()
    fkc_step_(x_ip, w_ip, s, gr, r, **kw)
    assert torch.equal(x_ip, x_ref) and torch.equal(w_ip, w_ref)


@pytest.mark.parametrize("shape", [(0, 5), (3, 0)])
def test_empty_blocks(backend, shape):
    dev = backend.device
    x = torch.zeros(shape, device=dev)
    w, r = torch.zeros(shape[0], device=dev), torch.ones(shape[0], device=dev)
    extra = torch.full((shape[0],), 0.03, device=dev)
    x_new, w_new = fkc_step(x, w, x, x, r, h=0.5, g=1.0, lam=1.0, dlam=1.0, extra_dw=extra,
                            backend=backend, **NO_CLIPS, **RATIO)
    # D = 0: no gradient, so the increment is extra_dw alone
    assert x_new.shape == shape and torch.equal(w_new, extra)


def test_triton_split_rows_sum_the_ratio_once():
    """The split-D Triton path finishes the ratio in its second kernel, from partial sums."""
    if unavailable_reason("triton", torch.device("cpu")) is not None:
        pytest.skip("the Triton backend cannot run CPU tensors here")
    from fkc_kernels.triton import fkc_step as triton_step

    n, d = 3, 2048
    x, w, s, gr, r, z, _, extra = make_inputs((n, d), torch.float32)
    x_out, w_out = torch.empty(n, d), torch.empty(n)
    triton_step.fkc_step(StepTensors(x, w, s, gr, r, extra, None, z, None, x_out, w_out),
                         StepScalars(**COEFS, dw_clip=math.inf, w_min=-math.inf, w_max=math.inf,
                                     **RATIO), split=2)
    _, w_ref = reference.fkc_step(x, w, s, gr, r, z, extra_dw=extra, **COEFS, **NO_CLIPS,
                                  **RATIO)
    torch.testing.assert_close(w_out, w_ref, **step_w_tol("triton", d))


def test_opcheck_schema_and_fake(compiled_backend):
    n, d, dev = 6, 10, compiled_backend.device
    x = torch.randn(n, d, device=dev)
    args = (x, torch.rand(n, device=dev), torch.randn(n, d, device=dev),
            torch.randn(n, d, device=dev), torch.randn(n, device=dev), torch.randn(n, device=dev),
            None, None, torch.tensor([3, 4], device=dev), torch.empty(n, d, device=dev),
            torch.empty(n, device=dev), 0.1, 1.0, 0.5, 1.0, -0.2, 0.1, 0.1, 10.0, "ratio")
    op = compiled_backend.op("fkc_step").default
    assert "str increment" in str(op._schema)
    torch.library.opcheck(op, args, test_utils=("test_schema", "test_faketensor"))


def test_torch_compile_fullgraph(compiled_backend):
    x, w, s, gr, r, xi, _, extra = make_inputs((8, 5), torch.float32, compiled_backend.device)
    name = str(compiled_backend)

    def step(x, w, s, gr, r, xi, extra):
        return fkc_step(x, w, s, gr, r, noise=xi, extra_dw=extra, backend=name, **COEFS,
                        **RATIO)

    how = "aot_eager" if compiled_backend == "triton" else "inductor"
    got = torch.compile(step, fullgraph=True, backend=how)(x, w, s, gr, r, xi, extra)
    want = step(x, w, s, gr, r, xi, extra)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
