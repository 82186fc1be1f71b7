"""When an exploration region counts as visited (docs/feedback-benchmark.md, "A region is
visited when an answer lies inside it"). One JSON row per run.

The default's exploration splits the unguided pool into 10 k-means regions and counts a region
visited once an asked (or already chosen) particle has it as its nearest region, however far
from it that particle lies. On 0s, 8s and 9s a class never shown in a run (5 of 16 design
runs) had its particles in regions counted as visited without a question about them. Here a
region is visited only by a particle that also lies within the region's own extent:

- ``rad-max``: no farther from the centroid than the region's farthest member;
- ``rad-med``: no farther than its median member;
- ``rad-max-only``, ``rad-med-only``: the same, and an exploration pick that finds no
  unvisited region left becomes one more kept pick (``regions-only``, ``variations/
  regions_only.py``) instead of a novelty pick;
- ``rad-max-gs``, ``rad-max-gsize``: ``rad-max`` with the unvisited regions ordered by their
  gap times the square root of their size, or times their size (the default: the gap alone,
  farthest first);
- a built-in strategy's name (``fkc-explore``): it as it is, the baseline run beside them.

Neither ``rad-max`` nor ``rad-max-gs`` passed its held-out rule (docs/feedback-benchmark.md),
so the library's default is unchanged and keeps no option for these rules.

    python docs/feedback-benchmark/region-radius/variant.py MODE SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

import torch

from fkc_align import pick_rules as R
from fkc_align import strategies as S

sys.path.insert(0, str(Path(__file__).parent.parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "variations"))

from design_rows import variant_rows  # noqa: E402
from regions_only import RegionsOnly  # noqa: E402


def radius_regions(quantile: float, size_power: float = 0.0):
    """``pick_rules.unvisited_regions`` with a region visited only by a seen row that has it
    as nearest region *and* lies within the ``quantile`` of its members' distances to the
    centroid; unvisited regions in order of their gap times their size to ``size_power`` (0:
    the default's farthest first)."""

    def unvisited(features, allowed, asked, chosen, clusters=10):
        split = R.pool_regions(features, allowed, asked, chosen, clusters)
        if split is None:
            return []
        rows, f, labels, present, cent, seen = split
        radius = torch.stack([torch.cdist(f[labels == p], cent[j:j + 1])[:, 0]
                              .quantile(quantile) for j, p in enumerate(present)])
        near = torch.cdist(seen.float(), cent)
        d, j = near.min(1)
        visited = set(j[d <= radius[j]].tolist())
        gap = near.min(0).values
        sizes = [int((labels == p).sum()) for p in present]
        order = sorted((k for k in range(len(present)) if k not in visited),
                       key=lambda k: (-float(gap[k]) * sizes[k] ** size_power, k))
        return [(rows[torch.nonzero(labels == present[k])[:, 0]], cent[k]) for k in order]

    return unvisited


MODES = {"rad-max": (1.0, 0.0, False), "rad-med": (0.5, 0.0, False),
         "rad-max-only": (1.0, 0.0, True), "rad-med-only": (0.5, 0.0, True),
         "rad-max-gs": (1.0, 0.5, False), "rad-max-gsize": (1.0, 1.0, False)}


def main(argv: list[str]) -> None:
    strategies = {}
    if argv[0] in MODES:  # else a built-in strategy (fkc-explore), run as it is
        quantile, size_power, only = MODES[argv[0]]
        R.unvisited_regions = radius_regions(quantile, size_power)
        strategies[argv[0]] = RegionsOnly() if only else S.FKCExplore()
    variant_rows(argv, strategies)


if __name__ == "__main__":
    main(sys.argv[1:])
