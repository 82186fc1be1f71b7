"""The pick rules the built-in strategies are made of (:mod:`fkc_align.strategies`).

- what counts as liked: :func:`liked_threshold`, :func:`median_liked`, :func:`liked_answers`,
  :func:`likely_liked`;
- exploitation: :func:`draw_by_weight` (the weighted particle set, spread over its clusters by
  weight) and :func:`keep_picks` (one pick near a liked answer, the least served first, after
  :func:`floor_picks`: one for each liked region no pick of the round reaches);
- exploration: :func:`unexplored_picks` (a typical member of each region nobody has asked
  about yet, :func:`unvisited_regions`) and :func:`explore_picks` (nearest-distance novelty
  times ensemble uncertainty); the cold start: :func:`region_picks` (one typical member of
  each region of an unguided sample).

Every rule is deterministic given its inputs (the draw takes a generator), so W ranks that see
the same round pick the same particles.
"""

from __future__ import annotations

import math

import torch


def liked_threshold(answers: torch.Tensor) -> float | None:
    """The answer value above which an answer counts as liked: the top quarter of the range of
    ``answers`` ``(a,)``; None before two answers differ."""
    if len(answers) < 2:
        return None
    top, low = float(answers.max()), float(answers.min())
    return top - 0.25 * (top - low) if top > low else None


def median_liked(answers: torch.Tensor) -> float | None:
    """The median of the liked answers (those at or above :func:`liked_threshold`) of
    ``answers`` ``(a,)``; None before two answers differ."""
    tau = liked_threshold(answers)
    return None if tau is None else float(answers[answers >= tau].median())


def likely_liked(rows: torch.Tensor, mean: torch.Tensor, answers: torch.Tensor,
                 m: int) -> torch.Tensor:
    """The ``rows`` (indices into ``mean`` ``(n,)``, the predicted reward) predicted as good as
    the median liked answer (:func:`liked_threshold` of ``answers``), or the ``m`` best
    predicted when fewer are."""
    tau = median_liked(answers)
    if tau is None or len(rows) <= m:
        return rows
    pred = mean[rows]
    floor = min(tau, float(torch.sort(pred, descending=True).values[m - 1]))
    return rows[pred >= floor]


def liked_answers(features: torch.Tensor, answers: torch.Tensor,
                  strong: bool = False) -> torch.Tensor:
    """``(l, ...)`` the rows of ``features`` ``(a, ...)`` (the answers' features, or the asked
    particles themselves) whose answer ``(a,)`` is liked: in the top quarter of the range of
    answers; empty before two answers differ.
    ``strong``: only the upper half of those (at least the median liked answer), so that a
    borderline answer does not become a mode of its own."""
    tau = median_liked(answers) if strong else liked_threshold(answers)
    if tau is None:
        return features[:0]
    return features[answers.to(features.device) >= tau]


def keep_picks(features: torch.Tensor, anchors: torch.Tensor, chosen: list[int],
               m: int, score: torch.Tensor | None = None, near: int = 4,
               order: str = "density", floor: int = 0) -> list[int]:
    """``m`` picks that keep the liked answers ``anchors`` ``(l, F)`` served, one at a time.

    Each goes to the least served liked answer and takes, for it, the nearest row of
    ``features`` ``(n, F)`` not picked yet (with ``score`` ``(n,)``: the best scored of its
    ``near`` nearest). ``order="density"``: the least served liked answer is the one where
    the liked answers and the picks so far (``chosen`` and the earlier kept picks) are least
    dense (a Gaussian kernel, :func:`_bandwidth`): a liked mode with few answers gets picks
    until it has as many as the others, whatever the spread of each mode. ``"farthest"``: the
    liked answer farthest from every pick so far (a mode's share then follows its spread in
    feature space, not its count). Either way a liked mode the reward model has not learned
    yet still gets picks.

    ``floor``: before that order, up to ``floor`` picks go to the liked regions no pick of the
    round reaches (:func:`floor_picks`), so that a liked mode served in earlier rounds still
    gets a pick in this one while a mode found late catches up.
    """
    if order not in ("density", "farthest"):
        raise ValueError(f"order: expected 'density' or 'farthest', got {order!r}")
    if isinstance(floor, bool) or not isinstance(floor, int) or floor < 0:
        raise ValueError(f"floor: expected a number of picks >= 0, got {floor!r}")
    first = floor_picks(features, anchors, chosen, min(floor, m), score, near)
    return first + _ordered_picks(features, anchors, chosen + first, m - len(first), score,
                                  near, order)


