"""The pick strategies (their rules alone: test_align_pick_rules.py): the default's exploitation
by weight and truncation, the ensemble picks, the round's wiring (a stub model, a fixed pool and
a fixed asked set; the round view's weights; the labels), the coverage window and the registry.
Each test fails on a specific wrong pick (named in its comment)."""

import math

import pytest
import torch

from fkc_align import picks, strategies
from fkc_align.config import RunConfig, plan_round
from fkc_align.loop import liked_mode_coverage, run_active
from fkc_align.particles import Particles
from fkc_align.pick_rules import region_picks
from fkc_align.strategies import (
    BaseStrategy,
    RoundView,
    StrategyPicks,
    register_strategy,
)
from fkc_align.tasks import gmm


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
    # its score is the members' mean plus one standard deviation (not a variance)
    torch.testing.assert_close(ucb.score, (members.mean(0) + members.std(0))[[0, 4]])


def _two_mode_view(seed: int = 0) -> RoundView:
    """12 guided particles in two modes (weights 3/4 at x = 0 and 1/4 at x = 5, predictions
    favouring x = 5), 4 pool particles, (9, 9) asked; 4 exploitation picks and 1 exploration."""
    gx = torch.cat([torch.tensor([[0.0, 0.0]]) + 0.01 * torch.arange(6.0)[:, None],
                    torch.tensor([[5.0, 5.0]]) + 0.01 * torch.arange(6.0)[:, None]])
    px = torch.tensor([[1.0, 1.0], [9.0, 9.0], [-3.0, 0.0], [5.0, 4.0]])
    x = torch.cat([gx, px])
    log_w = torch.cat([torch.full((6,), math.log(0.75 / 6)), torch.full((6,), math.log(0.25 / 6)),
                       torch.full((4,), -math.inf)])
    return RoundView(round=2, n_show=5, n_exploit=4, n_explore=1, x=x, log_w=log_w,
                     in_pool=torch.arange(16) >= 12, features=x,
                     members=torch.stack([x[:, 0], x[:, 0]]),
                     asked_x=torch.tensor([[9.0, 9.0]]), asked_features=torch.tensor([[9.0, 9.0]]),
                     asked_r=torch.zeros(1), lam=1.0, spent=0.5, spread=0.0,
                     generator=torch.Generator().manual_seed(seed))


def test_fkc_explore_exploits_by_weight_and_explores_the_pool():
    # 4 exploit picks are 3 + 1 by weight (not the 4 highest predictions, which all sit in
    # mode 1), the explore pick is the pool particle farthest from what was asked
    out = strategies.FKCExplore(decay=False).pick(_two_mode_view())
    idx = out.index.tolist()
    assert out.labels == ["top"] * 4 + ["explore"]
    assert sum(i < 6 for i in idx[:4]) == 3 and sum(6 <= i < 12 for i in idx[:4]) == 1
    # (-3, 0) is 3 from the exploit picks near (0, 0); (9, 9) itself was asked
    assert idx[4] == 14


