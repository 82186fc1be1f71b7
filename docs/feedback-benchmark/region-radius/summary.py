"""Paired differences against the default of the region-radius variants (``variant.py``) on
the design seeds 200-215 (the default run beside them, ``rows-fkc-explore-design.jsonl``),
every instance, each digits metric pooled; then UCB's hit-rate lead over each (UCB's rows:
``variations/rows-ucb-design.jsonl``, the same processor model) and, where they exist, the
held-out rows (``heldout.sh``) against the default's, UCB's and Thompson's rows of
``variations/`` (seeds 300-347), and the UNet's off-manifold share.

    python docs/feedback-benchmark/region-radius/summary.py
"""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "variations"))

from design_rows import current_default_heldout, load, report  # noqa: E402
from summary import off_manifold, rival_gaps  # noqa: E402


def rows_of(pattern: str, extra: list[Path]) -> dict:
    rows: dict = {}
    for path in [*extra, *sorted(HERE.glob(pattern))]:
        load(path, rows)
    return rows


def main() -> None:
    design = rows_of("rows-*-design.jsonl", [HERE.parent / "variations" / "rows-ucb-design.jsonl"])
    cpus = sorted({r.get("cpu", "?") for r in design.values()})
    print(f"== rows made on {cpus}")
    variants = sorted({k[2] for k in design} - {"fkc-explore", "ucb", "thompson"})
    report(design, "design seeds 200-215: variant - default", variants, pooled=True)
    rival_gaps(design, "design seeds 200-215: UCB's lead", ["fkc-explore", *variants])
    held = current_default_heldout()
    for path in sorted(HERE.glob("rows-*-heldout*.jsonl")):
        load(path, held)
    if any(k[2] not in ("fkc-explore", "ucb", "thompson") for k in held):
        hv = sorted({k[2] for k in held} - {"fkc-explore", "ucb", "thompson"})
        report(held, "held-out seeds: variant - default", hv, pooled=True)
        rival_gaps(held, "held-out seeds: UCB's and Thompson's lead", ["fkc-explore", *hv])
        off_manifold(held)


if __name__ == "__main__":
    main()
