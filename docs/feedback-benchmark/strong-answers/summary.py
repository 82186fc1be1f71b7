"""Paired differences against the default on the design seeds 200-215 of the strong-answer
variants (``variant.py``): every digits instance, the rare modes, the small budget, then each
digits metric pooled. The default's rows are this folder's own (``rows-fkc-explore-design``,
run on the variants' machine); how many of them differ from the stored design rows of the
earlier rounds (another machine) is printed first.

    python docs/feedback-benchmark/strong-answers/summary.py
"""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from design_rows import design_defaults, load, report  # noqa: E402


def stored_defaults() -> dict:
    """The default's design rows as the kept-pick rules' summary loads them."""
    rows = design_defaults()
    return load(HERE.parent / "heldout-third" / "rows-keep-share-design.jsonl", rows,
                rename={"keep1": "fkc-explore"})


def main() -> None:
    stored = stored_defaults()
    rows: dict = {}
    for name in sorted(HERE.glob("rows-*-design.jsonl")):
        load(name, rows)
    here = {k: r for k, r in rows.items() if k[2] == "fkc-explore"}
    same = sum(stored.get(k, {}).get("hit_rate") == r["hit_rate"]
               and stored[k]["balance"] == r["balance"] for k, r in here.items())
    cpus = sorted({r.get("cpu", "?") for r in rows.values()})
    print(f"== the default re-run on {cpus}: {same} of {len(here)} rows equal to the stored ones")
    for v in sorted({k[2] for k in rows if k[2].startswith("strong")}):
        report(rows, f"design seeds 200-215: {v}", [v], pooled=True)


if __name__ == "__main__":
    main()
