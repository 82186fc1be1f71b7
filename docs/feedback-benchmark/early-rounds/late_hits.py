"""Which liked class the default's late picks hit: for the exploration and the kept picks of
rounds 3 and later, the share of their hits that land on the run's *rarest* liked class so far
(fewest hits among the questions asked before the round; ties count for every tied class)
(docs/feedback-benchmark.md, "Exploration spent early"). Prints one line per kind.

    python docs/feedback-benchmark/early-rounds/late_hits.py SCENARIO LIKED SEEDS
"""

import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from discover import LoggedDefault, logged_runs  # noqa: E402


def main(name: str, liked: str, seeds: str) -> None:
    liked_t = tuple(int(c) for c in liked.split(","))
    count = defaultdict(lambda: [0, 0])  # hits, hits on the rarest liked class so far
    for task, picks in logged_runs(name, liked_t, seeds, "logged-default", LoggedDefault()):
        for rnd, kinds, x, asked in picks:
            if rnd < 3:
                continue
            before = task.liked_mode(asked).tolist()
            per = [before.count(j) for j in range(len(liked_t))]
            rarest = {j for j, n in enumerate(per) if n == min(per)}
            for kind, mode in zip(kinds, task.liked_mode(x).tolist(), strict=True):
                if mode >= 0:
                    count[kind][0] += 1
                    count[kind][1] += int(mode in rarest)
    for kind, (hits, rare) in sorted(count.items()):
        print(f"{name} {list(liked_t)} {seeds} rounds 3+ {kind}: {hits} hits, {rare} on the "
              f"rarest liked class so far ({rare / max(hits, 1):.2f})", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
