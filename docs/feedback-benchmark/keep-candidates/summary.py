"""Paired differences of ``keep-nopool`` (``variant.py``) against the default: design seeds
200-215 (the default's rows: ``region-radius/rows-fkc-explore-design.jsonl``, same processor
model) and held-out seeds 300-347 (the default's, UCB's and Thompson's rows of
``variations/``), every instance, each digits metric pooled; UCB's and Thompson's hit-rate lead
and the UNet's off-manifold share.

    python docs/feedback-benchmark/keep-candidates/summary.py
"""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "variations"))

from design_rows import current_default_heldout, load, report  # noqa: E402
from summary import off_manifold, rival_gaps  # noqa: E402

VAR = HERE.parent / "variations"


def main() -> None:
    design: dict = {}
    for path in (HERE.parent / "region-radius" / "rows-fkc-explore-design.jsonl",
                 VAR / "rows-ucb-design.jsonl", HERE / "rows-keep-nopool-design.jsonl"):
        if path.exists():
            load(path, design)
    report(design, "design seeds 200-215: keep-nopool - default", ["keep-nopool"], pooled=True)
    rival_gaps(design, "design seeds 200-215: UCB's lead", ["fkc-explore", "keep-nopool"])
    held = current_default_heldout()
    for path in sorted(HERE.glob("rows-keep-nopool-heldout-*.jsonl")):
        load(path, held)
    if any(k[2] == "keep-nopool" for k in held):
        report(held, "held-out seeds 300-347: keep-nopool - default", ["keep-nopool"],
               pooled=True)
        rival_gaps(held, "held-out seeds 300-347: UCB's and Thompson's lead",
                   ["fkc-explore", "keep-nopool"])
        off_manifold({k: r for k, r in held.items() if k[2] in ("fkc-explore", "keep-nopool")})


if __name__ == "__main__":
    main()
