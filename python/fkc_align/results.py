"""What a run returns: :class:`ActiveResult` (rank 0) or :class:`WorkerResult` (other ranks),
and the per-round and whole-run numbers, computed from the feedback store alone."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .config import RunConfig
from .store import FeedbackStore
from .tasks import Task

__all__ = ["ActiveResult", "WorkerResult", "assemble_result", "liked_mode_coverage",
           "round_rows", "summarise"]


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


@dataclass
class WorkerResult:
    """What ranks other than 0 get back: the final reward model (equal to rank 0's)."""

    reward_model: torch.nn.Module
    n_rounds: int


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
