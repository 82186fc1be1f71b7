"""The smoothed-digits scenarios' off-manifold share under the calibrated radius (``run.sh``'s
rows, held-out seeds 300-315): each strategy's mean over its runs with hits, each one's paired
difference against the default, and a check that every other metric equals the stored rows of
the same seeds (the default and its ablations: ``keep-floor/``'s table rows; the rivals:
``variations/``'s held-out rows), so only the measure changed.

    python docs/feedback-benchmark/digits-manifold/summary.py
"""

import sys
from pathlib import Path

from fkc_align.bench import interval

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from design_rows import BENCH, fmt, load  # noqa: E402

SAME = ("hit_rate", "found", "first_hit", "coverage", "balance", "distinct_nearest")


def stored() -> dict:
    rows: dict = {}
    for name in ("fkc-explore", "fkc-explore-uniform", "fkc-explore-lam0"):
        load(BENCH / "keep-floor" / f"rows-{name}-table-300-315.jsonl", rows)
    for name in ("greedy", "ucb", "thompson", "random"):
        load(BENCH / "variations" / f"rows-{name}-heldout-300-315.jsonl", rows,
             {"multimodal": (3, 8), "multimodal-3": (0, 4, 7)})
    return rows


def main() -> None:
    rows = load(HERE / "rows-heldout-300-315.jsonl", {})
    old = stored()
    same = [k for k in rows if k in old and all(rows[k][m] == old[k][m] for m in SAME)]
    print(f"== {len(same)} of {sum(k in old for k in rows)} runs equal the stored rows on "
          f"{', '.join(SAME)} ({len(rows)} runs)")
    print("== off-manifold share of the hits (runs with hits); strategy - fkc-explore, paired")
    for inst in sorted({k[:2] for k in rows}):
        for s in sorted({k[2] for k in rows if k[:2] == inst}):
            got = [r["off_manifold_share"] for k, r in rows.items() if k[:3] == (*inst, s)
                   and r["off_manifold_share"] is not None]
            seeds = [k[3] for k in rows if k[:3] == (*inst, s)]
            d = [rows[(*inst, s, e)]["off_manifold_share"]
                 - rows[(*inst, "fkc-explore", e)]["off_manifold_share"] for e in seeds
                 if (*inst, "fkc-explore", e) in rows
                 and rows[(*inst, s, e)]["off_manifold_share"] is not None
                 and rows[(*inst, "fkc-explore", e)]["off_manifold_share"] is not None]
            diff = f"; - default {fmt(interval(d))} ({len(d)})" if s != "fkc-explore" else ""
            print(f"{inst[0]} {list(inst[1])} {s}: {fmt(interval(got))} ({len(got)}){diff}")


if __name__ == "__main__":
    main()
