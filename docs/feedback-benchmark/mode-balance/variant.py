"""Kept picks balanced over the base model's regions, not over the liked answers' density
(docs/feedback-benchmark.md, "Kept picks by region").

The default serves the strong liked answer where liked answers and picks are least dense. A
liked class whose answers are spread wide in feature space (8s) then holds more low-density
answers than a compact one (9s), gets more picks, and so more answers: the wide class wins by
feedback. Here the unguided pool is split into the regions the region exploration uses (k-means,
``clusters`` of them), every strong liked answer is assigned to its nearest region, and each
kept pick goes to the anchored region asked about least so far (asked particles and this
round's picks, counted by nearest region); inside it, the default's density rule picks the
anchor. One JSON row per run, strategy ``regions-keep``. With ``rr`` first, each round's kept
picks go first one to each anchored region, the least asked first, and only then to the least
asked (strategy ``regions-keep-rr``): no liked region goes a round without a pick. With
``least1``, one kept pick goes to the least asked anchored region and the others follow the
default's density rule (strategy ``regions-keep-least1``). ``rr-merge``: as ``rr``, with
anchored regions whose centroids lie closer than the anchors' kernel width counted as one
(strategy ``regions-keep-rr-merge``), since the pool's regions split a wide class.

``region-draw``: one kept pick per anchored region (its strong answer nearest the region's
centroid), and the tilted draw makes every other exploitation pick (strategy ``region-draw``).

    python docs/feedback-benchmark/mode-balance/variant.py [MODE] SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

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


class RegionDraw(S.FKCExplore):
    """The default with one kept pick per anchored pool region; the tilted draw makes the
    other exploitation picks."""

    def pick(self, view):
        def thinned(features, answers, strong=False):
            out = R.liked_answers(features, answers, strong)
            return one_per_region(view, out, self.clusters) if strong else out

        default, S.liked_answers = S.liked_answers, thinned  # the name the default's pick() calls
        try:
            return super().pick(view)
        finally:
            S.liked_answers = default


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

        default, S.keep_picks = S.keep_picks, by_region  # the name the default's pick() calls
        try:
            return super().pick(view)
        finally:
            S.keep_picks = default


def main(argv: list[str]) -> None:
    if argv[0] == "region-draw":
        S.register_strategy("region-draw", RegionDraw(), replace=True)
        print_rows(argv[1], tuple(int(c) for c in argv[2].split(",")), argv[3], "region-draw")
        return
    mode = argv[0] if argv[0] in ("rr", "least1", "rr-merge") else ""
    name = f"regions-keep-{mode}" if mode else "regions-keep"
    strategy = RegionKeep(mode.startswith("rr"), mode == "least1", mode == "rr-merge")
    S.register_strategy(name, strategy, replace=True)
    args = argv[1:] if mode else argv
    print_rows(args[0], tuple(int(c) for c in args[1].split(",")), args[2], name)


if __name__ == "__main__":
    main(sys.argv[1:])
