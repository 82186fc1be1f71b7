"""The budget-constrained active preference-alignment loop (FKC diffusion + exploration).

Round 0 (cold start) shows ``min(k, B)`` unguided samples; every later round samples particles
with :class:`fkc_kernels.FKCSampler` guided by the reward network and shows ``k' = min(k,
budget left)`` of them, chosen by the run's strategy (:mod:`fkc_align.config`,
:mod:`fkc_align.picks`), then retrains the network on all answers so far. Every query and
answer goes through a :class:`~fkc_align.store.FeedbackStore`, so a killed run resumes where
it stopped. :func:`run_loop` is the one loop: one process here, or many ranks through
:func:`fkc_align.distributed_loop.run_active_distributed`. A round reads plan, sample, pick,
ask, learn; what only rank 0 does (the store, the oracle, training, progress bars) is behind
:class:`Coordinator`, whose worker-rank twin :class:`WorkerSide` does nothing.
"""

from __future__ import annotations

import functools
import hashlib
import time
from typing import Any

import torch
from tqdm.auto import tqdm

from fkc_kernels import LinearTilt

from .config import STRATEGIES, RunConfig, Runtime, check_int, plan_round, settle
from .particles import Particles
from .picks import pick_round
from .results import ActiveResult, WorkerResult, assemble_result, liked_mode_coverage, round_rows
from .reward_models import RewardEnsemble, train_ensemble
from .store import FeedbackStore, FunctionOracle, Oracle, open_run
from .tasks import Task

__all__ = ["STRATEGIES", "ActiveResult", "RunConfig", "Runtime", "WorkerResult",
           "derived_seed", "evaluate_final_model", "liked_mode_coverage", "run_active",
           "run_loop"]


