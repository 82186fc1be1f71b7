"""The pick strategies: the draw from the FKC weights, the exploration rule, the ensemble picks,
the round's wiring (a stub model, a fixed pool and a fixed asked set), the coverage window and
the registry. Each test fails on a specific wrong pick (named in its comment)."""

import math

import pytest
import torch

from fkc_align import picks, strategies
from fkc_align.config import RunConfig, plan_round
from fkc_align.loop import liked_mode_coverage, run_active
from fkc_align.particles import Particles
from fkc_align.pick_rules import region_picks, unvisited_regions
from fkc_align.strategies import (
    BaseStrategy,
    RoundView,
    StrategyPicks,
    draw_by_weight,
    explore_picks,
    register_strategy,
    unexplored_picks,
)
from fkc_align.tasks import gmm


def _modes(counts, centres, spread=0.05, seed=0):
    gen = torch.Generator().manual_seed(seed)
    f = torch.cat([torch.tensor(c) + spread * torch.randn(n, 2, generator=gen)
                   for n, c in zip(counts, centres, strict=True)])
    mode = torch.cat([torch.full((n,), j) for j, n in enumerate(counts)])
    return f, mode


@pytest.mark.parametrize("seed", range(8))
def test_draw_by_weight_gives_each_mode_its_share_of_the_weight(seed):
    # three separated modes, 30 particles each but masses 1/2, 1/4, 1/4: 8 picks are 4, 2, 2
    # whatever the uniform (systematic resampling over the mode-contiguous layout); a draw by
    # particle count (uniform weights) would give about 3, 3, 2, and top-by-weight all from one
    f, mode = _modes([30, 30, 30], [(0.0, 0.0), (5.0, 0.0), (0.0, 5.0)], seed=seed)
    gen = torch.Generator().manual_seed(seed)
    raw = torch.rand(90, generator=gen) + 0.5  # unequal weights inside each mode
    mass = torch.tensor([0.5, 0.25, 0.25])
    w = raw / torch.stack([raw[mode == j].sum() for j in range(3)])[mode] * mass[mode]
    got = draw_by_weight(f, torch.log(w), 8, torch.Generator().manual_seed(100 + seed))
    assert len(set(got)) == 8
    assert torch.bincount(mode[got], minlength=3).tolist() == [4, 2, 2]


def test_draw_by_weight_follows_weights_not_particle_counts():
    # mode 0 has 10 particles but 3/4 of the weight, mode 1 has 50 particles and 1/4
    f, mode = _modes([10, 50], [(0.0, 0.0), (4.0, 4.0)])
    w = torch.where(mode == 0, 0.75 / 10, 0.25 / 50)
    for s in range(5):
        got = draw_by_weight(f, torch.log(w), 8, torch.Generator().manual_seed(s))
        assert torch.bincount(mode[got], minlength=2).tolist() == [6, 2]


def test_a_particle_drawn_twice_is_replaced_by_another_of_its_mode():
    # one heavy particle holds 0.9 of mode 0's weight: systematic resampling draws it several
    # times; the replacements stay in mode 0 and all picks are distinct
    f, mode = _modes([12, 12], [(0.0, 0.0), (6.0, 0.0)])
    w = torch.full((24,), 0.5 / 12)
    w[:12] = 0.1 * 0.5 / 11
    w[3] = 0.9 * 0.5
    got = draw_by_weight(f, torch.log(w), 6, torch.Generator().manual_seed(0))
    assert len(set(got)) == 6 and 3 in got
    assert torch.bincount(mode[got], minlength=2).tolist() == [3, 3]


def test_exploration_takes_the_nearest_distance_not_the_mean_distance():
    asked = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    # A (5, 0): nearest 5, mean 5; B (0, 3): nearest 3, mean 6.7. Novelty is the nearest
    # distance: A first. A mean-distance novelty picks B.
    feats = torch.tensor([[5.0, 0.0], [0.0, 3.0], [9.0, 0.5]])
    allowed = torch.tensor([True, True, True])
    assert explore_picks(feats, allowed, asked, [], 1) == [0]
    # then B (3 from the asked (0, 0)) rather than (9, 0.5) (1.1 from (10, 0)); rows chosen
    # before count as asked, and rows not allowed are never taken
    assert explore_picks(feats, allowed, asked, [], 2) == [0, 1]
    assert explore_picks(feats, torch.tensor([False, True, True]), asked, [], 3) == [1, 2]
    # an ensemble that disagrees about B lifts it above A: 3·(1 + 2/0.7) > 5·(1 + 0.1/0.7)
    std = torch.tensor([0.1, 2.0, 0.0])
    assert explore_picks(feats, allowed, asked, [], 1, std) == [1]


