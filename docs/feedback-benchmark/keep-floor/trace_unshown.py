"""A liked class the default never shows in a guided round, and whether the reward model had
learned it: per round, that class's particles in the unguided pool and in the guided (tilted)
sample, the best of their predicted rewards against the median prediction of the other liked
classes' particles, the median liked answer, and the round's exploration picks. The default
before the floor (``keep_floor=0``); design seeds only.

    python docs/feedback-benchmark/keep-floor/trace_unshown.py SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent.parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "early-rounds"))

import discover as D  # noqa: E402  (early-rounds/discover.py)

from fkc_align import pick_rules as R  # noqa: E402
from fkc_align import strategies as S  # noqa: E402

VIEWS: list[dict] = []


class Logged(S.FKCExplore):
    """The default (run here without the floor), keeping what each round saw and showed."""

    def pick(self, view):
        out = super().pick(view)
        VIEWS.append(dict(rnd=view.round, x=view.x.clone(), pool=view.in_pool.clone(),
                          var=view.variation_rows.clone(), mean=view.mean.clone(),
                          answers=view.asked_r.clone(), idx=out.index.clone(),
                          explore=out.labels.count("explore")))
        return out


def main(name: str, liked_s: str, seeds: str) -> None:
    liked = tuple(int(c) for c in liked_s.split(","))
    first = int(seeds.split("-")[0])
    for seed, (task, _) in enumerate(D.logged_runs(name, liked, seeds, "logged",
                                                    Logged(keep_floor=0.0)),
                                     start=first):
        views = list(VIEWS)
        VIEWS.clear()
        shown = torch.cat([task.liked_mode(v["x"][v["idx"]]) for v in views])
        for j in [j for j in range(len(liked)) if not bool((shown == j).any())]:
            print(f"{name} {list(liked)} seed {seed}: class {liked[j]} never shown", flush=True)
            for v in views:
                mode = task.liked_mode(v["x"])
                guided = ~v["pool"] & ~v["var"]
                cls = mode == j
                others = (mode >= 0) & ~cls
                best = float(v["mean"][cls].max()) if cls.any() else float("nan")
                other = float(v["mean"][others].median()) if others.any() else float("nan")
                med = R.median_liked(v["answers"])
                print(f"  round {v['rnd']}: pool {int((cls & v['pool']).sum())}/"
                      f"{int(v['pool'].sum())}, guided {int((cls & guided).sum())}/"
                      f"{int(guided.sum())}, best predicted {best:.2f} (other liked classes' "
                      f"median {other:.2f}), median liked answer "
                      f"{'-' if med is None else f'{med:.2f}'}, exploration picks "
                      f"{v['explore']}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
