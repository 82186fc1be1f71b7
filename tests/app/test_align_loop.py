"""The active loop: budget accounting, resume after a kill, settings checks (tiny, fast runs)."""

import math

import pytest
import torch

from fkc_align.loop import run_active
from fkc_align.store import FeedbackStore, FunctionOracle, SettingsMismatchError
from fkc_align.tasks import gmm

TINY = dict(n_particles=24, n_steps=8, progress=False, train_options={"max_epochs": 60})


class Killed(Exception):
    """Stands in for a kill: the oracle stops answering after a number of answers."""


class CountingOracle(FunctionOracle):
    """Records every particle it is asked about; raises ``Killed`` after ``kill_after`` answers."""

    def __init__(self, reward_fn, kill_after=None):
        super().__init__(reward_fn)
        self.asked: list[torch.Tensor] = []
        self.kill_after = kill_after

    def ask(self, store, queries):
        for q in queries:
            if self.kill_after is not None and len(self.asked) >= self.kill_after:
                raise Killed()
            self.asked.append(q.x.clone())
            store.answer(q.id, float(self.reward_fn(q.x[None])[0]))


@pytest.fixture(scope="module")
def task():
    return gmm()


@pytest.mark.parametrize("budget,k", [(37, 8), (5, 8), (16, 4)])
def test_budget_is_spent_exactly_and_the_last_round_is_smaller(task, budget, k):
    oracle = CountingOracle(task.oracle)
    res = run_active(task, budget=budget, k=k, seed=1, oracle=oracle, **TINY)
    shown = [row["n_shown"] for row in res.rounds]
    assert len(oracle.asked) == budget == sum(shown)
    assert shown == [min(k, budget - k * i) for i in range(math.ceil(budget / k))]
    assert [row["queries_used"] for row in res.rounds] == [sum(shown[:i + 1])
                                                           for i in range(len(shown))]
    assert res.observed_x.shape == (budget, 2) and res.observed_r.shape == (budget,)
    assert torch.all(res.observed_r[:-1] >= res.observed_r[1:])  # ranked, descending
    row = res.rounds[-1]
    assert {"round", "n_shown", "queries_used", "mean_reward", "max_reward", "hit_rate",
            "hit_rate_top"} <= set(row)


def test_epsilon_greedy_split_and_strategies(task):
    res = run_active(task, budget=32, k=8, seed=0, strategy="fkc-eps", **TINY)
    # total_steps = ceil(32/8) = 4: eps = 0.8 - 0.7*r/4 at guided round r
    assert [(r["n_top"], r["n_random"]) for r in res.rounds] == [(0, 8), (3, 5), (5, 3), (6, 2)]
    # the default (fkc-explore): eps = 0.25·(1 - spent)·min(1, 32/64) of 8, rounded: 0.75,
    # 0.5, 0.25 -> 1, 0, 0 exploration picks from the pool
    res = run_active(task, budget=32, k=8, seed=0, **TINY)
    assert res.settings["strategy"] == "fkc-explore"
    assert [(r["n_top"], r["n_random"]) for r in res.rounds] == [(0, 8), (7, 1), (8, 0), (8, 0)]
    greedy = run_active(task, budget=16, k=8, seed=0, strategy="greedy", **TINY)
    assert [r["n_top"] for r in greedy.rounds] == [0, 8]
    rnd = run_active(task, budget=16, k=8, seed=0, strategy="random", **TINY)
    assert [r["n_top"] for r in rnd.rounds] == [0, 0] and rnd.rounds[1]["hit_rate_top"] is None


def test_same_seed_same_queries_different_seed_different(task):
    a = run_active(task, budget=12, k=4, seed=3, **TINY)
    b = run_active(task, budget=12, k=4, seed=3, **TINY)
    c = run_active(task, budget=12, k=4, seed=4, **TINY)
    assert torch.equal(a.observed_x, b.observed_x)
    assert not torch.equal(a.observed_x, c.observed_x)


