"""Where UCB's hit-rate lead over the current default comes from: the default's picks split
by the rule that made them (the tilted draw, kept picks by where their particle came from,
exploration), beside UCB's, per instance (docs/feedback-benchmark.md, "The λ sweep and the
ablations under the variations default"). Prints one line per (strategy, kind).

    python docs/feedback-benchmark/variations/kinds.py SCENARIO LIKED SEEDS
"""

import sys
from collections import defaultdict
from pathlib import Path

import torch

from fkc_align import bench
from fkc_align import strategies as S
from fkc_align.pick_rules import liked_answers

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import scenario  # noqa: E402

PICKS: list[tuple[list[str], torch.Tensor]] = []


class KindsDefault(S.FKCExplore):
    """The default, logging the kind of each pick: ``draw``, ``keep-guided``, ``keep-pool``,
    ``keep-variation`` or ``explore`` (region and novelty picks)."""

    def pick(self, view):
        out = super().pick(view)
        n_exploit = view.n_show - self.n_explore(view)
        n_keep = min(len(liked_answers(view.asked_features, view.asked_r, strong=True)),
                     n_exploit)
        kinds = []
        for pos, i in enumerate(out.index.tolist()):
            if pos >= n_exploit:
                kinds.append("explore")
            elif pos < n_exploit - n_keep:
                kinds.append("draw")
            else:
                src = ("variation" if bool(view.variation_rows[i]) else
                       "pool" if bool(view.in_pool[i]) else "guided")
                kinds.append(f"keep-{src}")
        PICKS.append((kinds, view.x[out.index].clone()))
        return out


class KindsUCB(S.UCB):
    def pick(self, view):
        out = super().pick(view)
        PICKS.append((["ucb"] * len(out.index), view.x[out.index].clone()))
        return out


def main(name: str, liked: str, seeds: str) -> None:
    torch.set_num_threads(1)
    liked_t = tuple(int(c) for c in liked.split(","))
    sc = scenario(name, liked_t)
    task = sc.task()
    a, b = (int(s) for s in seeds.split("-"))
    S.register_strategy("kinds-default", KindsDefault(), replace=True)
    S.register_strategy("kinds-ucb", KindsUCB(), replace=True)
    for strat in ("kinds-default", "kinds-ucb"):
        count = defaultdict(lambda: [0, 0])
        for seed in range(a, b + 1):
            PICKS.clear()
            bench.run_one(sc, strat, {"strategy": strat}, seed)
            for kinds, x in PICKS:
                for kind, hit in zip(kinds, task.is_hit(x).tolist(), strict=True):
                    count[kind][0] += 1
                    count[kind][1] += int(hit)
        for kind, (n, hits) in sorted(count.items()):
            print(f"{name} {list(liked_t)} {seeds} {strat} {kind}: {n} picks, hit {hits / n:.3f}",
                  flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
