"""Paired differences against the default on the design seeds 200-215 of the variations
variants (``variant.py``): every digits instance, the rare modes, the small budget, then each
digits metric pooled. The default's rows are ``strong-answers/rows-fkc-explore-design.jsonl``,
made on the same machine as these.

    python docs/feedback-benchmark/variations/summary.py
"""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from design_rows import load, report  # noqa: E402


def main() -> None:
    rows: dict = {}
    load(HERE.parent / "strong-answers" / "rows-fkc-explore-design.jsonl", rows)
    for name in sorted(HERE.glob("rows-*.jsonl")):
        load(name, rows)
    cpus = sorted({r.get("cpu", "?") for r in rows.values()})
    print(f"== rows made on {cpus}")
    for v in sorted({k[2] for k in rows} - {"fkc-explore"}):
        report(rows, f"{v} - fkc-explore", [v], pooled=True)


if __name__ == "__main__":
    main()
