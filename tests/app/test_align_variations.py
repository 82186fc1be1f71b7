"""Variations of the liked answers (``fkc_align.strategies.Variations``): which answers they are
made from, how many, that they stay near their answer, that only the kept picks see them (never
the tilted draw nor the exploration) and that bad settings are named. Each test fails on a
specific wrong rule (named in its comment)."""

import math

import pytest
import torch

from fkc_align import picks, strategies
from fkc_align.config import RunConfig, plan_round
from fkc_align.particles import Particles
from fkc_align.strategies import FKCExplore, RoundView, Variations, register_strategy
from fkc_align.tasks import gmm


class _Linear(torch.nn.Module):
    """One network predicting ``x[:, 0]``."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(1, 1)

    def forward(self, x):
        return x[:, 0]


class _Recording(FKCExplore):
    """The default with a given ``variations``, keeping the round view it was shown."""

    view = None

    def pick(self, view):
        _Recording.view = view
        return super().pick(view)


def _round_view(monkeypatch, variations, asked, answers, n_steps=20):
    task = gmm()
    guided = torch.tensor([[float(i), 0.0] for i in range(6)])
    pool = torch.tensor([[0.0, 3.0], [3.0, 3.0], [-3.0, 3.0]])

    def fake_draw(particles, task_, cfg, model, lam, n, gen, **kw):
        if "weights" in kw:  # the guided sample (uniform weights)
            return guided.clone(), torch.zeros(len(guided))
        return pool.clone(), torch.zeros(len(pool))

    monkeypatch.setattr(picks, "draw", fake_draw)
    register_strategy("recording-test", _Recording(decay=False, variations=variations),
                      replace=True)
    cfg = RunConfig.resolve(task, budget=24, k=3, n_particles=6, n_steps=n_steps,
                            strategy="recording-test")
    plan = plan_round(cfg, 1, 3)
    picks.pick_round(Particles(), task, cfg, plan, _Linear(), asked,
                     torch.Generator().manual_seed(0), backend="reference",
                     device=torch.device("cpu"), asked_r=answers)
    return _Recording.view, len(guided) + len(pool)


def test_variations_are_made_from_the_most_recent_strong_liked_answers(monkeypatch):
    # answers: 0 and 1 are misses, 2 and 4 strong (at least the median liked answer), 3 liked
    # but not strong. max_answers=1 takes the most recent strong one (4, not 2: a rule taking
    # the first would fail), per_answer=3 copies of it (a rule ignoring it would make 2), each
    # close to it at tau 0.05 (a rule starting from the prior would land anywhere)
    # (the answers sit on the mixture's modes, radius 2: off them the base model would pull
    # a variation far towards its modes)
    asked = torch.tensor([[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0], [1.41, 1.41], [0.0, -2.0]])
    answers = torch.tensor([-10.0, -9.0, 0.0, -1.0, 0.0])
    view, n_base = _round_view(monkeypatch, Variations(tau=0.05, per_answer=3, max_answers=1),
                               asked, answers)
    rows = view.in_variations
    assert rows.tolist() == [False] * n_base + [True] * 3
    var = view.x[rows]
    assert torch.cdist(var, asked).argmin(1).tolist() == [4, 4, 4]
    assert float(torch.cdist(var, asked[4:5]).max()) < 0.6
    assert not view.in_pool[rows].any() and torch.isneginf(view.log_w[rows]).all()
    # the features and predictions cover the new rows like every other
    torch.testing.assert_close(view.features[rows], var)
    torch.testing.assert_close(view.members[0, rows], var[:, 0])
    # both strong answers with max_answers 2: 2 + 2 rows, none near the liked-but-weak answer 3
    view, _ = _round_view(monkeypatch, Variations(tau=0.05, per_answer=2, max_answers=2),
                          asked, answers)
    near = torch.cdist(view.x[view.in_variations], asked).argmin(1).tolist()
    assert near == [2, 2, 4, 4]


def test_no_variations_without_a_liked_answer_or_when_switched_off(monkeypatch):
    asked = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    view, n = _round_view(monkeypatch, Variations(), asked, torch.zeros(2))  # all answers equal
    assert len(view.x) == n and not view.variation_rows.any()
    view, n = _round_view(monkeypatch, None, asked, torch.tensor([0.0, -5.0]))
    assert len(view.x) == n and not view.variation_rows.any()
    # the ablation is registered, without variations; the default has them
    assert strategies.get_strategy("fkc-explore-novariations").variations is None
    assert strategies.get_strategy("fkc-explore").variations == Variations(0.3, 2, 32)
    # no kept picks, nothing reads variations: none are made
    assert FKCExplore(keep=False).variations is None


def _hand_view(n_keep_anchors):
    # guided rows: a cluster at (0, 0) and one at (5, 0); a variation (row 6) sits inside the
    # first cluster and is predicted best of all; pool rows 7-8 far away. The asked set holds
    # one strong liked answer at (0, 0.2) when n_keep_anchors is 1, else a miss there.
    gx = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [5.0, 0.0], [5.1, 0.0], [5.0, 0.1]])
    vx = torch.tensor([[0.05, 0.05]])
    px = torch.tensor([[20.0, 20.0], [-20.0, 20.0]])
    x = torch.cat([gx, vx, px])
    mean = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 9.0, 0.0, 0.0])
    in_pool = torch.tensor([False] * 7 + [True] * 2)
    log_w = torch.cat([torch.full((6,), math.log(1 / 6)), torch.full((3,), -math.inf)])
    asked = torch.tensor([[0.0, 0.2], [30.0, 0.0]])
    answers = torch.tensor([0.0, -5.0]) if n_keep_anchors else torch.tensor([-5.0, 0.0])
    return RoundView(round=2, n_show=2, n_exploit=2, n_explore=0, x=x, log_w=log_w,
                     in_pool=in_pool, features=x, members=torch.stack([mean, mean]),
                     asked_x=asked, asked_features=asked, asked_r=answers, lam=1.0, spent=0.5,
                     spread=0.0, generator=torch.Generator().manual_seed(0),
                     in_variations=torch.arange(9) == 6)


def test_the_draw_never_shows_a_variation_and_a_kept_pick_does():
    # no strong answer near the variation: both picks come from the tilted draw, one per
    # cluster; drawing over every non-pool row would show the variation (the best predicted
    # member of the first cluster)
    out = FKCExplore(decay=False).pick(_hand_view(n_keep_anchors=0))
    assert 6 not in out.index.tolist() and all(i < 6 for i in out.index.tolist())
    # a strong answer at (0, 0.2): its kept pick is the best predicted of its 4 nearest
    # candidates, the variation; the other pick is drawn (never the variation again)
    out = FKCExplore(decay=False).pick(_hand_view(n_keep_anchors=1))
    assert 6 in out.index.tolist() and len(set(out.index.tolist())) == 2


def test_bad_variations_are_named():
    with pytest.raises(ValueError, match=r"tau: expected a float in \(0, 1\), got 0"):
        Variations(tau=0)
    with pytest.raises(ValueError, match=r"tau: expected a float in \(0, 1\), got 1.5"):
        Variations(tau=1.5)
    with pytest.raises(ValueError, match="per_answer: expected an int >= 1, got 0"):
        Variations(per_answer=0)
    with pytest.raises(ValueError, match="max_answers: expected an int >= 1, got '3'"):
        Variations(max_answers="3")
    with pytest.raises(TypeError, match="variations: expected a Variations or None, got dict"):
        FKCExplore(variations={"tau": 0.3})

    class Odd(strategies.BaseStrategy):
        variations = (0.3, 2)

        def pick(self, view):  # pragma: no cover - never run
            raise AssertionError

    with pytest.raises(TypeError, match="strategy.variations: expected a "
                                        "fkc_align.strategies.Variations or None, got tuple"):
        register_strategy("odd-variations-test", Odd())