def test_a_subclass_replaces_one_half_of_the_default():
    # overriding explore keeps the default's exploitation picks (the same rows from the same
    # generator state) and shows the subclass's exploration row, labelled "explore"; overriding
    # exploit keeps the default's exploration after the subclass's rows
    class LastPoolRow(strategies.FKCExplore):
        def explore(self, view, chosen):
            return chosen + [len(view.x) - 1]

    class FirstRows(strategies.FKCExplore):
        def exploit(self, view):
            return [0, 1, 2, 3], 4

    default = strategies.FKCExplore(decay=False).pick(_two_mode_view()).index.tolist()
    mine = LastPoolRow(decay=False).pick(_two_mode_view())
    assert mine.index.tolist() == default[:4] + [15]
    assert mine.labels == ["top"] * 4 + ["explore"]
    first = FirstRows(decay=False).pick(_two_mode_view())
    # with no pick near (5, 5), the pool's (5, 4) is now the farthest from everything seen
    assert first.index.tolist() == [0, 1, 2, 3, 15]
    assert first.labels == ["top"] * 4 + ["explore"]


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
    """Two members: member j predicts ``(-1)^j · x[:, 0]`` plus ``x[:, 1]``; the answers'
    standard deviation is 10 (the spread is read in those units)."""

    def __init__(self):
        super().__init__()
        self.members = [None, None]
        self.register_buffer("r_std", torch.tensor(10.0))
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
    assert calls[0][0] == cfg.explore_lam == 0.0  # the pool is the base model's
    # spent 1/12 of the budget, the stub's spread over the pool in answer standard deviations
    # (3.3 in the oracle's units, 0.33 in z): lam = 8·(0.75 + 0.25/12)·(1 - 0.33)
    spread = float(_StubEnsemble().predict_members(pool).std(0).mean()) / 10.0
    assert 0.3 < spread < 0.4
    assert calls[1][0] == pytest.approx(cfg.lam_max * (0.75 + 0.25 / 12) * (1.0 - spread))
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
    # a whole run: budget 64, k 8 (8·0.25·(1 − r/8) = 1.75, 1.5, 1.25, 1, 0.75, 0.5, 0.25)
    assert [s.n_explore(view(8 * r, r / 8)) for r in range(1, 8)] == [2, 2, 1, 1, 1, 0, 0]
    # budget 48 (the rare modes'): the share times 48/64
    assert [s.n_explore(view(8 * r, r / 6)) for r in range(1, 6)] == [1, 1, 1, 0, 0]
    assert strategies.FKCExplore(decay=False).n_explore(view(8, 0.25)) == 3
    # fkc-explore-early: 8·0.5·(1 − spent/0.55) = 3.1, 2.2, 1.3, 0.4 in rounds 1-4, 0 after
    early = strategies.get_strategy("fkc-explore-early")
    assert [early.n_explore(view(8 * r, r / 8)) for r in range(1, 8)] == [3, 2, 1, 0, 0, 0, 0]
    assert [early.n_explore(view(8 * r, r / 6)) for r in range(1, 6)] == [2, 1, 0, 0, 0]


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.5, True, "0.5"])
def test_the_exploration_window_is_checked_by_name(bad):
    with pytest.raises(ValueError, match=r"explore_until: expected a share of the budget in \(0, "
                                         r"1\], got"):
        strategies.FKCExplore(explore_until=bad)


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


def test_the_draw_is_truncated_to_the_particles_predicted_liked():
    # guided: mode A (rows 0-5) predicted 1.0, mode B (rows 6-11) predicted -5 but holding 3/4
    # of the weight; answers 1.0, 0.9 (liked, median 0.95), -5, -4. The draw is over A alone
    # (the rows predicted at least the median liked answer): all three picks from A, where an
    # untruncated draw by weight gives B two or three of them
    x = torch.cat([0.01 * torch.arange(6.0)[:, None].repeat(1, 2),
                   5.0 + 0.01 * torch.arange(6.0)[:, None].repeat(1, 2)])
    pred = torch.cat([torch.ones(6), torch.full((6,), -5.0)])
    log_w = torch.log(torch.cat([torch.full((6,), 0.25 / 6), torch.full((6,), 0.75 / 6)]))
    asked = torch.full((4, 2), 20.0)
    for seed in range(4):
        view = RoundView(round=2, n_show=3, n_exploit=3, n_explore=0, x=x, log_w=log_w,
                         in_pool=torch.zeros(12, dtype=torch.bool), features=x,
                         members=torch.stack([pred, pred]), asked_x=asked, asked_features=asked,
                         asked_r=torch.tensor([1.0, 0.9, -5.0, -4.0]), lam=1.0, spent=0.5,
                         spread=0.0, generator=torch.Generator().manual_seed(seed))
        out = strategies.FKCExplore(keep=False, decay=False).pick(view)
        assert sorted(out.index.tolist())[-1] < 6, out.index.tolist()


class _Capture(BaseStrategy):
    """Shows the first rows and keeps every round it saw."""

    def __init__(self, weighted: bool) -> None:
        self.weighted = weighted
        self.views: list[RoundView] = []

    def pick(self, view):
        self.views.append(view)
        idx = torch.arange(view.n_show)
        return StrategyPicks(idx, ["top"] * view.n_show, view.mean[idx])