def _rings(centres, spread=0.3):
    """A centre point and a ring of 7 around it per mode: the centre is its mode's most typical
    member (nearest the mode's mean)."""
    ring = torch.stack([torch.cos(torch.arange(7) * 2 * math.pi / 7),
                        torch.sin(torch.arange(7) * 2 * math.pi / 7)], 1) * spread
    return torch.cat([torch.cat([torch.zeros(1, 2), ring]) + torch.tensor(c) for c in centres])


def test_unexplored_picks_show_the_typical_member_of_each_unvisited_mode_farthest_first():
    # modes A (0, 0), B (4, 0), C (0, 12), D (6, 6); asked: near A; chosen: a B row. C is
    # farther from A and B than D is, so C's centre (row 16) comes first, then D's (row 24);
    # A and B are visited and get nothing however many picks are asked for
    f = _rings([(0.0, 0.0), (4.0, 0.0), (0.0, 12.0), (6.0, 6.0)])
    allowed = torch.ones(len(f), dtype=torch.bool)
    asked = torch.tensor([[0.2, 0.1]])
    assert unexplored_picks(f, allowed, asked, [9], 1, clusters=4) == [16]
    assert unexplored_picks(f, allowed, asked, [9], 5, clusters=4) == [16, 24]
    # a visited mode is one an asked or chosen row falls in: nothing chosen, B is unvisited
    assert 8 in unexplored_picks(f, allowed, asked, [], 5, clusters=4)
    # only allowed rows are clustered and shown: with C not allowed, D alone is left
    allowed[16:24] = False
    assert unexplored_picks(f, allowed, asked, [9], 5, clusters=3) == [24]
    # novelty alone goes to the farthest single row instead, a ring point of C, not its centre
    assert explore_picks(f, torch.ones(len(f), dtype=torch.bool), torch.cat([asked, f[9:10]]),
                         [], 1) != [16]


def test_unvisited_regions_are_whole_modes_farthest_first_with_their_centroids():
    # the same four modes: C (rows 16-23) then D (rows 24-31), each with its own members and
    # the mean of them as centroid; a region that lost rows to `allowed` lists only the rest
    f = _rings([(0.0, 0.0), (4.0, 0.0), (0.0, 12.0), (6.0, 6.0)])
    allowed = torch.ones(len(f), dtype=torch.bool)
    asked = torch.tensor([[0.2, 0.1]])
    regions = unvisited_regions(f, allowed, asked, [9], clusters=4)
    assert [m.tolist() for m, _ in regions] == [list(range(16, 24)), list(range(24, 32))]
    torch.testing.assert_close(regions[0][1], f[16:24].mean(0))
    allowed[[17, 18]] = False
    (c_rows, _), _ = unvisited_regions(f, allowed, asked, [9], clusters=4)
    assert c_rows.tolist() == [16] + list(range(19, 24))
    # nothing asked or chosen yet: no region counts as unvisited
    assert unvisited_regions(f, allowed, asked[:0], [], clusters=4) == []


def test_explore_picks_never_repeat_a_chosen_row():
    # every allowed row sits on an asked row (novelty 0 everywhere), so the argmax would be the
    # first allowed row, 0, which another rule chose already: it must go to 1, then 2, then none
    feats = torch.zeros(3, 2)
    allowed = torch.ones(3, dtype=torch.bool)
    asked = torch.zeros(1, 2)
    assert explore_picks(feats, allowed, asked, [0], 2) == [1, 2]
    assert explore_picks(feats, allowed, asked, [0, 1], 2) == [2]


