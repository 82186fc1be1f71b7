"""Round by round, the digit of every pick of the default on one instance (capital letters
name no digit: the round's exploration picks are marked ``x`` before their digit), and for
each run whose last two rounds miss a liked class: which, and whether it was ever shown.

    python docs/feedback-benchmark/fresh-instances/trace.py SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "early-rounds"))

from discover import LoggedDefault, logged_runs  # noqa: E402

from fkc_align.tasks.digits import digit_log_probs  # noqa: E402


def main(name: str, liked_s: str, seeds: str) -> None:
    liked = [int(c) for c in liked_s.split(",")]
    first = int(seeds.split("-")[0])
    for offset, (task, picks) in enumerate(logged_runs(name, tuple(liked), seeds,
                                                       "logged-default", LoggedDefault())):
        shown, hits, rounds = set(), {c: 0 for c in liked}, []
        for _rnd, kinds, x, asked in picks:
            digit = digit_log_probs(x).argmax(1).tolist()
            hit = task.liked_mode(x).tolist()
            shown.update(digit_log_probs(asked).argmax(1).tolist())
            rounds.append("".join(("x" if k == "explore" else "") + (str(d) if m >= 0 else ".")
                                  for k, d, m in zip(kinds, digit, hit, strict=True)))
            for d, m in zip(digit, hit, strict=True):
                if m >= 0:
                    hits[d] += 1
            shown.update(digit)
        last = set("".join(r for r in rounds[-2:]))
        missing = [c for c in liked if str(c) not in last]
        tag = ", ".join(f"{c} {'shown' if c in shown else 'never shown'}" for c in missing)
        print(f"seed {first + offset}: hits {hits}; {' '.join(rounds)}"
              + (f"; missing: {tag}" if missing else ""), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
