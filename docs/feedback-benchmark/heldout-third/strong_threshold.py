"""A lenient strong-answer rule, looked at on four seeds (docs/feedback-benchmark.md, "A third
instance"): the default, with the kept picks' anchors at or above ``min(median liked answer,
the middle of the liked band)`` instead of the median liked answer, so that a saturated reward
(many answers at the cap) does not leave only the answers at the cap as anchors. One JSON row
per run, strategy ``strong-mid``.

    python docs/feedback-benchmark/heldout-third/strong_threshold.py SCENARIO LIKED SEEDS
"""

import json
import sys

import torch

from fkc_align import bench
from fkc_align import pick_rules as R
from fkc_align import strategies as S


def lenient_liked_answers(features, answers, strong=False):
    """``pick_rules.liked_answers`` with the lenient strong threshold."""
    tau = R.liked_threshold(answers)
    if tau is not None and strong:
        tau = min(R.median_liked(answers), 0.5 * (tau + float(answers.max())))
    return features[:0] if tau is None else features[answers.to(features.device) >= tau]


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)  # as the bench's workers
    S.liked_answers = lenient_liked_answers  # the name the default's pick() reads
    name, liked, seeds = argv[0], tuple(int(c) for c in argv[1].split(",")), argv[2]
    kw = {"multimodal-3": {"liked3": liked}, "multimodal": {"liked": liked}}.get(name, {})
    sc = next(s for s in bench.scenarios(**kw) if s.name == name)
    a, b = (int(s) for s in seeds.split("-"))
    for seed in range(a, b + 1):
        row = bench.run_one(sc, "fkc-explore", {"strategy": "fkc-explore"}, seed)
        print(json.dumps({**row, "strategy": "strong-mid", "liked": list(liked)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
