"""``gmm_step``: the FKC step with a closed-form Gaussian-mixture score and Gaussian-bump reward,
fused into one kernel on Triton and CUDA (docs/design.md, "The mixture step").

The reference (``reference.gmm_step``) is checked against an independent float64 statement (the
score and the reward gradient by autograd of the log density and the reward); every backend is
checked against the reference with explicit noise and with in-kernel noise, for both increments,
both reward forms, short and long rows, and its noise against ``fkc_step``'s bit for bit.
"""

from __future__ import annotations

import math

import pytest
import torch
from _tolerances import NOISE_TOL, STEP_X_TOL, step_w_tol

import fkc_kernels as fk
from fkc_kernels import reference
from fkc_kernels.ops._gmm_args import GmmScalars, GmmTensors

SEEDS = torch.tensor([0x5EED_0F_6A55, 0x42], dtype=torch.int64)
# a VP step in the middle of a run (tau ~ 0.5): alpha, sigma, h, g, f_coef of VPSchedule
COEFS = dict(alpha=0.6, sigma=0.8, h=0.01, g=2.3, lam=1.5, dlam=3.0, f_coef=-2.6,
             dw_clip=None, w_clip=None)
SHAPES = [(1, 1), (5, 2), (7, 3), (9, 8), (6, 64), (64, 64), (3, 130)]
# x' of a fused kernel (or a composed path) against the float32 reference, (rtol, atol): the
# fused step's tolerances plus the score's own float32 rounding. The posterior weights amplify
# the logits' rounding (each a sum of D squared distances, summed in another order, with
# float32 exp/log): measured on the CPU under the Triton interpreter, |Δx'| <= 5.7e-6 at
# |x'| <= 6 and |Δw'| <= 2.3e-5 at |w'| <= 60 for rows up to 256, both increments and rewards
GMM_X_TOL = {name: {dt: (r + 1e-5, a + 1e-5) for dt, (r, a) in tols.items()}
             for name, tols in STEP_X_TOL.items()}
GMM_X_TOL["reference"] = {dt: (0, 0) for dt in GMM_X_TOL["reference"]}


def gmm_w_tol(name: str, d: int) -> dict:
    """w' against the reference: the fused step's row sums plus the reward's float32 exp/log
    and the score's rounding in <∇r, s>."""
    tol = step_w_tol(name, d)
    return tol if name == "reference" else dict(rtol=5e-5, atol=tol["atol"] + 2e-5)


def make_model(d: int, device="cpu", *, log: bool = True, diagonal: bool = True):
    """A 5-component mixture (diagonal or isotropic per component) and 2 bumps in D dims."""
    means = 2.0 * torch.randn(5, d)
    var = 0.05 + torch.rand(5, d) if diagonal else torch.tensor([0.1, 0.2, 0.05, 0.3, 0.15])
    mix = fk.gaussian_mixture(means.to(device), var.to(device), torch.tensor([1, 2, 3, 1, 1.0]))
    bumps = fk.gaussian_bumps(torch.randn(2, d, device=device), torch.tensor([0.25, 0.5]),
                              torch.tensor([1.0, 0.3]), log=log)
    return mix, bumps


def make_particles(n: int, d: int, dtype=torch.float32, device="cpu"):
    x = (1.5 * torch.randn(n, d)).to(device, dtype)
    return x, torch.rand(n, device=device), torch.randn(n, d).to(device, dtype), \
        0.05 * torch.randn(n, device=device)


def _assert_step_is_the_reference(backend, x, w, z, mix, bumps):
    """The backend's step at COEFS with explicit noise ``z`` against the reference's, float32."""
    x_new, w_new = fk.gmm_step(x, w, mix, bumps, noise=z, backend=backend, **COEFS)
    x_ref, w_ref = reference.gmm_step(x, w, mix, bumps, z, **COEFS)
    rtol, atol = GMM_X_TOL[backend][torch.float32]
    torch.testing.assert_close(x_new, x_ref, rtol=rtol, atol=atol)
    torch.testing.assert_close(w_new, w_ref, **gmm_w_tol(backend, x.shape[1]))


# ------------------------------------------------------------------ the reference's definition


def _log_q_f64(x, mix, alpha, sigma):
    """log of the diffused mixture in float64, written as Gaussian densities (no shortcuts)."""
    var = alpha**2 * mix.variances.double() + sigma**2
    comp = torch.distributions.Normal(alpha * mix.means.double(), var.sqrt())
    logp = comp.log_prob(x[:, None, :]).sum(-1) + mix.log_weights.double()
    return torch.logsumexp(logp, 1)


