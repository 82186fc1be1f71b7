"""The guided sample's ESS resampling threshold, an experiment (docs/feedback-benchmark.md).

    python docs/feedback-benchmark/ess-threshold/ess.py ESS SCENARIO LIKED SEEDS >> rows.jsonl

The default strategy (``fkc-explore``) at ``fkc-align bench``'s own sizes, its guided sample
resampling when ESS < ``ESS``·N instead of the sampler's default 0.5 (every sampler the loop
makes; the final model's evaluation sample does not resample either way). One JSON row per run
(``bench.run_one``) with the instance's liked classes and the threshold; the strategy is
named ``fkc-explore@essESS``. ``LIKED``: the liked classes (``3,8`` for the mixture scenarios,
where it is unused), ``SEEDS`` ``A-B``.
"""

import json
import sys

import torch

from fkc_align import bench
from fkc_align.particles import Particles


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)  # as the bench's workers
    ess, name, liked, seeds = float(argv[0]), argv[1], argv[2], argv[3]
    liked = tuple(int(c) for c in liked.split(","))
    make = Particles.make_sampler

    def make_sampler(self, *args, **kwargs):
        return make(self, *args, ess_threshold=ess, **kwargs)

    Particles.make_sampler = make_sampler
    kw = {"liked3": liked} if name == "multimodal-3" else {"liked": liked}
    sc = next(s for s in bench.scenarios(**kw) if s.name == name)
    a, b = (int(s) for s in seeds.split("-"))
    for seed in range(a, b + 1):
        row = bench.run_one(sc, "fkc-explore", {"strategy": "fkc-explore"}, seed)
        row["strategy"] = f"fkc-explore@ess{ess:g}"
        print(json.dumps({**row, "liked": list(liked), "ess_threshold": ess}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
