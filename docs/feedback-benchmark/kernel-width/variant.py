"""The default with another kernel width for its kept picks (docs/feedback-benchmark.md, "The
kept picks' kernel width"). One JSON row per run.

The kept picks' density order and the floor's regions both use one width, twice the median
nearest-neighbour distance among the strong liked answers (``pick_rules._bandwidth``), so
that "the answers of one mode overlap and those of different modes do not". The factor 2 was
never varied. On 1s, 4s and 9s the last rounds are often mostly 1s
(``feature-dims/trace-1-4-9.txt``): if the 1s' answers spread over several kernel widths, the
floor gives each of their regions a pick and the class gets more than its share. Modes:

- ``hF`` (``h1.5``, ``h3``, ``h4``): the width is ``F`` times the median nearest-neighbour
  distance;
- a built-in strategy's name: it as it is.

    python docs/feedback-benchmark/kernel-width/variant.py MODE SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

from fkc_align import pick_rules

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import patched_rows  # noqa: E402


def widen(factor: float) -> None:
    """The kept picks and the floor read the module's ``_bandwidth`` when called."""
    width = pick_rules._bandwidth
    pick_rules._bandwidth = lambda anchors: (width(anchors) * factor / 2.0
                                             if len(anchors) >= 2 else width(anchors))


if __name__ == "__main__":
    patched_rows(sys.argv[1:], "h", widen)
