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
