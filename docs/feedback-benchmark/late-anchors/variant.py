"""`front` with the late picks sent to the unanchored liked answers (docs/feedback-benchmark.md,
"Exploration spent early"). One JSON row per run.

`front` (``fkc-explore-early``) spends the exploration in rounds 1-3 and loses balance: the
default's late exploration picks hit the run's rarest liked class 0.57-0.75 of the time, while
the kept picks, anchored on the strong liked answers only, hit it 0.20-0.47 of the time; a class
whose answers sit under the reward's cap has no strong answer. Here:

- ``front-iso``: ``fkc-explore-early``; in a round where the default would explore more than it
  (rounds 4-5 of a budget of 64, round 3 of 48), those picks go to the *unanchored* liked
  answers, liked answers that are not strong and lie farther than the anchors' kernel width
  from every strong answer (each shows the best predicted of its 4 nearest candidates, the
  kept picks' rule); kept picks as before when there is none;
- a built-in strategy's name (``fkc-explore``, ``fkc-explore-early``): it as it is.

    python docs/feedback-benchmark/late-anchors/variant.py MODE SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

import torch

from fkc_align import pick_rules as R
from fkc_align import strategies as S
from fkc_align.strategies import StrategyPicks

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import variant_rows  # noqa: E402

DEFAULT = S.FKCExplore()


def unanchored(features: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """``(u, F)`` the liked answers that are not strong and lie farther than the strong
    answers' kernel width from every strong answer."""
    strong = R.liked_answers(features, answers, strong=True)
    tau, mid = R.liked_threshold(answers), R.median_liked(answers)
    if tau is None or not len(strong):
        return features[:0]
    weak = features[(answers >= tau) & (answers < mid)]
    if not len(weak):
        return weak
    far = torch.cdist(weak, strong).min(1).values > R._bandwidth(strong)
    return weak[far]


class FrontIso(S.FKCExplore):
    def __init__(self) -> None:
        super().__init__(eps_max=0.5, explore_until=0.55)

    def pick(self, view):
        out = super().pick(view)
        extra = DEFAULT.n_explore(view) - self.n_explore(view)
        iso = unanchored(view.asked_features, view.asked_r)
        if extra <= 0 or not len(iso):
            return out
        idx = out.index.tolist()
        n_exploit = view.n_show - self.n_explore(view)
        keep = idx[:n_exploit - extra]  # the last kept picks make way
        late = R.keep_picks(view.features, iso, keep + idx[n_exploit:], extra, view.mean,
                            near=self.near)
        chosen = keep + late + idx[n_exploit:]
        t = torch.tensor(chosen, dtype=torch.int64, device=view.x.device)
        return StrategyPicks(t, out.labels, view.mean[t].float())


def main(argv: list[str]) -> None:
    variant_rows(argv, {"front-iso": FrontIso()})


if __name__ == "__main__":
    main(sys.argv[1:])
