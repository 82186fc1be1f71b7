"""A kept-pick variant for the saturated-reward miss (docs/feedback-benchmark.md, "A third
instance"): when the kept picks would make every exploitation pick, one of them goes instead to
the tilted draw over the guided particles that are predicted liked (at least the liked
threshold) and lie farther than the anchors' kernel width from every strong liked answer: a
liked mode the answers found but the strong-answer rule does not anchor. One JSON row per run,
strategy ``unanchored``.

    python docs/feedback-benchmark/heldout-third/unanchored.py SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

import torch

from fkc_align import pick_rules as R
from fkc_align import strategies as S

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import print_rows  # noqa: E402


class Unanchored(S.FKCExplore):
    """The default, with one exploitation pick for an unanchored predicted-liked mode."""

    def pick(self, view):
        out = super().pick(view)
        anchors = R.liked_answers(view.asked_features, view.asked_r, strong=True)
        n_explore = self.n_explore(view)
        n_exploit = view.n_show - n_explore
        tau = R.liked_threshold(view.asked_r)
        if len(anchors) < n_exploit or tau is None:
            return out  # the default already draws from the tilted target this round
        guided = torch.nonzero(~view.in_pool)[:, 0]
        far = torch.cdist(view.features[guided], anchors).min(1).values > R._bandwidth(anchors)
        cand = guided[far & (view.mean[guided] >= tau)]
        shown = set(out.index.tolist())
        cand = torch.tensor([int(i) for i in cand if int(i) not in shown], dtype=torch.int64)
        if not len(cand):
            return out
        local = R.draw_by_weight(view.features[cand], view.log_w[cand], 1, view.generator,
                                 score=view.mean[cand])
        idx = out.index.clone()
        idx[n_exploit - 1] = cand[local[0]]  # the last kept pick (the best-served anchor's)
        return S.StrategyPicks(idx, out.labels, view.mean[idx].float())


def main(argv: list[str]) -> None:
    S.register_strategy("unanchored", Unanchored(), replace=True)
    print_rows(argv[0], tuple(int(c) for c in argv[1].split(",")), argv[2], "unanchored")


if __name__ == "__main__":
    main(sys.argv[1:])
