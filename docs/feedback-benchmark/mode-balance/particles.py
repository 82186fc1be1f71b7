"""The default and its rivals with a larger guided sample: the scenario's ``n_particles`` set to
``N`` and the unguided pool kept at the scenario's size, so that only the guided sample's
particle count changes (docs/feedback-benchmark.md, "Kept picks by region"). One JSON row per
run, strategy ``STRATEGY@nN``.

    python docs/feedback-benchmark/mode-balance/particles.py N STRATEGY SCENARIO LIKED SEEDS
"""

import dataclasses
import json
import sys
from pathlib import Path

import torch

from fkc_align import bench

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import scenario  # noqa: E402


def main(argv: list[str]) -> None:
    n, strategy, name = int(argv[0]), argv[1], argv[2]
    liked = tuple(int(c) for c in argv[3].split(","))
    first, last = (int(s) for s in argv[4].split("-"))
    torch.set_num_threads(1)
    base = scenario(name, liked)
    sc = dataclasses.replace(base, n_particles=n,
                             run_options={**base.run_options, "n_pool": base.n_particles})
    for seed in range(first, last + 1):
        row = bench.run_one(sc, strategy, {"strategy": strategy}, seed)
        row["strategy"] = f"{strategy}@n{n}"
        print(json.dumps({**row, "liked": list(liked)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
