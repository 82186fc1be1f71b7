"""What the ops cannot do right they refuse, with the same message on every backend.

Overlapping or expanded in-place outputs, autograd through a compiled backend, in place on a
grad leaf, +inf or no finite log-weight in resampling/ESS, non-integer Philox seeds, a sampler
step that turns non-finite; and backend="auto" falls back even when warnings are errors.
"""

import os
import subprocess
import sys

import pytest
import torch

import fkc_kernels
from fkc_kernels import (
    FKCSampler,
    LinearTilt,
    VPSchedule,
    effective_sample_size,
    fkc_step,
    fkc_step_,
    philox_normal,
    systematic_resample,
)

SCALARS = dict(h=0.1, g=1.0, lam=0.5, dlam=1.0, dw_clip=None, w_clip=None)


@pytest.fixture(params=["reference", "cpu", "triton",
                        pytest.param("cuda", marks=pytest.mark.cuda)])
def backend(request):
    """``(name, device)`` of each backend; the C++ ones skip (or fail in CI) when not built."""
    name = request.param
    if name in ("cpu", "cuda"):
        request.getfixturevalue(f"{name}_backend")
    return name, torch.device("cuda" if name == "cuda" else "cpu")


def _step_inputs(device, n=3, d=64):
    x = torch.randn(n, d, device=device)
    return x, torch.zeros(n, device=device), torch.randn(n, d, device=device), \
        torch.randn(n, d, device=device), torch.randn(n, device=device)


def test_in_place_output_sharing_memory_with_an_input_is_refused(backend):
    name, device = backend
    buf = torch.randn(4 * 64, device=device)
    before = buf.clone()
    _, w, _, gr, r = _step_inputs(device)
    with pytest.raises(ValueError, match="x: fkc_step_ writes x in place, but it shares memory "
                                         "with score .*pass a copy of score"):
        fkc_step_(buf[64:].view(3, 64), w, buf[:-64].view(3, 64), gr, r, backend=name,
                  **SCALARS)
    x, w, s, gr, _ = _step_inputs(device)
    with pytest.raises(ValueError, match="w: fkc_step_ writes w in place, but it shares memory "
                                         "with reward"):
        fkc_step_(x, w, s, gr, w, backend=name, **SCALARS)
    assert torch.equal(buf, before) and torch.equal(w, torch.zeros_like(w))
    # the two outputs overlap each other: named by x, the output checked last
    both = torch.zeros(3 * 64 + 1, device=device)
    with pytest.raises(ValueError, match="x: fkc_step_ writes x in place, but it shares memory "
                                         "with w "):
        fkc_step_(both[:192].view(3, 64), both[190:], s, gr, r, backend=name, **SCALARS)
    assert torch.equal(both, torch.zeros_like(both))


def test_expanded_in_place_outputs_are_refused(backend):
    name, device = backend
    x, w, s, gr, r = _step_inputs(device)
    with pytest.raises(ValueError, match=r"x: fkc_step_ writes x in place, but some of its "
                                         r"elements share memory .*strides \(0, 1\)"):
        fkc_step_(x[:1].expand(3, 64), w, s, gr, r, backend=name, **SCALARS)
    with pytest.raises(ValueError, match="w: fkc_step_ writes w in place, but some of its"):
        fkc_step_(x, torch.zeros(1, device=device).expand(3), s, gr, r, backend=name, **SCALARS)


def test_compiled_backends_refuse_autograd_and_the_reference_keeps_the_graph(backend):
    name, device = backend
    x, w, s, gr, r = _step_inputs(device)
    z = torch.randn_like(x)
    x.requires_grad_(True)
    if name == "reference":
        x_new, _ = fkc_step(x, w, s, gr, r, noise=z, f_coef=-2.0, backend=name, **SCALARS)
        x_new.sum().backward()  # d(sum x')/dx = 1 - h*f_coef
        torch.testing.assert_close(x.grad, torch.full_like(x, 1.2))
    else:
        with pytest.raises(RuntimeError, match=f"x: requires grad, but the '{name}' backend of "
                                               f"fkc_step has no autograd"):
            fkc_step(x, w, s, gr, r, noise=z, backend=name, **SCALARS)
    with torch.no_grad():  # no graph wanted: every backend takes it
        fkc_step(x, w, s, gr, r, noise=z, backend=name, **SCALARS)
    # in place on a grad leaf: refused everywhere, as torch refuses it
    with pytest.raises(RuntimeError, match="x: a leaf tensor that requires grad cannot be "
                                           "updated in place by fkc_step_"):
        fkc_step_(x, w, s, gr, r, noise=z, backend=name, **SCALARS)


