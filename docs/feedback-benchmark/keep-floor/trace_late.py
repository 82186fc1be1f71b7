"""Which liked class the default's last two rounds miss, and the picks that led there: per run
whose last two rounds miss a liked class, each round's picks by rule (the tilted draw, kept
picks, exploration) and the class each showed (``x``: a miss). The default before the floor
(``keep_floor=0``); design seeds only.

    python docs/feedback-benchmark/keep-floor/trace_late.py SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "early-rounds"))

import discover as D  # noqa: E402  (early-rounds/discover.py)


def main(name: str, liked_s: str, seeds: str) -> None:
    liked = tuple(int(c) for c in liked_s.split(","))
    first = int(seeds.split("-")[0])
    runs = D.logged_runs(name, liked, seeds, "logged-default", D.LoggedDefault(keep_floor=0.0))
    for seed, (task, picks) in enumerate(runs, start=first):
        table = []
        for rnd, kinds, x, _ in picks:
            shown: dict[str, str] = {}
            for kind, mode in zip(kinds, task.liked_mode(x).tolist(), strict=True):
                shown[kind] = shown.get(kind, "") + (str(liked[mode]) if mode >= 0 else "x")
            table.append((rnd, shown))
        late = "".join(s for _, row in table[-2:] for s in row.values())
        missing = [c for c in liked if str(c) not in late]
        if missing:
            print(f"{name} {list(liked)} seed {seed}: last two rounds miss {missing}", flush=True)
            for rnd, row in table:
                print(f"  round {rnd}: {row}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
