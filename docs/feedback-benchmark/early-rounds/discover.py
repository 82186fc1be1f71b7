"""Which picks of the current default find a liked class first: per round and kind (the
tilted draw, kept picks, exploration), the picks that show a liked class no earlier answer of
the run showed (docs/feedback-benchmark.md, "Round by round: where UCB's lead is made").
Prints one line per (round, kind).

    python docs/feedback-benchmark/early-rounds/discover.py SCENARIO LIKED SEEDS
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

PICKS: list[tuple[int, list[str], torch.Tensor, torch.Tensor]] = []


class LoggedDefault(S.FKCExplore):
    """The default, logging each round's picks, their kinds and the particles asked before."""

    def pick(self, view):
        out = super().pick(view)
        n_exploit = view.n_show - self.n_explore(view)
        n_keep = min(len(liked_answers(view.asked_features, view.asked_r, strong=True)),
                     n_exploit)
        kinds = ["draw" if pos < n_exploit - n_keep else "keep" if pos < n_exploit
                 else "explore" for pos in range(len(out.index))]
        PICKS.append((view.round, kinds, view.x[out.index].clone(), view.asked_x.clone()))
        return out


def logged_runs(name: str, liked: tuple[int, ...], seeds: str, strategy: str,
                logged: S.Strategy):
    """Run ``logged`` (a strategy that appends to :data:`PICKS`) as ``strategy`` on scenario
    ``name`` for seeds ``A-B``, one thread; yield ``(task, picks)`` per seed, ``picks`` that
    run's ``(round, kinds, x, asked_x)`` entries."""
    torch.set_num_threads(1)
    sc = scenario(name, liked)
    task = sc.task()
    a, b = (int(s) for s in seeds.split("-"))
    S.register_strategy(strategy, logged, replace=True)
    for seed in range(a, b + 1):
        PICKS.clear()
        bench.run_one(sc, strategy, {"strategy": strategy}, seed)
        yield task, list(PICKS)


def main(name: str, liked: str, seeds: str) -> None:
    liked_t = tuple(int(c) for c in liked.split(","))
    count = defaultdict(lambda: [0, 0, 0])  # picks, hits, first of their class
    for task, picks in logged_runs(name, liked_t, seeds, "logged-default", LoggedDefault()):
        for rnd, kinds, x, asked in picks:
            seen = set(task.liked_mode(asked).tolist())
            for kind, mode in zip(kinds, task.liked_mode(x).tolist(), strict=True):
                c = count[(rnd, kind)]
                c[0] += 1
                c[1] += int(mode >= 0)
                if mode >= 0 and mode not in seen:
                    c[2] += 1
                    seen.add(mode)
    for (rnd, kind), (n, hits, first) in sorted(count.items()):
        print(f"{name} {list(liked_t)} {seeds} round {rnd} {kind}: {n} picks, {hits} hits, "
              f"{first} first of their class", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
