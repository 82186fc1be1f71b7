"""The classes the default shows, round by round, on a three-class digits instance: one line
per seed with its balance and coverage, then each round's picks as the oracle labels them
(``.``: a miss, not a liked class).

    FULL=1 python docs/feedback-benchmark/feature-dims/trace_classes.py 1,4,9 200 215
"""

import sys
from pathlib import Path

import torch

from fkc_align import run_active
from fkc_align.bench import run_metrics
from fkc_align.tasks import digit_log_probs

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import scenario  # noqa: E402


def main(liked: str, first: str, last: str) -> None:
    torch.set_num_threads(1)
    sc = scenario("multimodal-3", tuple(int(c) for c in liked.split(",")))
    for seed in range(int(first), int(last) + 1):
        task = sc.task()
        res = run_active(task, budget=sc.budget, k=sc.k, n_particles=sc.n_particles,
                         n_steps=sc.n_steps, seed=seed, progress=False,
                         strategy="fkc-explore", **sc.run_options)
        order = torch.argsort(res.observed_answer_index)
        x, rnd = res.observed_x[order], res.observed_round[order]
        label, liked_mode = digit_log_probs(x).argmax(1), task.liked_mode(x)
        rounds = ["".join(str(int(c)) if int(m) >= 0 else "." for c, m in
                          zip(label[rnd == r], liked_mode[rnd == r], strict=True))
                  for r in range(int(rnd.max()) + 1)]
        m = run_metrics(sc, task, res, {})
        print(seed, f"balance {m['balance']:.2f} coverage {m['coverage']:.0f}", *rounds,
              flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
