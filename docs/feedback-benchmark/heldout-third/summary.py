"""Paired differences of the third instance's quick fixes against the default on the design
seeds (docs/feedback-benchmark.md, "A third instance"): every digits instance, the rare modes
and the small budget, then each digits metric pooled over the six instances.

    python docs/feedback-benchmark/heldout-third/summary.py

The default's rows: ``design_rows.design_defaults`` and, for 0s and 6s and 0s, 8s and 9s, the
``keep1`` rows of ``rows-keep-share-design.jsonl`` (``keep_share=1`` is the default itself).
"""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from design_rows import design_defaults, load, report  # noqa: E402

VARIANTS = {"keep0.5": "rows-keep-share-design.jsonl",
            "unanchored": "rows-unanchored-design.jsonl",
            "distinct-median": "rows-distinct-median-design.jsonl",
            "isolated": "rows-isolated-design.jsonl"}


def main() -> None:
    rows = design_defaults()
    for name in sorted(set(VARIANTS.values())):
        load(HERE / name, rows, rename={"keep1": "fkc-explore"})
    for variant in VARIANTS:
        report(rows, f"design seeds 200-215: {variant}", [variant], pooled=True)


if __name__ == "__main__":
    main()
