"""The active loop with particles sharded over ``torch.distributed`` ranks (torchrun).

:func:`run_active_distributed` is :func:`fkc_align.loop.run_active` for ``W`` ranks: every rank
samples its shard of the ``n_particles`` with :class:`fkc_kernels.distributed.ShardedFKCSampler`
(global noise, global weights), the ``k`` shown particles are chosen by the exact global
:func:`fkc_kernels.distributed.select_particles` and fetched to the ranks, and **only rank 0**
writes the :class:`~fkc_align.feedback.FeedbackStore`, asks the oracle and trains the reward
model, which is then broadcast to every rank. Same settings, same store format, same resume.

Per round it exchanges: a 16 B plan from rank 0; per sampler step 16 B (noise seeds) + 32 B
(ESS) per rank; the selection (48 B + at most 40·k B per rank); the ``k`` shown particles and
weights (``k·(D·4 + 4)`` B per rank); a status flag and the reward model's parameters from
rank 0. Particles themselves never leave their rank except the shown ones.

Launch (every rank runs the same script; rank 0 gets the result)::

    torchrun --nproc_per_node=2 my_run.py     # my_run.py calls run_active_distributed(...)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from fkc_kernels import LinearTilt, epsilon_greedy_split
from fkc_kernels import distributed as fd

from .feedback import FunctionOracle, Oracle
from .loop import (
    ActiveResult,
    assemble_result,
    derived_seed,
    make_settings,
    open_store,
    resolve_run_args,
    train_on_answers,
)
from .tasks import Task


@dataclass
class WorkerResult:
    """What ranks other than 0 get back: the final reward model (equal to rank 0's)."""

    reward_model: torch.nn.Module
    n_rounds: int


def _broadcast_ints(values: list[int], device: torch.device, group) -> list[int]:
    t = torch.tensor(values, dtype=torch.int64, device=device)
    dist.broadcast(t, src=dist.get_global_rank(group, 0) if group is not None else 0,
                   group=group)
    return t.tolist()


def run_active_distributed(
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
    strategy: str = "fkc",
    lam_max: float | None = None,
    reward_at: str = "x0_hat",
    total_steps: int | None = None,
    eps_start: float = 0.8,
    eps_end: float = 0.1,
    oracle: Oracle | None = None,
    train_options: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    group: dist.ProcessGroup | None = None,
) -> ActiveResult | WorkerResult:
    """:func:`fkc_align.loop.run_active` with the particles sharded over the ranks of ``group``.

    Collective: every rank calls it with the same arguments (``device`` is each rank's own: its
    GPU under NCCL). ``out_dir``, ``oracle`` and ``log`` are used on rank 0 only. The run is the
    single-process algorithm in distribution (not draw for draw: the sampler's start and noise
    come from the noise contract at each particle's global index, and the cold start samples at
    least one particle per rank).

    Returns:
        rank 0: :class:`~fkc_align.loop.ActiveResult`; other ranks: :class:`WorkerResult`.
    """
    started = time.perf_counter()
    world, rank = fd.world_and_rank(group)
    args = resolve_run_args(task, budget=budget, k=k, n_particles=n_particles, n_steps=n_steps,
                            seed=seed, strategy=strategy, lam_max=lam_max, reward_at=reward_at,
                            total_steps=total_steps, eps_start=eps_start, eps_end=eps_end)
    budget, k, n_particles = args["budget"], args["k"], args["n_particles"]
    n_steps, lam_max, total_steps = args["n_steps"], args["lam_max"], args["total_steps"]
    if n_particles < world:
        raise ValueError(f"n_particles: expected >= world_size={world} (a particle a rank), "
                         f"got {n_particles}")
    device = torch.device(device) if device is not None else fd.comm_device(group)
    say = log if log is not None else (lambda _msg: None)
    train_options = dict(train_options or {})

    store = oracle_ = None
    if rank == 0:
        store = open_store(out_dir, make_settings(task, **args), seed, resume, say)
        oracle_ = oracle if oracle is not None else FunctionOracle(task.oracle)

    model = task.reward_model_factory(derived_seed(seed, 0, "init")).to(device)
    n_rounds = math.ceil(budget / k)
    round_walls: dict[int, float] = {}
    done = 0
    for rnd in range(n_rounds):
        t0 = time.perf_counter()
        # rank 0 owns the store: it says how many to show (0: stop) and whether to sample
        plan = [0, 0]
        if rank == 0:
            if store.queries(rnd):
                plan = [len(store.queries(rnd)), 0]  # resumed round: ask what is stored
            else:
                plan = [max(0, min(k, budget - store.n_queries())), 1]
        k_round, sample = _broadcast_ints(plan, device, group)
        if k_round == 0:
            break
        if sample:
            x_sel, picks, w_sel = _sharded_pick(
                task, model, rnd, k_round, n_particles, n_steps, seed, strategy, lam_max,
                reward_at, total_steps, eps_start, eps_end, backend, device, group, world)
        status = [1]
        if rank == 0:
            try:
                if sample:
                    store.add_queries(rnd, x_sel, picks, w_sel.float().cpu().tolist())
                unanswered = store.pending(rnd)
                if unanswered:
                    oracle_.ask(store, unanswered)
                    store.refresh()
                    if store.pending(rnd):
                        raise RuntimeError(f"oracle: round {rnd} still has "
                                           f"{len(store.pending(rnd))} unanswered queries")
                train_on_answers(model, store, seed, rnd, device, train_options)
            except BaseException:
                _broadcast_ints([0], device, group)  # release the other ranks, then raise
                raise
        status = _broadcast_ints(status, device, group)
        if not status[0]:
            raise RuntimeError(f"rank 0 failed in round {rnd} (see its error)")
        fd.broadcast_module(model, src=0, group=group)
        round_walls[rnd] = time.perf_counter() - t0
        done += 1

    model = model.cpu().eval()
    if rank != 0:
        return WorkerResult(reward_model=model, n_rounds=done)
    if store.n_queries() > budget:  # a guard on the accounting, not a recovery
        raise RuntimeError(f"budget: {store.n_queries()} queries issued, budget was {budget}")
    return assemble_result(store, task, model, round_walls, started, extra={"world_size": world})


def _sharded_pick(task, model, rnd, k_round, n_particles, n_steps, seed, strategy, lam_max,
                  reward_at, total_steps, eps_start, eps_end, backend, device, group, world):
    """Sample the round's particles on all ranks; the ``k_round`` shown, on every rank.

    Returns:
        ``(x (k_round, *S), picks, w (k_round,))``, identical on every rank.
    """
    gen = torch.Generator(device=device).manual_seed(derived_seed(seed, rnd, "sample"))
    guided = rnd > 0 and strategy != "random"
    if rnd == 0:
        n_top, n_random, n = 0, k_round, k_round  # cold start: base samples, all shown
    elif strategy == "random":
        n_top, n_random, n = 0, k_round, n_particles
    elif strategy == "greedy":
        n_top, n_random, n = k_round, 0, n_particles
    else:
        n_top, n_random = epsilon_greedy_split(min(rnd, total_steps), total_steps, k_round,
                                               eps_start=eps_start, eps_end=eps_end)
        n = n_particles
    n = max(n, world)  # every rank holds at least one particle
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)  # the sampler needs gradients in x only
    if guided:
        reward_fn, tilt = model, LinearTilt(lam_max)
    else:
        def reward_fn(x):
            return (torch.zeros(x.shape[0], device=x.device), torch.zeros_like(x))
        tilt = LinearTilt(0.0)
    sampler = fd.ShardedFKCSampler(task.score_fn, reward_fn, task.schedule, tilt, n_steps,
                                   weights="seed", reward_at=reward_at if guided else "x",
                                   backend=backend, group=group)
    try:
        res = sampler.sample(n, task.shape, generator=gen, device=device)
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
    idx = fd.select_particles(res.w, k_round, n_random, generator=gen, group=group)
    x_sel = fd.fetch_particles(res.x, idx, group=group)
    w_sel = fd.fetch_particles(res.w[:, None], idx, group=group)[:, 0]
    picks = ["cold"] * k_round if rnd == 0 else ["top"] * n_top + ["random"] * n_random
    return x_sel, picks, w_sel
