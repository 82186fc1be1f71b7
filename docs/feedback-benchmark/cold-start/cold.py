"""The cold-start experiment of docs/feedback-benchmark.md ("Latest round"): any strategy with
the regions cold start (``cold_start="regions"``: one typical member of each of k regions of
an unguided sample of N), against its own uniform cold start, on paired seeds.

    python docs/feedback-benchmark/cold-start/cold.py SCENARIO LIKED SEEDS STRATS [random]

One JSON row per run (``bench.run_one``, the bench's own sizes) with the strategy renamed
``NAME@regions`` and the instance's liked classes (``LIKED``: ``3,8`` for the mixture and
small-budget scenarios, where it is unused). ``random`` as the last argument shows a random
member of each region instead of the typical one (the ``@rrand`` rows).
"""

import copy
import json
import sys

import torch

from fkc_align import bench, picks
from fkc_align import pick_rules as R
from fkc_align import strategies as S


def random_member_regions(features, m):
    """region_picks, but each region shows a random member (seeded by the features)."""
    n = len(features)
    if m >= n:
        return list(range(n))
    f = features.float()
    labels = R._kmeans(f, m)
    present, _ = R._centroids(f, labels, m)
    g = torch.Generator().manual_seed(int(f.sum().item() * 1000) % (2**31))
    out = []
    for j in present:
        members = torch.nonzero(labels == j)[:, 0]
        out.append(int(members[int(torch.randint(len(members), (1,), generator=g))]))
    while len(out) < m:
        gap = torch.cdist(f, f[out]).min(1).values
        gap[out] = -1.0
        out.append(int(torch.argmax(gap)))
    return out


def scenario(name, liked):
    kw = {"liked3": liked} if name == "multimodal-3" else {"liked": liked}
    return next(s for s in bench.scenarios(**kw) if s.name == name)


def main(argv):
    name, liked, seeds, strats = argv[:4]
    tag = "@regions"
    if argv[4:] == ["random"]:
        picks.region_picks = random_member_regions
        tag = "@rrand"
    liked = tuple(int(c) for c in liked.split(","))
    a, b = (int(s) for s in seeds.split("-"))
    sc = scenario(name, liked)
    for strat in strats.split(","):
        variant = copy.copy(S.get_strategy(strat))
        variant.cold_start = "regions"
        S.register_strategy(strat + tag, variant, replace=True)
        for seed in range(a, b + 1):
            row = bench.run_one(sc, strat + tag, {"strategy": strat + tag}, seed)
            print(json.dumps({**row, "liked": list(liked)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