def _view(members, *, n_exploit=0, n_explore=0, in_pool=None, log_w=None, seed=0):
    m, n = members.shape
    x = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 2)
    in_pool = torch.zeros(n, dtype=torch.bool) if in_pool is None else in_pool
    log_w = torch.zeros(n) if log_w is None else log_w
    return RoundView(round=1, n_show=n_exploit + n_explore, n_exploit=n_exploit,
                     n_explore=n_explore, x=x, log_w=log_w, in_pool=in_pool, features=x,
                     members=members, asked_x=x[:0], asked_features=x[:0],
                     asked_r=torch.zeros(0), lam=1.0, spent=0.5, spread=0.0,
                     generator=torch.Generator().manual_seed(seed))


def test_ensemble_picks_use_every_member():
    # member 0 likes particles 0-3, member 1 likes 4-7; the mean likes 8 and 9 (liked a bit
    # by both). Greedy takes the mean's top; Thompson each drawn member's best in turn (from
    # one member only it would never leave 0-3 or 4-7); UCB adds the members' spread.
    n = 10
    a, b = torch.zeros(n), torch.zeros(n)
    a[:4] = torch.tensor([10.0, 9.0, 8.0, 7.0])
    b[4:8] = torch.tensor([10.0, 9.0, 8.0, 7.0])
    a[8:], b[8:] = 6.0, 6.0
    members = torch.stack([a, b])
    greedy = strategies.Greedy().pick(_view(members, n_exploit=2))
    assert greedy.index.tolist() == [8, 9]
    view = _view(members, n_exploit=4, seed=3)
    who = torch.randint(0, 2, (4,), generator=torch.Generator().manual_seed(3)).tolist()
    got = strategies.Thompson().pick(view).index.tolist()
    nxt = {0: iter([0, 1, 2, 3]), 1: iter([4, 5, 6, 7])}
    assert got == [next(nxt[j]) for j in who]
    assert set(who) == {0, 1}  # this seed draws both members
    ucb = strategies.UCB(beta=1.0).pick(_view(members, n_exploit=2))
    # mean + std: particle 0 is 5 + 7.07, particle 8 is 6 + 0
    assert ucb.index.tolist() == [0, 4]


def test_fkc_explore_exploits_by_weight_and_explores_the_pool():
    # 12 guided particles in two modes (weights 3/4 and 1/4) and 4 pool particles; 4 exploit
    # picks are 3 + 1 by weight (not the 4 highest predictions, which all sit in mode 1), the
    # explore pick is the pool particle farthest from what was asked
    gx = torch.cat([torch.tensor([[0.0, 0.0]]) + 0.01 * torch.arange(6.0)[:, None],
                    torch.tensor([[5.0, 5.0]]) + 0.01 * torch.arange(6.0)[:, None]])
    px = torch.tensor([[1.0, 1.0], [9.0, 9.0], [-3.0, 0.0], [5.0, 4.0]])
    x = torch.cat([gx, px])
    in_pool = torch.arange(16) >= 12
    log_w = torch.cat([torch.full((6,), math.log(0.75 / 6)), torch.full((6,), math.log(0.25 / 6)),
                       torch.full((4,), -math.inf)])
    members = torch.stack([x[:, 0], x[:, 0]])  # predictions favour mode 1 (x = 5)
    view = RoundView(round=2, n_show=5, n_exploit=4, n_explore=1, x=x, log_w=log_w,
                     in_pool=in_pool, features=x, members=members,
                     asked_x=torch.tensor([[9.0, 9.0]]), asked_features=torch.tensor([[9.0, 9.0]]),
                     asked_r=torch.zeros(1), lam=1.0, spent=0.5, spread=0.0,
                     generator=torch.Generator().manual_seed(0))
    out = strategies.FKCExplore(decay=False).pick(view)
    idx = out.index.tolist()
    assert out.labels == ["top"] * 4 + ["explore"]
    assert sum(i < 6 for i in idx[:4]) == 3 and sum(6 <= i < 12 for i in idx[:4]) == 1
    # (-3, 0) is 3 from the exploit picks near (0, 0); (9, 9) itself was asked
    assert idx[4] == 14


