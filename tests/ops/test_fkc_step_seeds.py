"""``seeds=`` on fkc_step and K steps' seeds from one draw: a K-step loop launches one seed draw
per loop and one library op per step (counted with torch.profiler on the CPU)."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

import fkc_kernels as fk
from fkc_kernels.ops import unavailable_reason

COEFS = dict(h=0.02, g=1.3, lam=0.7, dlam=2.0, f_coef=-0.4)


@pytest.fixture(params=["reference", "cpu", "triton"])
def backend(request):
    name = request.param
    if name == "cpu":
        request.getfixturevalue("cpu_backend")
    elif unavailable_reason(name, torch.device("cpu")) is not None:
        pytest.skip(f"the {name!r} backend is unavailable here")
    return name


def _inputs(n=6, d=12):
    x, s, gr = (torch.randn(n, d) for _ in range(3))
    return x, torch.rand(n), s, gr, torch.randn(n)


def test_given_seeds_equal_the_generator_draw(backend):
    x, w, s, gr, r = _inputs()
    seeds = fk.draw_philox_seeds(torch.Generator().manual_seed(4), torch.device("cpu"))
    a = fk.fkc_step(x, w, s, gr, r, seeds=seeds, backend=backend, **COEFS)
    b = fk.fkc_step(x, w, s, gr, r, generator=torch.Generator().manual_seed(4), backend=backend,
                    **COEFS)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_one_draw_gives_every_step_its_own_pair():
    table = fk.draw_philox_seeds(torch.Generator().manual_seed(1), torch.device("cpu"),
                                 n_steps=50)
    assert table.shape == (50, 2) and table.dtype == torch.int64
    assert ((table >= 0) & (table < 1 << 62)).all()
    assert len({tuple(row.tolist()) for row in table}) == 50
    x, w, s, gr, r = _inputs()
    x1, _ = fk.fkc_step(x, w, s, gr, r, seeds=table[0], **COEFS)
    x2, _ = fk.fkc_step(x, w, s, gr, r, seeds=table[1], **COEFS)
    assert not torch.equal(x1, x2)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(seeds=torch.zeros(3, dtype=torch.int64)), ValueError,
     r"seeds: expected an int64 tensor of shape \(2,\) \[S, O\], got torch.int64 \(3,\)"),
    (dict(seeds=torch.zeros(2)), ValueError, r"seeds: expected an int64 tensor"),
    (dict(seeds=[1, 2]), TypeError, r"seeds: expected a torch.Tensor, got list"),
    (dict(seeds=torch.zeros(2, dtype=torch.int64), noise=torch.zeros(3, 4)), ValueError,
     r"seeds: expected None when noise is given"),
    (dict(seeds=torch.zeros(2, dtype=torch.int64), generator=torch.Generator()), ValueError,
     r"seeds: expected None when generator is given"),
])
def test_bad_seeds_name_the_argument(kwargs, exc, match):
    x = torch.zeros(3, 4)
    with pytest.raises(exc, match=match):
        fk.fkc_step(x, torch.zeros(3), x, x, torch.zeros(3), h=0.1, g=1.0, lam=0.0, dlam=0.0,
                    **kwargs)


def test_k_step_loop_launches_one_op_per_step(cpu_backend):
    """With the seeds of all K steps drawn at once, a step is the fused op and nothing else."""
    n, d, k_steps = 64, 8, 7
    x, w = torch.randn(n, d), torch.zeros(n)
    s, gr, r = torch.randn(n, d), torch.full((n, d), 0.1), torch.randn(n)
    sched, tilt = fk.VPSchedule(), fk.LinearTilt(2.0)
    coefs = [sched.at_step(i, k_steps) for i in range(k_steps)]
    fk.fkc_step_(x, w, s, gr, r, h=0.1, g=1.0, lam=0.0, dlam=0.0, backend="cpu")  # warm up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        seeds = fk.draw_philox_seeds(None, x.device, n_steps=k_steps)
        for k, c in enumerate(coefs):
            fk.fkc_step_(x, w, s, gr, r, h=c.h, g=c.g, lam=tilt.lam(c.t), dlam=tilt.dlam(c.t),
                         f_coef=c.f_coef, dw_clip=None, w_clip=None, seeds=seeds[k],
                         backend="cpu")
    ops = Counter(e.name for e in prof.events())
    assert ops["fkc::fkc_step_ext"] == k_steps
    assert ops["aten::randint"] == 1
    # nothing else that could launch a device kernel: only views and no-op conversions
    compute = {name for name in ops if name not in {
        "fkc::fkc_step_ext", "aten::randint", "aten::random_", "aten::empty", "aten::select",
        "aten::as_strided", "aten::to", "aten::_to_copy"}}
    assert not compute, compute
    assert ops["aten::_to_copy"] == 0
