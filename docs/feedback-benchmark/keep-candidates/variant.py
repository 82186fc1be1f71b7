"""Kept picks without the pool's particles as candidates (docs/feedback-benchmark.md, "Kept
picks from the guided sample and the variations only"). One JSON row per run.

A kept pick shows the best predicted of the 4 candidates nearest its liked answer, among the
guided sample, the unguided pool and the variations. On held-out seeds 300-315 the kept picks
that show a pool particle hit 0.87-0.93, those that show a variation 0.97-1.00
(`variations/kinds.py`). ``keep-nopool``: the pool's particles are not candidates for kept
picks (they stay the exploration's); a built-in strategy's name runs as it is.

    python docs/feedback-benchmark/keep-candidates/variant.py MODE SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path
from unittest import mock

from fkc_align import strategies as S

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import variant_rows  # noqa: E402

FAR = 1e6  # a pool row's features for the kept picks: never among an answer's nearest


class KeepNoPool(S.FKCExplore):
    """The default, with the pool's rows moved out of the kept picks' reach."""

    def pick(self, view):
        keep = S.keep_picks

        def keep_without_pool(features, *args, **kw):
            moved = features.clone()
            moved[view.in_pool] = FAR
            return keep(moved, *args, **kw)

        with mock.patch.object(S, "keep_picks", keep_without_pool):
            return super().pick(view)


def main(argv: list[str]) -> None:
    variant_rows(argv, {"keep-nopool": KeepNoPool()})


if __name__ == "__main__":
    main(sys.argv[1:])