def test_auto_backend_keeps_the_graph():
    x, w, s, gr, r = _step_inputs("cpu")
    x_new, w_new = fkc_step(x, w, s.requires_grad_(True), gr, r, noise=torch.zeros_like(x),
                            **SCALARS)
    assert x_new.grad_fn is not None and w_new.grad_fn is not None


NONFINITE = [
    ([float("inf"), 0.0, 0.0, 0.0], r"expected no \+inf log-weight .*\+inf at index 0 "
                                    r"\(1 \+inf, 0 NaN, 0 -inf of 4\)"),
    ([0.0, float("nan"), float("inf"), -float("inf")], r"\+inf at index 2"),
    ([float("nan")] * 4, r"at least one finite log-weight .*got none \(0 \+inf, 4 NaN"),
    ([-float("inf")] * 3, r"got none \(0 \+inf, 0 NaN, 3 -inf of 3\)"),
    ([float("nan"), -float("inf")], r"got none \(0 \+inf, 1 NaN, 1 -inf of 2\)"),
]


@pytest.mark.parametrize("values, match", NONFINITE)
def test_resample_and_ess_have_one_non_finite_policy(backend, values, match):
    name, device = backend
    logw = torch.tensor(values, device=device)
    with pytest.raises(ValueError, match="logw: .*" + match):
        systematic_resample(logw, backend=name)
    with pytest.raises(ValueError, match="logw: .*" + match):
        effective_sample_size(logw)
    # NaN and -inf next to a finite weight are zero weights, not errors
    ok = torch.tensor([float("nan"), 0.0, -float("inf"), 0.0], device=device)
    idx = systematic_resample(ok, backend=name, generator=torch.Generator(device).manual_seed(0))
    assert set(idx.tolist()) <= {1, 3}
    assert float(effective_sample_size(ok)) == pytest.approx(2.0)


def _sampler(reward_fn, **kw):
    return FKCSampler(lambda x, tau: -x, reward_fn, VPSchedule(), LinearTilt(1.0), n_steps=4,
                      **kw)


def test_sampler_raises_naming_the_step_instead_of_hiding_non_finite_weights():
    def infinite_reward(x):
        return torch.full((x.shape[0],), float("inf")), torch.zeros_like(x)

    sampler = _sampler(infinite_reward, weights="fkc", resample="always")
    with pytest.raises(FloatingPointError, match=r"step 0 of 4 .*w have 0 NaN, 8 \+inf"):
        sampler.sample(8, 2, generator=torch.Generator().manual_seed(0))

    def nan_reward(x):
        r = torch.zeros(x.shape[0])
        r[3] = float("nan")
        return r, torch.zeros_like(x)

    with pytest.raises(FloatingPointError, match="step 0 of 4 .*w have 1 NaN"):
        _sampler(nan_reward).sample(8, 2)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(shape=-1), ValueError, "shape: expected a per-particle shape.* got -1"),
    (dict(shape=(2, -3)), ValueError, r"shape: .*got \(2, -3\)"),
    (dict(shape="2"), ValueError, "shape: .*got '2'"),
    (dict(shape=2, generator=5), TypeError, "generator: expected a torch.Generator or None, "
                                            "got int 5"),
])
def test_sampler_bad_sample_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        _sampler(lambda x: x.sum(1)).sample(4, **kwargs)


@pytest.mark.parametrize("seed, offset, match", [
    (1.7, 0, "seed: expected an int or a one-element integer tensor, got float 1.7"),
    (True, 0, "seed: .*got bool True"),
    (torch.tensor(1.0), 0, "seed: .*dtype torch.float32"),
    (1, 0.5, "offset: .*got float 0.5"),
    (1, torch.tensor([1, 2]), r"offset: .*shape \(2,\)"),
])
def test_philox_seeds_must_be_integers(seed, offset, match):
    with pytest.raises(TypeError, match=match):
        philox_normal(seed, offset, 4)


def test_auto_falls_back_when_the_build_is_broken_and_warnings_are_errors(tmp_path):
    code = """
from fkc_kernels.extension import _loader
_loader._prebuilt = lambda: (None, "a broken build (simulated)")
import torch, fkc_kernels
assert "cpu" not in fkc_kernels.available_backends()
x = torch.randn(3, 4)
fkc_kernels.fkc_step(x, torch.zeros(3), x, x, torch.zeros(3), h=0.1, g=1.0, lam=0.0, dlam=0.0)
fkc_kernels.systematic_resample(torch.zeros(4))
fkc_kernels.select_particles(torch.zeros(4), 2, 1)
try:
    fkc_kernels.systematic_resample(torch.zeros(4), backend="cpu")
except ValueError as exc:
    assert "a broken build (simulated)" in str(exc), exc
else:
    raise AssertionError("a named broken backend must raise")
"""
    env = dict(os.environ, FKC_NO_JIT="1", FKC_BUILD_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", code], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert fkc_kernels.fkc_step is fkc_step
