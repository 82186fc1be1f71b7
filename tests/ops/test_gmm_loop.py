"""``gmm_loop_``: K mixture steps in place, in one kernel launch where a backend has a loop kernel
(docs/design.md, "The mixture loop in one kernel"), with the bits of K ``gmm_step_`` calls.

Every backend runs the loop against its own steps, bit for bit; a backend with a loop kernel is
also checked to have launched it once and no step; the step table's cache and the fallbacks
(layouts, autograd, models the kernel does not take) are checked on their own.
"""

from __future__ import annotations

import math

import pytest
import torch
from test_gmm_step import _assert_step_is_the_reference, make_model, make_particles

import fkc_kernels as fk
from fkc_kernels.ops import gmm_loop as loop_module


def _seeds(k: int, device) -> torch.Tensor:
    return torch.randint(0, 2**62, (k, 2), generator=torch.Generator().manual_seed(k)).to(device)


def _steps_one_by_one(x, w, mix, bumps, sched, tilt, k, seeds, backend, **kw):
    """K ``gmm_step_`` calls (gmm_loop_'s default clips: none)."""
    kw = dict(dict(dw_clip=None, w_clip=None), **kw)
    x, w = x.clone(), w.clone()
    for i in range(k):
        c = sched.at_step(i, k)
        fk.gmm_step_(x, w, mix, bumps, alpha=c.alpha, sigma=c.sigma, h=c.h, g=c.g,
                     lam=tilt.lam(c.t), dlam=tilt.dlam(c.t), f_coef=c.f_coef, seeds=seeds[i],
                     backend=backend, **kw)
    return x, w


class _LaunchCounter:
    """Counts a backend object's ``gmm_loop`` and ``gmm_step`` calls (and passes them on)."""

    def __init__(self, monkeypatch, impl):
        self.loops = self.steps = 0
        for name in ("gmm_loop", "gmm_step"):
            if hasattr(impl, name):
                monkeypatch.setattr(impl, name, self._counted(name, getattr(impl, name)))

    def _counted(self, name, fn):
        def call(*args):
            if name == "gmm_loop":
                self.loops += 1
            else:
                self.steps += 1
            return fn(*args)
        return call


