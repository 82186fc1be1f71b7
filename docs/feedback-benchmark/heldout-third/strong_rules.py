"""Two other strong-answer rules for the saturated-reward miss (docs/feedback-benchmark.md, "A
third instance"): the default with its kept picks' anchors chosen by

- ``mid``: at or above ``min(median liked answer, the middle of the liked band)`` (rows
  ``strong-mid``, four held-out seeds);
- ``distinct``: at or above the median of the liked answers' *distinct* values, so that answers
  tied at the reward's cap count once; without ties it is the default's rule (rows
  ``distinct-median``, design seeds);
- ``isolated``: the default's strong answers, plus each liked answer in the upper half of the
  liked band that lies farther than the anchors' kernel width from every strong answer (a
  liked mode the cap-tied answers do not cover; rows ``isolated``, design seeds).

One JSON row per run.

    python docs/feedback-benchmark/heldout-third/strong_rules.py RULE SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

import torch

from fkc_align import pick_rules as R
from fkc_align import strategies as S

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import print_rows  # noqa: E402

NAMES = {"mid": "strong-mid", "distinct": "distinct-median", "isolated": "isolated"}


def strong_threshold(rule: str, answers: torch.Tensor) -> float | None:
    tau = R.liked_threshold(answers)
    if tau is None:
        return None
    if rule == "mid":
        return min(R.median_liked(answers), 0.5 * (tau + float(answers.max())))
    return float(torch.unique(answers[answers >= tau]).median())


def isolated_anchors(features: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """The strong liked answers plus the upper-band liked answers far from all of them."""
    strong = R.liked_answers(features, answers, strong=True)
    mid = strong_threshold("mid", answers)
    if mid is None or len(strong) < 2:
        return strong
    rest = features[(answers.to(features.device) >= mid)
                    & (answers.to(features.device) < R.median_liked(answers))]
    far = torch.cdist(rest, strong).min(1).values > R._bandwidth(strong)
    return torch.cat([strong, rest[far]])


def main(argv: list[str]) -> None:
    rule = argv[0]

    def liked_answers(features, answers, strong=False):
        if rule == "isolated" and strong:
            return isolated_anchors(features, answers)
        tau = strong_threshold(rule, answers) if strong else R.liked_threshold(answers)
        return features[:0] if tau is None else features[answers.to(features.device) >= tau]

    S.liked_answers = liked_answers  # the name the default's pick() reads
    print_rows(argv[1], tuple(int(c) for c in argv[2].split(",")), argv[3], "fkc-explore",
               NAMES[rule])


if __name__ == "__main__":
    main(sys.argv[1:])