def _reward_f64(x, bumps):
    b = bumps.log_coefs.double() - 0.5 * ((x[:, None, :] - bumps.centers.double()) ** 2
                                          / bumps.variances.double()).sum(-1)
    return torch.logsumexp(b, 1) if bumps.log else torch.exp(b).sum(1)


@pytest.mark.parametrize("log", [True, False])
@pytest.mark.parametrize("diagonal", [True, False])
def test_reference_score_and_reward_are_the_gradients(log, diagonal):
    mix, bumps = make_model(3, log=log, diagonal=diagonal)
    x = (1.5 * torch.randn(11, 3, dtype=torch.float64)).requires_grad_()
    for alpha, sigma in ((0.6, 0.8), (1.0, 0.0), (0.05, 0.99)):
        (s64,) = torch.autograd.grad(_log_q_f64(x, mix, alpha, sigma).sum(), x)
        s = reference.mixture_score(x.detach(), mix, alpha, sigma)
        torch.testing.assert_close(s, s64, rtol=1e-10, atol=1e-10)
    r64 = _reward_f64(x, bumps)
    (g64,) = torch.autograd.grad(r64.sum(), x)
    r, g = reference.bump_reward(x.detach(), bumps)
    torch.testing.assert_close(r, r64.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g, g64, rtol=1e-10, atol=1e-10)


def test_reference_is_fkc_step_with_the_closed_forms():
    mix, bumps = make_model(4)
    x, w, z, extra = make_particles(8, 4)
    for inc in ("fkc", "ratio"):
        got = reference.gmm_step(x, w, mix, bumps, z, extra_dw=extra, increment=inc, **COEFS)
        kw = {k: v for k, v in COEFS.items() if k not in ("alpha", "sigma")}
        s = reference.mixture_score(x, mix, COEFS["alpha"], COEFS["sigma"])
        r, gr = reference.bump_reward(x, bumps)
        want = reference.fkc_step(x, w, s, gr, r, z, extra_dw=extra, increment=inc, **kw)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


# ------------------------------------------------------------------ every backend


@pytest.mark.parametrize("n,d", SHAPES)
@pytest.mark.parametrize("increment", ["fkc", "ratio"])
@pytest.mark.parametrize("log", [True, False])
def test_matches_reference_explicit_noise(backend, n, d, increment, log):
    mix, bumps = make_model(d, backend.device, log=log, diagonal=d % 2 == 0)
    x, w, z, extra = make_particles(n, d, device=backend.device)
    kw = dict(COEFS, extra_dw=extra, increment=increment)
    x_new, w_new = fk.gmm_step(x, w, mix, bumps, noise=z, backend=backend, **kw)
    x_ref, w_ref = reference.gmm_step(x, w, mix, bumps, z, **kw)
    rtol, atol = GMM_X_TOL[backend][torch.float32]
    torch.testing.assert_close(x_new, x_ref, rtol=rtol, atol=atol)
    torch.testing.assert_close(w_new, w_ref, **gmm_w_tol(backend, d))


@pytest.mark.parametrize("n_mix,n_bumps", [(1, 1), (2, 3), (4, 2), (3, 4)])
@pytest.mark.parametrize("log", [True, False])
def test_every_component_count(backend, n_mix, n_bumps, log):
    """Kernels that walk the components two at a time (Triton) meet every parity: one alone,
    pairs only, pairs and one more, for the mixture and the bumps."""
    gen = torch.Generator().manual_seed(10 * n_mix + n_bumps)
    d = 8
    mix = fk.gaussian_mixture((2.0 * torch.randn(n_mix, d, generator=gen)).to(backend.device),
                              (0.05 + torch.rand(n_mix, d, generator=gen)).to(backend.device),
                              torch.arange(1.0, n_mix + 1))
    bumps = fk.gaussian_bumps(torch.randn(n_bumps, d, generator=gen).to(backend.device),
                              0.25 + torch.rand(n_bumps, generator=gen),
                              torch.linspace(0.2, 1.0, n_bumps), log=log)
    x, w, z, _ = make_particles(7, d, device=backend.device)
    _assert_step_is_the_reference(backend, x, w, z, mix, bumps)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_particles(backend, dtype):
    """Particles stored in 16 bits, math in float32: one rounding of x' to the storage dtype."""
    mix, bumps = make_model(8, backend.device)
    x, w, z, extra = make_particles(6, 8, dtype, backend.device)
    x_new, w_new = fk.gmm_step(x, w, mix, bumps, noise=z, backend=backend, **COEFS)
    x_ref, w_ref = reference.gmm_step(x, w, mix, bumps, z, **COEFS)
    assert x_new.dtype == dtype
    rtol, atol = GMM_X_TOL[backend][dtype]
    torch.testing.assert_close(x_new, x_ref, rtol=rtol, atol=atol)
    torch.testing.assert_close(w_new, w_ref, **gmm_w_tol(backend, 8))