@pytest.mark.parametrize("n,d,k", [(5, 2, 3), (9, 8, 4), (3, 7, 3), (17, 64, 2)])
@pytest.mark.parametrize("increment", ["fkc", "ratio"])
@pytest.mark.parametrize("log", [True, False])
def test_loop_is_its_steps_bit_for_bit(backend, monkeypatch, n, d, k, increment, log):
    """The loop's x and w are those of K ``gmm_step_`` calls with rows of ``seeds``; a backend
    with a loop kernel launches it once and no step."""
    mix, bumps = make_model(d, backend.device, log=log)
    x = 1.5 * torch.randn(n, d, device=backend.device)
    w = torch.rand(n, device=backend.device)
    seeds = _seeds(k, backend.device)
    sched, tilt = fk.VPSchedule(), fk.LinearTilt(2.0)
    clips = dict(dw_clip=0.5, w_clip=(-3.0, 3.0)) if increment == "ratio" else \
        dict(dw_clip=None, w_clip=None)
    want_x, want_w = _steps_one_by_one(x, w, mix, bumps, sched, tilt, k, seeds, backend,
                                       increment=increment, **clips)
    counter = _LaunchCounter(monkeypatch, backend.impl)
    out = fk.gmm_loop_(x, w, mix, bumps, sched, tilt, k, seeds=seeds, increment=increment,
                       backend=backend, **clips)
    assert out[0] is x and out[1] is w
    assert torch.equal(x, want_x) and torch.equal(w, want_w)
    if hasattr(backend.impl, "gmm_loop"):
        assert (counter.loops, counter.steps) == (1, 0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_loop_rounds_each_step(backend, dtype):
    """16-bit particles are rounded after every step, as K stores would round them."""
    mix, bumps = make_model(4, backend.device)
    x = torch.randn(6, 4, device=backend.device).to(dtype)
    w = torch.zeros(6, device=backend.device)
    seeds = _seeds(3, backend.device)
    sched, tilt = fk.VPSchedule(), fk.LinearTilt(1.0)
    want_x, want_w = _steps_one_by_one(x, w, mix, bumps, sched, tilt, 3, seeds, backend)
    fk.gmm_loop_(x, w, mix, bumps, sched, tilt, 3, seeds=seeds, backend=backend)
    assert x.dtype == dtype
    assert torch.equal(x, want_x) and torch.equal(w, want_w)


@pytest.mark.parametrize("case", ["strided x", "float64 w", "long rows"])
def test_fallbacks_run_the_steps(backend, monkeypatch, case):
    """Arguments a loop kernel does not take run one step at a time, with the same result."""
    d = 1100 if case == "long rows" else 4
    mix, bumps = make_model(d, backend.device)
    x = torch.randn(4, d, device=backend.device)
    w = torch.zeros(4, device=backend.device)
    seeds = _seeds(2, backend.device)
    sched, tilt = fk.VPSchedule(), fk.LinearTilt(1.0)
    want_x, want_w = _steps_one_by_one(x, w, mix, bumps, sched, tilt, 2, seeds, backend)
    if case == "strided x":
        x = torch.empty(4, 2 * d, device=backend.device)[:, ::2].copy_(x)
    elif case == "float64 w":
        w = w.double()
    counter = _LaunchCounter(monkeypatch, backend.impl)
    fk.gmm_loop_(x, w, mix, bumps, sched, tilt, 2, seeds=seeds, backend=backend)
    # long rows are a fallback only where the kernels hold rows in registers (triton, cuda)
    fused = case == "long rows" and hasattr(backend.impl, "gmm_loop") and \
        backend.impl.gmm_fused(d, 5, 2)
    assert counter.loops == int(fused)
    torch.testing.assert_close(x.detach(), want_x, rtol=0, atol=0)
    torch.testing.assert_close(w.float(), want_w, rtol=0, atol=0)


def test_autograd_runs_the_reference_steps(monkeypatch):
    """x that requires grad takes the reference's steps under backend="auto" (the loop kernels
    have no backward), and the gradient reaches the leaf."""
    mix, bumps = make_model(3)
    leaf = torch.randn(4, 3, requires_grad=True)
    seeds = _seeds(2, "cpu")
    sched, tilt = fk.VPSchedule(), fk.LinearTilt(1.0)
    want_x, want_w = _steps_one_by_one(leaf.detach(), torch.zeros(4), mix, bumps, sched, tilt, 2,
                                       seeds, "reference")
    x, w = leaf * 1.0, torch.zeros(4)
    fk.gmm_loop_(x, w, mix, bumps, sched, tilt, 2, seeds=seeds)
    assert torch.equal(x.detach(), want_x) and torch.equal(w.detach(), want_w)
    x.sum().backward()
    assert leaf.grad is not None and bool(leaf.grad.abs().sum() > 0)


def test_step_table_is_cached_by_value(monkeypatch):
    """The same schedule reuses one device table; a new one adds one; the cache is bounded."""
    monkeypatch.setattr(loop_module, "_TABLES", type(loop_module._TABLES)())
    monkeypatch.setattr(loop_module, "_TABLE_CACHE_SIZE", 2)
    rows_a = loop_module._coef_rows(loop_module._step_kwargs(
        fk.VPSchedule(), fk.LinearTilt(1.0), 3, "fkc", None, None), True)
    a = loop_module._coef_table(rows_a, torch.device("cpu"))
    assert loop_module._coef_table(rows_a, torch.device("cpu")) is a
    assert a.dtype == torch.float32 and a.shape == (3, 16)
    assert torch.equal(a, torch.tensor(rows_a, dtype=torch.float64).float())
    for lam in (2.0, 3.0):
        loop_module._coef_table(loop_module._coef_rows(loop_module._step_kwargs(
            fk.VPSchedule(), fk.LinearTilt(lam), 3, "fkc", None, None), True),
            torch.device("cpu"))
    assert len(loop_module._TABLES) == 2
    assert loop_module._coef_table(rows_a, torch.device("cpu")) is not a  # evicted, rebuilt


def test_table_keys_tell_signed_zeros_apart(monkeypatch):
    """0.0 and -0.0 compare equal as floats but are other tables (x + 0.0 and x + -0.0 differ
    at x = -0.0)."""
    monkeypatch.setattr(loop_module, "_TABLES", type(loop_module._TABLES)())
    rows = ((1.0, 0.0),)
    a = loop_module._coef_table(rows, torch.device("cpu"))
    b = loop_module._coef_table(((1.0, -0.0),), torch.device("cpu"))
    assert a is not b and torch.signbit(b[0, 1]) and not torch.signbit(a[0, 1])


class _TiltGoingBad:
    """lam(t) finite for t < 0.5, NaN after: a bad scalar at a later step."""

    def lam(self, t):
        return 1.0 if t < 0.5 else float("nan")

    def dlam(self, t):
        return 0.0


def test_a_bad_later_step_is_refused_before_any_step(backend):
    mix, bumps = make_model(3, backend.device)
    x = torch.randn(4, 3, device=backend.device)
    w = torch.zeros(4, device=backend.device)
    x0, w0 = x.clone(), w.clone()
    with pytest.raises(ValueError, match="lam: expected a finite"):
        fk.gmm_loop_(x, w, mix, bumps, fk.VPSchedule(), _TiltGoingBad(), 4,
                     seeds=_seeds(4, backend.device), backend=backend)
    assert torch.equal(x, x0) and torch.equal(w, w0)


def test_table_columns_are_the_step_kernels_scalars():
    """Row i holds what one fused step is launched with at step i (one float32 rounding)."""
    from fkc_kernels.ops._gmm_args import KERNEL_SCALARS, GmmScalars, kernel_scalars

    sched, tilt = fk.VPSchedule(), fk.LinearTilt(3.0)
    rows = loop_module._coef_rows(loop_module._step_kwargs(sched, tilt, 4, "ratio", 0.2,
                                                           (-1.0, 2.0)), False)
    c = sched.at_step(2, 4)
    g2 = c.g * c.g
    want = dict(alpha=c.alpha, alpha2=c.alpha**2, sigma2=c.sigma**2, h=c.h, g2=g2,
                half_lam=tilt.lam(c.t) / 2, noise_scale=c.g * math.sqrt(c.h), f_coef=c.f_coef,
                dlam=tilt.dlam(c.t), lam=tilt.lam(c.t), half_g2_lam=g2 * tilt.lam(c.t) / 2,
                ratio_gg=c.h * g2 * tilt.lam(c.t) ** 2 / 8,
                ratio_gz=c.g * math.sqrt(c.h) * tilt.lam(c.t) / 2, dw_clip=0.2, w_min=-1.0,
                w_max=2.0)
    assert len(KERNEL_SCALARS) == 16
    for name, got in zip(KERNEL_SCALARS, rows[2], strict=True):
        assert got == pytest.approx(want[name], rel=1e-12), name
    one = GmmScalars(c.alpha, c.sigma, c.h, c.g, tilt.lam(c.t), tilt.dlam(c.t), c.f_coef, 0.2,
                     -1.0, 2.0, "ratio", False)
    assert rows[2] == kernel_scalars(one)


@pytest.mark.parametrize("kwargs,message", [
    (dict(n_steps=0), "n_steps: expected an int >= 1, got 0"),
    (dict(n_steps=2.0), "n_steps: expected an int >= 1, got 2.0"),
    (dict(seeds=torch.zeros(3, 2, dtype=torch.int64)), r"seeds: expected .* shape \(2, 2\)"),
    (dict(seeds=[[1, 2], [3, 4]]), r"seeds: expected .* shape \(2, 2\), got list"),
    (dict(seeds=torch.zeros(2, 2)), "seeds: expected .*int64"),
    (dict(increment="exact"), "increment: expected 'fkc' or 'ratio'"),
])
def test_bad_input(kwargs, message):
    mix, bumps = make_model(3)
    args = dict(n_steps=2, seeds=torch.zeros(2, 2, dtype=torch.int64))
    args.update(kwargs)
    n_steps = args.pop("n_steps")
    with pytest.raises((ValueError, TypeError), match=message):
        fk.gmm_loop_(torch.zeros(4, 3), torch.zeros(4), mix, bumps, fk.VPSchedule(),
                     fk.LinearTilt(1.0), n_steps, **args)


def test_cpu_loop_planned_in_chunks_is_its_steps(backend):
    """A model whose K step tables pass the CPU loop's 64 MB plan budget (300 components of
    1024: 27 steps a chunk) runs in chunks with the bits of its K steps."""
    if str(backend) != "cpu":
        pytest.skip("the CPU kernel's plan budget")
    gen = torch.Generator().manual_seed(4)
    mix = fk.gaussian_mixture(torch.randn(300, 1024, generator=gen), 0.3)
    bumps = fk.gaussian_bumps(torch.randn(2, 1024, generator=gen), 0.5)
    x, w = torch.randn(2, 1024, generator=gen), torch.zeros(2)
    seeds = _seeds(30, "cpu")
    sched, tilt = fk.VPSchedule(), fk.LinearTilt(1.0)
    want_x, want_w = _steps_one_by_one(x, w, mix, bumps, sched, tilt, 30, seeds, backend)
    fk.gmm_loop_(x, w, mix, bumps, sched, tilt, 30, seeds=seeds, backend=backend)
    assert torch.equal(x, want_x) and torch.equal(w, want_w)


def test_triton_loop_in_chunks_of_steps_is_its_steps(backend, monkeypatch):
    """The Triton loop makes its component tables for at most ``TABLE_FLOATS`` floats at a time
    (here 2 steps of the 5-component model): 5 steps run as chunks of 2, 2 and 1, with the bits
    of the 5 steps."""
    if str(backend) != "triton":
        pytest.skip("the Triton loop's table budget")
    from fkc_kernels.triton import gmm_loop as triton_loop

    mix, bumps = make_model(8, backend.device)
    monkeypatch.setattr(triton_loop, "TABLE_FLOATS", 3 * 8 * (2 * 5 + 2))
    launches = []
    tables_kernel = triton_loop._gmm_tables_kernel
    monkeypatch.setattr(triton_loop, "_gmm_tables_kernel", _Recording(tables_kernel, launches))
    x, w, _, _ = make_particles(6, 8, device=backend.device)
    seeds = _seeds(5, backend.device)
    sched, tilt = fk.VPSchedule(), fk.LinearTilt(2.0)
    want_x, want_w = _steps_one_by_one(x, w, mix, bumps, sched, tilt, 5, seeds, backend)
    fk.gmm_loop_(x, w, mix, bumps, sched, tilt, 5, seeds=seeds, backend=backend)
    assert launches == [(3,), (3,), (2,)]  # a chunk's steps and the bumps, one program each
    assert torch.equal(x, want_x) and torch.equal(w, want_w)


@pytest.mark.parametrize("tables", [True, False])
@pytest.mark.parametrize("pairs", [True, False])
def test_triton_variants_keep_the_steps_bits(backend, monkeypatch, tables, pairs):
    """bench/gpu_loops.py times the Triton loop with its component tables (``TABLES``) and its
    components in pairs (``PAIRS``) switched off; every variant is the reference's step and
    its loop has the bits of its steps (an odd mixture and an even reward: pairs and a tail)."""
    if str(backend) != "triton":
        pytest.skip("the Triton kernels' switches")
    from fkc_kernels.triton import gmm_loop as triton_loop
    from fkc_kernels.triton import gmm_step as triton_step

    monkeypatch.setattr(triton_loop, "TABLES", tables)
    monkeypatch.setattr(triton_step, "PAIRS", pairs)
    mix, bumps = make_model(8, backend.device)
    x, w, z, _ = make_particles(6, 8, device=backend.device)
    _assert_step_is_the_reference(backend, x, w, z, mix, bumps)
    launches = []
    monkeypatch.setattr(triton_loop, "_gmm_tables_kernel",
                        _Recording(triton_loop._gmm_tables_kernel, launches))
    seeds = _seeds(3, backend.device)
    sched, tilt = fk.VPSchedule(), fk.LinearTilt(2.0)
    want_x, want_w = _steps_one_by_one(x, w, mix, bumps, sched, tilt, 3, seeds, backend)
    fk.gmm_loop_(x, w, mix, bumps, sched, tilt, 3, seeds=seeds, backend=backend)
    assert torch.equal(x, want_x) and torch.equal(w, want_w)
    assert launches == ([(4,)] if tables else [])


class _Recording:
    """Stands in for a ``@triton.jit`` kernel: records each launch's grid and launches it."""

    def __init__(self, kernel, grids: list):
        self.kernel, self.grids = kernel, grids

    def __getitem__(self, grid):
        self.grids.append(grid)
        return self.kernel[grid]
