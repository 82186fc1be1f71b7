"""Round by round, what the default sees and shows on 1s, 4s and 9s: the classes of the strong
liked answers (the kept picks' anchors), the classes of the round's picks as the oracle labels
them, each pick's source (``G`` guided sample, ``P`` unguided pool, ``V`` a variation of a
liked answer) and the number of exploration picks.

    FULL=1 python docs/feedback-benchmark/near-candidates/log_anchors.py 201 209
"""

import sys
from pathlib import Path

import torch

from fkc_align import run_active
from fkc_align import strategies as S
from fkc_align.pick_rules import liked_answers
from fkc_align.tasks import digit_log_probs

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import scenario  # noqa: E402

LOG: list = []


class Logged(S.FKCExplore):
    """The default, logging each round (the view's strong answers are matched back to the
    asked images by their features)."""

    def pick(self, view: S.RoundView) -> S.StrategyPicks:
        out = super().pick(view)
        strong = liked_answers(view.asked_features, view.asked_r, strong=True)
        rows = [int(torch.cdist(a[None], view.asked_features).argmin()) for a in strong]
        anchors = sorted(digit_log_probs(view.asked_x[rows]).argmax(1).tolist()) if rows else []
        shown = digit_log_probs(view.x[out.index]).argmax(1).tolist()
        source = ["P" if view.in_pool[i] else "V" if view.variation_rows[i] else "G"
                  for i in out.index.tolist()]
        LOG.append((view.round, "".join(map(str, anchors)), "".join(map(str, shown)),
                    "".join(source), out.labels.count("explore")))
        return out


def main(seeds: list[str]) -> None:
    torch.set_num_threads(1)
    S.register_strategy("logged", Logged(), replace=True)
    sc = scenario("multimodal-3", (1, 4, 9))
    for seed in map(int, seeds):
        LOG.clear()
        run_active(sc.task(), budget=sc.budget, k=sc.k, n_particles=sc.n_particles,
                   n_steps=sc.n_steps, seed=seed, progress=False, strategy="logged",
                   **sc.run_options)
        print("seed", seed)
        for rnd, anchors, shown, source, n_explore in LOG:
            print(f"  round {rnd} anchors {anchors} picks {shown} source {source} "
                  f"exploration {n_explore}")


if __name__ == "__main__":
    main(sys.argv[1:])
