"""What defines an active run (:class:`RunConfig`), where it runs (:class:`Runtime`) and how
each round is split (:func:`plan_round`).

One frozen :class:`RunConfig` carries every setting that decides which questions a run asks; it
is resolved once (by the CLI, or by the caller with :meth:`RunConfig.resolve`) and passed whole
to the single-process and the sharded loop, which both plan their rounds with
:func:`plan_round`, so they cannot drift apart. :class:`Runtime` holds what does not change the
questions (backend, device, run folder, resume, progress). :func:`configure` builds both from
keyword arguments, the one place that accepts them flat (``run_active(task, budget=64, k=8)``).

Strategies (``RunConfig.strategy``):

- the registered strategies of :mod:`fkc_align.strategies` (``"fkc-explore"``, the default,
  ``"greedy"``, ``"ucb"``, ``"thompson"``, the ablations and any a user registers): a guided
  sample with exact FKC weights, an unguided pool of ``n_pool`` when the strategy asks for one
  (tilted by ``explore_lam``, 0 by default), and an ε split (``eps_start`` to ``eps_end``) into
  exploitation and exploration picks when the strategy ``explores``.
- ``"fkc-eps"`` (alias ``"fkc"``): the paper's ε-greedy Algorithm 1: top by FKC weight from the
  guided sample plus ε-share uniform picks from the same sample.
- ``"random"``: unguided samples, uniform picks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

# the registered strategies built into fkc_align.strategies, named here so that the CLI can
# list them before torch is imported (a test checks the two agree)
BUILTIN_REGISTERED = ("fkc-explore", "greedy", "ucb", "thompson", "fkc-explore-uniform",
                      "fkc-explore-lam0", "fkc-explore-nokeep", "fkc-explore-sample",
                      "fkc-explore-nodecay", "fkc-explore-farthest", "fkc-explore-noclusters",
                      "fkc-explore-regions", "fkc-explore-novariations", "fkc-explore-nofloor",
                      "fkc-explore-early")
EPS_GREEDY = ("fkc-eps", "fkc")  # the plain ε-greedy rule; "fkc" is its earlier name
PLANNED_HERE = (*EPS_GREEDY, "random")  # strategies outside the registry
# the built-in names (a strategy registered later is accepted by RunConfig.resolve too)
STRATEGIES = (*BUILTIN_REGISTERED, *PLANNED_HERE)
DEFAULT_STRATEGY = "fkc-explore"
# what `fkc-align bench` runs by default, and with --quick
BENCH_STRATEGIES = ("fkc-explore", "fkc-explore-uniform", "fkc-explore-lam0",
                    "fkc-explore-novariations", "greedy", "ucb", "thompson", "fkc-eps", "random")
QUICK_STRATEGIES = ("fkc-explore", "greedy", "random")


def get_strategy(name: str):
    """The registered strategy called ``name`` or ``None`` (imports the registry, and torch)."""
    from .strategies import get_strategy as lookup

    return lookup(name)


def strategy_names() -> tuple[str, ...]:
    """Every strategy name a run accepts now (the registry's, then fkc-eps, fkc, random)."""
    from .strategies import registered

    return (*registered(), *PLANNED_HERE)

# fkc-explore's defaults: chosen on the feedback benchmark's design seeds (see
# docs/feedback-benchmark.md)
EXPLORE_EPS_START = 0.35
EXPLORE_EPS_END = 0.15
EXPLORE_LAM = 0.0
ENSEMBLE = 1
EXPLOIT_CANDIDATES = 1.0
# fkc-eps keeps the paper's schedule
EPS_START = 0.8
EPS_END = 0.1


def check_int(name: str, value: Any, low: int) -> int:
    """``value`` if it is an int >= ``low`` (not a bool), else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
    return value


def _check_number(name: str, value: Any, low: float, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and low <= value <= high):
        bound = f"in [{low}, {high}]" if math.isfinite(high) else f">= {low}"
        raise ValueError(f"{name}: expected a finite number {bound}, got {value}")
    return value


@dataclass(frozen=True)
class RunConfig:
    """Every setting that decides a run's questions (what resume compares), checked and filled.

    Build it with :meth:`resolve`; :meth:`settings` is the dict stored in the feedback file.
    ``eps_start``/``eps_end`` is the exploration share's schedule over ``total_steps`` guided
    rounds; ``explore_lam``, ``n_pool`` and ``ensemble`` matter for the registered strategies
    only; ``exploit_candidates`` is accepted and stored for older runs' settings but no
    built-in strategy uses it since exploitation draws from the FKC weights.
    """

    task: tuple[tuple[str, Any], ...]
    shape: tuple[int, ...]
    budget: int
    k: int
    n_particles: int
    n_steps: int
    seed: int
    strategy: str
    lam_max: float
    reward_at: str
    total_steps: int
    eps_start: float
    eps_end: float
    explore_lam: float
    n_pool: int
    ensemble: int
    exploit_candidates: float

    @property
    def n_rounds(self) -> int:
        """Rounds the budget allows (the last may show fewer than ``k``)."""
        return math.ceil(self.budget / self.k)

    @property
    def explores(self) -> bool:
        """Whether the strategy is a registered one (it uses the pool and ensemble settings)."""
        return get_strategy(self.strategy) is not None

    def settings(self) -> dict[str, Any]:
        """The JSON-ready dict stored in a run's feedback header and compared on resume."""
        out = asdict(self)
        out["task"] = dict(self.task)
        out["shape"] = list(self.shape)
        if not self.explores:  # settings that play no part are not stored (nor compared)
            for key in ("explore_lam", "n_pool", "ensemble", "exploit_candidates"):
                out.pop(key)
        return out

    @classmethod
    def resolve(cls, task, *, budget: int, k: int, n_particles: int | None = None,
                n_steps: int | None = None, seed: int = 0, strategy: str | None = None,
                lam_max: float | None = None, reward_at: str = "x0_hat",
                total_steps: int | None = None, eps_start: float | None = None,
                eps_end: float | None = None, explore_lam: float | None = None,
                n_pool: int | None = None, ensemble: int | None = None,
                exploit_candidates: float | None = None) -> RunConfig:
        """Check a run's arguments (errors name the argument) and fill the task's defaults.

        ``None`` means "the default": the task's ``defaults`` for ``n_particles``, ``n_steps``,
        ``lam_max``; the strategy's ε schedule (fkc-explore 0.35 → 0.15, fkc-eps 0.8 → 0.1);
        ``ceil(budget / k)`` for ``total_steps``; ``n_pool = n_particles``.

        Args:
            task: the base model and user (:func:`fkc_align.tasks.digits`, ``gmm`` or yours).
            budget: B, the total number of queries (never exceeded).
            k: particles shown per round (the last round shows ``min(k, budget left)``).
            n_particles: N particles sampled per guided round (>= k).
            n_steps: sampler steps per round.
            seed: seeds everything; each round's generator comes from ``(seed, round)``.
            strategy: a registered one (:mod:`fkc_align.strategies`: ``"fkc-explore"``, the
                default, ``"greedy"``, ``"ucb"``, ``"thompson"``, the ablations, yours),
                ``"fkc-eps"`` (the paper's Algorithm 1; ``"fkc"`` is its earlier name) or
                ``"random"``.
            lam_max: guidance strength of ``LinearTilt`` in units of reward standard
                deviations (``fkc-explore`` scales it per round).
            reward_at: where the reward network is evaluated: ``"x0_hat"`` (denoised estimate,
                robust for a network trained on clean data) or ``"x"``.
            total_steps: the ε schedule's length.
            eps_start, eps_end: the exploration share's schedule.
            explore_lam, n_pool, ensemble, exploit_candidates: fkc-explore's exploration-pool
                tilt, its size, the number of bootstrap reward networks and an unused legacy
                setting (stored, compared on resume).
        """
        budget = check_int("budget", budget, 1)
        k = check_int("k", k, 1)
        strategy = DEFAULT_STRATEGY if strategy is None else strategy
        if strategy not in strategy_names():
            raise ValueError(f"strategy: expected one of {strategy_names()}, got {strategy!r}")
        strat = get_strategy(strategy)
        d = task.defaults
        n_particles = check_int("n_particles", d.get("n_particles", 256) if n_particles is None
                                 else n_particles, 1)
        if n_particles < min(k, budget):
            raise ValueError(f"n_particles: expected >= k={min(k, budget)} (particles shown a "
                             f"round), got {n_particles}")
        n_steps = check_int("n_steps", d.get("n_steps", 100) if n_steps is None else n_steps, 1)
        seed = check_int("seed", seed, 0)
        lam_max = _check_number("lam_max", d.get("lam_max", 4.0) if lam_max is None
                                else lam_max, 0.0)
        if reward_at not in ("x", "x0_hat"):
            raise ValueError(f"reward_at: expected 'x' or 'x0_hat', got {reward_at!r}")
        total_steps = check_int("total_steps", math.ceil(budget / k) if total_steps is None
                                 else total_steps, 1)
        explore = strat is not None and strat.explores
        eps_start = _check_number("eps_start", (EXPLORE_EPS_START if explore else EPS_START)
                                  if eps_start is None else eps_start, 0.0, 1.0)
        eps_end = _check_number("eps_end", (EXPLORE_EPS_END if explore else EPS_END)
                                if eps_end is None else eps_end, 0.0, 1.0)
        explore_lam = _check_number("explore_lam", d.get("explore_lam", EXPLORE_LAM)
                                    if explore_lam is None else explore_lam, 0.0)
        n_pool = check_int("n_pool", n_particles if n_pool is None else n_pool, 1)
        ensemble = check_int("ensemble", d.get("ensemble", strat.ensemble if strat else ENSEMBLE)
                              if ensemble is None else ensemble, 1)
        exploit_candidates = _check_number(
            "exploit_candidates", EXPLOIT_CANDIDATES if exploit_candidates is None
            else exploit_candidates, 1.0)
        return cls(task=tuple(task.identity.items()), shape=tuple(task.shape), budget=budget,
                   k=k, n_particles=n_particles, n_steps=n_steps, seed=seed, strategy=strategy,
                   lam_max=lam_max, reward_at=reward_at, total_steps=total_steps,
                   eps_start=eps_start, eps_end=eps_end, explore_lam=explore_lam, n_pool=n_pool,
                   ensemble=ensemble if strat is not None else 1,
                   exploit_candidates=exploit_candidates)


@dataclass(frozen=True)
class RoundPlan:
    """How one round is split.

    Attributes:
        round: the round index (0 = cold start).
        n_show: particles shown (``min(k, budget left)``).
        n_exploit: shown for their predicted reward / FKC weight ("top" picks).
        n_explore: shown to explore ("random" picks of fkc-eps, novelty picks of fkc-explore,
            the cold start's base samples).
        n_guided: particles in the guided sample (0: none is drawn).
        n_pool: particles in the exploration pool (unguided or low-λ; 0: none is drawn).
        n_base: particles in an unguided sample that ``n_explore`` are drawn uniformly from
            (cold start and ``random``; 0: none); a ``cold_start="regions"`` strategy's round
            0 draws ``n_pool`` and shows one of each of its ``n_show`` regions.
    """

    round: int
    n_show: int
    n_exploit: int
    n_explore: int
    n_guided: int
    n_pool: int
    n_base: int


def plan_round(cfg: RunConfig, rnd: int, n_show: int) -> RoundPlan:
    """The split of round ``rnd`` showing ``n_show`` particles, for every strategy."""
    # imported here: the CLI reads STRATEGIES from this module before it imports torch
    from fkc_kernels import epsilon_greedy_split

    if rnd == 0:  # cold start: n_show base samples, or one from each region of n_pool
        regions = getattr(get_strategy(cfg.strategy), "cold_start", "uniform") == "regions"
        return RoundPlan(rnd, n_show, 0, n_show, 0, 0,
                         max(cfg.n_pool, n_show) if regions else n_show)
    if cfg.strategy == "random":
        return RoundPlan(rnd, n_show, 0, n_show, 0, 0, cfg.n_particles)
    strat = get_strategy(cfg.strategy)
    if strat is not None and not strat.explores:
        return RoundPlan(rnd, n_show, n_show, 0, cfg.n_particles,
                         cfg.n_pool if strat.pool else 0, 0)
    n_top, n_random = epsilon_greedy_split(min(rnd, cfg.total_steps), cfg.total_steps, n_show,
                                           eps_start=cfg.eps_start, eps_end=cfg.eps_end)
    if cfg.strategy in EPS_GREEDY:
        return RoundPlan(rnd, n_show, n_top, n_random, cfg.n_particles, 0, 0)
    return RoundPlan(rnd, n_show, n_top, n_random, cfg.n_particles,
                     cfg.n_pool if strat.pool else 0, 0)


@dataclass(frozen=True)
class Runtime:
    """Where and how a run executes: nothing here changes which questions it asks.

    Attributes:
        backend: the fkc_kernels backend of the sampler ops (``"auto"``, ``"cpu"``, ...).
        device: torch device of the particles (default cpu; under torchrun: the rank's own).
        out_dir: the run folder (``feedback.jsonl``); None keeps the feedback in memory only.
        resume: continue the run stored in ``out_dir`` (its settings must match).
        progress: tqdm bars for rounds and sampling steps (rank 0 only).
        log: where notes go (default: ``tqdm.write`` when ``progress`` else nowhere).
        threads: torch intra-op threads during the run (restored afterwards; None leaves them).
            The tensors are small: one thread is as fast on an idle 2-core machine and 2-3x
            faster on a busy one, where spinning worker threads fight for the cores.
        train_options: keyword arguments for
            :func:`~fkc_align.reward_models.train_reward_model`.
        lock: the run folder's :class:`~fkc_align.store.RunLock` when the caller holds it
            already (the CLI does, from its checks to the report); None: the run takes it.
    """

    backend: str = "auto"
    device: Any = None  # str | torch.device | None (torch is not imported here)
    out_dir: str | Path | None = None
    resume: bool = False
    progress: bool = True
    log: Callable[[str], None] | None = None
    threads: int | None = 1
    train_options: dict[str, Any] = field(default_factory=dict)
    lock: Any = None  # RunLock | None (the store is not imported here)

    def say(self) -> Callable[[str], None]:
        """Where the run's notes go (see ``log``)."""
        if self.log is not None:
            return self.log
        if self.progress:
            from tqdm.auto import tqdm

            return tqdm.write
        return lambda _msg: None


RUNTIME_FIELDS = tuple(f.name for f in fields(Runtime))


def configure(task, **keywords: Any) -> tuple[RunConfig, Runtime]:
    """``(RunConfig, Runtime)`` from flat keyword arguments (notebooks, scripts, tests).

    The :class:`Runtime` fields (``backend``, ``device``, ``out_dir``, ``resume``,
    ``progress``, ``log``, ``threads``, ``train_options``, ``lock``) go to the runtime, every other
    keyword to :meth:`RunConfig.resolve` (``budget``, ``k``, ``strategy``, ...).
    """
    runtime = {name: keywords.pop(name) for name in RUNTIME_FIELDS if name in keywords}
    if runtime.get("train_options") is None:
        runtime.pop("train_options", None)
    return RunConfig.resolve(task, **keywords), Runtime(**runtime)


def settle(task, config: RunConfig | None, runtime: Runtime | None,
           keywords: dict[str, Any]) -> tuple[RunConfig, Runtime]:
    """``(config, runtime)`` given whole, or built from keywords (not both)."""
    if keywords:
        if config is not None or runtime is not None:
            raise TypeError(f"{', '.join(sorted(keywords))}: pass the settings either as "
                            f"config/runtime or as keywords, not both")
        return configure(task, **keywords)
    if not isinstance(config, RunConfig):
        raise TypeError(f"config: expected a RunConfig (RunConfig.resolve(task, budget=..., "
                        f"k=...)) or keywords, got {type(config).__name__}")
    return config, runtime if runtime is not None else Runtime()
