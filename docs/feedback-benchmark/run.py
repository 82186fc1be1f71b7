"""The held-out run of docs/feedback-benchmark.md, at the sizes it states (smaller than
``fkc-align bench``'s defaults so that it fits the project's shared 2-core machine).

    python docs/feedback-benchmark/run.py OUT SEEDS SCENARIO:STRATEGY,... [SCENARIO:...]

Environment: ``BN`` digits particles (48), ``BS`` sampler steps (16; digits-unet keeps its 30),
``BE`` reward-training epochs (60, patience 10), ``LAM`` a ``lam_max`` for every scenario (the
sweep). Rows are appended to ``OUT`` (JSON lines) as runs end.
"""

import dataclasses
import json
import os
import sys

from fkc_align import bench


def sized(sc: bench.Scenario) -> bench.Scenario:
    n, steps = int(os.environ.get("BN", 48)), int(os.environ.get("BS", 16))
    opts = {**sc.run_options, "train_options": {"max_epochs": int(os.environ.get("BE", 60)),
                                                "patience": 10}}
    if "LAM" in os.environ:
        opts["lam_max"] = float(os.environ["LAM"])
    if sc.name == "digits-unet":
        return dataclasses.replace(sc, run_options=opts)
    return dataclasses.replace(sc, n_particles=n if sc.task_name != "rare-mode" else 64,
                               n_steps=steps, run_options=opts)


def main() -> None:
    out, seeds = sys.argv[1], sys.argv[2]
    a, b = map(int, seeds.split("-"))
    scs = {s.name: sized(s) for s in bench.scenarios()}
    with open(out, "a") as f:
        def on_row(row):
            f.write(json.dumps(row) + "\n")
            f.flush()

        for spec in sys.argv[3:]:
            name, strats = spec.split(":")
            bench.run_bench([scs[name]], list(range(a, b + 1)),
                            {s: {"strategy": s} for s in strats.split(",")}, jobs=2,
                            on_row=on_row, log=lambda m: None)


if __name__ == "__main__":
    main()