def test_adaptive_lam_grows_with_the_budget_and_shrinks_with_the_spread():
    s = strategies.FKCExplore()
    assert s.guidance(8.0, 0.0, 0.0) == pytest.approx(6.0)
    assert s.guidance(8.0, 0.5, 0.0) == pytest.approx(7.0)
    assert s.guidance(8.0, 1.0, 0.0) == pytest.approx(8.0)
    assert s.guidance(8.0, 1.0, 0.5) == pytest.approx(4.0)
    assert s.guidance(8.0, 1.0, 5.0) == pytest.approx(2.0)  # floor 0.25
    assert strategies.FKCExplore(guided=False).guidance(8.0, 1.0, 0.0) == 0.0
    assert strategies.Greedy().guidance(8.0, 0.1, 0.9) == 8.0


class _StubEnsemble(torch.nn.Module):
    """Two members: member j predicts ``(-1)^j · x[:, 0]`` plus ``x[:, 1]``."""

    def __init__(self):
        super().__init__()
        self.members = [None, None]
        self.register_buffer("r_std", torch.ones(()))
        self.lin = torch.nn.Linear(1, 1)

    def forward(self, x):
        return x[:, 1]

    def predict_members(self, x):
        return torch.stack([x[:, 0] + x[:, 1], -x[:, 0] + x[:, 1]])


def test_round_wiring_with_a_stub_model_a_fixed_pool_and_a_fixed_asked_set(monkeypatch):
    # the plan's ε split as is (the default shrinks it for a budget this small)
    monkeypatch.setitem(strategies._REGISTRY, "fkc-explore", strategies.FKCExplore(decay=False))
    task = gmm()
    guided = torch.tensor([[0.0, float(i)] for i in range(6)])  # x[:, 1] = 0..5
    pool = torch.tensor([[0.0, 0.5], [7.0, 0.0], [0.0, -6.0]])
    calls = []

    def fake_draw(particles, task_, cfg, model, lam, n, gen, **kw):
        calls.append((lam, n, kw.get("weights", "seed"), kw.get("resample")))
        if "weights" in kw:  # the guided sample: weights 0 for all (uniform)
            return guided.clone(), torch.zeros(len(guided))
        return pool.clone(), torch.zeros(len(pool))

    monkeypatch.setattr(picks, "draw", fake_draw)
    asked = torch.tensor([[0.0, -5.0]])
    for name, expect in (("greedy", [5, 4, 3]), ("ucb", [7, 5, 4])):
        cfg = RunConfig.resolve(task, budget=12, k=3, n_particles=6, n_steps=2, strategy=name)
        plan = plan_round(cfg, 1, 3)
        out = picks.pick_round(Particles(), task, cfg, plan, _StubEnsemble(), asked,
                               torch.Generator().manual_seed(0), backend="reference",
                               device=torch.device("cpu"))
        x = torch.cat([guided, pool])
        assert torch.equal(out.x, x[expect]), name
        assert out.picks == ["top"] * 3
    # greedy draws no pool and guides at lam_max with exact weights and ESS resampling
    assert calls[0] == (cfg.lam_max, 6, "smc", "ess")
    cfg = RunConfig.resolve(task, budget=12, k=3, n_particles=6, n_steps=2,
                            strategy="fkc-explore", eps_start=0.34, eps_end=0.34)
    plan = plan_round(cfg, 1, 3)
    assert (plan.n_exploit, plan.n_explore, plan.n_pool) == (2, 1, 6)
    calls.clear()
    out = picks.pick_round(Particles(), task, cfg, plan, _StubEnsemble(), asked,
                           torch.Generator().manual_seed(0), backend="reference",
                           device=torch.device("cpu"))
    assert out.picks == ["top", "top", "explore"]
    assert calls[0][2:] == ("seed", None) and calls[1][2:] == ("smc", "ess")  # pool first
    # spent 1/12 of the budget, the stub's spread over the pool: lam = 8·(0.75 + 0.25/12)·0.25
    spread = float(_StubEnsemble().predict_members(pool).std(0).mean())
    assert spread > 1.0 and calls[1][0] == pytest.approx(cfg.lam_max * (0.75 + 0.25 / 12) * 0.25)
    # the explore pick is the pool's (7, 0) (nearest distance to the asked set and the two
    # exploit picks times the uncertainty); the exploit picks come from the guided rows
    assert torch.equal(out.x[2], pool[1])
    assert all(any(torch.equal(r, g) for g in guided) for r in out.x[:2])


