"""Pick strategies: which particles a guided round shows, as a public protocol and a registry.

A round of a registered strategy samples the guided set with :class:`fkc_kernels.FKCSampler`
(exact log-weights, ``weights="smc"``, ESS resampling; guidance ``lam`` from
:meth:`Strategy.guidance`) and, when the strategy asks for one, an unguided pool of base samples.
It hands everything to :meth:`Strategy.pick` as a :class:`RoundView` (identical on every rank)
and shows the indices it returns. Add your own::

    from fkc_align.strategies import BaseStrategy, StrategyPicks, register_strategy

    class MostUncertain(BaseStrategy):
        ensemble = 4
        def pick(self, view):
            idx = torch.argsort(view.std, descending=True)[:view.n_show]
            return StrategyPicks(idx, ["top"] * view.n_show, view.std[idx])

    register_strategy("most-uncertain", MostUncertain())
    run_active(task, budget=64, k=8, strategy="most-uncertain")

Built in: ``fkc-explore`` (the default: kept picks that serve every liked mode found so far
equally, the rest drawn from the tilted target by weight, truncated to the predicted-liked
particles, the best of each drawn cluster; exploration of the regions of the pool nobody has
asked about, then by nearest-distance novelty times ensemble uncertainty, a share that decays
with the budget; ``lam`` from the budget spent and the ensemble's spread), its ablations
``fkc-explore-uniform`` (guided SDE without the corrector: no resampling, uniform weights),
``fkc-explore-lam0`` (no guidance), ``fkc-explore-nokeep``, ``fkc-explore-noclusters`` (novelty
exploration only, the previous rule), ``fkc-explore-farthest`` (kept picks by farthest liked
answer, the previous rule), ``fkc-explore-sample`` (a plain weighted draw),
``fkc-explore-nodecay``, ``fkc-explore-novariations`` (kept picks without variations of
the liked answers) and ``fkc-explore-nofloor`` (kept picks by density alone), the variant
``fkc-explore-early`` (the same exploration spent in rounds 1-3: more hits, less balance),
``greedy`` (top by predicted reward), ``ucb`` (bootstrap ensemble mean + β·std over guided ∪
pool) and ``thompson`` (one random ensemble member per pick). ``fkc-eps`` (Algorithm 1) and
``random`` are planned by :mod:`fkc_align.config` itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from .pick_rules import (
    draw_by_weight,
    explore_picks,
    floor_picks,
    keep_picks,
    liked_answers,
    liked_threshold,
    likely_liked,
    unexplored_picks,
)


@dataclass
class RoundView:
    """What a strategy sees in one guided round (the same on every rank).

    Attributes:
        round: the round index (>= 1); n_show: particles to return; n_exploit, n_explore: the
            ε split of the round (``n_explore = 0`` unless the strategy ``explores``).
        x: ``(n, *S)`` float32 candidates: the guided sample first, then the pool.
        log_w: ``(n,)`` float32 FKC log-weights of the guided particles (their final weights
            after the sampler's last resampling; zeros for an unweighted strategy) and ``-inf``
            for pool particles.
        in_pool: ``(n,)`` bool, the unguided pool's particles.
        features: ``(n, F)`` float32, the task's novelty features of ``x``.
        members: ``(M, n)`` float32 each reward network's prediction (oracle units).
        asked_x: ``(a, *S)`` every particle asked so far; asked_features ``(a, F)``;
            asked_r ``(a,)`` their answers.
        lam: the guidance strength the guided sample was drawn with; spent: share of the
            budget used before this round; spread: mean ensemble std over the pool (z units).
        generator: the round's generator (draw from it for anything random).
        in_variations: ``(n,)`` bool, the variations of liked answers a strategy with
            ``variations`` asked for (after the guided sample and the pool, not in the pool,
            log-weight ``-inf``); None: no such rows.
    """

    round: int
    n_show: int
    n_exploit: int
    n_explore: int
    x: torch.Tensor
    log_w: torch.Tensor
    in_pool: torch.Tensor
    features: torch.Tensor
    members: torch.Tensor
    asked_x: torch.Tensor
    asked_features: torch.Tensor
    asked_r: torch.Tensor
    lam: float
    spent: float
    spread: float
    generator: torch.Generator
    in_variations: torch.Tensor | None = None

    @property
    def variation_rows(self) -> torch.Tensor:
        """``(n,)`` bool: :attr:`in_variations`, all False when None."""
        if self.in_variations is None:
            return torch.zeros(len(self.x), dtype=torch.bool, device=self.x.device)
        return self.in_variations

    @property
    def mean(self) -> torch.Tensor:
        """``(n,)`` the ensemble's mean prediction."""
        return self.members.mean(0)

    @property
    def std(self) -> torch.Tensor:
        """``(n,)`` the ensemble members' standard deviation (zeros for one network)."""
        if self.members.shape[0] < 2:
            return torch.zeros_like(self.members[0])
        return self.members.std(0)


@dataclass
class StrategyPicks:
    """What :meth:`Strategy.pick` returns: ``index`` ``(n_show,)`` int64 distinct rows of
    ``view.x``, a label per pick (``"top"``: exploitation, counted in ``hit_rate_top``;
    ``"explore"``; or your own) and ``score`` ``(n_show,)`` float32, what each was chosen by."""

    index: torch.Tensor
    labels: list[str]
    score: torch.Tensor


@dataclass(frozen=True)
class Variations:
    """Variations of the liked answers that a strategy asks each round to make (SDEdit): each
    of the ``max_answers`` most recent strong liked answers (at least the median liked answer,
    :func:`~fkc_align.pick_rules.median_liked`), ``per_answer`` times, noised to the forward
    time of ``tau`` (the share of the sampler's steps left) and denoised by the base model,
    unguided. They reach the strategy as the rows ``RoundView.in_variations``."""

    tau: float = 0.3
    per_answer: int = 2
    max_answers: int = 32

    def __post_init__(self) -> None:
        if isinstance(self.tau, bool) or not isinstance(self.tau, (int, float)) \
                or not 0.0 < self.tau < 1.0:
            raise ValueError(f"tau: expected a float in (0, 1), got {self.tau!r}")
        for name in ("per_answer", "max_answers"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {v!r}")


@runtime_checkable
class Strategy(Protocol):
    """A pick rule for guided rounds (see the module docstring for an example).

    Attributes: ``explores`` (split rounds into ε exploitation / exploration), ``pool`` (draw an
    unguided pool), ``weighted`` (exact weights with ESS resampling; False: the guided SDE alone,
    uniform weights), ``ensemble`` (default number of bootstrap reward networks). Optional:
    ``cold_start`` (``"uniform"``, the default: round 0 shows ``k`` unguided samples;
    ``"regions"``: it draws an unguided sample of ``n_pool`` and shows one typical member of
    each of its ``k`` regions, :func:`~fkc_align.pick_rules.region_picks`); ``variations``
    (a :class:`Variations`: each round also makes variations of the liked answers, the rows
    ``RoundView.in_variations``; None or absent: none).
    """

    explores: bool
    pool: bool
    weighted: bool
    ensemble: int

    def guidance(self, lam_max: float, spent: float, spread: float) -> float:
        """The round's ``lam`` from the run's ``lam_max``, the share of the budget spent and
        the ensemble's spread over the pool (z units; 0 for one network)."""

    def pick(self, view: RoundView) -> StrategyPicks:
        """``view.n_show`` distinct picks."""


class BaseStrategy:
    """Defaults for a :class:`Strategy`: no ε split, a pool, exact weights, one network,
    constant ``lam = lam_max``."""

    explores = False
    pool = True
    weighted = True
    ensemble = 1
    cold_start = "uniform"
    variations = None

    def guidance(self, lam_max: float, spent: float, spread: float) -> float:
        return lam_max

    def pick(self, view: RoundView) -> StrategyPicks:  # pragma: no cover - abstract
        raise NotImplementedError


def _top(score: torch.Tensor, m: int, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """Indices of the ``m`` largest ``score`` (ties to the lower index), among ``allowed``."""
    s = score.double().clone()
    if allowed is not None:
        s[~allowed] = -math.inf
    order = torch.sort(-s, stable=True).indices
    return order[:m]


class Greedy(BaseStrategy):
    """Top ``n_show`` of the guided sample by predicted reward (the usual baseline)."""

    pool = False

    def pick(self, view: RoundView) -> StrategyPicks:
        idx = _top(view.mean, view.n_show, ~view.in_pool)
        return StrategyPicks(idx, ["top"] * len(idx), view.mean[idx].float())


class UCB(BaseStrategy):
    """Bootstrap-ensemble upper confidence bound over guided ∪ pool: mean + β·std, top
    ``n_show`` (SEIKO-style optimism)."""

    ensemble = 4

    def __init__(self, beta: float = 1.0) -> None:
        self.beta = beta

    def pick(self, view: RoundView) -> StrategyPicks:
        score = view.mean + self.beta * view.std
        idx = _top(score, view.n_show)
        return StrategyPicks(idx, ["top"] * len(idx), score[idx].float())


class Thompson(BaseStrategy):
    """Thompson sampling over guided ∪ pool: each pick is the best particle of one ensemble
    member drawn uniformly (from the round's generator)."""

    ensemble = 4

    def pick(self, view: RoundView) -> StrategyPicks:
        m = view.members.shape[0]
        who = torch.randint(0, m, (view.n_show,), generator=view.generator,
                            device=view.generator.device).tolist()
        free = torch.ones(view.members.shape[1], dtype=torch.bool, device=view.members.device)
        chosen = []
        for j in who:
            (i,) = _top(view.members[j], 1, free).tolist()
            chosen.append(i)
            free[i] = False
        idx = torch.tensor(chosen, dtype=torch.int64, device=view.members.device)
        return StrategyPicks(idx, ["top"] * len(idx), view.mean[idx].float())


class FKCExplore(BaseStrategy):
    """The default: kept picks for the liked modes found so far, a weighted draw from the
    guided (tilted) sample for the rest, exploration picks from the unguided pool.

    - **Kept picks** (:func:`~fkc_align.pick_rules.keep_picks`): up to ``keep_share`` of the
      exploitation picks, one per strong liked answer at most (the upper half of the liked
      answers, :func:`~fkc_align.pick_rules.liked_answers`). Each goes to the liked answer where
      liked answers and picks are least dense (``order="density"``) and shows the best
      predicted of its ``near`` nearest candidates (guided sample ∪ pool ∪ the round's
      ``variations`` of the strong liked answers, SDEdit at ``tau`` 0.3): every liked mode is
      asked about as often as the others, the first one found no more, and a variation of a
      liked answer is a candidate of its own class where two liked classes overlap. Before
      that order, ``ceil(keep_floor·kept)`` of them go farthest first to the regions of the
      strong liked answers (a kernel width around each) that no pick of the round reaches
      (:func:`~fkc_align.pick_rules.floor_picks`): a mode served in earlier rounds still gets
      a pick while one found late catches up.
    - **The draw** (:func:`~fkc_align.pick_rules.draw_by_weight`): the remaining exploitation
      picks, by the exact FKC weights over the clusters of the guided particles predicted at
      least as good as the median liked answer, the best predicted of each drawn cluster. It
      makes every exploitation pick while no answer is liked yet.
    - **Exploration**: ``eps_max·max(0, 1 - spent/explore_until)·min(1, budget/64)`` of the
      round (the default 0.25 and 1: 2, 2, 1, 1, 1 picks in rounds 1-5 of a budget of 64 with
      k = 8; ``fkc-explore-early``, 0.5 and 0.55: 3, 2, 1 in rounds 1-3), from the unguided
      pool: first a typical member of each of the pool's ``clusters`` regions that
      no answer falls in yet, the farthest first
      (:func:`~fkc_align.pick_rules.unexplored_picks`), then by nearest-distance novelty
      times ensemble uncertainty (:func:`~fkc_align.pick_rules.explore_picks`).

    - **Cold start**: ``k`` unguided samples (``cold_start="uniform"``), or (``"regions"``,
      the ``fkc-explore-regions`` variant) one typical member of each of ``k`` regions of an
      unguided sample of ``n_pool`` (:func:`~fkc_align.pick_rules.region_picks`): a small or
      outlying mode is asked about before any model exists, at a cost on small budgets
      (docs/feedback-benchmark.md).

    ``lam = lam_max · (0.75 + 0.25·spent) · clip(1 - spread, 0.25, 1)``: weaker while few
    answers are in and while the bootstrap networks disagree on the base model's samples, where
    the tilt would follow noise. ``use_weights=False`` / ``guided=False`` / ``keep=False`` /
    ``order="farthest"`` / ``best=False`` / ``decay=False`` / ``clusters=0`` /
    ``variations=None`` / ``keep_floor=0`` are the ablations.
    """

    explores = True
    ensemble = 4

    def __init__(self, *, use_weights: bool = True, guided: bool = True,
                 adaptive_lam: bool = True, uncertainty: bool = True, keep: bool = True,
                 best: bool = True, decay: bool = True, eps_max: float = 0.25,
                 explore_until: float = 1.0, keep_floor: float = 0.5,
                 keep_share: float = 1.0, order: str = "density", near: int = 4,
                 clusters: int = 10, cold_start: str = "uniform",
                 variations: Variations | None = Variations()) -> None:
        if cold_start not in ("regions", "uniform"):
            raise ValueError(f"cold_start: expected 'regions' or 'uniform', got {cold_start!r}")
        if variations is not None and not isinstance(variations, Variations):
            raise TypeError(f"variations: expected a Variations or None, got "
                            f"{type(variations).__name__}")
        self.cold_start = cold_start
        self.variations = variations if keep else None  # only kept picks read them
        self.weighted = use_weights
        self.guided = guided
        self.adaptive_lam = adaptive_lam
        self.uncertainty = uncertainty
        self.keep = keep
        self.best = best
        self.decay = decay
        if isinstance(explore_until, bool) or not isinstance(explore_until, (int, float)) \
                or not 0.0 < explore_until <= 1.0:
            raise ValueError(f"explore_until: expected a share of the budget in (0, 1], got "
                             f"{explore_until!r}")
        if isinstance(keep_floor, bool) or not isinstance(keep_floor, (int, float)) \
                or not 0.0 <= keep_floor <= 1.0:
            raise ValueError(f"keep_floor: expected a share of the kept picks in [0, 1], got "
                             f"{keep_floor!r}")
        self.eps_max = eps_max
        self.explore_until = float(explore_until)
        self.keep_floor = float(keep_floor)
        self.keep_share = keep_share
        self.order = order
        self.near = near
        self.clusters = clusters

    def guidance(self, lam_max: float, spent: float, spread: float) -> float:
        if not self.guided:
            return 0.0
        if not self.adaptive_lam:
            return lam_max
        return lam_max * (0.75 + 0.25 * min(max(spent, 0.0), 1.0)) * min(
            max(1.0 - spread, 0.25), 1.0)

    def n_explore(self, view: RoundView) -> int:
        """The round's exploration picks: the plan's ε split, or (``decay``) ``eps_max·max(0,
        1 - spent/explore_until)·min(1, budget/64)`` of ``n_show`` with the budget read from
        ``spent``."""
        if not self.decay or view.n_explore == 0:
            return view.n_explore
        budget = len(view.asked_r) / view.spent if view.spent > 0 else 64.0
        eps = self.eps_max * max(0.0, 1.0 - view.spent / self.explore_until) * min(
            1.0, budget / 64.0)
        return min(int(round(view.n_show * eps)), view.n_show)

    def pick(self, view: RoundView) -> StrategyPicks:
        chosen, n_exploit = self.exploit(view)
        chosen = self.explore(view, chosen)
        idx = torch.tensor(chosen, dtype=torch.int64, device=view.x.device)
        labels = ["top"] * n_exploit + ["explore"] * (len(chosen) - n_exploit)
        return StrategyPicks(idx, labels, view.mean[idx].float())

    def exploit(self, view: RoundView) -> tuple[list[int], int]:
        """The round's exploitation picks, the tilted draw's then the kept picks, as row
        indices into ``view.x``, and how many the round has (``n_show`` less
        :meth:`n_explore`); fewer rows when the candidates run out. A subclass that changes
        only the exploration overrides :meth:`explore` and keeps this."""
        # the draw is the tilted target's: the guided sample's rows only
        guided = torch.nonzero(~view.in_pool & ~view.variation_rows)[:, 0]
        n_explore = self.n_explore(view)
        n_exploit = view.n_show - n_explore
        anchors = (liked_answers(view.asked_features, view.asked_r, strong=True) if self.keep
                   else view.asked_features[:0])
        n_keep = min(len(anchors), int(n_exploit * self.keep_share))
        chosen: list[int] = []
        if n_exploit - n_keep:
            if self.best:  # the tilted target on the predicted-liked set, best per cluster
                guided = likely_liked(guided, view.mean, view.asked_r, n_exploit - n_keep)
            score = view.mean[guided] if self.best else None
            local = draw_by_weight(view.features[guided], view.log_w[guided],
                                   n_exploit - n_keep, view.generator, score=score)
            chosen = guided[torch.tensor(local, dtype=torch.int64)].tolist()
        chosen += keep_picks(view.features, anchors, chosen, n_keep,
                             view.mean if self.best else None, near=self.near, order=self.order,
                             floor=math.ceil(n_keep * self.keep_floor))
        return chosen, n_exploit

    def explore(self, view: RoundView, chosen: list[int]) -> list[int]:
        """``chosen`` (the round's picks so far) followed by the exploration picks that fill
        the round to ``n_show``, from the pool: the unvisited regions' typical members, then
        novelty times the ensemble's disagreement. A subclass that changes only the
        exploitation overrides :meth:`exploit` and keeps this."""
        chosen = list(chosen)
        std = view.std if self.uncertainty else None
        if self.clusters:
            chosen += unexplored_picks(view.features, view.in_pool, view.asked_features, chosen,
                                       view.n_show - len(chosen), self.clusters)
        chosen += explore_picks(view.features, view.in_pool, view.asked_features, chosen,
                                view.n_show - len(chosen), std)
        return chosen


_REGISTRY: dict[str, Strategy] = {}


def register_strategy(name: str, strategy: Strategy, *, replace: bool = False) -> None:
    """Make ``strategy`` available as ``run_active(..., strategy=name)``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a non-empty string, got {name!r}")
    if name in ("fkc-eps", "fkc", "random"):
        raise ValueError(f"name: {name!r} is a built-in planned by fkc_align.config")
    if name in _REGISTRY and not replace:
        raise ValueError(f"name: {name!r} is already registered (pass replace=True)")
    if not isinstance(strategy, Strategy):
        raise TypeError(f"strategy: expected an object with explores, pool, weighted, ensemble, "
                        f"guidance() and pick(), got {type(strategy).__name__}")
    cold_start = getattr(strategy, "cold_start", "uniform")
    if cold_start not in ("uniform", "regions"):
        raise ValueError(f"strategy.cold_start: expected 'uniform' or 'regions', got "
                         f"{cold_start!r}")
    variations = getattr(strategy, "variations", None)
    if variations is not None and not isinstance(variations, Variations):
        raise TypeError(f"strategy.variations: expected a fkc_align.strategies.Variations or "
                        f"None, got {type(variations).__name__}")
    _REGISTRY[name] = strategy


def get_strategy(name: str) -> Strategy | None:
    """The registered strategy ``name``, or None (``fkc-eps``, ``random``, unknown)."""
    return _REGISTRY.get(name)


def registered() -> tuple[str, ...]:
    """Names of the registered strategies, in registration order."""
    return tuple(_REGISTRY)


register_strategy("fkc-explore", FKCExplore())
register_strategy("greedy", Greedy())
register_strategy("ucb", UCB())
register_strategy("thompson", Thompson())
register_strategy("fkc-explore-uniform", FKCExplore(use_weights=False))
register_strategy("fkc-explore-lam0", FKCExplore(guided=False))
register_strategy("fkc-explore-nokeep", FKCExplore(keep=False))
register_strategy("fkc-explore-sample", FKCExplore(best=False))
register_strategy("fkc-explore-nodecay", FKCExplore(decay=False))
register_strategy("fkc-explore-farthest", FKCExplore(order="farthest"))
register_strategy("fkc-explore-noclusters", FKCExplore(clusters=0))
register_strategy("fkc-explore-regions", FKCExplore(cold_start="regions"))
register_strategy("fkc-explore-novariations", FKCExplore(variations=None))
register_strategy("fkc-explore-nofloor", FKCExplore(keep_floor=0.0))
# exploration spent early: more hits, less balance (docs/feedback-benchmark.md); measured and
# kept without the kept picks' floor, which added nothing to it on the design seeds
register_strategy("fkc-explore-early", FKCExplore(eps_max=0.5, explore_until=0.55,
                                                  keep_floor=0.0))

__all__ = ["UCB", "BaseStrategy", "FKCExplore", "Greedy", "RoundView", "Strategy",
           "StrategyPicks", "Thompson", "Variations", "draw_by_weight", "explore_picks",
           "floor_picks", "get_strategy", "keep_picks", "liked_answers", "liked_threshold",
           "likely_liked", "register_strategy", "registered", "unexplored_picks"]
