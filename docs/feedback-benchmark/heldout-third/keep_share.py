"""The keep-share experiment of docs/feedback-benchmark.md ("A third instance"): the default
with at most ``SHARE`` of the exploitation picks kept (the rest drawn from the tilted target),
one JSON row per run, strategy ``keep<SHARE>`` (``keep1`` is the default itself).

    python docs/feedback-benchmark/heldout-third/keep_share.py SCENARIO LIKED SEEDS SHARE
"""

import json
import sys

import torch

from fkc_align import bench
from fkc_align import strategies as S


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)  # as the bench's workers
    name, liked, seeds, share = argv[0], argv[1], argv[2], float(argv[3])
    liked = tuple(int(c) for c in liked.split(","))
    tag = f"keep{share:g}"
    S.register_strategy(tag, S.FKCExplore(keep_share=share), replace=True)
    kw = {"multimodal-3": {"liked3": liked}, "multimodal": {"liked": liked}}.get(name, {})
    sc = next(s for s in bench.scenarios(**kw) if s.name == name)
    a, b = (int(s) for s in seeds.split("-"))
    for seed in range(a, b + 1):
        row = bench.run_one(sc, tag, {"strategy": tag}, seed)
        print(json.dumps({**row, "liked": list(liked)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
