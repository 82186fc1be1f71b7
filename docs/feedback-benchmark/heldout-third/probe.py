"""Per round of the default on one instance: the liked and strong answers by class, the strong
threshold, the classes shown, and the liked classes in the guided sample and the pool
(docs/feedback-benchmark.md, "A third instance").

    python docs/feedback-benchmark/heldout-third/probe.py LIKED3 SEED[,SEED...]
"""

import sys
from collections import Counter

import torch

from fkc_align import bench
from fkc_align import pick_rules as R
from fkc_align import strategies as S
from fkc_align.tasks.digits import digit_log_probs

LIKED = tuple(int(c) for c in sys.argv[1].split(","))


def labels(x: torch.Tensor) -> list[int]:
    return digit_log_probs(x).argmax(1).tolist()


class Probe(S.FKCExplore):
    """The default, printing what it saw and showed each round."""

    def pick(self, view):
        out = super().pick(view)
        strong_at, liked_at = R.median_liked(view.asked_r), R.liked_threshold(view.asked_r)
        asked = list(zip(labels(view.asked_x), view.asked_r.tolist(), strict=True))
        strong = Counter(c for c, r in asked if strong_at is not None and r >= strong_at)
        liked = Counter(c for c, r in asked if liked_at is not None and r >= liked_at)
        guided = Counter(labels(view.x[~view.in_pool]))
        pool = Counter(labels(view.x[view.in_pool]))
        best = {}
        for c, r in asked:
            best[c] = max(best.get(c, -1e9), round(r, 2))
        print(f"round {view.round}, lam {view.lam:.1f}: strong {dict(strong)}, liked "
              f"{dict(liked)}, strong at {strong_at}, shown {labels(view.x[out.index])}")
        print(f"  guided {[guided[c] for c in LIKED]} of {int((~view.in_pool).sum())}, pool "
              f"{[pool[c] for c in LIKED]}; best answer by class {dict(sorted(best.items()))}")
        return out


if __name__ == "__main__":
    torch.set_num_threads(1)
    S.register_strategy("probe", Probe(), replace=True)
    sc = next(s for s in bench.scenarios(liked3=LIKED) if s.name == "multimodal-3")
    for seed in map(int, sys.argv[2].split(",")):
        print("== seed", seed)
        bench.run_one(sc, "probe", {"strategy": "probe"}, seed)
