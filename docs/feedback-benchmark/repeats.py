"""Near-copy questions per run (docs/feedback-benchmark.md, "The round before"): for each seed,
the guided-round questions that lie within 0.1 × the cold-start round's median
nearest-neighbour distance (raw sample space) of an earlier question, and the hits among them.

    python docs/feedback-benchmark/repeats.py SCENARIO STRATEGY SEEDS
    FULL=1 python docs/feedback-benchmark/repeats.py digits-unet fkc-explore 300-315

``FULL=1`` and the instance variables as in run.py; prints one JSON line per seed.
"""

import json
import sys

import torch
from run import instance, sized

from fkc_align import bench
from fkc_align.loop import run_active


def repeats(x: torch.Tensor, rnd: torch.Tensor, hits: torch.Tensor) -> tuple[int, int]:
    """(near-copy questions, hits among them) of questions ``x`` in answer order."""
    flat = x.reshape(len(x), -1).float()
    cold = flat[rnd == 0]
    d0 = torch.cdist(cold, cold)
    d0.fill_diagonal_(float("inf"))
    tol = 0.1 * float(d0.min(1).values.median())
    d = torch.cdist(flat, flat)
    near = (d < tol).tril(-1).any(1) & (rnd > 0)
    return int(near.sum()), int((near & hits).sum())


def main() -> None:
    name, strategy, seeds = sys.argv[1], sys.argv[2], sys.argv[3]
    a, b = map(int, seeds.split("-"))
    sc = next(sized(s) for s in bench.scenarios(**instance()) if s.name == name)
    torch.set_num_threads(1)
    for seed in range(a, b + 1):
        task = sc.task()
        res = run_active(task, budget=sc.budget, k=sc.k, n_particles=sc.n_particles,
                         n_steps=sc.n_steps, seed=seed, progress=False,
                         **{**sc.run_options, "strategy": strategy})
        order = torch.argsort(res.observed_answer_index)
        x, rnd = res.observed_x[order], res.observed_round[order]
        n, h = repeats(x, rnd, task.is_hit(x).cpu())
        print(json.dumps({"scenario": name, "strategy": strategy, "seed": seed,
                          "near_copies": n, "near_copy_hits": h}), flush=True)


if __name__ == "__main__":
    main()
