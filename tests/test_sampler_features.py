"""FKCSampler options: batch sizes, groups, ancestors, latents and start step, generator lists,
the potential-only mode, extra_dw with FKC's classifier-free-guidance weight."""

import pytest
import torch

from fkc_kernels import (
    FKCSampler,
    LinearTilt,
    VPSchedule,
    cfg_log_weight_increment,
    zero_reward,
)

VP = VPSchedule()


def gaussian_score(mean=1.0, var=0.25, schedule=VP):
    def score(x, tau):
        a, s = schedule.alpha(tau), schedule.sigma(tau)
        return -(x - a * mean) / (a * a * var + s * s)
    return score


def weighted_moments(x, logw):
    wn = torch.softmax(logw.double(), 0)
    x = x.double().reshape(-1)
    m = (wn * x).sum()
    return float(m), float((wn * (x - m) ** 2).sum())


def sum_reward(x):
    return x.flatten(1).sum(1)


def test_batch_sizes_do_not_change_the_run():
    seen = {"score": set(), "reward": set()}

    def score(x, tau):
        seen["score"].add(x.shape[0])
        return gaussian_score()(x, tau)

    def reward(x):
        seen["reward"].add(x.shape[0])
        return sum_reward(x)

    outs = []
    for sbs, rbs in ((None, None), (4, 3)):
        sampler = FKCSampler(score, reward, VP, LinearTilt(1.0), n_steps=12, weights="smc",
                             resample="ess", score_batch_size=sbs, reward_batch_size=rbs,
                             backend="reference")
        outs.append(sampler.sample(10, (2,), generator=torch.Generator().manual_seed(0)))
    torch.testing.assert_close(outs[0].x, outs[1].x)
    torch.testing.assert_close(outs[0].w, outs[1].w)
    assert seen["score"] == {10, 4, 2} and seen["reward"] == {10, 3, 1}


@pytest.mark.parametrize("groups", [3, torch.tensor([2, 0, 1, 0, 2, 1, 1, 0, 2, 0, 1, 2])])
def test_resampling_within_groups_never_mixes_them(groups):
    labels = torch.arange(12) // 4 if isinstance(groups, int) else groups
    sampler = FKCSampler(gaussian_score(), sum_reward, VP, LinearTilt(6.0), n_steps=20,
                         weights="smc", resample="always", groups=groups)
    out = sampler.sample(12, (1,), generator=torch.Generator().manual_seed(2))
    assert out.ancestors.shape == (20, 12) and out.resampled.all()
    assert torch.equal(labels[out.ancestors], labels.expand(20, 12))
    # without groups the strong tilt moves particles across the same labels
    mixed = FKCSampler(gaussian_score(), sum_reward, VP, LinearTilt(6.0), n_steps=20,
                       weights="smc", resample="always")
    anc = mixed.sample(12, (1,), generator=torch.Generator().manual_seed(2)).ancestors
    assert not torch.equal(labels[anc], labels.expand(20, 12))


def test_grouped_ess_rule_is_per_group():
    # group 0 sees a flat reward (its ESS stays N/2), group 1 a steep one
    def reward(x):
        r = 20 * x.flatten(1).sum(1)
        r[:4] = 0
        return r

    sampler = FKCSampler(gaussian_score(), reward, VP, LinearTilt(1.0), n_steps=10,
                         weights="smc", resample="ess", groups=2)
    out = sampler.sample(8, (1,), generator=torch.Generator().manual_seed(0))
    ident = torch.arange(4).expand(10, 4)
    assert torch.equal(out.ancestors[:, :4], ident)  # group 0 never resampled
    assert out.resampled.any()


def test_ancestors_are_the_identity_without_resampling():
    sampler = FKCSampler(gaussian_score(), sum_reward, VP, LinearTilt(1.0), n_steps=5,
                         weights="smc", resample=None)
    out = sampler.sample(6, (1,), generator=torch.Generator().manual_seed(0))
    assert torch.equal(out.ancestors, torch.arange(6).expand(5, 6))


def test_latents_and_start_step():
    sampler = FKCSampler(gaussian_score(), sum_reward, VP, LinearTilt(2.0), n_steps=10,
                         weights="smc", resample=None, backend="reference")
    x0 = torch.full((5, 1), 1.0)
    z = sampler.noised(x0, 6, generator=torch.Generator().manual_seed(1))
    c = sampler.coefficients(6)
    assert z.shape == x0.shape and not torch.equal(z, c.alpha * x0)
    kept = z.clone()
    out = sampler.sample(latents=z, start_step=6, generator=torch.Generator().manual_seed(3))
    assert torch.equal(z, kept)  # latents are not modified
    assert out.x.shape == (5, 1) and out.ess.shape == (4,) and out.ancestors.shape == (4, 5)
    # the same four steps by hand
    x, w = z.clone(), torch.zeros(5)
    gen = torch.Generator().manual_seed(3)
    for i in range(6, 10):
        sampler.step(x, w, i, gen)
    torch.testing.assert_close(out.x, x)
    torch.testing.assert_close(out.w, w)
    with pytest.raises(ValueError, match="start_step: expected an int in"):
        sampler.sample(latents=z, start_step=10)
    with pytest.raises(ValueError, match="does not match n_particles=4"):
        sampler.sample(4, (1,), latents=z)