def test_the_round_view_holds_normalised_weights_uniform_ones_unweighted_none_on_the_pool(
        monkeypatch):
    task = gmm()
    guided = torch.tensor([[0.0, float(i)] for i in range(6)])
    raw = torch.arange(6.0)  # the sampler's log-weights, not normalised
    pool = torch.tensor([[0.0, 0.5], [7.0, 0.0], [0.0, -6.0]])
    calls = []

    def fake_draw(particles, task_, cfg, model, lam, n, gen, **kw):
        calls.append(kw.get("resample"))
        if "weights" in kw:
            return guided.clone(), raw.clone()
        return pool.clone(), torch.zeros(len(pool))

    monkeypatch.setattr(picks, "draw", fake_draw)
    for weighted in (True, False):
        strat = _Capture(weighted)
        register_strategy("capture-test", strat, replace=True)
        cfg = RunConfig.resolve(task, budget=12, k=3, n_particles=6, n_steps=2,
                                strategy="capture-test")
        calls.clear()
        picks.pick_round(Particles(), task, cfg, plan_round(cfg, 1, 3), _StubEnsemble(),
                         torch.zeros(1, 2), torch.Generator().manual_seed(0),
                         backend="reference", device=torch.device("cpu"))
        (view,) = strat.views
        assert calls == [None, "ess" if weighted else None]  # the pool, then the guided set
        assert view.in_pool.tolist() == [False] * 6 + [True] * 3
        assert torch.equal(view.log_w[6:], torch.full((3,), -math.inf))
        want = raw - torch.logsumexp(raw, 0) if weighted else torch.full((6,), -math.log(6.0))
        torch.testing.assert_close(view.log_w[:6], want)


def test_rounds_of_random_after_the_cold_start_are_labelled_random(monkeypatch):
    pool = torch.arange(8.0)[:, None].repeat(1, 2)
    monkeypatch.setattr(picks, "draw", lambda *a, **kw: (pool.clone(), torch.zeros(8)))
    cfg = RunConfig.resolve(gmm(), budget=12, k=3, n_particles=8, n_steps=2, strategy="random")
    for rnd, label in ((0, "cold"), (1, "random"), (3, "random")):
        out = picks.pick_round(Particles(), gmm(), cfg, plan_round(cfg, rnd, 3), _StubEnsemble(),
                               torch.zeros(3 * rnd, 2), torch.Generator().manual_seed(rnd),
                               backend="reference", device=torch.device("cpu"))
        assert out.picks == [label] * 3


@pytest.mark.parametrize("keep_floor,modes", [(0.0, [1, 1, 1]), (0.3, [0, 1, 1]),
                                              (0.5, [0, 1, 1]), (1.0, [0, 1, 1])])
def test_the_kept_picks_floor_reaches_the_mode_answered_most(keep_floor, modes):
    # mode A (rows 0-7) liked five times at row 0, mode C (rows 8-15) once at row 8, two
    # misses far away; three kept picks. The density order alone sends all three to C; a floor
    # of ceil(3·keep_floor) picks (0.3: one) gives A's region one first
    gen = torch.Generator().manual_seed(1)
    x = torch.cat([0.3 * torch.randn(8, 2, generator=gen),
                   torch.tensor([0.0, 6.0]) + 0.3 * torch.randn(8, 2, generator=gen)])
    asked = torch.cat([x[0:1].repeat(5, 1), x[8:9], torch.full((2, 2), 20.0)])
    view = RoundView(round=3, n_show=3, n_exploit=3, n_explore=0, x=x, log_w=torch.zeros(16),
                     in_pool=torch.zeros(16, dtype=torch.bool), features=x,
                     members=torch.zeros(2, 16), asked_x=asked, asked_features=asked,
                     asked_r=torch.tensor([1.0] * 6 + [-5.0, -5.0]), lam=1.0, spent=0.5,
                     spread=0.0, generator=torch.Generator().manual_seed(0))
    out = strategies.FKCExplore(decay=False, keep_floor=keep_floor).pick(view)
    assert (out.index >= 8).long().tolist() == modes, out.index.tolist()


@pytest.mark.parametrize("bad", [-0.1, 1.5, True, "0.5"])
def test_the_kept_picks_floor_is_checked_by_name(bad):
    with pytest.raises(ValueError, match=r"keep_floor: expected a share of the kept picks in "
                                         r"\[0, 1\], got"):
        strategies.FKCExplore(keep_floor=bad)
