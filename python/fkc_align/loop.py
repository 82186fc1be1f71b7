"""The budget-constrained active preference-alignment loop (FKC diffusion + epsilon-greedy).

Round 0 (cold start) shows ``min(k, B)`` unguided samples; every later round samples
``n_particles`` with :class:`fkc_kernels.FKCSampler` guided by the reward network, shows the
``k' - n_random`` best by weight and ``n_random`` random others (``k' = min(k, budget left)``),
and retrains the network on all answers so far. Every query and answer goes through a
:class:`~fkc_align.feedback.FeedbackStore`, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from fkc_kernels import FKCSampler, LinearTilt, epsilon_greedy_split, select_particles

from .feedback import FeedbackStore, FunctionOracle, Oracle
from .reward_models import train_reward_model
from .tasks import Task

STRATEGIES = ("fkc", "greedy", "random")

# Clips of the log-weight that ranks particles for selection: none. The DESIGN's seed clips
# (|Δw| <= 0.1 a step, w in [0.1, 10]) start w at 0, below its own floor, and on a guided digits
# round the increments drift negative (unclipped w ends at about -17..-39): about half of the 128
# particles end on the 0.1 floor and the rest keep only their last few increments, so "top by
# weight" was close to a random pick (rank correlation of w with the true reward 0.07 ± 0.18 and
# with the predicted one -0.01 ± 0.19, FKC's final models over 14 seed/target runs). Unclipped, w
# is the FKC log importance weight of each path (up to the ∂r/∂t term of reward_at="x0_hat", see
# DESIGN 5): what Algorithm 1 ranks by, without the clip damage.
SELECTION_DW_CLIP: float | None = None
SELECTION_W_CLIP: tuple[float, float] | None = None


@dataclass
class ActiveResult:
    """What :func:`run_active` returns.

    Attributes:
        rounds: one dict per round (cold start included): ``round, n_shown, n_top, n_random,
            queries_used`` (cumulative), ``mean_reward, max_reward, best_reward_so_far,
            hit_rate`` (over all shown), ``hit_rate_top`` (over the top-by-weight picks; None
            when a round has none) and ``wall_s``.
        observed_x: every answered particle ``(n, *shape)`` float32, ranked by true reward
            (descending); ``observed_r`` ``(n,)`` their rewards; ``observed_round`` ``(n,)``.
        reward_model: the reward network trained on all answers.
        settings: the run's settings (what resume compares).
        summary: final-round and whole-run numbers (see :func:`summarise`).
        run_dir: the run folder (None for an in-memory run).
        tail_problem: a truncated/corrupt feedback tail found on resume, reported here.
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


