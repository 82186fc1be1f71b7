"""Which liked class starves in the default's runs, and whether it had an anchor: per run of
``fkc-explore`` on a three-class instance, each liked class's asked particles, how many of them
are strong liked answers (at least the median liked answer: the kept picks' anchors) at the last
guided round, and its best answer (docs/feedback-benchmark.md, "Kept picks by region").

    python docs/feedback-benchmark/mode-balance/starve.py LIKED3 FIRST-LAST
"""

import sys

import torch

from fkc_align import bench
from fkc_align import pick_rules as R
from fkc_align import strategies as S
from fkc_align.tasks.digits import digit_log_probs


class LastRound(S.FKCExplore):
    """The default, keeping what the last guided round saw: the asked particles' labels, their
    answers and the strong threshold."""

    seen: tuple = ()

    def pick(self, view):
        labels = digit_log_probs(view.asked_x).argmax(1).tolist()
        LastRound.seen = (labels, view.asked_r.tolist(), R.median_liked(view.asked_r))
        return super().pick(view)


def main(argv: list[str]) -> None:
    liked = tuple(int(c) for c in argv[0].split(","))
    first, last = (int(s) for s in argv[1].split("-"))
    torch.set_num_threads(1)
    S.register_strategy("last-round", LastRound(), replace=True)
    sc = next(s for s in bench.scenarios(liked3=liked) if s.name == "multimodal-3")
    for seed in range(first, last + 1):
        row = bench.run_one(sc, "last-round", {"strategy": "last-round"}, seed)
        labels, answers, strong = LastRound.seen
        per = {}
        for c in liked:
            mine = [a for lab, a in zip(labels, answers, strict=True) if lab == c]
            per[c] = (len(mine), sum(a >= strong for a in mine),
                      round(max(mine), 2) if mine else None)
        print(f"seed {seed}: coverage {row['coverage']:.0f}, balance {row['balance']:.2f}, hit "
              f"{row['hit_rate']:.2f}; per class (asked, strong, best answer) {per}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
