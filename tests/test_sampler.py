"""FKCSampler against closed-form targets (the Gaussian check of docs/design.md, GMM scores)."""

import math

import pytest
import torch
from _closed_forms import gmm_vp_log_density, gmm_vp_score

from fkc_kernels import (
    FKCSampler,
    LinearTilt,
    VESchedule,
    VPSchedule,
    fkc_step,
    score_from_eps,
    score_from_x0,
    zero_reward,
)

VP = VPSchedule()


def gaussian_vp_score(mean: float, std: float, schedule=VP):
    def score(x, tau):
        a, s = schedule.alpha(tau), schedule.sigma(tau)
        return -(x - a * mean) / (a * a * std * std + s * s)
    return score


def weighted_moments(x: torch.Tensor, logw: torch.Tensor) -> tuple[float, float]:
    wn = torch.softmax(logw.double(), 0)
    x = x.double().reshape(-1)
    m = (wn * x).sum()
    return m.item(), (wn * (x - m) ** 2).sum().item()


@pytest.mark.parametrize("lam_max,mean,resample", [(2.0, 1.5, "ess"), (-2.0, 0.5, "always"),
                                                   (2.0, 1.5, None)])
def test_gaussian_tilt_target(lam_max, mean, resample):
    # data N(1, 0.5^2), r(x) = x, lambda_t = lam_max t: target N(1 + 0.25 lam_max, 0.25)
    sampler = FKCSampler(gaussian_vp_score(1.0, 0.5), lambda x: x.sum(-1), VP,
                         LinearTilt(lam_max), n_steps=200, weights="smc", resample=resample)
    out = sampler.sample(16000, (1,), generator=torch.Generator().manual_seed(7))
    m, v = weighted_moments(out.x, out.w)
    # Monte Carlo sd ~0.005 for the mean, Euler bias ~0.01 at K = 200
    assert abs(m - mean) < 0.04, m
    assert abs(v - 0.25) < 0.03, v
    assert out.ess.shape == (200,)
    if resample == "always":
        assert out.resampled.all() and (out.w == 0).all()
    if resample is None:
        assert not out.resampled.any()


def test_weights_correct_the_guided_sampler():
    # without weights the guided sampler is biased; the importance weights remove the bias
    sampler = FKCSampler(gaussian_vp_score(0.0, 1.0), lambda x: x.sum(-1),
                         VP, LinearTilt(3.0), n_steps=100, weights="smc")
    out = sampler.sample(16000, (1,), generator=torch.Generator().manual_seed(3))
    m, v = weighted_moments(out.x, out.w)
    assert abs(m - 3.0) < 0.06 and abs(v - 1.0) < 0.08


def test_gmm_closed_form_score_matches_autograd():
    means = torch.tensor([[-2.0, 0.0, 1.0], [1.5, 1.0, -1.0]], dtype=torch.float64)
    stds = torch.tensor([0.3, 0.7], dtype=torch.float64)
    probs = torch.tensor([0.25, 0.75], dtype=torch.float64)
    x = torch.randn(11, 3, dtype=torch.float64, requires_grad=True)
    for tau in (0.05, 0.5, 1.0):
        a, s = VP.alpha(tau), VP.sigma(tau)
        (g,) = torch.autograd.grad(gmm_vp_log_density(x, means, stds, probs, a, s).sum(), x)
        torch.testing.assert_close(gmm_vp_score(x.detach(), means, stds, probs, a, s), g)


def test_untilted_sampler_recovers_gmm():
    means = torch.tensor([[-2.0], [2.0]])
    stds = torch.tensor([0.3, 0.3])
    probs = torch.tensor([0.3, 0.7])

    def score(x, tau):
        return gmm_vp_score(x, means, stds, probs, VP.alpha(tau), VP.sigma(tau))

    sampler = FKCSampler(score, lambda x: x.sum(-1), VP, LinearTilt(0.0), n_steps=200,
                         weights="smc")
    out = sampler.sample(8000, 1, generator=torch.Generator().manual_seed(1))
    frac_right = (out.x[:, 0] > 0).float().mean().item()
    assert abs(frac_right - 0.7) < 0.03  # binomial sd 0.005
    right = out.x[out.x[:, 0] > 0, 0]
    assert abs(right.mean().item() - 2.0) < 0.05 and abs(right.std().item() - 0.3) < 0.05
    assert torch.allclose(out.w, torch.zeros_like(out.w))  # lambda = 0: no reweighting