def derived_seed(seed: int, round_index: int, purpose: str) -> int:
    """A seed for one purpose of one round, so a resumed run redraws exactly the same."""
    digest = hashlib.sha256(f"fkc-align:{seed}:{round_index}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:7], "little")


def untrained_ensemble(task: Task, cfg: RunConfig) -> RewardEnsemble:
    """The run's untrained reward model: ``cfg.ensemble`` networks from the task's factory."""
    base = derived_seed(cfg.seed, 0, "init")
    return RewardEnsemble([task.reward_model_factory(base if j == 0 else
                                                     derived_seed(cfg.seed, j, "init"))
                           for j in range(cfg.ensemble)])


def run_active(task: Task, config: RunConfig | None = None, *, oracle: Oracle | None = None,
               runtime: Runtime | None = None, **keywords: Any) -> ActiveResult:
    """Spend ``config.budget`` reward queries, ``config.k`` a round, aligning the task's
    sampler to its user.

    Args:
        task: the base model and user (:func:`fkc_align.tasks.digits`, ``gmm`` or your own).
        config: the run's settings, resolved once (:meth:`RunConfig.resolve`).
        oracle: who answers (default: ``FunctionOracle(task.oracle)``; a person:
            :class:`~fkc_align.store.StoreOracle`).
        runtime: backend, device, run folder, resume, progress (default :class:`Runtime`()).
        **keywords: instead of ``config``/``runtime``, their fields as keywords, for
            notebooks: ``run_active(task, budget=64, k=8, out_dir="runs/a")`` (see
            :func:`fkc_align.config.configure`).

    Returns:
        :class:`ActiveResult`.
    """
    config, runtime = settle(task, config, runtime, keywords)
    before = torch.get_num_threads()
    if runtime.threads is not None:
        torch.set_num_threads(check_int("threads", runtime.threads, 1))
    try:
        return run_loop(task, config, Particles(), runtime, oracle=oracle)
    finally:
        torch.set_num_threads(before)


class WorkerSide:
    """What a rank other than 0 contributes to the rank-0 work: nothing (see
    :class:`Coordinator`)."""

    is_main = False

    def plan(self, rnd: int) -> list[int]:
        return [0, 0]

    def asked(self, rnd: int, task: Task, device: torch.device):
        return None, None

    def ask(self, rnd: int, picks) -> None:
        pass

    def learn(self, model: RewardEnsemble, rnd: int, device: torch.device) -> None:
        pass

    def sampling_bar(self, total: int, rnd: int):
        return tqdm(total=total, disable=True)

    def round_done(self, rnd: int) -> None:
        pass

    def close(self) -> None:
        pass


class Coordinator(WorkerSide):
    """Rank 0's share of a run: the feedback store, the oracle, training and progress bars."""

    is_main = True

    def __init__(self, task: Task, cfg: RunConfig, runtime: Runtime,
                 oracle: Oracle | None) -> None:
        say = runtime.say()
        self.task, self.cfg, self.say = task, cfg, say
        self.train_options = dict(runtime.train_options or {})
        self.store: FeedbackStore = open_run(runtime.out_dir, cfg.settings(), cfg.seed,
                                             resume=runtime.resume, say=say, lock=runtime.lock)
        self.oracle = oracle if oracle is not None else FunctionOracle(task.oracle)
        self.show_bars = runtime.progress
        self.round_bar = tqdm(total=cfg.n_rounds, desc=f"{cfg.strategy} rounds", unit="round",
                              disable=not self.show_bars, dynamic_ncols=True)

    def plan(self, rnd: int) -> list[int]:
        """``[n_show, sample]``: how many to show (0: stop) and whether to sample them."""
        store = self.store
        if not store.queries(rnd):
            return [max(0, min(self.cfg.k, self.cfg.budget - store.n_queries())), 1]
        if store.pending(rnd):  # resumed round: ask what is stored
            self.say(f"round {rnd}: asking the {len(store.pending(rnd))} pending queries "
                     f"stored before the interruption (not resampling)")
        return [len(store.queries(rnd)), 0]

    def asked(self, rnd: int, task: Task, device: torch.device):
        """Every particle answered so far ``(n, *S)`` and its reward ``(n,)``, float32."""
        records = self.store.records() if rnd else []
        x = (torch.stack([r.x for r in records]).to(device) if records
             else torch.zeros((0, *task.shape), device=device))
        r = torch.tensor([r.reward for r in records], dtype=torch.float32, device=device)
        return x, r

    def ask(self, rnd: int, picks) -> None:
        """Store the round's picks as pending queries, then get every answer."""
        store = self.store
        if picks is not None:
            store.add_queries(rnd, picks.x, picks.picks, picks.score.float().cpu().tolist())
        unanswered = store.pending(rnd)
        if unanswered:
            self.oracle.ask(store, unanswered)
            store.refresh()
            if store.pending(rnd):
                raise RuntimeError(f"oracle: round {rnd} still has {len(store.pending(rnd))} "
                                   f"unanswered queries after asking")

    def learn(self, model: RewardEnsemble, rnd: int, device: torch.device) -> None:
        train_on_answers(model, self.store, self.cfg.seed, rnd, device, self.train_options)

    def sampling_bar(self, total: int, rnd: int):
        return tqdm(total=total, desc=f"round {rnd} sampling", unit="step", leave=False,
                    disable=not self.show_bars, dynamic_ncols=True)

    def round_done(self, rnd: int) -> None:
        self.round_bar.update(1)
        row = round_rows(self.store, self.task)[-1]
        self.round_bar.set_postfix(used=row["queries_used"], mean_r=f"{row['mean_reward']:.2f}",
                                   hit=_fmt(row["hit_rate"]))

    def close(self) -> None:
        """Give the run folder back (the kernel would at exit, or a failure's GC)."""
        self.round_bar.close()
        self.store.close()


def run_loop(task: Task, cfg: RunConfig, particles: Particles, runtime: Runtime, *,
             oracle: Oracle | None = None) -> ActiveResult | WorkerResult:
    """The active loop for one process or many ranks (collective under ``ShardedParticles``).

    Rank 0 owns the feedback store, asks the oracle and trains the reward model (its
    :class:`Coordinator`); every rank samples its share of the particles, takes part in the
    picks and receives the model.

    Returns:
        rank 0: :class:`ActiveResult`; other ranks: :class:`WorkerResult`.
    """
    started = time.perf_counter()
    device = torch.device(runtime.device) if runtime.device is not None else torch.device("cpu")
    side = Coordinator(task, cfg, runtime, oracle) if particles.is_main else WorkerSide()
    try:
        model = untrained_ensemble(task, cfg).to(device)
        round_walls: dict[int, float] = {}
        for rnd in range(cfg.n_rounds):
            t0 = time.perf_counter()
            n_show, sample = particles.broadcast_ints(side.plan(rnd), device)
            if n_show == 0:
                break
            picks = (_sample_and_pick(side, particles, task, cfg, runtime, model, rnd, n_show,
                                      device) if sample else None)
            _ask_and_learn(side, particles, model, rnd, picks, device)
            round_walls[rnd] = time.perf_counter() - t0
            side.round_done(rnd)
        model = model.cpu().eval()
        if not side.is_main:
            return WorkerResult(reward_model=model, n_rounds=len(round_walls))
        store = side.store
        if store.n_queries() > cfg.budget:  # a guard on the accounting, not a recovery
            raise RuntimeError(f"budget: {store.n_queries()} queries issued, budget was "
                               f"{cfg.budget}")
        side.close()
        extra = {"world_size": particles.world} if particles.world > 1 else None
        return assemble_result(store, task, model, round_walls, started, extra=extra,
                               config=cfg)
    finally:
        side.close()  # a failed run gives its folder back now, not at garbage collection


def _sample_and_pick(side: WorkerSide, particles: Particles, task: Task, cfg: RunConfig,
                     runtime: Runtime, model: RewardEnsemble, rnd: int, n_show: int,
                     device: torch.device):
    """Sample round ``rnd``'s particles (collective) and pick the ``n_show`` to show."""
    plan = plan_round(cfg, rnd, n_show)
    asked, asked_r = side.asked(rnd, task, device)
    asked = particles.broadcast_tensor(asked, (1 + len(task.shape), torch.float32), device)
    asked_r = particles.broadcast_tensor(asked_r, (1, torch.float32), device)
    gen = torch.Generator(device=device).manual_seed(derived_seed(cfg.seed, rnd, "sample"))
    bar = side.sampling_bar(cfg.n_steps * (1 + (plan.n_pool > 0)), rnd)
    try:
        return pick_round(particles, task, cfg, plan, model, asked, gen,
                          backend=runtime.backend, device=device,
                          on_step=functools.partial(bar.update, 1), asked_r=asked_r)
    finally:
        bar.close()


def _ask_and_learn(side: WorkerSide, particles: Particles, model: RewardEnsemble, rnd: int,
                   picks, device: torch.device) -> None:
    """Rank 0 asks and retrains; every rank then gets its status and the model."""
    try:
        side.ask(rnd, picks)
        side.learn(model, rnd, device)
    except BaseException:
        if side.is_main:
            particles.broadcast_ints([0], device)  # release the other ranks, then raise
        raise
    status = particles.broadcast_ints([1], device)
    if not status[0]:
        raise RuntimeError(f"rank 0 failed in round {rnd} (see its error)")
    particles.broadcast_module(model)


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
    n = check_int("n_particles", s["n_particles"] if n_particles is None else n_particles, 1)
    device = torch.device(device) if device is not None else torch.device("cpu")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(check_int("threads", threads, 1))
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


