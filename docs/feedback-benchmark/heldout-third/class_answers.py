"""Per liked class, how the default's answers sit against the reward's cap
(docs/feedback-benchmark.md, "A third instance"): over the given seeds, the hits asked of each
liked class, the share of them answered at the cap, and their mean answer.

    python docs/feedback-benchmark/heldout-third/class_answers.py LIKED3 SEEDS
"""

import math
import sys
from collections import defaultdict

import torch

from fkc_align import bench
from fkc_align.loop import run_active
from fkc_align.tasks.digits import digit_log_probs


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)  # as the bench's workers
    liked = tuple(int(c) for c in argv[0].split(","))
    a, b = (int(s) for s in argv[1].split("-"))
    sc = next(s for s in bench.scenarios(liked3=liked) if s.name == "multimodal-3")
    task = sc.task()
    cap = math.log(task.params["cap"])
    answers = defaultdict(list)
    for seed in range(a, b + 1):
        res = run_active(task, budget=sc.budget, k=sc.k, n_particles=sc.n_particles,
                         n_steps=sc.n_steps, seed=seed, progress=False, **sc.run_options)
        label = digit_log_probs(res.observed_x).argmax(1).tolist()
        for c, r in zip(label, res.observed_r.tolist(), strict=True):
            if c in liked:
                answers[c].append(r)
    print(f"{liked}, seeds {a}-{b}: liked class: hits asked, share at the cap, mean answer")
    for c in liked:
        r = answers[c]
        at_cap = sum(x >= cap - 1e-4 for x in r) / max(len(r), 1)
        print(f"  {c}: {len(r)}, {at_cap:.2f}, {sum(r) / max(len(r), 1):.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
