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
  density as before. The rows were made with a copy of the default's ``pick`` calling a
  ``floor_picks`` of this file; the library's ``FKCExplore(keep_floor=0.5)``
  (``pick_rules.floor_picks``) is that rule, and this file now runs it (it reproduces the
  stored rows: 10 runs of it and 3 of ``front-floor`` checked, design and held-out);
- ``front-floor``: the same floor under ``fkc-explore-early`` (exploration spent in rounds
  1-3);
- a built-in strategy's name (``fkc-explore``, ``ucb``, ...): it as it is.

    python docs/feedback-benchmark/keep-floor/variant.py MODE SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

from fkc_align import strategies as S

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import variant_rows  # noqa: E402


def main(argv: list[str]) -> None:
    variant_rows(argv, {"keep-floor": S.FKCExplore(keep_floor=0.5),
                        "front-floor": S.FKCExplore(eps_max=0.5, explore_until=0.55,
                                                    keep_floor=0.5)})


if __name__ == "__main__":
    main(sys.argv[1:])