def test_coverage_reads_the_last_two_rounds():
    from fkc_align.tasks import digits_liked, load_digits_data

    task = digits_liked((3, 8))
    images, labels = load_digits_data()
    three, eight, one = (images[labels == c] for c in (3, 8, 1))
    # rounds 0..3: the 8 only in round 2, round 3 has 3s only: both are in the window
    x = torch.stack([one[0], eight[0], three[0], three[1], eight[1], one[1], three[2], three[3]])
    rnd = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    assert liked_mode_coverage(task, x, rnd)[0] is True
    # the 8 in round 1 only: out of the window
    rnd = torch.tensor([0, 0, 1, 1, 1, 2, 3, 3])
    x = torch.stack([one[0], three[0], eight[0], three[1], eight[1], one[1], three[2], three[3]])
    assert liked_mode_coverage(task, x, rnd)[0] is False


def test_merge_copies_sums_the_weights_of_identical_particles():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0], [5.0, 6.0], [3.0, 4.0]])
    w = torch.log(torch.tensor([0.1, 0.2, 0.3, 0.15, 0.25]))
    mx, mw = picks.merge_copies(x, w)
    assert torch.equal(mx, x[[0, 1, 3]])
    torch.testing.assert_close(mw.exp(), torch.tensor([0.4, 0.45, 0.15]), rtol=1e-6, atol=1e-7)


class _FirstRows(BaseStrategy):
    pool = False

    def pick(self, view):
        idx = torch.arange(view.n_show)
        return StrategyPicks(idx, ["mine"] * view.n_show, view.mean[idx])


def test_a_user_strategy_is_registered_and_run_without_touching_the_package():
    register_strategy("first-rows-test", _FirstRows(), replace=True)
    res = run_active(gmm(), budget=12, k=4, n_particles=8, n_steps=3, seed=0,
                     strategy="first-rows-test", progress=False,
                     train_options={"max_epochs": 5})
    assert [r["n_shown"] for r in res.rounds] == [4, 4, 4]
    with pytest.raises(ValueError, match="name: 'first-rows-test' is already registered"):
        register_strategy("first-rows-test", _FirstRows())
    with pytest.raises(ValueError, match="name: 'random' is a built-in"):
        register_strategy("random", _FirstRows())
    with pytest.raises(TypeError, match="strategy: expected an object"):
        register_strategy("bad-test", object())


def test_a_strategy_returning_repeated_picks_is_refused(monkeypatch):
    class Twice(BaseStrategy):
        pool = False

        def pick(self, view):
            return StrategyPicks(torch.zeros(view.n_show, dtype=torch.int64),
                                 ["top"] * view.n_show, torch.zeros(view.n_show))

    register_strategy("twice-test", Twice(), replace=True)
    with pytest.raises(ValueError, match="strategy: expected 4 distinct indices"):
        run_active(gmm(), budget=8, k=4, n_particles=8, n_steps=3, seed=0,
                   strategy="twice-test", progress=False, train_options={"max_epochs": 5})


def test_the_cli_lists_the_registry_built_ins_without_importing_it():
    """config names the built-in strategies statically (the CLI answers before torch loads);
    the registry must hold exactly those, plus nothing a user did not register."""
    from fkc_align import config, strategies

    # the module registers its built-ins first; later entries are the tests' own
    n = len(config.BUILTIN_REGISTERED)
    assert strategies.registered()[:n] == config.BUILTIN_REGISTERED
    assert set(config.BENCH_STRATEGIES) <= set(config.strategy_names())
    assert set(config.QUICK_STRATEGIES) <= set(config.BENCH_STRATEGIES)


def test_draw_by_weight_with_a_score_shows_each_drawn_clusters_best():
    # three modes of equal mass, 3 picks: one per mode (3 clusters); inside each the best
    # scored row (score = -row index: the mode's first row), where a plain draw takes any
    f, mode = _modes([30, 30, 30], [(0.0, 0.0), (5.0, 0.0), (0.0, 5.0)])
    log_w = torch.full((90,), -math.log(90.0))
    score = -torch.arange(90.0)
    for s in range(4):
        got = draw_by_weight(f, log_w, 3, torch.Generator().manual_seed(s), score=score)
        assert sorted(got) == [0, 30, 60]
    plain = [draw_by_weight(f, log_w, 3, torch.Generator().manual_seed(s)) for s in range(4)]
    assert any(sorted(p) != [0, 30, 60] for p in plain)


