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

Built in: ``fkc-explore`` (the default: exploitation drawn from the tilted target by weight,
truncated to the predicted-liked particles, the best of each drawn cluster, plus kept picks for
liked answers the draw leaves uncovered; exploration by nearest-distance novelty times ensemble
uncertainty on the pool, a share that decays with the budget; ``lam`` from the budget spent and
the ensemble's spread), its ablations ``fkc-explore-uniform`` (guided SDE without the corrector:
no resampling, uniform weights), ``fkc-explore-lam0`` (no guidance), ``fkc-explore-nokeep``,
``fkc-explore-sample`` (a plain weighted draw) and ``fkc-explore-nodecay``, ``greedy`` (top by
predicted reward), ``ucb`` (bootstrap ensemble mean + β·std over guided ∪ pool) and ``thompson``
(one random ensemble member per pick). ``fkc-eps`` (Algorithm 1) and ``random`` are planned by
:mod:`fkc_align.config` itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch


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


@runtime_checkable
class Strategy(Protocol):
    """A pick rule for guided rounds (see the module docstring for an example).

    Attributes: ``explores`` (split rounds into ε exploitation / exploration), ``pool`` (draw an
    unguided pool), ``weighted`` (exact weights with ESS resampling; False: the guided SDE alone,
    uniform weights), ``ensemble`` (default number of bootstrap reward networks).
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
    """The default: exploitation picks are a weighted draw from the guided (tilted) sample,
    spread over its clusters in proportion to their weight (:func:`draw_by_weight`, the best
    predicted particle of each drawn cluster), plus one kept pick per liked answer the draw
    leaves uncovered (:func:`keep_picks`); exploration picks come from the unguided pool by
    :func:`explore_picks`.

    ``lam = lam_max · (0.75 + 0.25·spent) · clip(1 - spread, 0.25, 1)``: weaker while few
    answers are in and while the bootstrap networks disagree on the base model's samples, where
    the tilt would follow noise. The exploration share is ``eps_max·(1 - spent)·min(1,
    budget/64)`` of the round: it decays as the budget is spent and is smaller for small
    budgets. ``use_weights=False`` / ``guided=False`` / ``keep=False`` / ``best=False`` /
    ``decay=False`` are the ablations.
    """

    explores = True
    ensemble = 4

    def __init__(self, *, use_weights: bool = True, guided: bool = True,
                 adaptive_lam: bool = True, uncertainty: bool = True, keep: bool = True,
                 best: bool = True, decay: bool = True, eps_max: float = 0.25) -> None:
        self.weighted = use_weights
        self.guided = guided
        self.adaptive_lam = adaptive_lam
        self.uncertainty = uncertainty
        self.keep = keep
        self.best = best
        self.decay = decay
        self.eps_max = eps_max

    def guidance(self, lam_max: float, spent: float, spread: float) -> float:
        if not self.guided:
            return 0.0
        if not self.adaptive_lam:
            return lam_max
        return lam_max * (0.75 + 0.25 * min(max(spent, 0.0), 1.0)) * min(
            max(1.0 - spread, 0.25), 1.0)

    def n_explore(self, view: RoundView) -> int:
        """The round's exploration picks: the plan's ε split, or (``decay``) ``eps_max·(1 -
        spent)·min(1, budget/64)`` of ``n_show`` with the budget read from ``spent``."""
        if not self.decay or view.n_explore == 0:
            return view.n_explore
        budget = len(view.asked_r) / view.spent if view.spent > 0 else 64.0
        eps = self.eps_max * (1.0 - min(view.spent, 1.0)) * min(1.0, budget / 64.0)
        return min(int(round(view.n_show * eps)), view.n_show)

    def pick(self, view: RoundView) -> StrategyPicks:
        guided = torch.nonzero(~view.in_pool)[:, 0]
        n_explore = self.n_explore(view)
        n_exploit = view.n_show - n_explore
        anchors = (liked_answers(view.asked_features, view.asked_r) if self.keep
                   else view.asked_features[:0])
        n_keep = min(len(anchors), n_exploit // 3)
        chosen: list[int] = []
        if n_exploit - n_keep:
            if self.best:  # the tilted target on the predicted-liked set, best per cluster
                guided = likely_liked(guided, view.mean, view.asked_r, n_exploit - n_keep)
            score = view.mean[guided] if self.best else None
            local = draw_by_weight(view.features[guided], view.log_w[guided],
                                   n_exploit - n_keep, view.generator, score=score)
            chosen = guided[torch.tensor(local, dtype=torch.int64)].tolist()
        chosen += keep_picks(view.features, anchors, chosen, n_keep,
                             view.mean if self.best else None)
        std = view.std if self.uncertainty else None
        chosen += explore_picks(view.features, view.in_pool, view.asked_features, chosen,
                                view.n_show - len(chosen), std)
        idx = torch.tensor(chosen, dtype=torch.int64, device=view.x.device)
        labels = ["top"] * n_exploit + ["explore"] * (len(chosen) - n_exploit)
        return StrategyPicks(idx, labels, view.mean[idx].float())


def liked_threshold(answers: torch.Tensor) -> float | None:
    """The answer value above which an answer counts as liked: the top quarter of the range of
    ``answers`` ``(a,)``; None before two answers differ."""
    if len(answers) < 2:
        return None
    top, low = float(answers.max()), float(answers.min())
    return top - 0.25 * (top - low) if top > low else None


def likely_liked(rows: torch.Tensor, mean: torch.Tensor, answers: torch.Tensor,
                 m: int) -> torch.Tensor:
    """The ``rows`` (indices into ``mean`` ``(n,)``, the predicted reward) predicted as good as
    the median liked answer (:func:`liked_threshold` of ``answers``), or the ``m`` best
    predicted when fewer are."""
    tau = liked_threshold(answers)
    if tau is None or len(rows) <= m:
        return rows
    tau = float(answers[answers >= tau].median())
    pred = mean[rows]
    floor = min(tau, float(torch.sort(pred, descending=True).values[m - 1]))
    return rows[pred >= floor]


def liked_answers(features: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """``(l, F)`` the features of the liked answers: those in the top quarter of the range
    of answers (``features (a, F)``, ``answers (a,)``); empty before two answers differ."""
    tau = liked_threshold(answers)
    if tau is None:
        return features[:0]
    return features[answers.to(features.device) >= tau]


def keep_picks(features: torch.Tensor, anchors: torch.Tensor, chosen: list[int],
               m: int, score: torch.Tensor | None = None, near: int = 4) -> list[int]:
    """``m`` picks that keep the liked answers ``anchors`` ``(l, F)`` covered: one at a time,
    the liked answer farthest from every pick so far (``chosen`` and the earlier kept picks)
    and, for it, the nearest row of ``features`` ``(n, F)`` not picked yet (with ``score``
    ``(n,)``: the best scored of its ``near`` nearest). A liked mode the weighted draw misses
    (the reward model has not learned it yet) still gets a pick."""
    picks: list[int] = []
    if m <= 0 or not len(anchors):
        return picks
    taken = torch.zeros(len(features), dtype=torch.bool, device=features.device)
    taken[chosen] = True
    gap = (torch.cdist(anchors, features[chosen]).min(1).values if chosen
           else torch.full((len(anchors),), math.inf, device=features.device))
    for _ in range(min(m, int((~taken).sum()))):
        a = int(torch.argmax(gap))
        d = torch.cdist(features, anchors[a:a + 1])[:, 0].masked_fill(taken, math.inf)
        i = int(torch.argmin(d))
        if score is not None:
            close = torch.argsort(d, stable=True)[:min(near, int((~taken).sum()))]
            i = int(close[torch.argmax(score[close])])
        picks.append(i)
        taken[i] = True
        gap = torch.minimum(gap, torch.cdist(anchors, features[i:i + 1])[:, 0])
    return picks


def explore_picks(features: torch.Tensor, allowed: torch.Tensor, asked: torch.Tensor,
                  chosen: list[int], m: int, std: torch.Tensor | None = None) -> list[int]:
    """``m`` exploration picks among ``allowed`` rows, one at a time.

    Each is the row with the largest ``d · (1 + std / mean std)``, ``d`` its *nearest* distance
    to the asked rows ``asked`` ``(a, F)`` and the rows picked before (``chosen`` and the earlier
    exploration picks), ``std`` ``(n,)`` the ensemble's disagreement (None or all zero: plain
    farthest-point novelty). The uncertainty factor lets a rare mode that is near common ones (a
    small ``d``) win where the networks disagree about it.
    """
    ref = torch.cat([asked, features[chosen]]) if chosen else asked
    dist = (torch.cdist(features, ref).min(1).values if len(ref)
            else torch.ones(len(features), device=features.device))
    boost = torch.ones_like(dist)
    if std is not None:
        avg = std[allowed].mean() if allowed.any() else std.new_zeros(())
        if float(avg) > 0:
            boost = 1.0 + std / avg
    picks: list[int] = []
    for _ in range(m):
        score = torch.where(allowed, dist * boost, torch.full_like(dist, -math.inf))
        if picks:
            score[picks] = -math.inf
        i = int(torch.argmax(score))
        if not math.isfinite(float(score[i])):
            break
        picks.append(i)
        dist = torch.minimum(dist, torch.cdist(features, features[i:i + 1])[:, 0])
    return picks


def _kmeans(f: torch.Tensor, c: int, iters: int = 10) -> torch.Tensor:
    """``(n,)`` cluster labels of ``f`` ``(n, F)`` into ``c`` clusters: farthest-point start
    from row 0, then Lloyd iterations (deterministic)."""
    centres = [0]
    d = torch.cdist(f, f[:1])[:, 0]
    for _ in range(1, c):
        i = int(torch.argmax(d))
        centres.append(i)
        d = torch.minimum(d, torch.cdist(f, f[i:i + 1])[:, 0])
    cent = f[centres].clone()
    for _ in range(iters):
        lab = torch.cdist(f, cent).argmin(1)
        for j in range(c):
            if (lab == j).any():
                cent[j] = f[lab == j].mean(0)
    return torch.cdist(f, cent).argmin(1)


def _chain(f: torch.Tensor, labels: torch.Tensor, c: int) -> list[int]:
    """The clusters in nearest-neighbour chain order of their centroids, from cluster 0: the
    sub-clusters of one well-separated mode come out next to each other."""
    present = [j for j in range(c) if (labels == j).any()]
    cent = torch.stack([f[labels == j].mean(0) for j in present])
    order, left = [0], set(range(1, len(present)))
    while left:
        last = cent[order[-1]]
        nxt = min(left, key=lambda j: (float((cent[j] - last).norm()), j))
        order.append(nxt)
        left.remove(nxt)
    return [present[j] for j in order]


def draw_by_weight(features: torch.Tensor, log_w: torch.Tensor, m: int,
                   generator: torch.Generator, score: torch.Tensor | None = None) -> list[int]:
    """``m`` distinct rows drawn from the weighted particle set ``(features (n, F), log_w
    (n,))``, spread over its modes in proportion to their weight.

    The particles are clustered (k-means, ``m`` clusters, in feature space), laid out cluster by
    cluster in a nearest-centroid chain, and ``m`` points are drawn by systematic resampling of
    the normalised weights over that layout: a mode of mass ``p`` gets ``floor(m·p)`` or
    ``ceil(m·p)`` picks. A particle drawn twice is replaced by the heaviest unused particle of
    its cluster (else the heaviest unused one overall), so the picks are distinct. With
    ``score`` ``(n,)`` (e.g. the predicted reward) each draw takes the best-scored unused
    particle of the drawn particle's cluster instead: the clusters still get their share by
    weight, and inside one the most likely hit is shown.
    """
    n = len(log_w)
    if m >= n:
        return list(range(n))
    w = torch.softmax(log_w.double(), 0).cpu()
    f = features.float().cpu()
    top = int(torch.argmax(w))  # cluster 0 holds the heaviest particle: a fixed chain start
    perm0 = torch.cat([torch.tensor([top]), torch.arange(n)[torch.arange(n) != top]])
    labels = _kmeans(f[perm0], min(m, n))[torch.argsort(perm0)]
    rank = {j: r for r, j in enumerate(_chain(f, labels, min(m, n)))}
    key = torch.tensor([rank[int(j)] for j in labels], dtype=torch.float64)
    layout = sorted(range(n), key=lambda i: (key[i].item(), -w[i].item(), i))
    cum = torch.cumsum(w[layout], 0)
    u = float(torch.rand((), generator=generator, device=generator.device))
    pos = (u + torch.arange(m, dtype=torch.float64)) / m
    drawn = torch.searchsorted(cum, pos * float(cum[-1])).clamp(max=n - 1).tolist()
    picked: list[int] = []
    for d in drawn:
        i = layout[d]
        if score is not None:
            same = [j for j in layout if labels[j] == labels[i] and j not in picked]
            i = max(same, key=lambda j: (float(score[j]), -j)) if same else i
        if i in picked:
            same = [j for j in layout if labels[j] == labels[i] and j not in picked]
            rest = same or [j for j in layout if j not in picked]
            i = max(rest, key=lambda j: (w[j].item(), -j))
        picked.append(i)
    return picked


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