def derived_seed(seed: int, round_index: int, purpose: str) -> int:
    """A seed for one purpose of one round, so a resumed run redraws exactly the same."""
    digest = hashlib.sha256(f"fkc-align:{seed}:{round_index}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:7], "little")


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
    return value


def make_settings(task: Task, *, budget: int, k: int, n_particles: int, n_steps: int,
                  seed: int, strategy: str, lam_max: float, reward_at: str, total_steps: int,
                  eps_start: float, eps_end: float) -> dict[str, Any]:
    """The settings that define a run's questions (compared on resume)."""
    return {"task": task.identity, "budget": budget, "k": k, "n_particles": n_particles,
            "n_steps": n_steps, "seed": seed, "strategy": strategy, "lam_max": lam_max,
            "reward_at": reward_at, "total_steps": total_steps, "eps_start": eps_start,
            "eps_end": eps_end, "shape": list(task.shape)}


def resolve_run_args(task: Task, *, budget, k, n_particles, n_steps, seed, strategy, lam_max,
                     reward_at, total_steps, eps_start, eps_end) -> dict[str, Any]:
    """Check a run's arguments and fill the task's defaults.

    Returns:
        the keyword arguments of :func:`make_settings` (what defines a run and resume compares).
    """
    budget = _check_int("budget", budget, 1)
    k = _check_int("k", k, 1)
    n_particles = _check_int("n_particles", task.defaults.get("n_particles", 256)
                             if n_particles is None else n_particles, 1)
    if n_particles < min(k, budget):
        raise ValueError(f"n_particles: expected >= k={min(k, budget)} (particles shown a round), "
                         f"got {n_particles}")
    n_steps = _check_int("n_steps", task.defaults.get("n_steps", 100) if n_steps is None
                         else n_steps, 1)
    seed = _check_int("seed", seed, 0)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy: expected one of {STRATEGIES}, got {strategy!r}")
    lam_max = float(task.defaults.get("lam_max", 4.0) if lam_max is None else lam_max)
    if not math.isfinite(lam_max) or lam_max < 0:
        raise ValueError(f"lam_max: expected a finite number >= 0, got {lam_max}")
    if reward_at not in ("x", "x0_hat"):
        raise ValueError(f"reward_at: expected 'x' or 'x0_hat', got {reward_at!r}")
    total_steps = _check_int("total_steps", math.ceil(budget / k) if total_steps is None
                             else total_steps, 1)
    for name, e in (("eps_start", eps_start), ("eps_end", eps_end)):
        if not 0.0 <= e <= 1.0:
            raise ValueError(f"{name}: expected a probability in [0, 1], got {e}")
    return dict(budget=budget, k=k, n_particles=n_particles, n_steps=n_steps, seed=seed,
                strategy=strategy, lam_max=lam_max, reward_at=reward_at, total_steps=total_steps,
                eps_start=float(eps_start), eps_end=float(eps_end))


def assemble_result(store: FeedbackStore, task: Task, model: torch.nn.Module,
                    round_walls: dict[int, float], started: float,
                    extra: dict[str, Any] | None = None) -> ActiveResult:
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
        extra=dict(extra or {}),
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
    strategy: str = "fkc",
    lam_max: float | None = None,
    reward_at: str = "x0_hat",
    total_steps: int | None = None,
    eps_start: float = 0.8,
    eps_end: float = 0.1,
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
        strategy: ``"fkc"`` (epsilon from ``eps_start`` to ``eps_end``), ``"greedy"`` (epsilon
            0) or ``"random"`` (epsilon 1, no guidance): the last two are the baselines.
        lam_max: guidance strength of ``LinearTilt`` in units of reward standard deviations
            (task default when None).
        reward_at: where the reward network is evaluated: ``"x0_hat"`` (denoised estimate,
            robust for a network trained on clean data) or ``"x"``.
        total_steps: the epsilon schedule's length, default ``ceil(budget / k)``.
        oracle: who answers (default: ``FunctionOracle(task.oracle)``; a person:
            :class:`~fkc_align.feedback.StoreOracle`).
        train_options: keyword arguments for :func:`~fkc_align.reward_models.train_reward_model`.
        log: where notes go (default: ``tqdm.write`` when ``progress`` else nothing).
        threads: torch intra-op threads during the run (restored afterwards; None leaves them).
            The tensors here are small: one thread is as fast on an idle 2-core machine and
            2-3x faster on a busy one, where spinning worker threads fight for the cores.

    Returns:
        :class:`ActiveResult`.
    """
    if threads is None:
        return _run_active(task, budget=budget, k=k, n_particles=n_particles, n_steps=n_steps,
                           seed=seed, backend=backend, device=device, out_dir=out_dir,
                           resume=resume, progress=progress, strategy=strategy, lam_max=lam_max,
                           reward_at=reward_at, total_steps=total_steps, eps_start=eps_start,
                           eps_end=eps_end, oracle=oracle, train_options=train_options, log=log)
    threads = _check_int("threads", threads, 1)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return run_active(task, budget=budget, k=k, n_particles=n_particles, n_steps=n_steps,
                          seed=seed, backend=backend, device=device, out_dir=out_dir,
                          resume=resume, progress=progress, strategy=strategy, lam_max=lam_max,
                          reward_at=reward_at, total_steps=total_steps, eps_start=eps_start,
                          eps_end=eps_end, oracle=oracle, train_options=train_options, log=log,
                          threads=None)
    finally:
        torch.set_num_threads(before)


def _run_active(task: Task, *, budget, k, n_particles, n_steps, seed, backend, device, out_dir,
                resume, progress, strategy, lam_max, reward_at, total_steps, eps_start, eps_end,
                oracle, train_options, log) -> ActiveResult:
    started = time.perf_counter()
    args = resolve_run_args(task, budget=budget, k=k, n_particles=n_particles, n_steps=n_steps,
                            seed=seed, strategy=strategy, lam_max=lam_max, reward_at=reward_at,
                            total_steps=total_steps, eps_start=eps_start, eps_end=eps_end)
    budget, k, n_particles = args["budget"], args["k"], args["n_particles"]
    n_steps, lam_max, total_steps = args["n_steps"], args["lam_max"], args["total_steps"]
    device = torch.device(device) if device is not None else torch.device("cpu")
    say = log if log is not None else (tqdm.write if progress else (lambda _msg: None))

    store = open_store(out_dir, make_settings(task, **args), seed, resume, say)
    oracle = oracle if oracle is not None else FunctionOracle(task.oracle)
    train_options = dict(train_options or {})

    model = task.reward_model_factory(derived_seed(seed, 0, "init")).to(device)
    n_rounds = math.ceil(budget / k)
    round_bar = tqdm(total=n_rounds, desc=f"{strategy} rounds", unit="round", disable=not progress,
                     dynamic_ncols=True)
    round_walls: dict[int, float] = {}
    for rnd in range(n_rounds):
        t0 = time.perf_counter()
        queries = store.queries(rnd)
        if not queries:
            k_round = min(k, budget - store.n_queries())
            if k_round <= 0:
                break
            queries = _pick_queries(store, task, model, rnd, k_round, n_particles, n_steps,
                                    seed, strategy, lam_max, reward_at, total_steps, eps_start,
                                    eps_end, backend, device, progress)
        elif store.pending(rnd):
            say(f"round {rnd}: asking the {len(store.pending(rnd))} pending queries stored "
                f"before the interruption (not resampling)")
        unanswered = store.pending(rnd)
        if unanswered:
            oracle.ask(store, unanswered)
            store.refresh()
            if store.pending(rnd):
                raise RuntimeError(f"oracle: round {rnd} still has {len(store.pending(rnd))} "
                                   f"unanswered queries after asking")
        train_on_answers(model, store, seed, rnd, device, train_options)
        round_walls[rnd] = time.perf_counter() - t0
        round_bar.update(1)
        row = round_rows(store, task)[-1]
        round_bar.set_postfix(used=row["queries_used"], mean_r=f"{row['mean_reward']:.2f}",
                              hit=_fmt(row["hit_rate"]))
    round_bar.close()
    if store.n_queries() > budget:  # cannot happen: a guard on the accounting, not a recovery
        raise RuntimeError(f"budget: {store.n_queries()} queries issued, budget was {budget}")

    return assemble_result(store, task, model.cpu().eval(), round_walls, started)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def open_store(out_dir, settings, seed, resume, say) -> FeedbackStore:
    """The run's feedback store: in memory (``out_dir=None``), a new run folder, or a resumed one
    (settings checked, a torn tail moved aside); ``say`` gets the resume messages."""
    if out_dir is None:
        if resume:
            raise ValueError("resume: needs out_dir (the run folder to continue), got None")
        return FeedbackStore.create(None, settings, seed=seed)
    path = Path(out_dir)
    feedback_file = path / "feedback.jsonl"
    # an empty file is a kill between creating it and writing the header: nothing to resume
    has_feedback = feedback_file.exists() and feedback_file.stat().st_size > 0
    if not resume:
        if has_feedback:
            raise FileExistsError(
                f"out_dir: {path} already holds a run; pass resume=True (--resume) to continue "
                f"it, or choose another folder"
            )
        return FeedbackStore.create(path, settings, seed=seed)
    if not has_feedback:
        say(f"resume: {path} has no feedback yet; starting the run there")
        return FeedbackStore.create(path, settings, seed=seed)
    store = FeedbackStore.open(path)
    store.check_settings(settings)
    if store.tail_problem is not None:
        aside = store.move_bad_tail_aside()
        say(f"resume: {store.tail_problem} (bad bytes kept in {aside})")
    say(f"resume: {len(store.records())} answers found in {path}, "
        f"{len(store.pending())} pending")
    return store


def train_on_answers(model, store: FeedbackStore, seed: int, rnd: int, device,
                     train_options) -> None:
    """Retrain ``model`` in place on every answer up to round ``rnd`` (seed derived per round)."""
    records = [r for r in store.records() if r.round <= rnd]
    x = torch.stack([r.x for r in records]).to(device)
    r = torch.tensor([r.reward for r in records], dtype=torch.float32, device=device)
    train_reward_model(model, x, r, seed=derived_seed(seed, rnd, "train"), **train_options)


def _pick_queries(store, task, model, rnd, k_round, n_particles, n_steps, seed, strategy,
                  lam_max, reward_at, total_steps, eps_start, eps_end, backend, device, progress):
    """Sample the round's particles, choose the ``k_round`` to show, persist them as pending."""
    gen = torch.Generator(device=device).manual_seed(derived_seed(seed, rnd, "sample"))
    guided = rnd > 0 and strategy != "random"
    if rnd == 0:
        n_top, n_random, n = 0, k_round, k_round  # cold start: k base samples, all shown
    elif strategy == "random":
        n_top, n_random, n = 0, k_round, n_particles
    elif strategy == "greedy":
        n_top, n_random, n = k_round, 0, n_particles
    else:
        n_top, n_random = epsilon_greedy_split(min(rnd, total_steps), total_steps, k_round,
                                               eps_start=eps_start, eps_end=eps_end)
        n = n_particles
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)  # the sampler needs gradients in x only

    if guided:
        reward_fn, tilt = model, LinearTilt(lam_max)
    else:
        def reward_fn(x):
            return (torch.zeros(x.shape[0], device=x.device), torch.zeros_like(x))
        tilt = LinearTilt(0.0)
    step_bar = tqdm(total=n_steps, desc=f"round {rnd} sampling", unit="step", leave=False,
                    disable=not progress, dynamic_ncols=True)

    def score_fn(x, tau):
        step_bar.update(1)
        return task.score_fn(x, tau)

    sampler = FKCSampler(score_fn, reward_fn, task.schedule, tilt, n_steps, weights="seed",
                         reward_at=reward_at if guided else "x", backend=backend,
                         dw_clip=SELECTION_DW_CLIP, w_clip=SELECTION_W_CLIP)
    try:
        res = sampler.sample(n, task.shape, generator=gen, device=device)
    finally:
        step_bar.close()
        for p in model.parameters():
            p.requires_grad_(True)
    idx = select_particles(res.w, k_round, n_random, generator=gen, backend=backend)
    picks = ["cold"] * k_round if rnd == 0 else ["top"] * n_top + ["random"] * n_random
    weights = res.w[idx].float().cpu().tolist()
    return store.add_queries(rnd, res.x[idx], picks, weights)


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
        sampler = FKCSampler(task.score_fn, model, task.schedule, LinearTilt(s["lam_max"]),
                             s["n_steps"], weights="seed", reward_at=s["reward_at"],
                             backend=backend, dw_clip=SELECTION_DW_CLIP,
                             w_clip=SELECTION_W_CLIP)
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
            "n_random": sum(q.pick in ("random", "cold") for q in queries),
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
    return out