@pytest.mark.parametrize("n,d", [(5, 2), (3, 7), (4, 64)])
@pytest.mark.parametrize("clips", [(None, None), (0.05, (0.1, 10.0))])
def test_in_kernel_noise_matches_reference(backend, n, d, clips):
    mix, bumps = make_model(d, backend.device)
    x, w, _, extra = make_particles(n, d, device=backend.device)
    kw = dict(COEFS, extra_dw=extra, dw_clip=clips[0], w_clip=clips[1])
    seeds = SEEDS.to(backend.device)
    x_new, w_new = fk.gmm_step(x, w, mix, bumps, seeds=seeds, backend=backend, **kw)
    z = reference.philox_normal(SEEDS[0], SEEDS[1], n * d).view(n, d).to(backend.device)
    x_ref, w_ref = reference.gmm_step(x, w, mix, bumps, z, **kw)
    rtol, atol = GMM_X_TOL[backend][torch.float32]
    noise_atol = NOISE_TOL[backend][1] * COEFS["g"] * math.sqrt(COEFS["h"])
    torch.testing.assert_close(x_new, x_ref, rtol=rtol, atol=atol + noise_atol)
    torch.testing.assert_close(w_new, w_ref, **gmm_w_tol(backend, d))


@pytest.mark.parametrize("n,d", [(3, 5), (4, 64)])
def test_noise_is_fkc_steps_bit_for_bit(backend, n, d):
    """x = 0 on means at 0 with λ = 0: the score and drift are exactly 0, so x' = g√h·ξ and
    must equal fkc_step's in-kernel noise on the same backend to the bit."""
    mix = fk.gaussian_mixture(torch.zeros(2, d, device=backend.device), 0.3)
    bumps = fk.gaussian_bumps(torch.ones(1, d, device=backend.device), 1.0)
    zeros = torch.zeros(n, d, device=backend.device)
    w0 = torch.zeros(n, device=backend.device)
    kw = dict(h=0.04, g=1.0, lam=0.0, dlam=0.0, seeds=SEEDS.to(backend.device), backend=backend)
    x_gmm, _ = fk.gmm_step(zeros, w0, mix, bumps, alpha=0.5, sigma=0.7, **kw)
    x_step, _ = fk.fkc_step(zeros, w0, zeros, zeros, w0, **kw)
    assert torch.equal(x_gmm, x_step)


def test_non_finite_particles_propagate(backend):
    """A NaN or inf particle makes its own row non-finite and leaves the others as they were."""
    mix, bumps = make_model(8, backend.device)
    x, w, z, _ = make_particles(4, 8, device=backend.device)
    x[1, 3] = float("nan")
    x[2, 0] = float("inf")
    x_new, w_new = fk.gmm_step(x, w, mix, bumps, noise=z, backend=backend, **COEFS)
    assert not torch.isfinite(x_new[1]).all() and not torch.isfinite(x_new[2]).all()
    assert not torch.isfinite(w_new[1:3]).any()
    keep = [0, 3]
    x_ref, w_ref = reference.gmm_step(x[keep], w[keep], mix, bumps, z[keep], **COEFS)
    rtol, atol = GMM_X_TOL[backend][torch.float32]
    torch.testing.assert_close(x_new[keep], x_ref, rtol=rtol, atol=atol)
    torch.testing.assert_close(w_new[keep], w_ref, **gmm_w_tol(backend, 8))


def test_long_rows(backend):
    """Rows longer than a GPU kernel holds in registers (1030): Triton and CUDA compose the
    reference's score with their step, the CPU kernel takes them. Either way the reference's."""
    d = 1030
    mix, bumps = make_model(d, backend.device)
    x, w, z, _ = make_particles(2, d, device=backend.device)
    _assert_step_is_the_reference(backend, x, w, z, mix, bumps)


def test_many_components(backend):
    """300 components: the CPU and Triton fuse any number; CUDA's per-block tables (8192 floats)
    do not hold them and it composes. Either way the reference's step."""
    gen = torch.Generator().manual_seed(3)
    mix = fk.gaussian_mixture(torch.randn(300, 16, generator=gen).to(backend.device),
                              torch.rand(300, generator=gen) + 0.1)
    bumps = fk.gaussian_bumps(torch.randn(2, 16, generator=gen).to(backend.device), 0.5)
    x, w, z, _ = make_particles(4, 16, device=backend.device)
    _assert_step_is_the_reference(backend, x, w, z, mix, bumps)


