"""Built-in tasks: closed-form scores against autograd / float64, oracles and hit tests."""

import math

import pytest
import torch

from fkc_align.tasks import (
    Task,
    digit_log_probs,
    digits,
    gmm,
    load_digits_data,
    mixture_log_density,
    mixture_score,
)


def _autograd_score(x64, means64, var0, alpha, sigma):
    x = x64.clone().requires_grad_(True)
    logq = mixture_log_density(x, means64, var0, alpha, sigma)
    (g,) = torch.autograd.grad(logq.sum(), x)
    return g


@pytest.mark.parametrize("tau", [0.02, 0.3, 0.9])
def test_digits_score_matches_float64_autograd_of_log_density(tau):
    task = digits(3)
    images, _ = load_digits_data()
    means64 = images.reshape(len(images), -1).double()
    sched = task.schedule
    alpha, sigma = sched.alpha(tau), sched.sigma(tau)
    # particles near the data (the hard case: sharp posteriors) and far from it
    x = torch.cat([alpha * images[:3] + sigma * torch.randn(3, 1, 8, 8),
                   torch.randn(2, 1, 8, 8)])
    got = task.score_fn(x, tau)
    want = _autograd_score(x.double().reshape(5, -1), means64, task.params["smoothing_std"] ** 2,
                           alpha, sigma).reshape(5, 1, 8, 8)
    assert got.shape == x.shape and got.dtype == torch.float32
    scale = want.abs().max()
    assert torch.allclose(got.double(), want, atol=2e-4 * float(scale), rtol=1e-3)


def test_mixture_score_chunking_does_not_change_the_result():
    means = torch.randn(1000, 7, dtype=torch.float64)
    x = torch.randn(11, 7, dtype=torch.float64)
    whole = mixture_score(x, means, 0.05, 0.8, 0.6, chunk=10_000)
    chunked = mixture_score(x, means, 0.05, 0.8, 0.6, chunk=37)
    assert torch.allclose(whole, chunked, atol=1e-12)
    # and with unequal mixture weights against autograd
    logw = torch.log_softmax(torch.randn(1000, dtype=torch.float64), 0)
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(mixture_log_density(xg, means, 0.05, 0.8, 0.6, logw).sum(), xg)
    assert torch.allclose(mixture_score(x, means, 0.05, 0.8, 0.6, logw, chunk=64), g, atol=1e-9)


@pytest.mark.parametrize("tau", [0.05, 0.5, 1.0])
def test_gmm_score_matches_autograd(tau):
    task = gmm()
    x = 2.5 * torch.randn(64, 2)
    got = task.score_fn(x, tau)
    n_modes, radius = task.params["n_modes"], task.params["radius"]
    ang = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
    means = radius * torch.stack([torch.cos(ang), torch.sin(ang)], 1)
    want = _autograd_score(x.double(), means, task.params["mode_std"] ** 2,
                           task.schedule.alpha(tau), task.schedule.sigma(tau))
    assert torch.allclose(got.double(), want, atol=1e-4 * float(want.abs().max()) + 1e-5)


def test_digits_oracle_and_hit_test():
    task = digits(target=5)
    images, labels = load_digits_data()
    r = task.oracle(images[:200])
    assert r.shape == (200,) and (r <= 0).all()  # log-probabilities
    hits = task.is_hit(images[:200])
    assert torch.equal(hits, digit_log_probs(images[:200]).argmax(1) == 5)
    # the classifier recognises its own training digits: hits follow the labels
    assert (hits == (labels[:200] == 5)).float().mean() > 0.95
    assert r[labels[:200] == 5].mean() > r[labels[:200] != 5].mean() + 2.0


def test_gmm_rewards_both_liked_modes_and_reports_them():
    task = gmm(liked=(1, 5))
    n_modes, radius = task.params["n_modes"], task.params["radius"]
    ang = torch.tensor([1, 5, 3]) * (2 * math.pi / n_modes)
    pts = radius * torch.stack([torch.cos(ang), torch.sin(ang)], 1)
    r = task.oracle(pts)
    assert r[0] > r[2] + 3 and r[1] > r[2] + 3
    assert task.is_hit(pts).tolist() == [True, True, False]
    assert task.hit_breakdown(pts[:1])["both_modes_found"] is False
    assert task.hit_breakdown(pts[:2])["both_modes_found"] is True