def floor_picks(features: torch.Tensor, anchors: torch.Tensor, chosen: list[int], m: int,
                score: torch.Tensor | None = None, near: int = 4) -> list[int]:
    """Up to ``m`` picks, one for each region of the liked answers ``anchors`` ``(l, F)`` that
    no pick reaches: farthest first, the liked answer farthest from every row of ``chosen``
    and of these picks gets the nearest row of ``features`` ``(n, F)`` (with ``score``: the best
    scored of its ``near`` nearest) while it is farther than the kernel width (:func:`_bandwidth`)
    from them; the liked answers within the width of it count as served."""
    picks: list[int] = []
    if m <= 0 or not len(anchors):
        return picks
    h = _bandwidth(anchors)
    taken, gap = _round_so_far(features, anchors, chosen)
    while len(picks) < m and bool((~taken).any()):
        a = int(torch.argmax(gap))
        if float(gap[a]) <= h:
            break
        i = _near_pick(features, anchors[a:a + 1], taken, score, near)
        picks.append(i)
        taken[i] = True
        gap = torch.minimum(gap, torch.cdist(anchors, features[i:i + 1])[:, 0])
        gap = torch.minimum(gap, torch.cdist(anchors, anchors[a:a + 1])[:, 0])
    return picks


def _round_so_far(features: torch.Tensor, anchors: torch.Tensor,
                  chosen: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(taken, gap)``: the rows of ``features`` ``(n, F)`` the round has picked (``chosen``),
    ``(n,)`` bool, and each liked answer's distance to the nearest of them, ``(l,)`` (inf
    before any pick)."""
    taken = torch.zeros(len(features), dtype=torch.bool, device=features.device)
    taken[chosen] = True
    gap = (torch.cdist(anchors, features[chosen]).min(1).values if chosen
           else torch.full((len(anchors),), math.inf, device=features.device))
    return taken, gap


def _near_pick(features: torch.Tensor, anchor: torch.Tensor, taken: torch.Tensor,
               score: torch.Tensor | None, near: int) -> int:
    """The row of ``features`` nearest ``anchor`` ``(1, F)`` not ``taken``; with ``score`` the
    best scored of the ``near`` nearest."""
    d = torch.cdist(features, anchor)[:, 0].masked_fill(taken, math.inf)
    if score is None:
        return int(torch.argmin(d))
    close = torch.argsort(d, stable=True)[:min(near, int((~taken).sum()))]
    return int(close[torch.argmax(score[close])])


def _ordered_picks(features: torch.Tensor, anchors: torch.Tensor, chosen: list[int], m: int,
                   score: torch.Tensor | None, near: int, order: str) -> list[int]:
    """:func:`keep_picks`' picks in ``order``, after ``chosen``."""
    picks: list[int] = []
    if m <= 0 or not len(anchors):
        return picks
    taken, gap = _round_so_far(features, anchors, chosen)
    h = _bandwidth(anchors)
    crowd = _kernel(anchors, torch.cat([anchors, features[chosen]]), h).sum(1)
    for _ in range(min(m, int((~taken).sum()))):
        if order == "density":  # ties (e.g. one anchor per mode) go to the farthest
            a = int(torch.argmin(crowd - 1e-6 * gap.clamp(max=1e6)))
        else:
            a = int(torch.argmax(gap))
        i = _near_pick(features, anchors[a:a + 1], taken, score, near)
        picks.append(i)
        taken[i] = True
        gap = torch.minimum(gap, torch.cdist(anchors, features[i:i + 1])[:, 0])
        crowd = crowd + _kernel(anchors, features[i:i + 1], h)[:, 0]
    return picks


def _bandwidth(anchors: torch.Tensor) -> float:
    """The density kernel's width: twice the median nearest-neighbour distance among the
    liked answers ``(l, F)`` (1 for fewer than two), so that the answers of one mode overlap
    and those of different modes do not."""
    if len(anchors) < 2:
        return 1.0
    d = torch.cdist(anchors, anchors)
    d.fill_diagonal_(math.inf)
    return float(2.0 * d.min(1).values.median().clamp(min=1e-6))


def _kernel(a: torch.Tensor, b: torch.Tensor, h: float) -> torch.Tensor:
    """``(len(a), len(b))`` Gaussian kernel of width ``h``."""
    return torch.exp(-0.5 * (torch.cdist(a, b) / h) ** 2)


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
        # a row picked already (by another rule or earlier here) is never picked twice, even
        # where every allowed row is at distance 0 (duplicated features)
        if chosen or picks:
            score[chosen + picks] = -math.inf
        i = int(torch.argmax(score))
        if not math.isfinite(float(score[i])):
            break
        picks.append(i)
        dist = torch.minimum(dist, torch.cdist(features, features[i:i + 1])[:, 0])
    return picks


def unexplored_picks(features: torch.Tensor, allowed: torch.Tensor, asked: torch.Tensor,
                     chosen: list[int], m: int, clusters: int = 10) -> list[int]:
    """Up to ``m`` exploration picks, one per region of the ``allowed`` rows that nothing asked
    or chosen falls in yet (:func:`unvisited_regions`, the farthest first), each the region's
    member nearest its centroid. Nearest-distance novelty alone (:func:`explore_picks`) favours
    outliers and, with the ensemble's disagreement, the borders of the liked classes: a liked
    mode that is neither (a common class nobody has asked about) may then never be shown.
    """
    if m <= 0:
        return []
    picks: list[int] = []
    for members, centre in unvisited_regions(features, allowed, asked, chosen, clusters)[:m]:
        i = _typical_member(features, members, centre)
        if i not in chosen:
            picks.append(i)
    return picks


