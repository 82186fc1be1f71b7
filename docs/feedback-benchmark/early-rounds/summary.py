"""Round by round, the current default beside UCB (rounds.py's and discover.py's output):
per instance and round, each one's hit rate, the default's picks by kind, and the picks that
showed a liked class first in their run; then per instance UCB's lead over the run, the part
of it that the exploration picks make (their hits short of the round's kept picks' rate) and
the classes the exploration picks found first, in rounds 1-2 and later; last, per round, the
classes found first a pick of exploration over every instance.

    python docs/feedback-benchmark/early-rounds/summary.py [SEEDS ...]   # default: 200-215
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).parent
KINDS = ("draw", "keep", "explore")


def parse(path: Path, pattern: str) -> dict:
    out = {}
    for line in open(path):
        m = re.match(pattern, line)
        out[(m["liked"], m["who"] or "default", int(m["round"]), m["kind"])] = [
            int(m[g]) for g in ("n", "hits", "first") if g in m.groupdict()]
    return out


def rate(c: list[int]) -> str:
    return f"{c[1]:3d}/{c[0]:3d} {c[1] / c[0]:.2f}" if c and c[0] else "      -     "


def instance(inst: str, picks: dict, firsts: dict) -> None:
    print(f"\n{inst}")
    lead = shortfall = total = 0
    first = [0, 0]  # classes first found by exploration in rounds 1-2, in rounds 3 and later
    for r in range(1, 8):
        d, u = picks.get((inst, "default", r, "all")), picks.get((inst, "ucb", r, "all"))
        if not d:
            continue
        total += d[0]
        lead += u[1] - d[1]
        kinds = {k: picks.get((inst, "default", r, k)) for k in KINDS}
        found = {k: firsts.get((inst, "default", r, k), [0, 0, 0])[2] for k in KINDS}
        if kinds["explore"] and kinds["keep"] and kinds["keep"][0]:
            e, kp = kinds["explore"], kinds["keep"]
            shortfall += e[0] * kp[1] / kp[0] - e[1]
            first[r >= 3] += found["explore"]
        print(f"  round {r}: default {rate(d)}  ucb {rate(u)}  | "
              + "  ".join(f"{k} {rate(kinds[k])}" for k in KINDS)
              + "  | first of class: " + " ".join(f"{k} {found[k]}" for k in KINDS))
    print(f"  UCB's lead {lead / total:+.3f}; the exploration picks' shortfall against the "
          f"round's kept picks {shortfall / total:.3f}; classes first found by exploration in "
          f"rounds 1-2: {first[0]}, in rounds 3+: {first[1]}")


def main(seeds: list[str]) -> None:
    for s in seeds:
        head = r"\S+ (?P<liked>\[.*\]) \S+ "
        tail = r"round (?P<round>\d+) (?P<kind>\S+): (?P<n>\d+) picks, (?P<hits>\d+) hits"
        picks = parse(HERE / f"rounds-{s}.txt", head + r"rounds-(?P<who>\S+) " + tail)
        firsts = parse(HERE / f"discover-{s}.txt",
                       head + r"(?P<who>)" + tail + r", (?P<first>\d+) first")
        print(f"== seeds {s}")
        for inst in sorted({k[0] for k in picks}, key=lambda i: (len(i), i)):
            instance(inst, picks, firsts)
        per_round = defaultdict(lambda: [0, 0])
        for (_, _, r, kind), (n, _, f) in firsts.items():
            if kind == "explore":
                per_round[r][0] += n
                per_round[r][1] += f
        print("\nexploration, every instance: " + "; ".join(
            f"round {r} {f}/{n} = {f / n:.3f}" for r, (n, f) in sorted(per_round.items())))


if __name__ == "__main__":
    main(sys.argv[1:] or ["200-215"])