def test_task_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="target"):
        digits(target=12)
    with pytest.raises(ValueError, match="liked"):
        gmm(liked=(2, 2))
    with pytest.raises(ValueError, match="shape"):
        Task(name="t", shape=(), score_fn=lambda x, t: x, oracle=lambda x: x.sum(1))
    with pytest.raises(TypeError, match="oracle"):
        Task(name="t", shape=(2,), score_fn=lambda x, t: x, oracle=3)


def test_digits_liked_rewards_every_liked_class_the_same_and_names_the_mode():
    from fkc_align.tasks import digits_liked

    task = digits_liked((3, 8), cap=0.8)
    images, labels = load_digits_data()
    three, eight, one = (images[labels == c][:40] for c in (3, 8, 1))
    r3, r8, r1 = task.oracle(three), task.oracle(eight), task.oracle(one)
    # clear liked digits sit on the cap whatever their class; a disliked one far below
    cap = math.log(0.8)
    assert abs(float(r3.median()) - cap) < 1e-6 and abs(float(r8.median()) - cap) < 1e-6
    assert float(r1.median()) < cap - 1.0
    modes = task.liked_mode(torch.cat([three[:5], eight[:5], one[:5]]))
    assert modes.tolist() == [0] * 5 + [1] * 5 + [-1] * 5
    assert task.n_liked == 2 and task.features(three).shape == (40, 16)
    assert task.hit_breakdown(three[:3])["every_liked_class_found"] is False
    with pytest.raises(ValueError, match="liked"):
        digits_liked((3, 3))
    with pytest.raises(ValueError, match="cap"):
        digits_liked((3, 8), cap=0.0)


def test_digits_confident_hits_are_a_subset_of_labelled_hits():
    images, _ = load_digits_data()
    loose, strict = digits(8).is_hit(images), digits(8, confidence=0.9).is_hit(images)
    assert (strict <= loose).all() and strict.sum() < loose.sum()
    with pytest.raises(ValueError, match="confidence"):
        digits(8, confidence=1.5)


def test_rare_mode_weights_layout_and_decoy():
    from fkc_align.tasks import rare_mode
    from fkc_kernels import FKCSampler, LinearTilt, zero_reward

    task = rare_mode(dim=3, n_common=4, rare_weight=0.05, layout=1)
    other = rare_mode(dim=3, n_common=4, rare_weight=0.05, layout=2)
    # the reward peaks at 1 in the liked mode (a hit); the decoy is worth decoy_value = 0.3
    x = torch.randn(20000, 3, generator=torch.Generator().manual_seed(0)) * 3
    r = task.oracle(x)
    assert task.is_hit(x[r.argmax()][None]).item() and float(r.max()) > 0.8
    assert not torch.allclose(task.oracle(x[:100]), other.oracle(x[:100]))  # another layout
    # unguided samples of the base model: about rare_weight of them in the liked mode
    sampler = FKCSampler(task.score_fn, zero_reward, task.schedule, LinearTilt(0.0), 30)
    base = sampler.sample(4000, task.shape, generator=torch.Generator().manual_seed(1)).x
    share = task.is_hit(base).float().mean().item()
    assert 0.035 < share < 0.065, share  # 0.05 ± 3.5 binomial standard deviations
    r_base = task.oracle(base)
    decoy_like = (r_base > 0.25) & (r_base < 0.35)  # the decoy mode's core
    assert decoy_like.float().mean() > 0.05
    with pytest.raises(ValueError, match="rare_weight"):
        rare_mode(rare_weight=1.5)
    with pytest.raises(ValueError, match="dim"):
        rare_mode(dim=1)


def test_rare_mode_between_sits_inside_the_common_modes():
    from fkc_align.tasks import rare_mode

    outer, inner = rare_mode(layout=0), rare_mode(layout=0, between=True)
    # the liked mode of the between layout is the midpoint of two common modes: nearer the
    # centre than any common mode (radius 2), where the outer one sits at rare_radius 4
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200000, 4, generator=gen) * 2.5
    for task, lo, hi in ((outer, 3.5, 4.5), (inner, 0.0, 1.9)):
        hits = x[task.is_hit(x)]
        assert len(hits) > 5 and lo < float(hits.mean(0).norm()) < hi
    assert inner.params["between"] is True and "between" not in outer.params
    with pytest.raises(ValueError, match="n_common: expected >= 3 with between=True"):
        rare_mode(n_common=2, between=True)
