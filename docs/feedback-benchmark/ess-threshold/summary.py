"""Paired differences of the ESS-threshold experiment against the default (threshold 0.5).

    python docs/feedback-benchmark/ess-threshold/summary.py

Design seeds: ``rows-design.jsonl`` here against the default's rows of the same seeds
(``design_rows.design_defaults``: pick-variants/ and, for the small budget, cold-start/).
"""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from design_rows import design_defaults, load, report  # noqa: E402


def main() -> None:
    rows = load(HERE / "rows-design.jsonl", design_defaults())
    report(rows, "design seeds 200-215", sorted({k[2] for k in rows if "@ess" in k[2]}))


if __name__ == "__main__":
    main()
