"""``regions-only`` (``regions_only.py``) against the new default (var3's rows, the same machine)
on the design seeds: per instance and pooled, variant − default, and UCB's hit-rate lead over
the variant. Output: ``regions-only-design.txt``.

    python docs/feedback-benchmark/variations/regions_only_summary.py
"""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from design_rows import fmt, load  # noqa: E402

from fkc_align.bench import interval  # noqa: E402

VARIANT, BASE = "regions-only", "var3"


def differences(rows: dict, inst: tuple, seeds: list[int], metric: str, a: str,
                b: str) -> list[float]:
    """``a``'s ``metric`` minus ``b``'s, per seed where both have one."""
    out = []
    for s in seeds:
        x, y = rows[(*inst, a, s)][metric], rows[(*inst, b, s)][metric]
        if x is not None and y is not None:
            out.append(x - y)
    return out


def main() -> None:
    rows: dict = {}
    for path in sorted(HERE.glob("rows-*-design.jsonl")):
        load(path, rows)
    pooled: dict = {}
    for inst in sorted({k[:2] for k in rows if k[2] == VARIANT}):
        seeds = [k[3] for k in rows if k[:3] == (*inst, VARIANT) and (*inst, BASE, k[3]) in rows]
        digits = inst[0].startswith("multimodal")
        metrics = (("hit_rate", "coverage", "balance", "distinct_nearest") if digits
                   else ("hit_rate", "found", "first_hit"))
        cells = []
        for m in metrics:
            d = differences(rows, inst, seeds, m, VARIANT, BASE)
            cells.append(f"{m} {fmt(interval(d))}")
            if digits:
                pooled.setdefault(m, []).extend(d)
        with_ucb = [s for s in seeds if (*inst, "ucb", s) in rows]
        if len(with_ucb) > 1:
            gap = differences(rows, inst, with_ucb, "hit_rate", "ucb", VARIANT)
            cells.append(f"ucb lead {fmt(interval(gap))}")
        print(f"{inst[0]} {list(inst[1])} ({len(seeds)} seeds): " + "; ".join(cells))
    for m, d in pooled.items():
        print(f"digits pooled {m} ({len(d)} runs): {fmt(interval(d))}")


if __name__ == "__main__":
    main()
