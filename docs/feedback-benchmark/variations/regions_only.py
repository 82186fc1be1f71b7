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

from design_rows import variant_rows  # noqa: E402


class RegionsOnly(S.FKCExplore):
    """The default (with variations), its novelty exploration picks made kept picks."""

    def pick(self, view):
        out = super().pick(view)
        idx = out.index.tolist()
        n_exploit = view.n_show - self.n_explore(view)
        exploit = idx[:n_exploit]
        regions = R.unexplored_picks(view.features, view.in_pool, view.asked_features, exploit,
                                     view.n_show - n_exploit, self.clusters)
        anchors = R.liked_answers(view.asked_features, view.asked_r, strong=True)
        extra = R.keep_picks(view.features, anchors, exploit + regions,
                             view.n_show - n_exploit - len(regions), view.mean, near=self.near)
        if len(extra) < view.n_show - n_exploit - len(regions):
            return out  # no liked answer to keep yet: the default's novelty picks stay
        chosen = exploit + extra + regions
        t = torch.tensor(chosen, dtype=torch.int64, device=view.x.device)
        labels = ["top"] * (n_exploit + len(extra)) + ["explore"] * len(regions)
        return StrategyPicks(t, labels, view.mean[t].float())


def main(argv: list[str]) -> None:
    variant_rows(argv, {"regions-only": RegionsOnly()})


if __name__ == "__main__":
    main(sys.argv[1:])