def test_zero_reward_is_zero_in_the_particles_dtype_and_draws_the_base_model():
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    r, grad = zero_reward(x)
    assert r.shape == (5,) and r.dtype == torch.float64 and not r.any()
    assert grad.shape == x.shape and grad.dtype == torch.float64 and not grad.any()
    # untilted, any reward leaves the particles alone: zero_reward draws what they draw
    score = gaussian_vp_score(1.0, 0.5)
    drawn = [FKCSampler(score, reward, VP, LinearTilt(0.0), n_steps=20, weights="smc")
             .sample(64, 2, generator=torch.Generator().manual_seed(3)).x
             for reward in (zero_reward, lambda x: x.sum(-1))]
    assert torch.equal(drawn[0], drawn[1])


def test_tilt_moves_mass_between_gmm_modes():
    # exp(lam * x) with lam = 1 multiplies the mode at +2 by e^4 relative to the one at -2
    means = torch.tensor([[-2.0], [2.0]])
    stds = torch.tensor([0.3, 0.3])
    probs = torch.tensor([0.9, 0.1])
    lam = 1.0
    post = probs * torch.exp(lam * means[:, 0] + 0.5 * lam**2 * stds**2)
    post = (post / post.sum())[1].item()

    def score(x, tau):
        return gmm_vp_score(x, means, stds, probs, VP.alpha(tau), VP.sigma(tau))

    sampler = FKCSampler(score, lambda x: x.sum(-1), VP, LinearTilt(lam), n_steps=200,
                         weights="smc", resample="ess")
    out = sampler.sample(8000, 1, generator=torch.Generator().manual_seed(2))
    wn = torch.softmax(out.w.double(), 0)
    frac = (wn * (out.x[:, 0] > 0).double()).sum().item()
    assert abs(frac - post) < 0.05, (frac, post)


def test_ve_schedule_gaussian():
    ve = VESchedule(sigma_min=0.01, sigma_max=20.0)

    def score(x, tau):
        return -(x - 1.0) / (0.25 + ve.sigma(tau) ** 2)

    sampler = FKCSampler(score, lambda x: x.sum(-1), ve, LinearTilt(2.0), n_steps=400,
                         weights="smc", resample="ess")
    out = sampler.sample(8000, (1,), generator=torch.Generator().manual_seed(4))
    m, v = weighted_moments(out.x, out.w)
    assert abs(m - 1.5) < 0.06 and abs(v - 0.25) < 0.05


def test_seed_weights_are_clipped_and_reward_at_x0_hat():
    sampler = FKCSampler(gaussian_vp_score(0.0, 1.0), lambda x: x.flatten(1).sum(-1), VP,
                         LinearTilt(5.0), n_steps=20, weights="seed", reward_at="x0_hat")
    out = sampler.sample(64, (2, 3), generator=torch.Generator().manual_seed(0))
    assert out.x.shape == (64, 2, 3)
    assert ((out.w >= 0.1) & (out.w <= 10.0)).all()
    assert out.x.mean() > 0.5  # guided towards large x


def test_reward_fn_may_return_its_gradient():
    calls = []

    def reward(x):
        calls.append(1)
        return x.sum(-1), torch.ones_like(x)

    sampler = FKCSampler(gaussian_vp_score(0.0, 1.0), reward, VP, LinearTilt(1.0), n_steps=5)
    out = sampler.sample(8, 3, generator=torch.Generator().manual_seed(0))
    # one call per step, plus the final potential of the exact weights
    assert len(calls) == 6 and torch.isfinite(out.x).all()


def test_score_adapters():
    x0 = torch.randn(5, 4)
    eps = torch.randn(5, 4)
    a, s = VP.alpha(0.4), VP.sigma(0.4)
    x = a * x0 + s * eps
    torch.testing.assert_close(score_from_x0(x0, x, a, s), score_from_eps(eps, s))
    assert VP.alpha(0.0) == 1.0 and VP.sigma(0.0) == 0.0
    assert math.isclose(VP.alpha(0.3) ** 2 + VP.sigma(0.3) ** 2, 1.0)


