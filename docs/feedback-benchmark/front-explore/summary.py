"""Paired differences against the default of the exploration schedules (``variant.py``) on the
design seeds 200-215 (the default's rows: ``region-radius/rows-fkc-explore-design.jsonl``,
UCB's: ``variations/rows-ucb-design.jsonl``, the same processor model), every instance, each
digits metric pooled, and UCB's hit-rate lead over each; then, where they exist, the held-out
rows (``heldout.sh``: fresh seeds 348-379, the default, UCB and Thompson run beside the
variant) and the UNet's off-manifold share; last, after the rule's verdict, ``front`` over
every held-out seed (``heldout-300-347.sh``: 300-347 paired with ``variations/``'s default).

    python docs/feedback-benchmark/front-explore/summary.py
"""

import sys
from pathlib import Path

from fkc_align.bench import interval

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "variations"))

from design_rows import current_default_heldout, fmt, load, report  # noqa: E402
from summary import off_manifold, rival_gaps  # noqa: E402

BASE = ("fkc-explore", "ucb", "thompson")
# coverage bar, and 0.6 × the ideal balance of the tilted target (docs/feedback-benchmark.md)
BALANCE_BAR = {(3, 8): 0.52, (2, 5): 0.59, (0, 6): 0.60, (0, 4, 7): 0.60, (1, 4, 9): 0.57,
               (0, 8, 9): 0.51}


def means(rows: dict, names: list[str], seeds: str = "348-379") -> None:
    """Each strategy's mean ± 95% interval per instance: the digits' hit rate, coverage and
    balance (against the bars: coverage 0.75, balance ``BALANCE_BAR``), the rare modes' found
    and the small budget's hit rate."""
    print(f"== held-out seeds {seeds}: means (coverage bar 0.75; balance bar in brackets)")
    for inst in sorted({k[:2] for k in rows}):
        metrics = (("hit_rate", "coverage", "balance") if inst[0].startswith("multimodal")
                   else ("found", "hit_rate"))
        for name in names:
            got = [r for k, r in rows.items() if k[:2] == inst and k[2] == name]
            if not got:
                continue
            cells = [f"{m} {fmt(interval([r[m] for r in got if r[m] is not None]))}"
                     for m in metrics]
            bar = f" [{BALANCE_BAR[inst[1]]}]" if inst[1] in BALANCE_BAR else ""
            print(f"{inst[0]} {list(inst[1])}{bar} {name} ({len(got)} runs): " + "; ".join(cells))


def rows_of(paths: list[Path]) -> dict:
    rows: dict = {}
    for path in paths:
        load(path, rows)
    return rows


def main() -> None:
    design = rows_of([HERE.parent / "region-radius" / "rows-fkc-explore-design.jsonl",
                      HERE.parent / "variations" / "rows-ucb-design.jsonl",
                      *sorted(HERE.glob("rows-*-design.jsonl"))])
    cpus = sorted({r.get("cpu", "?") for r in design.values()})
    print(f"== rows made on {cpus}")
    variants = sorted({k[2] for k in design} - set(BASE))
    report(design, "design seeds 200-215: variant - default", variants, pooled=True)
    rival_gaps(design, "design seeds 200-215: UCB's lead", ["fkc-explore", *variants])
    held = rows_of(sorted(HERE.glob("rows-*-heldout*.jsonl")))
    posthoc = sorted(HERE.glob("rows-front-posthoc-*.jsonl"))
    hv = sorted({k[2] for k in held} - set(BASE))
    if hv:
        report(held, "held-out seeds 348-379: variant - default", hv, pooled=True)
        rival_gaps(held, "held-out seeds 348-379: UCB's and Thompson's lead",
                   ["fkc-explore", *hv])
        off_manifold(held)
        means(held, ["fkc-explore", *hv, "ucb", "thompson"])
    if posthoc:  # after the rule's verdict: every held-out seed, 300-379
        every = current_default_heldout()
        for path in [*sorted(HERE.glob("rows-*-heldout*.jsonl")), *posthoc]:
            load(path, every)
        report(every, "post hoc, every held-out seed 300-379: front - default", ["front"],
               pooled=True)
        rival_gaps(every, "post hoc, 300-379: UCB's and Thompson's lead over front", ["front"])


if __name__ == "__main__":
    main()
