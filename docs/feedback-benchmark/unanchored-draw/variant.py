"""The default with one exploitation pick a round kept for the part of the tilted sample that
no liked answer covers (docs/feedback-benchmark.md, "A pick for the mode the model found").
One JSON row per run.

Once the strong liked answers outnumber the round's exploitation picks, the default spends all
of them on kept picks, so the tilted draw stops: a liked class that the reward model has
learned, and that fills a third of the guided sample, is still never shown if no answer has
anchored it (design seeds 200-215, 0s 8s 9s: two of 16 runs). Here:

- ``guided-novel``: the default; in a round whose exploitation picks are all kept picks, the
  last of them goes instead to the best predicted guided particle that is predicted at least
  as good as the median liked answer and lies farther than the anchors' kernel width from
  every liked answer; the default's pick stays when there is none;
- a built-in strategy's name (``fkc-explore``, ``ucb``, ...): it as it is.

    python docs/feedback-benchmark/unanchored-draw/variant.py MODE SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

import torch

from fkc_align import pick_rules as R
from fkc_align import strategies as S
from fkc_align.strategies import StrategyPicks

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import variant_rows  # noqa: E402


def uncovered_best(view, chosen: list[int]) -> int | None:
    """The best predicted guided row predicted at least as good as the median liked answer and
    farther than the strong answers' kernel width from every liked answer; None if none."""
    tau = R.median_liked(view.asked_r)
    strong = R.liked_answers(view.asked_features, view.asked_r, strong=True)
    if tau is None or not len(strong):
        return None
    liked = R.liked_answers(view.asked_features, view.asked_r)
    far = torch.cdist(view.features, liked).min(1).values > R._bandwidth(strong)
    ok = ~view.in_pool & ~view.variation_rows & (view.mean >= tau) & far
    ok[chosen] = False
    if not bool(ok.any()):
        return None
    return int(torch.argmax(view.mean.masked_fill(~ok, -torch.inf)))


class GuidedNovel(S.FKCExplore):
    """The default's picks with :func:`uncovered_best` in place of the last kept pick."""

    def pick(self, view):
        out = super().pick(view)
        n_exploit = view.n_show - self.n_explore(view)
        strong = R.liked_answers(view.asked_features, view.asked_r, strong=True)
        if n_exploit == 0 or len(strong) < n_exploit:  # the draw still has picks
            return out
        idx = out.index.tolist()
        i = uncovered_best(view, idx)
        if i is None:
            return out
        idx[n_exploit - 1] = i
        t = torch.tensor(idx, dtype=torch.int64, device=view.x.device)
        return StrategyPicks(t, out.labels, view.mean[t].float())


def main(argv: list[str]) -> None:
    variant_rows(argv, {"guided-novel": GuidedNovel()})


if __name__ == "__main__":
    main(sys.argv[1:])
