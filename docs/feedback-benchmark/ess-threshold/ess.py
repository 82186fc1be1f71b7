"""The guided sample's ESS resampling threshold, an experiment (docs/feedback-benchmark.md).

    python docs/feedback-benchmark/ess-threshold/ess.py ESS SCENARIO LIKED SEEDS >> rows.jsonl

The default strategy (``fkc-explore``) at ``fkc-align bench``'s own sizes, its guided sample
resampling when ESS < ``ESS``·N instead of the sampler's default 0.5 (every sampler the loop
makes; the final model's evaluation sample does not resample either way). One JSON row per run
(``bench.run_one``) with the instance's liked classes and the threshold; the strategy is
named ``fkc-explore@essESS``. ``LIKED``: the liked classes (``3,8`` for the mixture scenarios,
where it is unused), ``SEEDS`` ``A-B``.
"""

import sys
from pathlib import Path

from fkc_align.particles import Particles

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import print_rows  # noqa: E402


def main(argv: list[str]) -> None:
    ess, name, liked, seeds = float(argv[0]), argv[1], argv[2], argv[3]
    make = Particles.make_sampler

    def make_sampler(self, *args, **kwargs):
        return make(self, *args, ess_threshold=ess, **kwargs)

    Particles.make_sampler = make_sampler
    print_rows(name, tuple(int(c) for c in liked.split(",")), seeds, "fkc-explore",
               f"fkc-explore@ess{ess:g}", ess_threshold=ess)


if __name__ == "__main__":
    main(sys.argv[1:])
