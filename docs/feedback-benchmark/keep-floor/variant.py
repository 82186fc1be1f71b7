"""The default with a floor under the kept picks: each region of the liked answers gets a kept
pick every round (docs/feedback-benchmark.md, "A kept pick for every liked region, every
round"). One JSON row per run.

The default orders its kept picks by density: the liked answer where liked answers and picks
are least dense is served first, so a class found late (or one whose answers sit close
together) takes every kept pick of the last rounds and a class served earlier gets none of
them: on the design seeds 200-215 the 0s 4s 7s runs whose last two rounds miss a class found
earlier all look like ``44444474`` in rounds 6-7 after ``0707707`` in rounds 3-5. Here:

- ``keep-floor``: the default; before the density order, up to half of the round's kept
  picks (rounded up) go farthest-first to the strong liked answers that have no pick of this
  round within the kernel width (each shows the best predicted of its 4 nearest candidates,
  the kept picks' rule; the answers within the width of it count as served), then the rest by
  density as before;
- ``front-floor``: the same floor under ``fkc-explore-early`` (exploration spent in rounds
  1-3);
- a built-in strategy's name (``fkc-explore``, ``ucb``, ...): it as it is.

    python docs/feedback-benchmark/keep-floor/variant.py MODE SCENARIO LIKED SEEDS
"""

import math
import sys
from pathlib import Path

import torch

from fkc_align import pick_rules as R
from fkc_align import strategies as S
from fkc_align.strategies import StrategyPicks

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import variant_rows  # noqa: E402


def floor_picks(features: torch.Tensor, anchors: torch.Tensor, chosen: list[int], m: int,
                score: torch.Tensor, near: int = 4) -> list[int]:
    """Up to ``m`` picks, farthest first, one for each region of ``anchors`` (a ball of the
    kernel width around an anchor) that no pick of ``chosen`` or of these reaches."""
    picks: list[int] = []
    if m <= 0 or not len(anchors):
        return picks
    h = R._bandwidth(anchors)
    taken = torch.zeros(len(features), dtype=torch.bool, device=features.device)
    taken[chosen] = True
    gap = (torch.cdist(anchors, features[chosen]).min(1).values if chosen
           else torch.full((len(anchors),), math.inf, device=features.device))
    while len(picks) < m and bool((~taken).any()):
        a = int(torch.argmax(gap))
        if float(gap[a]) <= h:
            break
        d = torch.cdist(features, anchors[a:a + 1])[:, 0].masked_fill(taken, math.inf)
        close = torch.argsort(d, stable=True)[:min(near, int((~taken).sum()))]
        i = int(close[torch.argmax(score[close])])
        picks.append(i)
        taken[i] = True
        gap = torch.minimum(gap, torch.cdist(anchors, features[i:i + 1])[:, 0])
        gap = torch.minimum(gap, torch.cdist(anchors, anchors[a:a + 1])[:, 0])
    return picks


class KeepFloor(S.FKCExplore):
    """The default's ``pick`` with :func:`floor_picks` before the density-ordered kept picks."""

    def pick(self, view):
        guided = torch.nonzero(~view.in_pool & ~view.variation_rows)[:, 0]
        n_explore = self.n_explore(view)
        n_exploit = view.n_show - n_explore
        anchors = R.liked_answers(view.asked_features, view.asked_r, strong=True)
        n_keep = min(len(anchors), int(n_exploit * self.keep_share))
        chosen: list[int] = []
        if n_exploit - n_keep:
            guided = R.likely_liked(guided, view.mean, view.asked_r, n_exploit - n_keep)
            local = R.draw_by_weight(view.features[guided], view.log_w[guided],
                                     n_exploit - n_keep, view.generator,
                                     score=view.mean[guided])
            chosen = guided[torch.tensor(local, dtype=torch.int64)].tolist()
        floor = floor_picks(view.features, anchors, chosen, (n_keep + 1) // 2, view.mean,
                            near=self.near)
        chosen += floor
        chosen += R.keep_picks(view.features, anchors, chosen, n_keep - len(floor), view.mean,
                               near=self.near, order=self.order)
        chosen += R.unexplored_picks(view.features, view.in_pool, view.asked_features, chosen,
                                     view.n_show - len(chosen), self.clusters)
        chosen += R.explore_picks(view.features, view.in_pool, view.asked_features, chosen,
                                  view.n_show - len(chosen), view.std)
        idx = torch.tensor(chosen, dtype=torch.int64, device=view.x.device)
        labels = ["top"] * n_exploit + ["explore"] * (len(chosen) - n_exploit)
        return StrategyPicks(idx, labels, view.mean[idx].float())


def main(argv: list[str]) -> None:
    variant_rows(argv, {"keep-floor": KeepFloor(),
                        "front-floor": KeepFloor(eps_max=0.5, explore_until=0.55)})


if __name__ == "__main__":
    main(sys.argv[1:])
