"""Reward networks: the right architecture per shape, they learn, seeded, standardised."""

import pytest
import torch

from fkc_align.reward_models import SmallCNN, SmallMLP, make_reward_model, train_reward_model

# tiny models: one intra-op thread (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_architecture_follows_the_particle_shape():
    assert isinstance(make_reward_model((1, 8, 8)).net, SmallCNN)
    assert isinstance(make_reward_model((3, 5, 4)).net, SmallCNN)
    assert isinstance(make_reward_model((2,)).net, SmallMLP)
    assert isinstance(make_reward_model((4, 6)).net, SmallMLP)
    assert make_reward_model((1, 8, 8))(torch.zeros(5, 1, 8, 8)).shape == (5,)


def test_mlp_learns_a_simple_function_and_predicts_in_oracle_units():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(200, 2, generator=g) * 4 - 2
    r = 10.0 + 3.0 * (x[:, 0] - 0.5 * x[:, 1] ** 2)
    model = make_reward_model((2,), seed=1)
    stats = train_reward_model(model, x[:150], r[:150], seed=0, max_epochs=1500, patience=200)
    assert stats.n_holdout == 30 and stats.epochs > 10
    pred = model.predict(x[150:])
    resid = ((pred - r[150:]) ** 2).mean() / r[150:].var()
    assert resid < 0.05, f"relative error {resid:.3f}"
    # forward() is the standardised prediction the sampler is guided by
    z = model(x[150:]).detach()
    assert torch.allclose(pred, model.r_mean + model.r_std * z, atol=1e-5)


def test_cnn_ranks_images_by_a_simple_function():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(120, 1, 8, 8, generator=g) * 2 - 1
    r = x[:, 0, :4].mean((1, 2)) - x[:, 0, 4:].mean((1, 2))  # top half brighter than bottom
    model = make_reward_model((1, 8, 8), seed=0)
    train_reward_model(model, x[:90], r[:90], seed=0)
    pred = model.predict(x[90:])
    corr = torch.corrcoef(torch.stack([pred, r[90:]]))[0, 1]
    assert corr > 0.8, f"correlation {corr:.2f}"


def test_training_is_seeded_and_warm_started():
    x = torch.randn(40, 3)
    r = x.sum(1)
    a, b = make_reward_model((3,), seed=5), make_reward_model((3,), seed=5)
    train_reward_model(a, x, r, seed=2)
    train_reward_model(b, x, r, seed=2)
    assert torch.equal(a(x), b(x))
    # warm start: a second call continues from the current weights, it does not re-initialise
    loss_before = torch.mean((a(x) - (r - r.mean()) / r.std()) ** 2)
    train_reward_model(a, x, r, seed=3, max_epochs=1)
    loss_after = torch.mean((a(x) - (r - r.mean()) / r.std()) ** 2)
    assert loss_after < loss_before + 0.05


def test_bad_training_input_is_named():
    model = make_reward_model((2,))
    with pytest.raises(ValueError, match="x, r"):
        train_reward_model(model, torch.zeros(3, 2), torch.zeros(4), seed=0)
    with pytest.raises(ValueError, match="finite"):
        train_reward_model(model, torch.zeros(2, 2), torch.tensor([0.0, float("nan")]), seed=0)
