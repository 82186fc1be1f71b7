"""A strong-answer rule for a saturated reward (docs/feedback-benchmark.md, "A third
instance"): strong liked answers are those at or above the median of the liked answers'
*distinct* values, so that answers tied at the reward's cap count once. Without ties it is the
default's rule. One JSON row per run, strategy ``distinct-median``.

    python docs/feedback-benchmark/heldout-third/distinct_median.py SCENARIO LIKED SEEDS
"""

import json
import sys

import torch

from fkc_align import bench
from fkc_align import pick_rules as R
from fkc_align import strategies as S


def distinct_median_liked_answers(features, answers, strong=False):
    """``pick_rules.liked_answers`` with the strong threshold on distinct liked values."""
    tau = R.liked_threshold(answers)
    if tau is not None and strong:
        tau = float(torch.unique(answers[answers >= tau]).median())
    return features[:0] if tau is None else features[answers.to(features.device) >= tau]


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)  # as the bench's workers
    S.liked_answers = distinct_median_liked_answers  # the name the default's pick() reads
    name, liked, seeds = argv[0], tuple(int(c) for c in argv[1].split(",")), argv[2]
    kw = {"multimodal-3": {"liked3": liked}, "multimodal": {"liked": liked}}.get(name, {})
    sc = next(s for s in bench.scenarios(**kw) if s.name == name)
    a, b = (int(s) for s in seeds.split("-"))
    for seed in range(a, b + 1):
        row = bench.run_one(sc, "fkc-explore", {"strategy": "fkc-explore"}, seed)
        print(json.dumps({**row, "strategy": "distinct-median", "liked": list(liked)}),
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
