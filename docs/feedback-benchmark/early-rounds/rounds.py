"""UCB's hit-rate lead over the current default, round by round: the default's picks split by
round and by the rule that made them (the tilted draw, kept picks, exploration), beside UCB's
(docs/feedback-benchmark.md, "Round by round: where UCB's lead is made"). Prints one line per
(strategy, round, kind).

    python docs/feedback-benchmark/early-rounds/rounds.py SCENARIO LIKED SEEDS
"""

import sys
from collections import defaultdict
from pathlib import Path

from fkc_align import strategies as S

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from discover import PICKS, LoggedDefault, logged_runs  # noqa: E402


class LoggedUCB(S.UCB):
    """UCB, logging its picks as discover.py's ``LoggedDefault`` does (kind ``ucb``)."""

    def pick(self, view):
        out = super().pick(view)
        PICKS.append((view.round, ["ucb"] * len(out.index), view.x[out.index].clone(),
                      view.asked_x.clone()))
        return out


def main(name: str, liked: str, seeds: str) -> None:
    liked_t = tuple(int(c) for c in liked.split(","))
    for strat, logged in (("rounds-default", LoggedDefault()), ("rounds-ucb", LoggedUCB())):
        count = defaultdict(lambda: [0, 0])
        for task, picks in logged_runs(name, liked_t, seeds, strat, logged):
            for rnd, kinds, x, _ in picks:
                for kind, hit in zip(kinds, task.is_hit(x).tolist(), strict=True):
                    for key in ((rnd, kind), (rnd, "all")):
                        count[key][0] += 1
                        count[key][1] += int(hit)
        for (rnd, kind), (n, hits) in sorted(count.items()):
            print(f"{name} {list(liked_t)} {seeds} {strat} round {rnd} {kind}: {n} picks, "
                  f"{hits} hits", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