def test_generator_lists_give_each_particle_its_own_noise():
    def run(seeds):
        sampler = FKCSampler(gaussian_score(), sum_reward, VP, LinearTilt(1.0), n_steps=8,
                             weights="smc")
        gens = [torch.Generator().manual_seed(s) for s in seeds]
        return sampler.sample(3, (2,), generator=gens)

    a, b = run((0, 1, 2)), run((0, 1, 9))
    torch.testing.assert_close(a.x[:2], b.x[:2])
    assert not torch.allclose(a.x[2], b.x[2])
    sampler = FKCSampler(gaussian_score(), sum_reward, VP, LinearTilt(1.0), n_steps=2)
    with pytest.raises(ValueError, match="one torch.Generator per particle"):
        sampler.sample(3, (2,), generator=[torch.Generator()] * 2)
    with pytest.raises(TypeError, match="generator: expected a torch.Generator or None, got str"):
        sampler.sample(3, (2,), generator="seed")


def test_a_reward_without_gradient_names_the_fix():
    def detached(x):
        return sum_reward(x).detach()

    sampler = FKCSampler(gaussian_score(), detached, VP, LinearTilt(1.0), n_steps=3)
    with pytest.raises(ValueError, match="does not depend on the particles through autograd"):
        sampler.sample(4, (1,))


def test_potential_only_weights_telescope_to_the_final_tilt():
    calls = []

    def reward(x):
        calls.append(torch.is_grad_enabled())
        return sum_reward(x)

    sampler = FKCSampler(gaussian_score(), reward, VP, LinearTilt(2.5), n_steps=6,
                         weights="smc", reward_grad="none")
    out = sampler.sample(7, (1,), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out.w, 2.5 * sum_reward(out.x), rtol=1e-5, atol=1e-5)
    assert len(calls) == 7 and not any(calls)  # 6 steps + the final potential, no autograd


def test_potential_only_mode_reaches_the_tilted_gaussian():
    # no gradient anywhere: base proposals, telescoping potentials, resampling
    sampler = FKCSampler(gaussian_score(), lambda x: x.sum(-1), VP, LinearTilt(2.0),
                         n_steps=100, weights="smc", resample="ess", reward_grad="none")
    out = sampler.sample(16000, (1,), generator=torch.Generator().manual_seed(5))
    m, v = weighted_moments(out.x, out.w)
    assert abs(m - 1.5) < 0.05 and abs(v - 0.25) < 0.04, (m, v)


def test_cfg_weight_corrects_classifier_free_guidance_to_the_product():
    # q_c = N(1, 0.25), q_u = N(0, 1), guidance w = 2: q_c^2 q_u^-1 = N(8/7, 1/7)
    w_cfg = 2.0
    s_c, s_u = gaussian_score(1.0, 0.25), gaussian_score(0.0, 1.0)

    def guided(x, tau):
        return w_cfg * s_c(x, tau) + (1 - w_cfg) * s_u(x, tau)

    def cfg_dw(x, s, c):
        return cfg_log_weight_increment(s_u(x, c.tau), s_c(x, c.tau), w_cfg, h=c.h, g=c.g)

    results = {}
    for name, extra in (("fkc", cfg_dw), ("plain", None)):
        sampler = FKCSampler(guided, zero_reward, VP, LinearTilt(0.0), n_steps=100,
                             weights="smc", resample="ess", extra_dw=extra)
        out = sampler.sample(8000, (1,), generator=torch.Generator().manual_seed(4))
        results[name] = weighted_moments(out.x, out.w)
    m, v = results["fkc"]
    assert abs(m - 8 / 7) < 0.03 and abs(v - 1 / 7) < 0.02, results
    # plain CFG misses the product's mean by far more than the tolerance (1.25 here)
    assert abs(results["plain"][0] - 8 / 7) > 0.08, results


@pytest.mark.parametrize("g", [0.7, 1.3])
def test_a_per_element_std_equal_everywhere_is_the_scalar_ratio_step(g):
    """The exact-weight move with ``g`` as a tensor (DDPM's learned variances take this path)
    gives the scalar path's particles and log-ratio increment when every element's std is
    ``g``: ``Δw = −(h·g²·λ²/8)·‖∇r‖² − (g·√h·λ/2)·⟨∇r, ξ⟩``."""
    from fkc_kernels.stepper import Move, _ratio_step_

    gen = torch.Generator().manual_seed(4)
    x, score, grad, xi = (torch.randn(6, 5, generator=gen) for _ in range(4))
    extra = torch.randn(6, generator=gen)
    lam, h = 1.7, 0.05
    out = []
    for g_of in (g, torch.full_like(x, g)):
        xs, w = x.clone(), torch.zeros(6)
        _ratio_step_(Move(xs, score, h, g_of, 0.3), w, grad, lam, extra, xi, None, "reference")
        out.append((xs, w))
    torch.testing.assert_close(out[1][0], out[0][0], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(out[1][1], out[0][1], rtol=1e-5, atol=1e-6)
    want = -(h * g * g * lam * lam / 8) * (grad * grad).sum(1) \
        - (g * h ** 0.5 * lam / 2) * (grad * xi).sum(1) + extra
    torch.testing.assert_close(out[0][1], want, rtol=1e-5, atol=1e-5)