@pytest.mark.parametrize("kill_after", [3, 9, 13])
def test_resume_after_a_kill_loses_nothing_and_asks_nothing_twice(task, tmp_path, kill_after):
    budget, k = 20, 6
    reference = run_active(task, budget=budget, k=k, seed=2, **TINY)

    first = CountingOracle(task.oracle, kill_after=kill_after)
    with pytest.raises(Killed):
        run_active(task, budget=budget, k=k, seed=2, out_dir=tmp_path, oracle=first, **TINY)
    stored = FeedbackStore.open(tmp_path)
    assert len(stored.records()) == kill_after  # every answer given before the kill is kept

    second = CountingOracle(task.oracle)
    res = run_active(task, budget=budget, k=k, seed=2, out_dir=tmp_path, resume=True,
                     oracle=second, **TINY)
    asked = torch.stack(first.asked + second.asked)
    assert len(asked) == budget
    assert len({tuple(row.tolist()) for row in asked}) == budget  # nobody asked twice
    # the resumed run asks exactly what an uninterrupted run asks
    assert torch.equal(res.observed_x, reference.observed_x)
    assert [r["mean_reward"] for r in res.rounds] == [r["mean_reward"] for r in reference.rounds]
    # resuming a finished run asks nothing more
    third = CountingOracle(task.oracle)
    run_active(task, budget=budget, k=k, seed=2, out_dir=tmp_path, resume=True, oracle=third,
               **TINY)
    assert third.asked == []


def test_resume_with_other_settings_is_refused(task, tmp_path):
    run_active(task, budget=8, k=4, seed=0, out_dir=tmp_path, **TINY)
    with pytest.raises(SettingsMismatchError, match="budget: stored 8, given 12"):
        run_active(task, budget=12, k=4, seed=0, out_dir=tmp_path, resume=True, **TINY)
    with pytest.raises(FileExistsError, match="resume"):
        run_active(task, budget=8, k=4, seed=0, out_dir=tmp_path, **TINY)


def test_bad_arguments_are_named(task):
    with pytest.raises(ValueError, match="budget"):
        run_active(task, budget=0, k=4, **TINY)
    with pytest.raises(ValueError, match="n_particles"):
        run_active(task, budget=8, k=4, **dict(TINY, n_particles=2))
    with pytest.raises(ValueError, match="strategy"):
        run_active(task, budget=8, k=4, strategy="best", **TINY)
    with pytest.raises(ValueError, match="resume"):
        run_active(task, budget=8, k=4, resume=True, **TINY)
    for name, value in (("eps_start", "0.5"), ("eps_end", "x"), ("lam_max", "abc"),
                        ("lam_max", float("inf"))):
        with pytest.raises(ValueError, match=f"{name}: expected a (finite )?number"):
            run_active(task, budget=8, k=4, **{name: value}, **TINY)


def test_gmm_guidance_finds_the_liked_modes(task):
    res = run_active(task, budget=48, k=8, seed=0, n_particles=64, n_steps=30, progress=False)
    base_hit = 2 / task.params["n_modes"]  # two liked modes of eight
    assert res.rounds[-1]["hit_rate"] > base_hit + 0.3
    assert res.summary["hits"]["both_modes_found"]


def test_selection_weights_are_not_stuck_on_a_clip_and_the_final_model_is_evaluated(tmp_path):
    from fkc_align import FeedbackStore, evaluate_final_model
    from fkc_align.tasks import digits

    task = digits(3)
    res = run_active(task, budget=24, k=8, seed=0, n_particles=32, n_steps=10, progress=False,
                     strategy="greedy", out_dir=tmp_path)
    store = FeedbackStore.open(tmp_path)
    for rnd in (1, 2):
        w = [q.weight for q in store.queries(rnd)]
        assert w == sorted(w, reverse=True)  # top by weight, descending
        assert len(set(w)) == len(w)  # no ties: the ranking is informative, not a clip
    ev = evaluate_final_model(task, res, n_particles=16)
    assert set(ev) == {"eval_final_model_mean_reward", "eval_final_model_hit_rate"}
    assert ev["eval_final_model_mean_reward"] <= 0.0  # a log-probability
    assert 0.0 <= ev["eval_final_model_hit_rate"] <= 1.0
    assert evaluate_final_model(task, res, n_particles=16) == ev  # seeded by the run's seed


