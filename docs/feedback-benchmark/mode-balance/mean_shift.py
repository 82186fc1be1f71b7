"""Do the base model's own modes separate the liked classes? At the default's last guided round
of one run, each strong liked answer climbs the base density smoothed at noise level ``tau`` (mean
shift with the base model's denoiser, ``x <- (a·x + s²·score(a·x, tau)) / a``, 30 steps), and
answers that end within 0.5 of each other share a mode; printed as (class, mode) counts per
``tau`` (docs/feedback-benchmark.md, "Kept picks by region").

    python docs/feedback-benchmark/mode-balance/mean_shift.py LIKED SEED TAU[,TAU...]
"""

import sys
from collections import Counter

import torch

from fkc_align import bench
from fkc_align import pick_rules as R
from fkc_align import strategies as S
from fkc_align.tasks.digits import digit_log_probs


def climb(task, x: torch.Tensor, tau: float, steps: int = 30) -> torch.Tensor:
    """``x`` ``(n, *S)`` moved to the modes of the base density at noise level ``tau``."""
    a, s = task.schedule.alpha(tau), task.schedule.sigma(tau)
    for _ in range(steps):
        x = (a * x + s * s * task.score_fn(a * x, tau)) / a
    return x


def modes(y: torch.Tensor, tol: float = 0.5) -> list[int]:
    """A mode label per row of ``y``: rows within ``tol`` of a row not yet labelled join it."""
    label = [-1] * len(y)
    for i in range(len(y)):
        if label[i] < 0:
            near = torch.nonzero((y - y[i]).flatten(1).norm(dim=1) < tol)[:, 0].tolist()
            for j in near:
                if label[j] < 0:
                    label[j] = max(label) + 1 if j == i else label[i]
    return label


def main(argv: list[str]) -> None:
    liked = tuple(int(c) for c in argv[0].split(","))
    name = "multimodal-3" if len(liked) == 3 else "multimodal"
    sc = next(s for s in bench.scenarios(liked=liked, liked3=liked) if s.name == name)
    task = sc.task()

    class LastRound(S.FKCExplore):
        def pick(self, view):
            strong = R.median_liked(view.asked_r)
            if strong is not None and view.round == 7:
                x = view.asked_x[view.asked_r >= strong]
                classes = digit_log_probs(x).argmax(1).tolist()
                for tau in map(float, argv[2].split(",")):
                    mode = modes(climb(task, x.clone(), tau))
                    pairs = dict(sorted(Counter(zip(classes, mode, strict=True)).items()))
                    print(f"tau {tau}: {len(set(mode))} modes; (class, mode): count {pairs}")
            return super().pick(view)

    torch.set_num_threads(1)
    S.register_strategy("last-round", LastRound(), replace=True)
    bench.run_one(sc, "last-round", {"strategy": "last-round"}, int(argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
