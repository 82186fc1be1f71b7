"""Paired differences against the default on the design seeds 200-215 of the kept-pick rules
(``variant.py``) and of a larger guided sample (``particles.py``): every digits instance, the
rare modes, the small budget, then each digits metric pooled, as ``heldout-third/summary.py``
prints the quick fixes'. Then the UCB hit-rate gap at 64 and at 256 guided particles, and
``regions-keep-rr`` on 0s, 8s and 9s' held-out seeds 316-347 against the default's rows there
(``heldout-third/rows-seeds-316-347.jsonl``).

    python docs/feedback-benchmark/mode-balance/summary.py
"""

import sys
from pathlib import Path

from fkc_align.bench import interval

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from design_rows import design_defaults, fmt, load, report  # noqa: E402


def main() -> None:
    rows = design_defaults()
    load(HERE.parent / "heldout-third" / "rows-keep-share-design.jsonl", rows,
         rename={"keep1": "fkc-explore"})
    for name in sorted(HERE.glob("rows-*-design.jsonl")):
        load(name, rows)
    variants = sorted({k[2] for k in rows} - {"fkc-explore"}
                      & {"regions-keep", "regions-keep-rr", "regions-keep-least1",
                         "regions-keep-rr-merge", "region-draw", "base-ratio", "teach-draw",
                         "fkc-explore@n256"})
    for v in variants:
        report(rows, f"design seeds 200-215: {v}", [v], pooled=True)
    gap: dict = {}
    for (sc, liked, strategy, seed), r in rows.items():
        gap.setdefault((sc, liked, seed), {})[strategy] = r["hit_rate"]
    print("== the UCB hit-rate gap, design seeds 200-215: ucb - fkc-explore at N 64 and at N 256")
    for n, (u, d) in {64: ("ucb", "fkc-explore"), 256: ("ucb@n256", "fkc-explore@n256")}.items():
        for inst in sorted({k[:2] for k in gap}):
            diff = [v[u] - v[d] for k, v in gap.items() if k[:2] == inst and u in v and d in v]
            if len(diff) > 1:
                print(f"N {n} {inst[0]} {list(inst[1])} ({len(diff)} seeds): "
                      f"{fmt(interval(diff))}")
    held: dict = {}
    load(HERE.parent / "heldout-third" / "rows-seeds-316-347.jsonl", held,
         {"multimodal": (0, 6), "multimodal-3": (0, 8, 9)})
    load(HERE / "rows-regions-keep-rr-heldout-316-347.jsonl", held)
    held = {k: r for k, r in held.items() if k[0] == "multimodal-3"}
    report(held, "held-out seeds 316-347: regions-keep-rr", ["regions-keep-rr"])


if __name__ == "__main__":
    main()