def test_round_plans_explore_less_as_rounds_go_on_for_every_strategy(task):
    from fkc_align.config import RunConfig, plan_round

    for strategy, expected in (("fkc-eps", [8, 5, 4, 3, 1]), ("fkc-explore", [8, 2, 2, 1, 1]),
                               ("greedy", [8, 0, 0, 0, 0]), ("random", [8, 8, 8, 8, 8])):
        cfg = RunConfig.resolve(task, budget=40, k=8, strategy=strategy)
        plans = [plan_round(cfg, r, 8) for r in range(cfg.n_rounds)]
        # an inverted schedule (exploring more in later rounds) fails here
        assert [p.n_explore for p in plans] == expected, strategy
        assert all(p.n_exploit + p.n_explore == 8 for p in plans)
        assert plans[0].n_base == 8 and plans[0].n_guided == 0  # the cold start is unguided
    explore = RunConfig.resolve(task, budget=40, k=8)
    assert plan_round(explore, 1, 8).n_pool == explore.n_particles
    with pytest.raises(ValueError, match="exploit_candidates"):
        RunConfig.resolve(task, budget=40, k=8, exploit_candidates=0.5)
    with pytest.raises(ValueError, match="eps_end"):
        RunConfig.resolve(task, budget=40, k=8, eps_end=2.0)


def test_ensemble_of_one_is_the_single_model_and_members_are_evaluated_together():
    from fkc_align.reward_models import (
        RewardEnsemble,
        make_reward_model,
        train_ensemble,
        train_reward_model,
    )

    gen = torch.Generator().manual_seed(0)
    x, r = torch.randn(24, 1, 8, 8, generator=gen), torch.randn(24, generator=gen)
    single, ens = make_reward_model((1, 8, 8), seed=3), RewardEnsemble(
        [make_reward_model((1, 8, 8), seed=3)])
    train_reward_model(single, x, r, seed=5, max_epochs=30)
    train_ensemble(ens, x, r, seed=5, max_epochs=30)
    torch.testing.assert_close(ens.predict(x), single.predict(x), rtol=1e-5, atol=1e-5)
    four = RewardEnsemble([make_reward_model((1, 8, 8), seed=s) for s in range(4)])
    train_ensemble(four, x, r, seed=5, max_epochs=30)
    looped = torch.stack([m.predict(x) for m in four.members])
    torch.testing.assert_close(four.predict_members(x), looped, rtol=1e-4, atol=1e-4)
    assert looped.std(0).mean() > 1e-3  # bootstrap members disagree
    # the guidance is the mean in the answers' standard deviations
    assert float(four.r_mean) == pytest.approx(float(r.mean()), abs=1e-6)
    assert float(four.r_std) == pytest.approx(float(r.std()), rel=1e-6)
    # members that start alike still disagree: each trains on its own bootstrap resample
    twins = RewardEnsemble([make_reward_model((1, 8, 8), seed=3) for _ in range(4)])
    train_ensemble(twins, x, r, seed=5, max_epochs=30)
    members = twins.predict_members(x)
    assert all(not torch.allclose(members[0], members[j]) for j in (1, 2, 3))
    torch.testing.assert_close(four(x), (looped.mean(0) - four.r_mean) / four.r_std,
                               rtol=1e-4, atol=1e-4)


def test_a_failed_run_gives_its_folder_back_at_once(tmp_path):
    # the error (and its traceback, which keeps the loop's frame alive) is still held here, as a
    # notebook holds it: the folder must already be free for a resume from another process
    from fkc_align.store import RunLock

    class ClosedPage:
        def ask(self, store, queries):
            raise RuntimeError("the person closed the page")

    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="closed the page") as failure:
        run_active(gmm(), budget=8, k=4, n_particles=16, n_steps=4, out_dir=out,
                   oracle=ClosedPage(), progress=False)
    assert failure.value is not None
    assert RunLock.holder(out) is None


def test_each_round_retrains_on_every_answer_so_far(task, monkeypatch):
    from fkc_align import loop

    seen, real = [], loop.train_ensemble

    def recording(model, x, r, **kw):
        seen.append((len(x), [float(v) for v in r]))
        return real(model, x, r, **kw)

    monkeypatch.setattr(loop, "train_ensemble", recording)
    oracle = CountingOracle(task.oracle)
    run_active(task, budget=12, k=4, seed=0, oracle=oracle, **TINY)
    answers = [float(v) for v in task.oracle(torch.stack(oracle.asked))]
    # after round j the model sees the 4·(j + 1) answers of rounds 0..j, not the last 4
    assert [n for n, _ in seen] == [4, 8, 12][:len(seen)] and len(seen) >= 2
    for n, r in seen:
        assert sorted(r) == pytest.approx(sorted(answers[:n]))
