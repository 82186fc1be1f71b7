"""The small-budget task at larger budgets (docs/feedback-benchmark.md, "Latest round"): the
default's uniform cold start against the regions one, design seeds, paired.

    python docs/feedback-benchmark/cold-start/budgets.py BUDGET SEEDS > rows.jsonl

``small-budget`` (a hit is a confident 8) with its budget replaced, the bench's own sizes
otherwise (``bench.run_one``); the scenario is renamed ``small-budget-b<BUDGET>``. At budget 32
the rows reproduce the stored design rows exactly (seeds 200-203 checked).
"""

import dataclasses
import json
import sys

from fkc_align import bench


def main(argv):
    budget = int(argv[0])
    first, last = (int(s) for s in argv[1].split("-"))
    sc = next(s for s in bench.scenarios() if s.name == "small-budget")
    sc = dataclasses.replace(sc, budget=budget, name=f"small-budget-b{budget}")
    for seed in range(first, last + 1):
        for strategy in ("fkc-explore", "fkc-explore-regions"):
            row = bench.run_one(sc, strategy, {"strategy": strategy}, seed)
            print(json.dumps({**row, "budget": budget}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