def unvisited_regions(features: torch.Tensor, allowed: torch.Tensor, asked: torch.Tensor,
                      chosen: list[int], clusters: int = 10) -> list[tuple[torch.Tensor,
                                                                            torch.Tensor]]:
    """The regions of the ``allowed`` rows that nothing asked or chosen falls in yet, as
    ``(members, centroid)``: ``members`` int64 row indices into ``features`` ``(n, F)``,
    ``centroid`` ``(F,)`` float32; the region whose centroid is farthest from the asked and
    chosen rows first.

    The ``allowed`` rows are split into ``clusters`` k-means clusters (at most a quarter as many
    as there are rows). A cluster is visited when it is the nearest cluster of an asked row
    (``asked`` ``(a, F)``) or of a ``chosen`` row. Empty with fewer than two clusters or
    nothing asked or chosen.
    """
    split = pool_regions(features, allowed, asked, chosen, clusters)
    if split is None:
        return []
    rows, _, labels, present, cent, seen = split
    near = torch.cdist(seen.float(), cent)
    visited = set(near.argmin(1).tolist())
    gap = near.min(0).values
    order = sorted((j for j in range(len(present)) if j not in visited),
                   key=lambda j: (-float(gap[j]), j))
    return [(rows[torch.nonzero(labels == present[j])[:, 0]], cent[j]) for j in order]


def pool_regions(features: torch.Tensor, allowed: torch.Tensor, asked: torch.Tensor,
                 chosen: list[int], clusters: int = 10):
    """The split :func:`unvisited_regions` makes, for rules that count visits their own way:
    ``(rows, f, labels, present, centroids, seen)``: the ``allowed`` rows' indices ``(m,)``,
    their features ``(m, F)`` float32, k-means labels ``(m,)`` into ``clusters`` (at most a
    quarter of ``m``), the non-empty labels and their centroids ``(len(present), F)``, and the
    asked and ``chosen`` rows' features; None with fewer than two clusters or nothing seen."""
    rows = torch.nonzero(allowed)[:, 0]
    c = min(clusters, len(rows) // 4)
    seen = torch.cat([asked, features[chosen]]) if chosen else asked
    if c < 2 or not len(seen):
        return None
    f = features[rows].float()
    labels = _kmeans(f, c)
    present, cent = _centroids(f, labels, c)
    return rows, f, labels, present, cent, seen


def region_picks(features: torch.Tensor, m: int) -> list[int]:
    """``m`` distinct rows of ``features`` ``(n, F)`` spread over the sample: the rows in ``m``
    k-means regions (:func:`_kmeans`: farthest-point start, so outlying groups get their own
    region), each region's member nearest its centroid, in region order; where fewer regions
    are non-empty, the rows farthest from those picked fill up. All ``n`` rows if ``m >= n``.

    The cold start's design: with no answer yet, one question per region of the base model's
    samples reaches a small or outlying mode that ``m`` uniform draws would mostly miss.
    """
    n = len(features)
    if m >= n:
        return list(range(n))
    if m <= 0:
        return []
    f = features.float()
    labels = _kmeans(f, m)
    present, cent = _centroids(f, labels, m)
    picks = [_typical_member(f, torch.nonzero(labels == j)[:, 0], centre)
             for j, centre in zip(present, cent, strict=True)]
    everyone = torch.ones(n, dtype=torch.bool, device=f.device)
    return picks + explore_picks(f, everyone, f[:0], picks, m - len(picks))


def _typical_member(features: torch.Tensor, members: torch.Tensor, centre: torch.Tensor) -> int:
    """The row of ``members`` (int64 indices into ``features`` ``(n, F)``) nearest ``centre``
    ``(F,)``."""
    d = torch.cdist(features[members].float(), centre[None])[:, 0]
    return int(members[int(torch.argmin(d))])


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


def _centroids(f: torch.Tensor, labels: torch.Tensor, c: int) -> tuple[list[int],
                                                                          torch.Tensor]:
    """The non-empty clusters among labels ``0 .. c-1`` of ``f`` ``(n, F)`` and their
    centroids ``(len(present), F)``, in that order."""
    present = [j for j in range(c) if bool((labels == j).any())]
    return present, torch.stack([f[labels == j].mean(0) for j in present])


def _chain(f: torch.Tensor, labels: torch.Tensor, c: int) -> list[int]:
    """The clusters in nearest-neighbour chain order of their centroids, from cluster 0: the
    sub-clusters of one well-separated mode come out next to each other."""
    present, cent = _centroids(f, labels, c)
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
