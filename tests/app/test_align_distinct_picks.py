"""Distinct picks: after resampling, a heavy particle's copies differ by a few steps of noise,
and a round that shows five of them asks a person the same question five times. The draw keeps
its picks apart (``min_gap``), a collapsed guided sample is filled from the best distinct
candidates, and the default strategy does both. Each test fails on a specific wrong pick."""

import math

import torch

from fkc_align import strategies
from fkc_align.pick_rules import distinct_best, draw_by_weight, typical_gap
from fkc_align.strategies import RoundView


def _copies_and_modes():
    # 10 near-copies of one heavy particle at (0, 0) (0.001 apart) holding 0.8 of the weight,
    # and 10 particles 1 apart along y = 3 holding 0.2
    copies = torch.tensor([[0.0, 0.0]]) + 0.001 * torch.arange(10.0)[:, None]
    line = torch.stack([torch.arange(10.0), torch.full((10,), 3.0)], 1)
    f = torch.cat([copies, line])
    w = torch.cat([torch.full((10,), 0.08), torch.full((10,), 0.02)])
    return f, torch.log(w)


def _min_pair_distance(f, idx):
    d = torch.cdist(f[idx], f[idx])
    d.fill_diagonal_(math.inf)
    return float(d.min())


def test_typical_gap_is_the_median_nearest_neighbour_distance():
    # a line with spacings 1, 1, 2, 4: nearest distances 1, 1, 1, 2, 4 -> median 1
    f = torch.tensor([[0.0], [1.0], [2.0], [4.0], [8.0]])
    assert typical_gap(f) == 1.0
    assert typical_gap(f[:1]) == 0.0


def test_draw_with_a_gap_never_shows_two_copies():
    # by weight 4 of 5 picks go to the copies; without a gap they are 4 copies (distances
    # 0.001), with a gap of 0.5 one copy and the rest from the line, all at least 0.5 apart
    f, log_w = _copies_and_modes()
    score = torch.zeros(20)
    for s in range(6):
        gen = torch.Generator().manual_seed(s)
        plain = draw_by_weight(f, log_w, 5, gen, score=score)
        assert sum(i < 10 for i in plain) >= 3
        got = draw_by_weight(f, log_w, 5, torch.Generator().manual_seed(s), score=score,
                             min_gap=0.5)
        assert len(got) == 5 and sum(i < 10 for i in got) == 1
        assert _min_pair_distance(f, got) >= 0.5


def test_draw_stops_short_when_only_copies_are_left():
    # every particle copies the first pick: one pick, not four copies of it
    f = 0.001 * torch.arange(8.0)[:, None].repeat(1, 2)
    got = draw_by_weight(f, torch.zeros(8), 4, torch.Generator().manual_seed(0),
                         score=torch.zeros(8), min_gap=0.5)
    assert len(got) == 1


def test_distinct_best_takes_the_best_scored_row_far_enough_from_the_chosen():
    # rows 0-2 copy the chosen row 0 and score highest; the fill skips them for the best of
    # the distinct rows (5, then 3, and 4 is too close to 3), and only then returns to copies
    f = torch.tensor([[0.0, 0.0], [0.01, 0.0], [0.02, 0.0], [5.0, 0.0], [5.1, 0.0],
                      [9.0, 0.0]])
    score = torch.tensor([10.0, 9.0, 8.0, 2.0, 3.0, 4.0])
    assert distinct_best(f, score, [0], 2, min_gap=1.0) == [5, 4]
    assert distinct_best(f, score, [0], 4, min_gap=1.0) == [5, 4, 1, 2]
    assert distinct_best(f, score, [], 2, min_gap=1.0) == [0, 5]


def _collapsed_view():
    # the guided sample collapsed: 12 copies of one particle (the best predicted); a pool of
    # 8 particles 2 apart along x, predicted lower the farther from it
    guided = torch.tensor([[0.0, 1.0]]) + 1e-3 * torch.arange(12.0)[:, None]
    pool = torch.stack([2.0 * torch.arange(8.0), torch.zeros(8)], 1)
    x = torch.cat([guided, pool])
    in_pool = torch.arange(20) >= 12
    log_w = torch.cat([torch.full((12,), -math.log(12.0)), torch.full((8,), -math.inf)])
    pred = torch.cat([torch.full((12,), 5.0), 4.0 - 0.1 * torch.arange(8.0)])
    return RoundView(round=1, n_show=4, n_exploit=4, n_explore=0, x=x, log_w=log_w,
                     in_pool=in_pool, features=x, members=torch.stack([pred, pred]),
                     asked_x=x[:0], asked_features=x[:0], asked_r=torch.zeros(0), lam=8.0,
                     spent=0.5, spread=0.0, generator=torch.Generator().manual_seed(0))


def test_the_default_fills_a_collapsed_guided_sample_with_distinct_candidates():
    # with distinct=0 the four picks are four copies; the default shows one copy, then the
    # best predicted pool rows at least half the pool's spacing (1.0) from every pick (row
    # 12 is 1.0 from the copy, so 12, 13, 14 in order of prediction)
    view = _collapsed_view()
    plain = strategies.FKCExplore(decay=False, distinct=0.0).pick(view).index.tolist()
    assert all(i < 12 for i in plain)
    got = strategies.FKCExplore(decay=False).pick(_collapsed_view())
    idx = got.index.tolist()
    assert sum(i < 12 for i in idx) == 1 and idx[1:] == [12, 13, 14]
    assert got.labels == ["top"] * 4
    assert _min_pair_distance(view.x, idx) >= 1.0
