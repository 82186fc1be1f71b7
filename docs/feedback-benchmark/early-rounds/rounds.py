"""UCB's hit-rate lead over the current default, round by round: the default's picks split by
round and by the rule that made them (the tilted draw, kept picks, exploration), beside UCB's
(docs/feedback-benchmark.md, "Round by round: where UCB's lead is made"). Prints one line per
(strategy, round, kind).

    python docs/feedback-benchmark/early-rounds/rounds.py SCENARIO LIKED SEEDS
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

PICKS: list[tuple[int, list[str], torch.Tensor]] = []


class RoundsDefault(S.FKCExplore):
    """The default, logging each pick's round and kind: ``draw``, ``keep`` or ``explore``."""

    def pick(self, view):
        out = super().pick(view)
        n_exploit = view.n_show - self.n_explore(view)
        n_keep = min(len(liked_answers(view.asked_features, view.asked_r, strong=True)),
                     n_exploit)
        kinds = ["draw" if pos < n_exploit - n_keep else "keep" if pos < n_exploit
                 else "explore" for pos in range(len(out.index))]
        PICKS.append((view.round, kinds, view.x[out.index].clone()))
        return out


class RoundsUCB(S.UCB):
    def pick(self, view):
        out = super().pick(view)
        PICKS.append((view.round, ["ucb"] * len(out.index), view.x[out.index].clone()))
        return out


def main(name: str, liked: str, seeds: str) -> None:
    torch.set_num_threads(1)
    liked_t = tuple(int(c) for c in liked.split(","))
    sc = scenario(name, liked_t)
    task = sc.task()
    a, b = (int(s) for s in seeds.split("-"))
    S.register_strategy("rounds-default", RoundsDefault(), replace=True)
    S.register_strategy("rounds-ucb", RoundsUCB(), replace=True)
    for strat in ("rounds-default", "rounds-ucb"):
        count = defaultdict(lambda: [0, 0])
        for seed in range(a, b + 1):
            PICKS.clear()
            bench.run_one(sc, strat, {"strategy": strat}, seed)
            for rnd, kinds, x in PICKS:
                for kind, hit in zip(kinds, task.is_hit(x).tolist(), strict=True):
                    for key in ((rnd, kind), (rnd, "all")):
                        count[key][0] += 1
                        count[key][1] += int(hit)
        for (rnd, kind), (n, hits) in sorted(count.items()):
            print(f"{name} {list(liked_t)} {seeds} {strat} round {rnd} {kind}: {n} picks, "
                  f"{hits} hits", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