def test_keep_picks_return_to_the_liked_answer_the_draw_left_uncovered():
    # modes A (0, 0), B (5, 0), C (0, 5), 4 rows each; liked answers in A and C; the weighted
    # draw took two rows of A, so the kept pick is the row nearest the C answer (row 9, not
    # the A answer's nearest nor a B row); a second kept pick goes back to A's answer
    f, mode = _modes([4, 4, 4], [(0.0, 0.0), (5.0, 0.0), (0.0, 5.0)], spread=0.3)
    anchors = torch.tensor([[0.1, 0.1], [f[9, 0] + 0.01, f[9, 1]]])
    for order in ("density", "farthest"):
        assert strategies.keep_picks(f, anchors, [0, 1], 1, order=order) == [9]
        assert strategies.keep_picks(f, anchors[:0], [0], 2, order=order) == []
    # farthest: the second pick goes back to A's answer, now the farthest from every pick
    two = strategies.keep_picks(f, anchors, [0, 1], 2, order="farthest")
    assert two[0] == 9 and mode[two[1]] == 0 and two[1] not in (0, 1)
    # density: A already has two picks beside its answer, C one: C again
    two = strategies.keep_picks(f, anchors, [0, 1], 2)
    assert two[0] == 9 and mode[two[1]] == 2
    with pytest.raises(ValueError, match="order: expected 'density' or 'farthest', got 'x'"):
        strategies.keep_picks(f, anchors, [0], 1, order="x")


def test_density_kept_picks_serve_the_liked_mode_with_fewer_answers():
    # mode A has five liked answers spread over it, mode C one. Farthest-point order gives C
    # one pick of four (the rest go to A's outlying answers); the density order gives C picks
    # until its answers and picks are as dense as A's: three of four
    f, mode = _modes([8, 8], [(0.0, 0.0), (0.0, 6.0)], spread=0.6, seed=3)
    anchors = torch.cat([f[:5] + 0.01, f[8:9] + 0.01])
    dens = strategies.keep_picks(f, anchors, [], 4)
    far = strategies.keep_picks(f, anchors, [], 4, order="farthest")
    assert len(set(dens)) == 4 and len(set(far)) == 4
    assert int((mode[dens] == 1).sum()) == 3
    assert int((mode[far] == 1).sum()) == 1


def test_liked_answers_are_the_top_quarter_of_the_range_and_likely_liked_rows_follow():
    r = torch.tensor([-8.0, -4.0, -0.2, -1.0, -2.0])
    assert strategies.liked_threshold(r) == pytest.approx(-0.2 - 0.25 * 7.8)
    feats = torch.arange(10.0).reshape(5, 2)
    assert torch.equal(strategies.liked_answers(feats, r), feats[[2, 3, 4]])
    assert len(strategies.liked_answers(feats, torch.zeros(5))) == 0  # nothing stands out
    # strong: the upper half of the liked answers (at least their median, -1.0)
    assert torch.equal(strategies.liked_answers(feats, r, strong=True), feats[[2, 3]])
    rows = torch.arange(6)
    mean = torch.tensor([-5.0, -0.1, -3.0, -0.5, -1.5, -6.0])
    # as good as the median liked answer (-1.0): rows 1, 3; asked for 4, the 4 best predicted
    assert strategies.likely_liked(rows, mean, r, 2).tolist() == [1, 3]
    assert strategies.likely_liked(rows, mean, r, 4).tolist() == [1, 2, 3, 4]


