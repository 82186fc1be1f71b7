"""A region is visited when its typical member has been asked about (docs/feedback-benchmark.md,
"Fresh instances and a central liked class"). One JSON row per run.

The default counts a pool region visited once an asked (or chosen) particle has it as its
nearest region. On 3s, 6s and 9s (fresh seeds 444-475) the 9s were never shown in 7 runs of 32:
their region, mostly 9s, was counted visited by an asked 3, a liked neighbour the loop asks
about every round (``fresh-instances/regions_trace.py``). Here a region is visited only when its
typical member (the member nearest its centroid, what an exploration pick would show) lies
within ``a`` times the pool's median nearest-neighbour distance of an asked or chosen particle:

- ``typ1``, ``typ2``: ``a`` = 1 or 2; unvisited regions farthest first by their typical
  member's distance to everything seen (the default orders by the centroid's);
- ``typ1-gs``: ``typ1`` ordered by that distance times the square root of the region's size;
- a built-in strategy's name (``fkc-explore``): it as it is.

    python docs/feedback-benchmark/typical-visited/variant.py MODE SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

import torch

from fkc_align import pick_rules as R
from fkc_align import strategies as S

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import variant_rows  # noqa: E402


def typical_regions(scale: float, size_power: float = 0.0):
    """``pick_rules.unvisited_regions`` with a region visited only when its typical member is
    within ``scale`` × the median nearest-neighbour distance among the allowed rows of a seen
    row; unvisited regions in order of that member's distance to the seen rows times their
    size to ``size_power``."""

    def unvisited(features, allowed, asked, chosen, clusters=10):
        split = R.pool_regions(features, allowed, asked, chosen, clusters)
        if split is None:
            return []
        rows, f, labels, present, cent, seen = split
        nn = torch.cdist(f, f)
        nn.fill_diagonal_(float("inf"))
        h = float(nn.min(1).values.median())
        members = [torch.nonzero(labels == p)[:, 0] for p in present]
        typical = torch.stack([m[torch.cdist(f[m], cent[j:j + 1])[:, 0].argmin()]
                               for j, m in enumerate(members)])
        gap = torch.cdist(f[typical], seen.float()).min(1).values
        order = sorted((k for k in range(len(present)) if float(gap[k]) > scale * h),
                       key=lambda k: (-float(gap[k]) * len(members[k]) ** size_power, k))
        return [(rows[members[k]], cent[k]) for k in order]

    return unvisited


MODES = {"typ1": (1.0, 0.0), "typ2": (2.0, 0.0), "typ1-gs": (1.0, 0.5)}


def main(argv: list[str]) -> None:
    strategies = {}
    if argv[0] in MODES:  # else a built-in strategy (fkc-explore), run as it is
        R.unvisited_regions = typical_regions(*MODES[argv[0]])
        strategies[argv[0]] = S.FKCExplore()
    variant_rows(argv, strategies)


if __name__ == "__main__":
    main(sys.argv[1:])
