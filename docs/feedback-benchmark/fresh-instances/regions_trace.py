"""Why a liked class is never shown: each round's exploration regions (the unguided pool in
k-means regions, as ``pick_rules.unvisited_regions`` makes them), with each region's digits, whether
a question (or a pick of the round) visits it and what digit the nearest such visitor is, its
place in the farthest-first order, and the regions the round's exploration picks went to.

    python docs/feedback-benchmark/fresh-instances/regions_trace.py SCENARIO LIKED SEED...
"""

import sys
from collections import Counter
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent.parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "early-rounds"))

from discover import logged_runs  # noqa: E402

from fkc_align import pick_rules as R  # noqa: E402
from fkc_align import strategies as S  # noqa: E402
from fkc_align.tasks.digits import digit_log_probs  # noqa: E402

LINES: list[str] = []


def digits(x: torch.Tensor) -> list[int]:
    return digit_log_probs(x).argmax(1).tolist()


class Traced(S.FKCExplore):
    def pick(self, view):
        out = super().pick(view)
        n_exp = out.labels.count("explore")
        chosen = out.index[:len(out.index) - n_exp].tolist()
        split = R.pool_regions(view.features, view.in_pool, view.asked_features, chosen,
                               self.clusters)
        if split is None:
            return out
        rows, _, labels, present, cent, seen = split
        seen_x = torch.cat([view.asked_x, view.x[chosen]])
        near = torch.cdist(seen.float(), cent)
        owner = near.argmin(1)
        gap = near.min(0).values
        d_pool, d_seen = digits(view.x[rows]), digits(seen_x)
        unvisited = sorted((j for j in range(len(present)) if j not in set(owner.tolist())),
                           key=lambda j: -float(gap[j]))
        explored = {int(labels[(rows == i).nonzero()[0, 0]]) for i in out.index[-n_exp:].tolist()
                    } if n_exp else set()
        parts = []
        for j, lab in enumerate(present):
            mix = Counter(d for d, lb in zip(d_pool, labels.tolist(), strict=True) if lb == lab)
            top = ",".join(f"{n} {d}s" for d, n in mix.most_common(3))
            who = [d_seen[k] for k in torch.nonzero(owner == j)[:, 0].tolist()]
            state = (f"order {unvisited.index(j) + 1}" if j in unvisited
                     else "visited by " + "".join(str(d) for d in sorted(set(who))) + "s")
            parts.append(f"[{top}: {state}{' EXPLORED' if lab in explored else ''}]")
        LINES.append(f"  round {view.round} ({n_exp} exploration): " + " ".join(parts))
        return out


def main(name: str, liked: str, *rest: str) -> None:
    seeds = rest
    for s in seeds:
        for _task, _picks in logged_runs(name, tuple(int(c) for c in liked.split(",")),
                                         f"{s}-{s}", "traced", Traced()):
            pass
        print(f"seed {s}:")
        print("\n".join(LINES))
        LINES.clear()


if __name__ == "__main__":
    main(*sys.argv[1:])
