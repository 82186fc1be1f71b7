"""Grid schedules (discrete VP, EDM, flow matching): closed forms and the sampler's target."""

import math

import pytest
import torch

from fkc_kernels import (
    DiscreteVPSchedule,
    EDMSchedule,
    FKCSampler,
    FlowMatchingSchedule,
    LinearTilt,
    StepCoefficients,
    tau_to_timestep,
    timestep_to_tau,
)


def linear_alphas_cumprod(t=1000, beta_start=1e-4, beta_end=0.02):
    return torch.cumprod(1 - torch.linspace(beta_start, beta_end, t, dtype=torch.float64), 0)


def scaled_linear_alphas_cumprod(t=1000):
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, t, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0)


SCHEDULES = {
    "discrete-trailing": lambda: DiscreteVPSchedule(linear_alphas_cumprod()),
    "discrete-leading": lambda: DiscreteVPSchedule(
        scaled_linear_alphas_cumprod(), timesteps=lambda n: [(n - 1 - i) * (1000 // n) + 1
                                                             for i in range(n)]),
    "edm": lambda: EDMSchedule(0.002, 80.0, 7.0),
    "flow": lambda: FlowMatchingSchedule(tau_max=0.95, shift=3.0),
}


@pytest.mark.parametrize("make", [linear_alphas_cumprod, scaled_linear_alphas_cumprod])
def test_discrete_schedule_reproduces_alphas_cumprod(make):
    ac = make()
    sch = DiscreteVPSchedule(ac)
    for t in range(0, 1000, 7):
        tau = sch.timestep_to_tau(t)
        assert sch.alpha(tau) ** 2 == pytest.approx(float(ac[t]), rel=1e-12)
        assert sch.sigma(tau) ** 2 == pytest.approx(1 - float(ac[t]), rel=1e-12)
    assert sch.alpha(0.0) == 1.0 and sch.sigma(0.0) == 0.0
    # between timesteps log(alpha^2) is linear
    mid = sch.timestep_to_tau(499.5)
    assert math.log(sch.alpha(mid) ** 2) == pytest.approx(
        0.5 * (math.log(ac[499]) + math.log(ac[500])), rel=1e-12)


def test_timestep_and_tau_helpers_round_trip():
    for t in (0, 1, 499, 999):
        tau = timestep_to_tau(t, 1000)
        assert tau_to_timestep(tau, 1000) == t and isinstance(tau_to_timestep(tau, 1000), int)
    assert timestep_to_tau(999, 1000) == 1.0 and timestep_to_tau(-1, 1000) == 0.0
    assert tau_to_timestep(0.5004, 1000) == pytest.approx(499.4)
    ts = torch.tensor([999, 0])
    torch.testing.assert_close(timestep_to_tau(ts, 1000), torch.tensor([1.0, 0.001]))


@pytest.mark.parametrize("name", list(SCHEDULES))
@pytest.mark.parametrize("n_steps", [1, 7, 50])
def test_step_coefficients_make_each_forward_transition_exact(name, n_steps):
    sch = SCHEDULES[name]()
    taus = sch.checked_grid(n_steps)
    hs, t_expected = [], 0.0
    for i in range(n_steps):
        c = sch.at_step(i, n_steps)
        assert isinstance(c, StepCoefficients) and c.h > 0 and c.tau == taus[i]
        assert c.t == pytest.approx(t_expected, abs=1e-12)
        t_expected += c.h
        hs.append(c.h)
        a_a, a_b = sch.alpha(taus[i]), sch.alpha(taus[i + 1])
        s_a, s_b = sch.sigma(taus[i]), sch.sigma(taus[i + 1])
        assert (c.alpha, c.sigma) == (a_a, s_a)
        assert c.f_coef * c.h == pytest.approx(math.log(a_a / a_b), rel=1e-9, abs=1e-12)
        if name.startswith("discrete"):  # beta integrated over the step
            assert c.g**2 * c.h == pytest.approx(math.log(a_b**2 / a_a**2), rel=1e-9)
        if name == "edm":  # the variance the step removes
            assert c.g**2 * c.h == pytest.approx(s_a**2 - s_b**2, rel=1e-9)
        # constant f, g over the step reproduce the forward transition's variance
        f = c.f_coef * c.h
        var = s_a**2 - (a_a / a_b) ** 2 * s_b**2
        exact = c.g**2 * c.h * (-math.expm1(2 * f) / (-2 * f) if f else 1.0)
        assert exact == pytest.approx(var, rel=1e-9, abs=1e-15)
    assert sum(hs) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name", ["discrete-trailing", "edm", "flow"])
def test_continuous_coefficients_match_alpha_and_sigma(name):
    sch = SCHEDULES[name]()
    for tau in (0.1234, 0.5004, 0.7777):
        d = 1e-6
        dlog_alpha = (math.log(sch.alpha(tau + d)) - math.log(sch.alpha(tau - d))) / (2 * d)
        dsigma2 = (sch.sigma(tau + d) ** 2 - sch.sigma(tau - d) ** 2) / (2 * d)
        assert sch.f_coef(tau) == pytest.approx(dlog_alpha, rel=1e-5, abs=1e-9)
        assert sch.g2(tau) == pytest.approx(dsigma2 - 2 * sch.f_coef(tau) * sch.sigma(tau) ** 2,
                                            rel=1e-5)


def test_edm_grid_is_the_karras_grid():
    sch = EDMSchedule(0.002, 80.0, 7.0)
    n = 10
    want = [(80.0 ** (1 / 7) + i / n * (0.002 ** (1 / 7) - 80.0 ** (1 / 7))) ** 7
            for i in range(n + 1)]
    assert sch.karras_sigmas(n) == pytest.approx(want, rel=1e-12)
    assert sch.sigma_to_tau(sch.sigma(0.3)) == pytest.approx(0.3)
    assert sch.timestep(1.0) == pytest.approx(0.25 * math.log(80.0))


def test_flow_schedule_shift_and_timestep():
    sch = FlowMatchingSchedule(tau_max=0.9, shift=3.0, num_train_timesteps=1000)
    for tau in (0.1, 0.5, 0.9):
        s = 3 * tau / (1 + 2 * tau)
        assert sch.sigma(tau) == pytest.approx(s) and sch.alpha(tau) == pytest.approx(1 - s)
        assert sch.timestep(tau) == pytest.approx(1000 * s)


def test_grid_schedules_reject_bad_input():
    ac = linear_alphas_cumprod()
    with pytest.raises(ValueError, match="strictly decreasing"):
        DiscreteVPSchedule(ac.flip(0))
    with pytest.raises(ValueError, match=r"values in \(0, 1\]"):
        DiscreteVPSchedule(torch.cat([ac[:-1], torch.zeros(1)]))
    with pytest.raises(ValueError, match="timesteps: expected strictly decreasing"):
        DiscreteVPSchedule(ac, timesteps=[10, 500])
    with pytest.raises(ValueError, match=r"timesteps: expected values in \[0, 999\]"):
        DiscreteVPSchedule(ac, timesteps=[1000, 5])
    fixed = DiscreteVPSchedule(ac, timesteps=[999, 500, 0])
    assert fixed.at_step(2, 3).tau == pytest.approx(0.001)
    with pytest.raises(ValueError, match="fixed grid of 3 timesteps, got n_steps=5"):
        fixed.at_step(0, 5)
    with pytest.raises(ValueError, match="n_steps: expected <= num_train_timesteps"):
        DiscreteVPSchedule(ac).at_step(0, 1001)
    with pytest.raises(ValueError, match="tau_max: expected 0 < tau_max < 1"):
        FlowMatchingSchedule(tau_max=1.0)
    with pytest.raises(ValueError, match="sigma_min, sigma_max"):
        EDMSchedule(sigma_min=1.0, sigma_max=0.5)
    with pytest.raises(ValueError, match="i: expected 0 <= i < n_steps"):
        EDMSchedule().at_step(4, 4)


def gaussian_score(schedule, mean=1.0, std=0.5):
    def score(x, tau):
        a, s = schedule.alpha(tau), schedule.sigma(tau)
        return -(x - a * mean) / (a * a * std * std + s * s)
    return score


@pytest.mark.parametrize("name,n_steps", [("discrete-trailing", 200), ("discrete-leading", 100),
                                          ("edm", 200), ("flow", 200)])
def test_sampler_reaches_the_tilted_gaussian_on_grid_schedules(name, n_steps):
    # data N(1, 0.5^2), r(x) = x, lambda = 2t: the target is N(1.5, 0.25) (README's sampler example)
    sch = SCHEDULES[name]()
    sampler = FKCSampler(gaussian_score(sch), lambda x: x.sum(-1), sch, LinearTilt(2.0),
                         n_steps=n_steps, weights="smc", resample="ess")
    out = sampler.sample(16000, (1,), generator=torch.Generator().manual_seed(11))
    wn = torch.softmax(out.w.double(), 0)
    x = out.x.double().reshape(-1)
    m = float((wn * x).sum())
    v = float((wn * (x - m) ** 2).sum())
    # Monte Carlo sd ~0.005 (mean); the flow grid starts at tau_max = 0.95 from N(0, prior_std^2)
    assert abs(m - 1.5) < 0.05, m
    assert abs(v - 0.25) < 0.04, v
