"""Exploration by the ensemble's uncovered disagreement (docs/feedback-benchmark.md,
"Exploration by uncovered disagreement"). One JSON row per run.

The default explores the pool's regions that no answer falls in, farthest first. A liked class
in the middle of the features (the 9s) is reached last: its region is counted visited by an
asked neighbour. Here the reward networks' disagreement decides instead. Each pool member
carries ``std`` (the ensemble's standard deviation of its predicted reward) times
``min(1, d / h)`` (``d``: its distance to the nearest asked or chosen particle, ``h``: the
pool's median nearest-neighbour distance): disagreement that no answer covers yet. Modes:

- ``msd``: the pool's k-means regions (the default's 10), every one visited or not, in order of
  their members' summed uncovered disagreement; each shows its member with the most, and the
  covered distances are updated after each pick;
- ``msd-first``: the round's first exploration pick by ``msd``, the rest as the default;
- a built-in strategy's name (``fkc-explore``): it as it is.

    python docs/feedback-benchmark/uncertain-mass/variant.py MODE SCENARIO LIKED SEEDS
"""

import math
import sys
from pathlib import Path

import torch

from fkc_align import pick_rules as R
from fkc_align import strategies as S

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import variant_rows  # noqa: E402


def uncovered_picks(features, allowed, asked, chosen, m, std, clusters=10):
    """Up to ``m`` pool rows, each from the region with the most uncovered disagreement."""
    split = R.pool_regions(features, allowed, asked, chosen, clusters)
    if split is None or m <= 0:
        return []
    rows, f, labels, _, _, seen = split
    nn = torch.cdist(f, f)
    nn.fill_diagonal_(math.inf)
    h = float(nn.min(1).values.median())
    d = torch.cdist(f, seen.float()).min(1).values
    s = std[rows].float()
    taken = torch.tensor([r in chosen for r in rows.tolist()], dtype=torch.bool)
    picks: list[int] = []
    for _ in range(m):
        gain = torch.where(taken, 0.0, s * torch.clamp(d / h, max=1.0))
        mass = torch.zeros(int(labels.max()) + 1).index_add_(0, labels, gain)
        j = int(torch.argmax(mass))
        if float(mass[j]) <= 0:
            break
        inside = torch.nonzero(labels == j)[:, 0]
        i = int(inside[int(torch.argmax(gain[inside]))])
        picks.append(int(rows[i]))
        taken[i] = True
        d = torch.minimum(d, torch.cdist(f, f[i:i + 1])[:, 0])
    return picks


class UncoveredExplore(S.FKCExplore):
    """The default whose exploration picks (``first_only``: the first of each round) go by
    uncovered disagreement."""

    def __init__(self, first_only: bool) -> None:
        super().__init__()
        self.first_only = first_only

    def explore(self, view: S.RoundView, chosen: list[int]) -> list[int]:
        chosen = list(chosen)
        n_unc = min(1, view.n_show - len(chosen)) if self.first_only else view.n_show - len(chosen)
        chosen += uncovered_picks(view.features, view.in_pool, view.asked_features, chosen,
                                  n_unc, view.std, self.clusters)
        chosen += R.unexplored_picks(view.features, view.in_pool, view.asked_features, chosen,
                                     view.n_show - len(chosen), self.clusters)
        chosen += R.explore_picks(view.features, view.in_pool, view.asked_features, chosen,
                                  view.n_show - len(chosen), view.std)
        return chosen


MODES = {"msd": False, "msd-first": True}


def main(argv: list[str]) -> None:
    strategies = {}
    if argv[0] in MODES:  # else a built-in strategy (fkc-explore), run as it is
        strategies[argv[0]] = UncoveredExplore(MODES[argv[0]])
    variant_rows(argv, strategies)


if __name__ == "__main__":
    main(sys.argv[1:])
