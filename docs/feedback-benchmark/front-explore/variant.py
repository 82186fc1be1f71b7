"""Exploration spent early (docs/feedback-benchmark.md, "Round by round: where UCB's lead is
made"). One JSON row per run.

The default's exploration share is ``0.25·(1 − spent)·min(1, budget/64)`` of a round: on a
budget of 64 with k = 8, 2, 2, 1, 1, 1 picks in rounds 1-5. On the design seeds a pick's yield
of liked classes found first in the run falls about fivefold from round 1 to round 5
(early-rounds/summary.py), while each pick costs the same hits. Here:

- ``front``: the share is ``0.5·max(0, 1 − spent/0.55)·min(1, budget/64)``: 3, 2, 1 picks in
  rounds 1-3 and none after on a budget of 64 (7 → 6); 2, 1 on the rare modes' 48 (3 picks, as
  before, earlier); 1 on the small budget's 32 (as before);
- ``cut``: the default's share, none after round 3 (2, 2, 1: the late picks made kept picks
  without the earlier third pick; ``cut375`` of "Where the UCB gap comes from", now on the
  variations default);
- ``front-radgs``: ``front``, and a pool region counts as visited only by an answer inside its
  extent, the unvisited ones ordered by gap × √size (``rad-max-gs`` of region-radius/, which
  lifted the balance of 0s, 8s and 9s, where ``front`` loses it; design seeds only);
- a built-in strategy's name (``fkc-explore``): it as it is, the baseline run beside them.

    python docs/feedback-benchmark/front-explore/variant.py MODE SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

from fkc_align import pick_rules as R
from fkc_align import strategies as S

sys.path.insert(0, str(Path(__file__).parent.parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "region-radius"))

from design_rows import variant_rows  # noqa: E402


class Cut(S.FKCExplore):
    """The default, with no exploration once ``spent >= stop``."""

    def __init__(self, stop: float) -> None:
        super().__init__()
        self.stop = stop

    def n_explore(self, view):
        return super().n_explore(view) if view.spent < self.stop else 0


def main(argv: list[str]) -> None:
    if argv[0] == "front-radgs":
        from variant import radius_regions  # region-radius/variant.py, first on sys.path

        R.unvisited_regions = radius_regions(1.0, 0.5)
    # front is the library's fkc-explore-early share, which was built from it
    front = S.FKCExplore(eps_max=0.5, explore_until=0.55)
    variant_rows(argv, {"front": front, "cut": Cut(0.5), "front-radgs": front})


if __name__ == "__main__":
    main(sys.argv[1:])
