"""Seven kept-pick rules measured against the default's density order
(docs/feedback-benchmark.md, "Kept picks by region"). One JSON row per run.

The default serves the strong liked answer where liked answers and picks are least dense. A
liked class whose answers are spread wide in feature space (8s) then holds more low-density
answers than a compact one (9s), gets more picks, and so more answers: the wide class wins by
feedback. The rules, by ``MODE`` (strategy name in brackets):

- none (``regions-keep``): the unguided pool is split into the regions the region exploration
  uses (k-means, ``clusters`` of them), each strong liked answer belongs to its nearest region,
  and each kept pick goes to the anchored region asked about least so far (asked particles and
  this round's picks, counted by nearest region); inside it the default's density rule picks
  the anchor;
- ``rr`` (``regions-keep-rr``): first one kept pick for each anchored region, the least asked
  first, then to the least asked: no liked region goes a round without a pick;
- ``least1`` (``regions-keep-least1``): one kept pick for the least asked anchored region, the
  others by the default's density rule;
- ``rr-merge`` (``regions-keep-rr-merge``): as ``rr``, anchored regions whose centroids lie
  closer than the anchors' kernel width counted as one (the pool's regions split a wide class);
- ``region-draw``: one kept pick per anchored region (its strong answer nearest the region's
  centroid); the tilted draw makes every other exploitation pick;
- ``base-ratio``: the density rule with each anchor's density divided by the base model's
  there (the pool's kernel density plus one pseudo-count);
- ``teach-draw``: kept picks only for the anchors the reward model has not learned; the tilted
  draw makes every other exploitation pick.

    python docs/feedback-benchmark/mode-balance/variant.py [MODE] SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path
from unittest.mock import patch

import torch

from fkc_align import pick_rules as R
from fkc_align import strategies as S

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import print_rows  # noqa: E402


def least_then_density(view, anchors, chosen, m, clusters=10, near=4):
    """One kept pick for the anchored region asked about least so far, then the default's
    density rule for the other ``m - 1``."""
    first = region_keep_picks(view, anchors, chosen, min(m, 1), clusters, near)
    return first + R.keep_picks(view.features, anchors, chosen + first, m - len(first),
                                view.mean, near=near)


def _merge_regions(a_reg, count, cent, h):
    """Anchored regions linked (single linkage) where their centroids are closer than ``h``:
    each anchor's region becomes its group's lowest region, whose count is the group's sum."""
    regions = torch.unique(a_reg).tolist()
    root = {r: r for r in regions}

    def find(r):
        while root[r] != r:
            r = root[r]
        return r

    for i, r1 in enumerate(regions):
        for r2 in regions[i + 1:]:
            if float((cent[r1] - cent[r2]).norm()) < h:
                root[max(find(r1), find(r2))] = min(find(r1), find(r2))
    merged = count.clone()
    for r in regions:
        if find(r) != r:
            merged[find(r)] += count[r]
    return torch.tensor([find(int(r)) for r in a_reg]), merged