def test_the_exploration_share_decays_with_the_budget_spent_and_a_small_budget():
    def view(n_asked, spent):
        return RoundView(round=1, n_show=8, n_exploit=5, n_explore=3, x=torch.zeros(1, 2),
                         log_w=torch.zeros(1), in_pool=torch.zeros(1, dtype=torch.bool),
                         features=torch.zeros(1, 2), members=torch.zeros(1, 1),
                         asked_x=torch.zeros(n_asked, 2), asked_features=torch.zeros(n_asked, 2),
                         asked_r=torch.zeros(n_asked), lam=1.0, spent=spent, spread=0.0,
                         generator=torch.Generator())
    s = strategies.FKCExplore()
    assert s.n_explore(view(16, 0.25)) == 2  # budget 64: 8·0.25·0.75 = 1.5
    assert s.n_explore(view(48, 0.75)) == 0  # 8·0.25·0.25 = 0.5, rounded to even
    assert s.n_explore(view(8, 0.25)) == 1  # budget 32: half of 1.5
    assert strategies.FKCExplore(decay=False).n_explore(view(8, 0.25)) == 3


def test_region_picks_show_one_typical_member_of_every_mode_the_small_one_included():
    # modes of 40, 40 and 4 rows (the small one far out): 3 uniform draws miss it most of the
    # time; region picks show each mode's member nearest its centroid, rows in mode order
    f, mode = _modes([40, 40, 4], [(0.0, 0.0), (3.0, 0.0), (0.0, 9.0)], spread=0.3)
    got = region_picks(f, 3)
    assert sorted(int(mode[i]) for i in got) == [0, 1, 2]  # a mean-shifted pick repeats a mode
    for i in got:
        members = torch.nonzero(mode == mode[i])[:, 0]
        centre = f[members].mean(0)
        nearest = members[torch.cdist(f[members], centre[None])[:, 0].argmin()]
        assert i == int(nearest)  # the typical member, not an outlier of its mode
    assert region_picks(f[:2], 3) == [0, 1] and region_picks(f, 0) == []
    # fewer distinct rows than picks: k-means leaves regions empty, the farthest rows fill up
    dup = torch.cat([torch.zeros(6, 2), torch.ones(1, 2)])
    assert sorted(region_picks(dup, 3)) == sorted(set(region_picks(dup, 3)))
    assert 6 in region_picks(dup, 2)


def test_the_regions_cold_start_shows_one_member_per_region_of_an_unguided_pool(monkeypatch):
    task = gmm()
    # five rows near the origin and three far apart: four regions
    pool = torch.cat([torch.zeros(5, 2) + 0.01 * torch.arange(5.0)[:, None],
                      torch.tensor([[6.0, 6.0], [-6.0, 0.0], [0.0, -6.0]])])
    calls = []

    def fake_draw(particles, task_, cfg, model, lam, n, gen, **kw):
        calls.append((model, lam, n))
        return pool.clone(), torch.arange(len(pool), dtype=torch.float32)

    monkeypatch.setattr(picks, "draw", fake_draw)
    for name, n_base in (("fkc-explore-regions", 8), ("fkc-explore", 4), ("ucb", 4),
                         ("random", 4), ("fkc-eps", 4)):
        cfg = RunConfig.resolve(task, budget=12, k=4, n_particles=8, n_steps=2, strategy=name)
        plan = plan_round(cfg, 0, 4)
        assert (plan.n_base, plan.n_guided, plan.n_show) == (n_base, 0, 4), name
    cfg = RunConfig.resolve(task, budget=12, k=4, n_particles=8, n_steps=2,
                            strategy="fkc-explore-regions")
    out = picks.pick_round(Particles(), task, cfg, plan_round(cfg, 0, 4), _StubEnsemble(),
                           torch.zeros(0, 2), torch.Generator().manual_seed(0),
                           backend="reference", device=torch.device("cpu"))
    assert calls == [(None, 0.0, 8)]  # unguided, the whole pool
    assert out.picks == ["cold"] * 4
    # each far row once and the middle one of the five near the origin (uniform picks would
    # mostly show rows near the origin)
    want = [2, 5, 6, 7]
    assert sorted(region_picks(pool, 4)) == want
    assert sorted(out.score.long().tolist()) == want
    assert torch.equal(out.x, pool[out.score.long()])
    with pytest.raises(ValueError, match="cold_start: expected 'regions' or 'uniform'"):
        strategies.FKCExplore(cold_start="kmeans")

    class Mine(BaseStrategy):
        cold_start = "kmeans"

    with pytest.raises(ValueError, match="strategy.cold_start: expected 'uniform' or 'regions', "
                                         "got 'kmeans'"):
        register_strategy("mine-kmeans", Mine())
