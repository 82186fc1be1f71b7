"""Exploration only while a region is unvisited, on top of the new default (docs/feedback-
benchmark.md, "Variations of the liked answers: the new default"). One JSON row per run.

The default's exploration picks go first to the pool's unvisited regions, then by novelty times
ensemble uncertainty; with the variations, what is left of UCB's hit-rate lead is those picks.
``regions-only``: an exploration pick with no unvisited region left becomes one more kept pick
(a novelty pick when no liked answer is strong yet). The between-modes rare mode, which the
region exploration finds, keeps its picks; the late novelty picks, which hit about the base
rate on the digits, go to exploitation.

    python docs/feedback-benchmark/variations/regions_only.py MODE SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

import torch

from fkc_align import pick_rules as R
from fkc_align import strategies as S
from fkc_align.strategies import StrategyPicks

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import cpu_name, print_rows  # noqa: E402


class RegionsOnly(S.FKCExplore):
    """The default (with variations), its novelty exploration picks made kept picks."""

    def pick(self, view):
        guided = torch.nonzero(~view.in_pool & ~view.variation_rows)[:, 0]
        n_explore = self.n_explore(view)
        n_exploit = view.n_show - n_explore
        anchors = R.liked_answers(view.asked_features, view.asked_r, strong=True)
        n_keep = min(len(anchors), n_exploit)
        chosen: list[int] = []
        if n_exploit - n_keep:
            guided = R.likely_liked(guided, view.mean, view.asked_r, n_exploit - n_keep)
            local = R.draw_by_weight(view.features[guided], view.log_w[guided],
                                     n_exploit - n_keep, view.generator,
                                     score=view.mean[guided])
            chosen = guided[torch.tensor(local, dtype=torch.int64)].tolist()
        chosen += R.keep_picks(view.features, anchors, chosen, n_keep, view.mean, near=self.near)
        explore = R.unexplored_picks(view.features, view.in_pool, view.asked_features, chosen,
                                     view.n_show - len(chosen), self.clusters)
        extra = R.keep_picks(view.features, anchors, chosen + explore,
                             view.n_show - len(chosen) - len(explore), view.mean, near=self.near)
        chosen += extra + explore
        chosen += R.explore_picks(view.features, view.in_pool, view.asked_features, chosen,
                                  view.n_show - len(chosen), view.std)
        idx = torch.tensor(chosen, dtype=torch.int64, device=view.x.device)
        n_top = n_exploit + len(extra)
        labels = ["top"] * n_top + ["explore"] * (len(chosen) - n_top)
        return StrategyPicks(idx, labels, view.mean[idx].float())


def main(argv: list[str]) -> None:
    if argv[0] == "regions-only":
        S.register_strategy(argv[0], RegionsOnly(), replace=True)
    print_rows(argv[1], tuple(int(c) for c in argv[2].split(",")), argv[3], argv[0],
               cpu=cpu_name())


if __name__ == "__main__":
    main(sys.argv[1:])
