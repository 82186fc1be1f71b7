"""The active loop with particles sharded over ``torch.distributed`` ranks (torchrun).

:func:`run_active_distributed` is :func:`fkc_align.loop.run_active` for ``W`` ranks: every rank
samples its shard of the ``n_particles`` with :class:`fkc_kernels.distributed.ShardedFKCSampler`
(global noise, global weights), the ``k`` shown particles are chosen by the exact global
:func:`fkc_kernels.distributed.select_particles` and fetched to the ranks, and **only rank 0**
writes the :class:`~fkc_align.store.FeedbackStore`, asks the oracle and trains the reward
model, which is then broadcast to every rank. Same settings, same store format, same resume.

It is the same loop as the single-process one (:func:`fkc_align.loop.run_loop` over
:class:`~fkc_align.particles.ShardedParticles`), so the same seed asks the same questions on one
process and on ``W`` ranks (up to float rounding of per-shard model evaluations).

Per round it exchanges: a 16 B plan and the particles asked so far (``n·D·4`` B) from rank 0;
per sampler step 16 B (noise seeds) + 32 B (ESS) per rank; each selection (48 B + at most
40·k B per rank); the shown particles and scores (``k·(D·4 + 4)`` B per rank); a status flag
and the reward model's parameters from rank 0. Particles themselves never leave their rank
except the shown ones (and, for fkc-explore, one row per novelty pick).

Launch (every rank runs the same script; rank 0 gets the result)::

    torchrun --nproc_per_node=2 my_run.py     # my_run.py calls run_active_distributed(...)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from .config import RunConfig
from .loop import ActiveResult, WorkerResult, run_loop
from .particles import ShardedParticles
from .store import Oracle
from .tasks import Task

__all__ = ["WorkerResult", "run_active_distributed"]


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
    group: dist.ProcessGroup | None = None,
) -> ActiveResult | WorkerResult:
    """:func:`fkc_align.loop.run_active` with the particles sharded over the ranks of ``group``.

    Collective: every rank calls it with the same arguments (``device`` is each rank's own: its
    GPU under NCCL). ``out_dir``, ``oracle`` and ``log`` are used on rank 0 only. The sampler's
    start and noise come from the noise contract at each particle's global index and every
    selection is the exact global one, so the run asks what :func:`run_active` asks with the
    same seed.

    Returns:
        rank 0: :class:`~fkc_align.loop.ActiveResult`; other ranks: :class:`WorkerResult`.
    """
    particles = ShardedParticles(group)
    cfg = RunConfig.resolve(task, budget=budget, k=k, n_particles=n_particles, n_steps=n_steps,
                            seed=seed, strategy=strategy, lam_max=lam_max, reward_at=reward_at,
                            total_steps=total_steps, eps_start=eps_start, eps_end=eps_end,
                            explore_lam=explore_lam, n_pool=n_pool, ensemble=ensemble,
                            exploit_candidates=exploit_candidates)
    if cfg.n_particles < particles.world:
        raise ValueError(f"n_particles: expected >= world_size={particles.world} (a particle a "
                         f"rank), got {cfg.n_particles}")
    device = torch.device(device) if device is not None else particles.comm_device()
    return run_loop(task, cfg, particles, backend=backend, device=device, out_dir=out_dir,
                    resume=resume, oracle=oracle, train_options=train_options,
                    say=log if log is not None else (lambda _msg: None), progress=False)