def test_in_place_and_loop(backend):
    """gmm_step_ updates in place what gmm_step returns; gmm_loop_ is K of them with seeds[i]."""
    mix, bumps = make_model(4, backend.device)
    x, w, _, _ = make_particles(6, 4, device=backend.device)
    seeds = torch.tensor([[11, 1], [22, 2], [33, 3]], device=backend.device)
    sched, tilt = fk.VPSchedule(), fk.LinearTilt(2.0)
    want_x, want_w = x.clone(), w.clone()
    for i in range(3):
        c = sched.at_step(i, 3)
        want_x, want_w = fk.gmm_step(
            want_x, want_w, mix, bumps, alpha=c.alpha, sigma=c.sigma, h=c.h, g=c.g,
            lam=tilt.lam(c.t), dlam=tilt.dlam(c.t), f_coef=c.f_coef, seeds=seeds[i],
            dw_clip=None, w_clip=None, increment="ratio", backend=backend)
    out = fk.gmm_loop_(x, w, mix, bumps, sched, tilt, 3, seeds=seeds, increment="ratio",
                       backend=backend)
    assert out[0] is x and out[1] is w
    assert torch.equal(x, want_x) and torch.equal(w, want_w)


def test_loop_is_the_samplers_fkc_loop():
    """gmm_loop_ = FKCSampler(weights="fkc", resample=None, reward_at="x") on the same model."""
    mix, bumps = make_model(2)
    sched, tilt, k, n = fk.VPSchedule(), fk.LinearTilt(2.0), 6, 16

    def score_fn(x, tau):
        return reference.mixture_score(x, mix, sched.alpha(tau), sched.sigma(tau))

    sampler = fk.FKCSampler(score_fn, lambda x: reference.bump_reward(x, bumps), sched, tilt, k,
                            weights="fkc", resample=None, reward_at="x", dw_clip=None,
                            w_clip=None, backend="reference")
    got = sampler.sample(n, (2,), generator=torch.Generator().manual_seed(5))
    gen = torch.Generator().manual_seed(5)
    x = sampler.initial_particles(n, (2,), gen, torch.device("cpu"), torch.float32)
    w = torch.zeros(n)
    seeds = torch.stack([fk.draw_philox_seeds(gen, "cpu") for _ in range(k)])
    fk.gmm_loop_(x, w, mix, bumps, sched, tilt, k, seeds=seeds, backend="reference")
    torch.testing.assert_close(x, got.x, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(w, got.w, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ op schema, bad input


def test_opcheck_and_compile(compiled_backend):
    dev = compiled_backend.device
    mix, bumps = make_model(6, dev)
    x, w, z, _ = make_particles(4, 6, device=dev)
    t = GmmTensors(x, w, *mix[:3], *bumps[:3], None, z, None, torch.empty_like(x),
                   torch.empty_like(w))
    c = GmmScalars(0.6, 0.8, 0.01, 2.3, 1.5, 3.0, -2.6, 0.1, 0.1, 10.0)
    torch.library.opcheck(compiled_backend.op("gmm_step").default, (*t, *c),
                          test_utils=("test_schema", "test_faketensor"))

    name = str(compiled_backend)  # outside: dynamo cannot trace str() of a str subclass

    def step(x, w, z):
        return fk.gmm_step(x, w, mix, bumps, noise=z, backend=name, **COEFS)

    got = torch.compile(step, fullgraph=True, backend="aot_eager")(x, w, z)
    want = step(x, w, z)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


@pytest.mark.parametrize("change,message", [
    (dict(mixture=(1, 2)), "mixture: expected a GaussianMixture"),
    (dict(reward="bumps"), "reward: expected a GaussianBumps"),
    (dict(alpha=0.0), "alpha: expected"),
    (dict(sigma=-1.0), "sigma: expected"),
    (dict(h=-0.1), "h: expected"),
    (dict(increment="exact"), "increment: expected 'fkc' or 'ratio'"),
    (dict(mix_cols=3), "mixture: expected 4 columns"),
    (dict(mixture=reference.GaussianMixture(torch.zeros(2, 4), torch.ones(2, 3),
                                            torch.zeros(2))),
     "mixture: expected variances (2, 4) and log weights (2,)"),
    (dict(noise=torch.zeros(5, 3)), "noise: expected torch.float32 (5, 4)"),
])
def test_bad_input(change, message):
    mix, bumps = make_model(4)
    if change.pop("mix_cols", None):
        mix = fk.gaussian_mixture(torch.zeros(2, 3), 1.0)
    x, w, _, _ = make_particles(5, 4)
    kw = dict(COEFS, mixture=mix, reward=bumps)
    kw.update(change)
    with pytest.raises((ValueError, TypeError), match=message.replace("(", r"\(").replace(
            ")", r"\)")):
        fk.gmm_step(x, w, **kw)


@pytest.mark.parametrize("call,message", [
    (lambda: fk.gaussian_mixture(torch.zeros(2, 3), -1.0), "variances: expected finite"),
    (lambda: fk.gaussian_mixture(torch.zeros(2, 3), torch.ones(3)), "variances: expected a "),
    (lambda: fk.gaussian_mixture(torch.zeros(2, 3), 1.0, [1.0, -1.0]), "weights: expected"),
    (lambda: fk.gaussian_mixture(torch.zeros(3), 1.0), r"means: expected \(M, D\)"),
    (lambda: fk.gaussian_bumps(torch.zeros(2, 3), 1.0, log=1), "log: expected a bool"),
    (lambda: fk.gaussian_bumps(torch.zeros(2, 3), 1.0, [0.0, 0.0]), "coefs: expected"),
])
def test_bad_models(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_isotropic_forms_broadcast():
    """A scalar, (M,) and (M, D) variances give the same model; weights are normalised."""
    means = torch.randn(3, 4)
    a = fk.gaussian_mixture(means, 0.5, [2.0, 1.0, 1.0])
    b = fk.gaussian_mixture(means, torch.full((3,), 0.5), torch.tensor([0.5, 0.25, 0.25]))
    c = fk.gaussian_mixture(means, torch.full((3, 4), 0.5), [4.0, 2.0, 2.0])
    for other in (b, c):
        assert torch.equal(a.variances, other.variances)
        torch.testing.assert_close(a.log_weights, other.log_weights)
    assert abs(float(torch.logsumexp(a.log_weights, 0))) < 1e-6


@pytest.mark.parametrize("explicit", [True, False])
def test_rows_of_zero_length(backend, explicit):
    """D = 0: nothing moves and w takes its reward-only increment; an explicit noise tensor
    with no data (a null pointer) is still explicit noise."""
    mix = fk.gaussian_mixture(torch.empty(3, 0, device=backend.device), 1.0)
    bumps = fk.gaussian_bumps(torch.empty(2, 0, device=backend.device), 1.0)
    x = torch.empty(5, 0, device=backend.device)
    w = torch.rand(5, device=backend.device)
    noise = torch.empty(5, 0, device=backend.device) if explicit else None
    seeds = None if explicit else SEEDS.to(backend.device)
    x_new, w_new = fk.gmm_step(x, w, mix, bumps, noise=noise, seeds=seeds, backend=backend,
                               **COEFS)
    x_ref, w_ref = reference.gmm_step(x, w, mix, bumps, torch.empty(5, 0), **COEFS)
    assert x_new.shape == (5, 0)
    torch.testing.assert_close(w_new, w_ref.to(w_new.device), **gmm_w_tol(backend, 1))


def test_kernel_op_refuses_what_would_break_it(compiled_backend):
    """Direct calls of a fused op: a model without components, and outputs that overlap their
    inputs other than exactly, are refused by name."""
    if not compiled_backend.impl.gmm_fused(4, 5, 2) or str(compiled_backend) == "triton":
        pytest.skip("the Triton op is checked by the Python layer")
    dev = compiled_backend.device
    mix, bumps = make_model(4, dev)
    x, w, z, _ = make_particles(6, 4, device=dev)
    c = GmmScalars(0.6, 0.8, 0.01, 2.3, 1.5, 3.0, -2.6, 0.1, 0.1, 10.0)
    op = compiled_backend.op("gmm_step").default
    empty = GmmTensors(x, w, mix.means[:0], mix.variances[:0], mix.log_weights[:0], *bumps[:3],
                       None, z, None, torch.empty_like(x), torch.empty_like(w))
    with pytest.raises(RuntimeError, match="expected at least one component and one bump"):
        op(*empty, *c)
    big = torch.empty(7, 4, device=dev)
    big[:6] = x
    shifted = GmmTensors(big[:6], w, *mix[:3], *bumps[:3], None, z, None, big[1:], w.clone())
    with pytest.raises(RuntimeError, match="refer to a single memory location"):
        op(*shifted, *c)
