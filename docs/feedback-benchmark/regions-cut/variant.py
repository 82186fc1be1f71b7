"""Exploration moved into the cold start: the default with a cold start by regions and no
exploration picks after three eighths of the budget (docs/feedback-benchmark.md, "Exploration
moved into the cold start"). One JSON row per run.

Round 0 asks before any model exists and is not counted in the hit rate; a cold start by
regions (``fkc-explore-regions``) already finds outlying modes about ten questions sooner.
The exploration picks of rounds 4-5 (two a run) hit 0.03-0.19 and hold 0.04 of balance and
the rare mode between common ones (the ``cut375`` rule of "Where the UCB gap comes from",
held out). Here the regions start is meant to find those modes instead. Modes:

- ``regions``: the default with ``cold_start="regions"`` (the library's
  ``fkc-explore-regions``, with the floor);
- ``rcut375``: that, and no exploration picks once the budget spent exceeds 3/8 (rounds 1-3
  keep theirs: 2, 2, 1 at a budget of 64, k 8);
- ``cut375``: the default's uniform cold start with the same cut;
- a built-in strategy's name: it as it is.

    python docs/feedback-benchmark/regions-cut/variant.py MODE SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

from fkc_align import strategies as S

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import variant_rows  # noqa: E402


class Cut(S.FKCExplore):
    """The default's exploration share, none once ``spent`` exceeds ``cut``."""

    def __init__(self, cut: float, **kw) -> None:
        super().__init__(**kw)
        self.cut = cut

    def n_explore(self, view: S.RoundView) -> int:
        if view.spent > self.cut + 1e-9:
            return 0
        return super().n_explore(view)


def main(argv: list[str]) -> None:
    variant_rows(argv, {"regions": S.FKCExplore(cold_start="regions"),
                        "rcut375": Cut(0.375, cold_start="regions"),
                        "cut375": Cut(0.375)})


if __name__ == "__main__":
    main(sys.argv[1:])
