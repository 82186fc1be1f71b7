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

from dataclasses import replace
from typing import Any

import torch.distributed as dist

from .config import RunConfig, Runtime, settle
from .loop import run_loop
from .particles import ShardedParticles
from .results import ActiveResult, WorkerResult
from .store import Oracle
from .tasks import Task

__all__ = ["WorkerResult", "run_active_distributed"]


def run_active_distributed(task: Task, config: RunConfig | None = None, *,
                           oracle: Oracle | None = None, runtime: Runtime | None = None,
                           group: dist.ProcessGroup | None = None,
                           **keywords: Any) -> ActiveResult | WorkerResult:
    """:func:`fkc_align.loop.run_active` with the particles sharded over the ranks of ``group``.

    Collective: every rank calls it with the same settings (``runtime.device`` is each rank's
    own: its GPU under NCCL; default the process group's device). The run folder, ``oracle``
    and the log are used on rank 0 only; there are no progress bars. The sampler's start and
    noise come from the noise contract at each particle's global index and every selection is
    the exact global one, so the run asks what :func:`run_active` asks with the same seed.

    Args:
        task, config, oracle, runtime, keywords: as for :func:`fkc_align.loop.run_active`.
        group: process group (the default group when ``None``).

    Returns:
        rank 0: :class:`~fkc_align.results.ActiveResult`; other ranks: :class:`WorkerResult`.
    """
    particles = ShardedParticles(group)
    if keywords:
        keywords.setdefault("progress", False)
    config, runtime = settle(task, config, runtime, keywords)
    if config.n_particles < particles.world:
        raise ValueError(f"n_particles: expected >= world_size={particles.world} (a particle a "
                         f"rank), got {config.n_particles}")
    device = runtime.device if runtime.device is not None else particles.comm_device()
    runtime = replace(runtime, device=device, progress=False,
                      log=runtime.log if runtime.log is not None else (lambda _msg: None))
    return run_loop(task, config, particles, runtime, oracle=oracle)