def region_keep_picks(view, anchors, chosen, m, clusters=10, near=4, round_robin=False,
                      merge=False):
    """``m`` kept picks, each for the anchored pool region asked about least so far
    (``round_robin``: first one for each anchored region, the least asked first)."""
    f = view.features
    rows = torch.nonzero(view.in_pool)[:, 0]
    c = min(clusters, len(rows) // 4)
    if c < 2 or m <= 0 or not len(anchors):
        return R.keep_picks(f, anchors, chosen, m, view.mean, near=near)
    labels = R._kmeans(f[rows], c)
    _, cent = R._centroids(f[rows], labels, c)
    a_reg = torch.cdist(anchors, cent).argmin(1)
    count = torch.bincount(torch.cdist(view.asked_features, cent).argmin(1),
                           minlength=len(cent)).double()
    if chosen:
        count += torch.bincount(torch.cdist(f[chosen], cent).argmin(1),
                                minlength=len(cent)).double()
    if merge:  # anchored regions closer than the anchors' kernel width are one liked mode
        a_reg, count = _merge_regions(a_reg, count, cent, R._bandwidth(anchors))
    regions = torch.unique(a_reg).tolist()
    first = sorted(regions, key=lambda j: (float(count[j]), j)) if round_robin else []
    picks: list[int] = []
    for t in range(m):
        r = first[t] if t < len(first) else min(regions, key=lambda j: (float(count[j]), j))
        got = R.keep_picks(f, anchors[a_reg == r], chosen + picks, 1, view.mean, near=near)
        if not got:
            break
        picks += got
        count[r] += 1
    return picks


def one_per_region(view, anchors, clusters=10):
    """Of the strong liked answers ``anchors`` ``(l, F)``, one per pool region (the one nearest
    the region's centroid), in region order."""
    rows = torch.nonzero(view.in_pool)[:, 0]
    c = min(clusters, len(rows) // 4)
    if c < 2 or len(anchors) < 2:
        return anchors
    labels = R._kmeans(view.features[rows], c)
    _, cent = R._centroids(view.features[rows], labels, c)
    d = torch.cdist(anchors, cent)
    a_reg = d.argmin(1)
    keep = [int(torch.nonzero(a_reg == r)[:, 0][d[a_reg == r, r].argmin()])
            for r in torch.unique(a_reg).tolist()]
    return anchors[keep]


def base_ratio_picks(view, anchors, chosen, m, near=4):
    """``m`` kept picks, each for the strong liked answer where the liked answers and the picks
    so far are least dense *relative to the base model's mass there* (the unguided pool's
    kernel density, plus one pseudo-count): a wide class whose answers spread over a large area
    also has its base mass spread over it, so each class is served in proportion to its base
    mass, the tilted target's own proportions under a reward equal on every liked class."""
    f = view.features
    picks: list[int] = []
    if m <= 0 or not len(anchors):
        return picks
    pool = f[view.in_pool]
    h = R._bandwidth(anchors)
    crowd = R._kernel(anchors, torch.cat([anchors, f[chosen]]), h).sum(1)
    base = (R._kernel(anchors, pool, h).sum(1) + 1.0) / (len(pool) + 1.0)
    taken = torch.zeros(len(f), dtype=torch.bool)
    taken[chosen] = True
    for _ in range(min(m, int((~taken).sum()))):
        a = int(torch.argmin(crowd / base))
        d = torch.cdist(f, anchors[a:a + 1])[:, 0].masked_fill(taken, float("inf"))
        close = torch.argsort(d, stable=True)[:min(near, int((~taken).sum()))]
        i = int(close[torch.argmax(view.mean[close])])
        picks.append(i)
        taken[i] = True
        crowd = crowd + R._kernel(anchors, f[i:i + 1], h)[:, 0]
    return picks


class BaseRatio(S.FKCExplore):
    """The default with its kept picks' density taken relative to the base model's mass."""

    def pick(self, view):
        def by_ratio(features, anchors, chosen, m, score=None, near=4, order="density"):
            return base_ratio_picks(view, anchors, chosen, m, near)

        with patch.object(S, "keep_picks", by_ratio):  # the name the default's pick() calls
            return super().pick(view)


def under_learned(view, anchors, strong, near=4):
    """The anchors ``(l, F)`` whose region the reward model does not yet rate as liked: among
    the ``near`` candidates nearest each, none is predicted at least ``strong`` (the median
    liked answer) even at its ensemble mean plus one std."""
    if not len(anchors):
        return anchors
    d = torch.cdist(anchors, view.features)
    close = torch.argsort(d, dim=1, stable=True)[:, :near]
    optimistic = (view.mean + view.std)[close].max(1).values
    return anchors[optimistic < strong]


class TeachDraw(S.FKCExplore):
    """The default with kept picks only for the anchors the reward model has not learned; the
    tilted draw makes every other exploitation pick."""

    def pick(self, view):
        def unlearned(features, answers, strong=False):
            out = R.liked_answers(features, answers, strong)
            if not strong or not len(out):
                return out
            return under_learned(view, out, R.median_liked(answers), self.near)

        with patch.object(S, "liked_answers", unlearned):  # the name the default's pick() calls
            return super().pick(view)


class RegionDraw(S.FKCExplore):
    """The default with one kept pick per anchored pool region; the tilted draw makes the
    other exploitation picks."""

    def pick(self, view):
        def thinned(features, answers, strong=False):
            out = R.liked_answers(features, answers, strong)
            return one_per_region(view, out, self.clusters) if strong else out

        with patch.object(S, "liked_answers", thinned):  # the name the default's pick() calls
            return super().pick(view)


class RegionKeep(S.FKCExplore):
    """The default with its kept picks balanced over the pool's regions."""

    def __init__(self, round_robin: bool = False, least_one: bool = False,
                 merge: bool = False) -> None:
        super().__init__()
        self.round_robin = round_robin
        self.least_one = least_one
        self.merge = merge

    def pick(self, view):
        def by_region(features, anchors, chosen, m, score=None, near=4, order="density"):
            if self.least_one:
                return least_then_density(view, anchors, chosen, m, self.clusters, near)
            return region_keep_picks(view, anchors, chosen, m, self.clusters, near,
                                     self.round_robin, self.merge)

        with patch.object(S, "keep_picks", by_region):  # the name the default's pick() calls
            return super().pick(view)


def main(argv: list[str]) -> None:
    modes = {"rr": RegionKeep(round_robin=True), "least1": RegionKeep(least_one=True),
             "rr-merge": RegionKeep(round_robin=True, merge=True), "region-draw": RegionDraw(),
             "base-ratio": BaseRatio(), "teach-draw": TeachDraw()}
    mode = argv[0] if argv[0] in modes else ""
    name = {"": "regions-keep", "rr": "regions-keep-rr", "least1": "regions-keep-least1",
            "rr-merge": "regions-keep-rr-merge"}.get(mode, mode)
    S.register_strategy(name, modes.get(mode, RegionKeep()), replace=True)
    args = argv[1:] if mode else argv
    print_rows(args[0], tuple(int(c) for c in args[1].split(",")), args[2], name)


if __name__ == "__main__":
    main(sys.argv[1:])
