"""The budget-constrained active preference-alignment loop (FKC diffusion + exploration).

Round 0 (cold start) shows ``min(k, B)`` unguided samples; every later round samples particles
with :class:`fkc_kernels.FKCSampler` guided by the reward network and shows ``k' = min(k,
budget left)`` of them, chosen by the run's strategy (:mod:`fkc_align.config`,
:mod:`fkc_align.picks`), then retrains the network on all answers so far. Every query and
answer goes through a :class:`~fkc_align.store.FeedbackStore`, so a killed run resumes where
it stopped. :func:`run_loop` is the one loop: one process here, or many ranks through
:func:`fkc_align.distributed_loop.run_active_distributed`.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from fkc_kernels import LinearTilt

from .config import STRATEGIES, RunConfig, plan_round
from .particles import Particles
from .picks import pick_round
from .reward_models import RewardEnsemble, train_ensemble
from .store import FeedbackStore, FunctionOracle, Oracle, open_run
from .tasks import Task

__all__ = ["STRATEGIES", "ActiveResult", "RunConfig", "WorkerResult", "derived_seed",
           "evaluate_final_model", "run_active", "run_loop"]


@dataclass
class ActiveResult:
    """What :func:`run_active` returns.

    Attributes:
        rounds: one dict per round (cold start included): ``round, n_shown, n_top, n_random,
            queries_used`` (cumulative), ``mean_reward, max_reward, best_reward_so_far,
            hit_rate`` (over all shown), ``hit_rate_top`` (over the exploitation picks; None
            when a round has none) and ``wall_s``.
        observed_x: every answered particle ``(n, *shape)`` float32, ranked by true reward
            (descending); ``observed_r`` ``(n,)`` their rewards; ``observed_round`` ``(n,)``.
        reward_model: the reward model (a :class:`~fkc_align.reward_models.RewardEnsemble`)
            trained on all answers.
        settings: the run's settings (what resume compares).
        summary: final-round and whole-run numbers (see :func:`summarise`).
        run_dir: the run folder (None for an in-memory run).
        tail_problem: a truncated/corrupt feedback tail found on resume, reported here.
        config: the run's :class:`~fkc_align.config.RunConfig`.
        observed_answer_index: ``(n,)`` int64, when each observed particle was answered
            (0 = first), to replay the run in order.
    """

    rounds: list[dict[str, Any]]
    observed_x: torch.Tensor
    observed_r: torch.Tensor
    observed_round: torch.Tensor
    reward_model: torch.nn.Module
    settings: dict[str, Any]
    summary: dict[str, Any]
    run_dir: Path | None = None
    wall_time_s: float = 0.0
    tail_problem: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    config: RunConfig | None = None
    observed_answer_index: torch.Tensor | None = None


def derived_seed(seed: int, round_index: int, purpose: str) -> int:
    """A seed for one purpose of one round, so a resumed run redraws exactly the same."""
    digest = hashlib.sha256(f"fkc-align:{seed}:{round_index}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:7], "little")


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
    return value


def make_reward_model(task: Task, cfg: RunConfig) -> RewardEnsemble:
    """The run's untrained reward model: ``cfg.ensemble`` networks from the task's factory."""
    base = derived_seed(cfg.seed, 0, "init")
    return RewardEnsemble([task.reward_model_factory(base if j == 0 else
                                                     derived_seed(cfg.seed, j, "init"))
                           for j in range(cfg.ensemble)])


def assemble_result(store: FeedbackStore, task: Task, model: torch.nn.Module,
                    round_walls: dict[int, float], started: float,
                    extra: dict[str, Any] | None = None,
                    config: RunConfig | None = None) -> ActiveResult:
    """The :class:`ActiveResult` of a finished run, built from its feedback store.

    ``round_walls``: round -> wall seconds (rounds done before a resume have none); ``started``:
    ``time.perf_counter()`` at the run's start.
    """
    rows = round_rows(store, task)
    for row in rows:
        row["wall_s"] = round_walls.get(row["round"])  # None for rounds done before a resume
    records = store.records()
    xs = torch.stack([r.x for r in records])
    rs = torch.tensor([r.reward for r in records], dtype=torch.float32)
    rounds_of = torch.tensor([r.round for r in records], dtype=torch.long)
    order = torch.argsort(rs, descending=True, stable=True)
    result = ActiveResult(
        rounds=rows, observed_x=xs[order], observed_r=rs[order], observed_round=rounds_of[order],
        reward_model=model, settings=store.settings, summary={}, run_dir=store.run_dir,
        wall_time_s=time.perf_counter() - started, tail_problem=store.tail_problem,
        extra=dict(extra or {}), config=config, observed_answer_index=order,
    )
    result.summary = summarise(result, task)
    return result


def run_active(
    task: Task,
    *,
    budget: int,
    k: int,
    n_particles: int | None = None,
    n_steps: int | None = None,
    seed: int = 0,
    backend: str = "auto",
    device: str | torch.device | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    strategy: str | None = None,
    lam_max: float | None = None,
    reward_at: str = "x0_hat",
    total_steps: int | None = None,
    eps_start: float | None = None,
    eps_end: float | None = None,
    explore_lam: float | None = None,
    n_pool: int | None = None,
    ensemble: int | None = None,
    exploit_candidates: float | None = None,
    oracle: Oracle | None = None,
    train_options: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    threads: int | None = 1,
) -> ActiveResult:
    """Spend ``budget`` reward queries, ``k`` a round, aligning the task's sampler to its user.

    Args:
        task: the base model and user (:func:`fkc_align.tasks.digits`, ``gmm`` or your own).
        budget: B, the total number of queries (never exceeded).
        k: particles shown per round (the last round shows ``min(k, budget left)``).
        n_particles: N particles sampled per guided round (task default when None; >= k).
        n_steps: sampler steps per round (task default when None).
        seed: seeds everything; each round's generator comes from ``(seed, round)``.
        backend, device: for the fused sampler ops and the particles.
        out_dir: run folder (feedback.jsonl); None keeps the feedback in memory only.
        resume: continue the run stored in ``out_dir`` (settings must match; starts fresh when
            the folder has no feedback yet).
        progress: tqdm bars for rounds and sampling steps.
        strategy: a registered one (:mod:`fkc_align.strategies`: ``"fkc-explore"``, the
            default, ``"greedy"``, ``"ucb"``, ``"thompson"``, the ablations, yours), ``"fkc-eps"``
            (the paper's Algorithm 1; ``"fkc"`` is its earlier name) or ``"random"``.
        lam_max: guidance strength of ``LinearTilt`` in units of reward standard deviations
            (task default when None; ``fkc-explore`` scales it per round).
        reward_at: where the reward network is evaluated: ``"x0_hat"`` (denoised estimate,
            robust for a network trained on clean data) or ``"x"``.
        total_steps: the ε schedule's length, default ``ceil(budget / k)``.
        eps_start, eps_end: the exploration share's schedule (strategy default when None).
        explore_lam, n_pool, ensemble, exploit_candidates: fkc-explore's exploration-pool
            tilt, its size (default N), the number of bootstrap reward networks (strategy
            default) and an unused legacy setting (stored, compared on resume).
        oracle: who answers (default: ``FunctionOracle(task.oracle)``; a person:
            :class:`~fkc_align.store.StoreOracle`).
        train_options: keyword arguments for :func:`~fkc_align.reward_models.train_reward_model`.
        log: where notes go (default: ``tqdm.write`` when ``progress`` else nothing).
        threads: torch intra-op threads during the run (restored afterwards; None leaves them).
            The tensors here are small: one thread is as fast on an idle 2-core machine and
            2-3x faster on a busy one, where spinning worker threads fight for the cores.

    Returns:
        :class:`ActiveResult`.
    """
    cfg = RunConfig.resolve(task, budget=budget, k=k, n_particles=n_particles, n_steps=n_steps,
                            seed=seed, strategy=strategy, lam_max=lam_max, reward_at=reward_at,
                            total_steps=total_steps, eps_start=eps_start, eps_end=eps_end,
                            explore_lam=explore_lam, n_pool=n_pool, ensemble=ensemble,
                            exploit_candidates=exploit_candidates)
    say = log if log is not None else (tqdm.write if progress else (lambda _msg: None))
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(_check_int("threads", threads, 1))
    try:
        return run_loop(task, cfg, Particles(), backend=backend,
                        device=torch.device(device) if device is not None else torch.device("cpu"),
                        out_dir=out_dir, resume=resume, oracle=oracle,
                        train_options=train_options, say=say, progress=progress)
    finally:
        torch.set_num_threads(before)


@dataclass
class WorkerResult:
    """What ranks other than 0 get back: the final reward model (equal to rank 0's)."""

    reward_model: torch.nn.Module
    n_rounds: int


def run_loop(task: Task, cfg: RunConfig, particles: Particles, *, backend: str,
             device: torch.device, out_dir: str | Path | None, resume: bool,
             oracle: Oracle | None, train_options: dict[str, Any] | None,
             say: Callable[[str], None], progress: bool) -> ActiveResult | WorkerResult:
    """The active loop for one process or many ranks (collective under ``ShardedParticles``).

    Rank 0 owns the feedback store, asks the oracle and trains the reward model; every rank
    samples its share of the particles, takes part in the picks and receives the model.

    Returns:
        rank 0: :class:`ActiveResult`; other ranks: :class:`WorkerResult`.
    """
    started = time.perf_counter()
    main = particles.is_main
    train_options = dict(train_options or {})
    store = None
    if main:
        store = open_run(out_dir, cfg.settings(), cfg.seed, resume=resume, say=say)
        oracle = oracle if oracle is not None else FunctionOracle(task.oracle)
    try:
        model = make_reward_model(task, cfg).to(device)
        show_bars = progress and main
        round_bar = tqdm(total=cfg.n_rounds, desc=f"{cfg.strategy} rounds", unit="round",
                         disable=not show_bars, dynamic_ncols=True)
        round_walls: dict[int, float] = {}
        done = 0
        for rnd in range(cfg.n_rounds):
            t0 = time.perf_counter()
            # rank 0 owns the store: it says how many to show (0: stop) and whether to sample
            plan_ints = [0, 0]
            if main:
                if store.queries(rnd):
                    plan_ints = [len(store.queries(rnd)), 0]  # resumed round: ask what is stored
                    if store.pending(rnd):
                        say(f"round {rnd}: asking the {len(store.pending(rnd))} pending queries "
                            f"stored before the interruption (not resampling)")
                else:
                    plan_ints = [max(0, min(cfg.k, cfg.budget - store.n_queries())), 1]
            n_show, sample = particles.broadcast_ints(plan_ints, device)
            if n_show == 0:
                break
            picks = None
            if sample:
                plan = plan_round(cfg, rnd, n_show)
                asked = asked_r = None
                if main:
                    asked = torch.stack([r.x for r in store.records()]).to(device) if rnd else \
                        torch.zeros((0, *task.shape), device=device)
                    asked_r = torch.tensor([r.reward for r in store.records()] if rnd else [],
                                           dtype=torch.float32, device=device)
                asked = particles.broadcast_tensor(asked, (1 + len(task.shape), torch.float32),
                                                   device)
                asked_r = particles.broadcast_tensor(asked_r, (1, torch.float32), device)
                gen = torch.Generator(device=device).manual_seed(
                    derived_seed(cfg.seed, rnd, "sample"))
                bar = tqdm(total=cfg.n_steps * (1 + (plan.n_pool > 0)),
                           desc=f"round {rnd} sampling", unit="step", leave=False,
                           disable=not show_bars, dynamic_ncols=True)
                try:
                    picks = pick_round(particles, task, cfg, plan, model, asked, gen,
                                       backend=backend, device=device,
                                       on_step=functools.partial(bar.update, 1),
                                       asked_r=asked_r)
                finally:
                    bar.close()
            status = [1]
            if main:
                try:
                    if picks is not None:
                        store.add_queries(rnd, picks.x, picks.picks,
                                          picks.score.float().cpu().tolist())
                    unanswered = store.pending(rnd)
                    if unanswered:
                        oracle.ask(store, unanswered)
                        store.refresh()
                        if store.pending(rnd):
                            raise RuntimeError(f"oracle: round {rnd} still has "
                                               f"{len(store.pending(rnd))} unanswered queries "
                                               f"after asking")
                    train_on_answers(model, store, cfg.seed, rnd, device, train_options)
                except BaseException:
                    particles.broadcast_ints([0], device)  # release the other ranks, then raise
                    raise
            status = particles.broadcast_ints(status, device)
            if not status[0]:
                raise RuntimeError(f"rank 0 failed in round {rnd} (see its error)")
            particles.broadcast_module(model)
            round_walls[rnd] = time.perf_counter() - t0
            done += 1
            if main:
                round_bar.update(1)
                row = round_rows(store, task)[-1]
                round_bar.set_postfix(used=row["queries_used"], mean_r=f"{row['mean_reward']:.2f}",
                                      hit=_fmt(row["hit_rate"]))
        round_bar.close()
        model = model.cpu().eval()
        if not main:
            return WorkerResult(reward_model=model, n_rounds=done)
        if store.n_queries() > cfg.budget:  # a guard on the accounting, not a recovery
            raise RuntimeError(f"budget: {store.n_queries()} queries issued, budget was "
                               f"{cfg.budget}")
        extra = {"world_size": particles.world} if particles.world > 1 else None
        store.close()  # give the folder back (the kernel would at exit, or a failure's GC)
        return assemble_result(store, task, model, round_walls, started, extra=extra, config=cfg)
    except BaseException:
        if store is not None:  # a failed run gives its folder back now, not at garbage collection
            store.close()
        raise


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def train_on_answers(model, store: FeedbackStore, seed: int, rnd: int, device,
                     train_options) -> None:
    """Retrain ``model`` (a :class:`RewardEnsemble`) on every answer up to round ``rnd``."""
    records = [r for r in store.records() if r.round <= rnd]
    x = torch.stack([r.x for r in records]).to(device)
    r = torch.tensor([r.reward for r in records], dtype=torch.float32, device=device)
    train_ensemble(model, x, r, seed=derived_seed(seed, rnd, "train"), **train_options)


def evaluate_final_model(task: Task, result: ActiveResult, *, n_particles: int | None = None,
                         backend: str = "auto", device: str | torch.device | None = None,
                         threads: int | None = 1) -> dict[str, Any]:
    """What the returned f_θ is worth: the task's oracle on a fresh guided sample (no budget).

    Samples ``n_particles`` (the run's N by default) with the run's sampler settings, guided by
    ``result.reward_model``, from a generator seeded by the run's seed only, so every strategy
    of one seed is judged on the same noise. This asks the *synthetic* oracle outside the
    budget: an evaluation for experiments, which a real user would not pay for.

    Returns:
        ``{"eval_final_model_mean_reward", "eval_final_model_hit_rate"}`` (hit rate None when the
        task has no hit test).
    """
    s = result.settings
    n = _check_int("n_particles", s["n_particles"] if n_particles is None else n_particles, 1)
    device = torch.device(device) if device is not None else torch.device("cpu")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(_check_int("threads", threads, 1))
    model = result.reward_model.to(device).eval()
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        sampler = Particles().make_sampler(task.score_fn, model, task.schedule,
                                           LinearTilt(s["lam_max"]), s["n_steps"],
                                           weights="seed", reward_at=s["reward_at"],
                                           backend=backend)
        gen = torch.Generator(device=device).manual_seed(derived_seed(s["seed"], -1, "eval"))
        x = sampler.sample(n, task.shape, generator=gen, device=device).x
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
        model.cpu()
        torch.set_num_threads(before)
    out: dict[str, Any] = {"eval_final_model_mean_reward": float(task.oracle(x).float().mean()),
                           "eval_final_model_hit_rate": None}
    if task.is_hit is not None:
        out["eval_final_model_hit_rate"] = float(task.is_hit(x).float().mean())
    return out


def round_rows(store: FeedbackStore, task: Task) -> list[dict[str, Any]]:
    """Per-round statistics of the answered rounds, computed from the store alone."""
    rows, used, best = [], 0, -math.inf
    for rnd in store.rounds():
        queries = store.queries(rnd)
        answers = [store.answer_of(q.id) for q in queries]
        used += len(queries)
        if any(a is None for a in answers):
            break  # an unfinished round: no row yet
        rewards = torch.tensor([a.reward for a in answers])
        best = max(best, float(rewards.max()))
        row: dict[str, Any] = {
            "round": rnd, "n_shown": len(queries),
            "n_top": sum(q.pick == "top" for q in queries),
            "n_random": sum(q.pick in ("random", "cold", "explore") for q in queries),
            "queries_used": used, "mean_reward": float(rewards.mean()),
            "max_reward": float(rewards.max()), "best_reward_so_far": best,
            "hit_rate": None, "hit_rate_top": None,
        }
        if task.is_hit is not None:
            hits = task.is_hit(torch.stack([a.x for a in answers])).cpu()
            row["hit_rate"] = float(hits.float().mean())
            top = torch.tensor([q.pick == "top" for q in queries])
            if top.any():
                row["hit_rate_top"] = float(hits[top].float().mean())
        rows.append(row)
    return rows


def summarise(result: ActiveResult, task: Task) -> dict[str, Any]:
    """Final-round and whole-run numbers of a result."""
    last = result.rounds[-1] if result.rounds else {}
    out: dict[str, Any] = {
        "strategy": result.settings.get("strategy"),
        "queries_used": last.get("queries_used", 0),
        "final_mean_reward": last.get("mean_reward"),
        "final_hit_rate": last.get("hit_rate"),
        "final_hit_rate_top": last.get("hit_rate_top"),
        "run_mean_reward": float(result.observed_r.mean()) if result.observed_r.numel() else None,
        "best_reward": float(result.observed_r[0]) if result.observed_r.numel() else None,
        "wall_time_s": result.wall_time_s,
    }
    if task.is_hit is not None and result.observed_x.numel():
        out["run_hit_rate"] = float(task.is_hit(result.observed_x).float().mean())
    if task.hit_breakdown is not None and result.observed_x.numel():
        hits = (task.is_hit(result.observed_x) if task.is_hit is not None
                else torch.ones(len(result.observed_x), dtype=torch.bool))
        out["hits"] = task.hit_breakdown(result.observed_x[hits])
    if task.liked_mode is not None and task.n_liked >= 2 and result.observed_x.numel():
        coverage, balance = liked_mode_coverage(task, result.observed_x, result.observed_round)
        out["liked_coverage_last_two_rounds"] = coverage
        out["liked_balance"] = balance
    return out


def liked_mode_coverage(task: Task, x: torch.Tensor,
                        rounds: torch.Tensor) -> tuple[bool, float | None]:
    """Whether every liked mode is among the hits of the last two rounds, and the balance of
    the guided rounds' hits: the rarest liked mode's share times the number of liked modes (1 =
    even, 0 = a mode never hit; None without hits).

    Args:
        x: ``(n, *S)`` answered particles; rounds: ``(n,)`` their rounds.
    """
    modes = task.liked_mode(x).cpu()
    rounds = rounds.cpu()
    late = rounds >= int(rounds.max()) - 1
    coverage = all(bool(((modes == j) & late).any()) for j in range(task.n_liked))
    hit = modes[(rounds > 0) & (modes >= 0)]
    if not hit.numel():
        return coverage, None
    counts = torch.bincount(hit, minlength=task.n_liked).float()
    return coverage, float(counts.min() / counts.sum() * task.n_liked)
