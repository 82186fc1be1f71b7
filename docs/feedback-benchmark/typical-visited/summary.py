"""rule.md's verdict: typ1-gs − default on the held-out seeds 476-507, per instance and
pooled, the bars each meets, and each of the rule's five conditions.

    python docs/feedback-benchmark/typical-visited/summary.py
"""

import sys
from pathlib import Path

here = Path(__file__).parent
sys.path.insert(0, str(here.parent))

from design_rows import fmt, load, paired  # noqa: E402

from fkc_align.bench import interval  # noqa: E402

BARS = {(3, 8): 0.52, (2, 5): 0.59, (0, 6): 0.60, (0, 4, 7): 0.60, (1, 4, 9): 0.57,
        (0, 8, 9): 0.51, (3, 6, 9): 0.57}  # 0.6 x the tilted target's balance


def mean(rows, inst, strategy, metric):
    vals = [r[metric] for k, r in rows.items() if k[:3] == (*inst, strategy)]
    return sum(vals) / len(vals)


def main() -> None:
    rows: dict = {}
    for v in ("fkc-explore", "typ1-gs"):
        load(here / f"rows-{v}-heldout-476-507.jsonl", rows)
    pool, ok3 = {m: [] for m in ("hit_rate", "coverage", "balance")}, True
    for inst in sorted({(k[0], k[1]) for k in rows}):
        digits = inst[0].startswith("multimodal")
        metrics = ("hit_rate", "coverage", "balance") if digits else ("hit_rate", "found")
        seeds, diffs = paired(rows, inst, "typ1-gs", "fkc-explore", metrics)
        cells = [f"{m} {fmt(interval(d))}" for m, d in diffs.items()]
        line = f"{inst[0]} {list(inst[1])} ({len(seeds)} seeds): " + "; ".join(cells)
        if digits:
            for m in pool:
                pool[m] += diffs[m]
            for m, bar in (("coverage", 0.75), ("balance", BARS[inst[1]])):
                d, v = mean(rows, inst, "fkc-explore", m), mean(rows, inst, "typ1-gs", m)
                line += f" | {m} {d:.2f} -> {v:.2f} (bar {bar})"
                if d >= bar > v:
                    ok3 = False
        else:
            line += (f" | found {mean(rows, inst, 'fkc-explore', 'found'):.3f} -> "
                     f"{mean(rows, inst, 'typ1-gs', 'found'):.3f}")
        print(line)
    iv = {m: interval(d) for m, d in pool.items()}
    for m in pool:
        print(f"pooled digits {m} ({len(pool[m])} runs): {fmt(iv[m])}")
    found = {n: sum(paired(rows, (n, ()), "typ1-gs", "fkc-explore", ("found",))[1]["found"])
             for n in ("rare-mode", "rare-between")}
    small = interval(paired(rows, ("small-budget", ()), "typ1-gs", "fkc-explore",
                            ("hit_rate",))[1]["hit_rate"])
    print("1 pooled coverage up, interval above 0:",
          iv["coverage"]["mean"] - iv["coverage"]["ci95"] > 0)
    print("2 hit rate down <= 0.01, balance down <= 0.02:",
          iv["hit_rate"]["mean"] >= -0.01 and iv["balance"]["mean"] >= -0.02)
    print("3 no instance falls under a bar the default meets:", ok3)
    print("4 each rare mode found in at most two runs fewer:",
          all(v >= -2 for v in found.values()), found)
    print("5 small budget hit rate down <= 0.03:", small["mean"] >= -0.03, fmt(small))


if __name__ == "__main__":
    main()