@pytest.mark.parametrize("kwargs,match", [
    (dict(weights="exact"), "weights: expected one of"),
    (dict(weights="seed", resample="ess"), "needs weights='smc' or 'fkc'"),
    (dict(weights="smc", resample="sometimes"), "resample: expected None"),
    (dict(n_steps=0), "n_steps: expected an int >= 1"),
    (dict(reward_at="x0"), "reward_at: expected 'x' or 'x0_hat'"),
    (dict(weights="smc", ess_threshold=1.5), "ess_threshold"),
])
def test_sampler_bad_arguments(kwargs, match):
    args = dict(score_fn=gaussian_vp_score(0, 1), reward_fn=lambda x: x.sum(-1), schedule=VP,
                tilt=LinearTilt(1.0), n_steps=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        FKCSampler(**args)


def test_reward_fn_wrong_shape_is_reported():
    sampler = FKCSampler(gaussian_vp_score(0, 1), lambda x: x, VP, LinearTilt(1.0), n_steps=2)
    with pytest.raises(ValueError, match=r"reward_fn: expected a tensor of shape \(4,\)"):
        sampler.sample(4, 3)


def test_schedule_coefficients_closed_forms():
    tau = 0.37
    beta = 0.1 + tau * (20.0 - 0.1)
    c = VP.at_step(63, 100)
    assert c.h == pytest.approx(0.01) and c.tau == pytest.approx(tau) and c.t == pytest.approx(0.63)
    assert c.g == pytest.approx(math.sqrt(beta)) and VP.g(tau) == pytest.approx(math.sqrt(beta))
    assert c.f_coef == pytest.approx(-0.5 * beta)
    log_alpha = -0.5 * (0.1 * tau + 0.5 * 19.9 * tau * tau)
    assert c.alpha == pytest.approx(math.exp(log_alpha))
    assert c.sigma == pytest.approx(math.sqrt(1 - math.exp(2 * log_alpha)))
    ve = VESchedule(0.01, 50.0)
    assert ve.g(tau) ** 2 == pytest.approx(2 * ve.sigma(tau) ** 2 * math.log(5000.0))
    tilt = LinearTilt(3.0)
    assert tilt.lam(0.25) == 0.75 and tilt.dlam(0.25) == 3.0
    with pytest.raises(ValueError, match=r"i: expected 0 <= i < n_steps=10, got 10"):
        VP.at_step(10, 10)


@pytest.mark.parametrize("i", [5, 12, 19])
def test_reward_at_x0_hat_is_tweedie_with_chain_rule_gradient(i):
    """reward_at="x0_hat" with the FKC increment: r and ∇r are taken at Tweedie's
    x̂0 = (x + σ²·s)/α, and the gradient handed to the step is ∇r(x̂0)/α (docs/design.md).
    Checked on one step against the closed form, with a reward whose gradient depends on where
    it is taken."""
    c0 = torch.tensor([0.7, -1.2, 0.4])
    seen = []

    def reward(x):  # r(y) = -|y - c0|²/2, ∇r(y) = c0 - y
        seen.append(x.detach().clone())
        return -0.5 * ((x - c0) ** 2).sum(-1)

    score = gaussian_vp_score(0.3, 0.8)
    sampler = FKCSampler(score, reward, VP, LinearTilt(2.0), n_steps=20, weights="fkc",
                         reward_at="x0_hat", backend="reference")
    c = sampler.coefficients(i)
    assert 0.05 < c.sigma < 0.999 and abs(c.alpha - 1.0) > 0.01  # σ ≠ σ², α ≠ 1/α here
    x = torch.randn(16, 3) * 1.5
    w = torch.randn(16) * 0.1
    s = score(x, c.tau)
    x0_hat = (x + c.sigma**2 * s) / c.alpha
    x_got, w_got = x.clone(), w.clone()
    sampler.step(x_got, w_got, i, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(seen[-1], x0_hat, rtol=1e-6, atol=1e-6)
    r = -0.5 * ((x0_hat - c0) ** 2).sum(-1)
    grad = (c0 - x0_hat) / c.alpha
    x_want, w_want = fkc_step(x, w, s, grad, r, h=c.h, g=c.g, lam=sampler.tilt.lam(c.t),
                              dlam=sampler.tilt.dlam(c.t), f_coef=c.f_coef, dw_clip=None,
                              w_clip=None, generator=torch.Generator().manual_seed(5),
                              backend="reference")
    torch.testing.assert_close(x_got, x_want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(w_got, w_want, rtol=1e-5, atol=1e-6)


def test_ess_rule_decides_every_resampling():
    """resample="ess": after each step the particles are resampled exactly when the ESS (recorded
    before resampling) is below ess_threshold·N; the run has steps of both kinds."""
    n, threshold = 256, 0.7
    sampler = FKCSampler(gaussian_vp_score(0.0, 1.0), lambda x: 3.0 * x.sum(-1), VP,
                         LinearTilt(4.0), n_steps=40, weights="fkc", resample="ess",
                         reward_at="x", ess_threshold=threshold, backend="reference")
    out = sampler.sample(n, 2, generator=torch.Generator().manual_seed(11))
    expected = out.ess < threshold * n
    assert bool(expected.any()) and not bool(expected.all()), out.ess
    assert torch.equal(out.resampled, expected)
    # a resampled step leaves equal weights: the next ESS starts from N
    after = out.resampled[:-1].nonzero().flatten() + 1
    assert (out.ess[after] > threshold * n).any()


@pytest.mark.parametrize("schedule", [VP, VESchedule(sigma_min=0.01, sigma_max=20.0)],
                         ids=["vp", "ve"])
def test_initial_particles_are_the_prior_through_the_noise_contract(schedule):
    """The start is prior_std · normal(S, O, e) with (S, O) drawn from the generator: the prior's
    scale (1 for VP, sigma_max for VE) and the noise contract's numbers, element for element."""
    from fkc_kernels.ops import draw_philox_seeds
    from fkc_kernels.reference import philox_normal

    sampler = FKCSampler(lambda x, tau: -x, lambda x: x.sum(-1), schedule, LinearTilt(1.0),
                         n_steps=2)
    x0 = sampler.initial_particles(4000, (2,), torch.Generator().manual_seed(9),
                                   torch.device("cpu"), torch.float32)
    seeds = draw_philox_seeds(torch.Generator().manual_seed(9), torch.device("cpu"))
    z = philox_normal(seeds[0], seeds[1], 8000).view(4000, 2)
    assert x0.shape == (4000, 2) and x0.dtype == torch.float32
    torch.testing.assert_close(x0, z * schedule.prior_std)
    # 8000 normals: the sample std is within 3% of the prior's (about 4 standard errors)
    assert abs(x0.std().item() / schedule.prior_std - 1.0) < 0.03


@pytest.mark.parametrize("reward_at", ["x", "x0_hat"])
def test_exact_weights_step_is_the_smc_increment_in_closed_form(reward_at):
    """weights="smc" (the default), one step from a carried potential: the move is the base
    Euler-Maruyama step plus h·g²·λ·∇̃r, and the log-weight gains the potential difference
    λ_i·r_i − φ_prev plus the Gaussian log-ratio −(h·g²·λ²/2)·‖∇̃r‖² − g·√h·λ·⟨∇̃r, ξ⟩, with
    ∇̃r = ∇r(x̂0)·α/(α²+σ²) at x̂0 (docs/design.md, "Exact weights")."""
    from fkc_kernels.ops import draw_philox_seeds
    from fkc_kernels.reference import philox_normal

    c0 = torch.tensor([0.7, -1.2, 0.4], dtype=torch.float64)

    def reward(x):
        return -0.5 * ((x - c0.to(x.dtype)) ** 2).sum(-1)

    score = gaussian_vp_score(0.3, 0.8)
    sampler = FKCSampler(score, reward, VP, LinearTilt(2.0), n_steps=20, reward_at=reward_at,
                         backend="reference")
    i = 9
    c = sampler.coefficients(i)
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(2)) * 1.5
    w = torch.randn(16) * 0.1
    prev = torch.randn(16)
    sampler.stepper.potential = prev.clone()
    x_got, w_got = x.clone(), w.clone()
    sampler.step(x_got, w_got, i, generator=torch.Generator().manual_seed(5))
    xd, s = x.double(), score(x, c.tau).double()
    at = xd if reward_at == "x" else (xd + c.sigma**2 * s) / c.alpha
    scale = 1.0 if reward_at == "x" else c.alpha / (c.alpha**2 + c.sigma**2)
    g_r = (c0 - at) * scale
    lam = sampler.tilt.lam(c.t)
    seeds = draw_philox_seeds(torch.Generator().manual_seed(5), torch.device("cpu"))
    xi = philox_normal(seeds[0], seeds[1], x.numel()).view(x.shape).double()
    x_want = xd + c.h * (c.g**2 * s - c.f_coef * xd) + c.h * c.g**2 * lam * g_r \
        + c.g * math.sqrt(c.h) * xi
    w_want = w.double() + lam * reward(at) - prev.double() \
        - (c.h * c.g**2 * lam**2 / 2) * (g_r**2).sum(1) \
        - c.g * math.sqrt(c.h) * lam * (g_r * xi).sum(1)
    torch.testing.assert_close(x_got.double(), x_want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(w_got.double(), w_want, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(sampler.stepper.potential.double(), lam * reward(at),
                               rtol=1e-5, atol=1e-5)
    # the end: the final potential λ(1)·r(x) at the clean particles replaces the carried one
    w_end = w_got.clone()
    sampler.stepper.finish_(x_got, w_end)
    w_end_want = w_got.double() + sampler.tilt.lam(1.0) * reward(x_got.double()) - lam * reward(at)
    torch.testing.assert_close(w_end.double(), w_end_want, rtol=1e-5, atol=1e-4)
    assert sampler.stepper.potential is None
