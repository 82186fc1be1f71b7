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

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "variations"))

from design_rows import current_default_heldout, load, means, report  # noqa: E402
from summary import off_manifold, rival_gaps  # noqa: E402

BASE = ("fkc-explore", "ucb", "thompson")
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
