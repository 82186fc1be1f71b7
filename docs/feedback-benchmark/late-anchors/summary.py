"""Paired differences of ``front-iso`` (``variant.py``) against the default and against
``fkc-explore-early`` (``front``) on the design seeds 200-215: the default's rows are
``region-radius/rows-fkc-explore-design.jsonl``, ``front``'s ``front-explore/
rows-front-design.jsonl``, UCB's ``variations/rows-ucb-design.jsonl`` (one processor model);
then, where they exist, the held-out rows of ``heldout.sh`` (fresh seeds 380-411): ``front-iso``
against the default run beside it, UCB's lead over each, and each one's means against the bars.

    python docs/feedback-benchmark/late-anchors/summary.py
"""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "variations"))

from design_rows import design_base_rows, load, means, report  # noqa: E402
from summary import rival_gaps  # noqa: E402  (variations/summary.py)


def main() -> None:
    rows = design_base_rows()
    for path in sorted(HERE.glob("rows-*-design.jsonl")):
        load(path, rows)
    report(rows, "design seeds 200-215: variant - default", ["front", "front-iso"], pooled=True)
    as_base = {(k[0], k[1], "fkc-explore" if k[2] == "front" else k[2], k[3]): r
               for k, r in rows.items() if k[2] in ("front", "front-iso")}
    report(as_base, "design seeds 200-215: front-iso - front", ["front-iso"], pooled=True)
    rival_gaps(rows, "design seeds 200-215: UCB's lead", ["fkc-explore", "front", "front-iso"])
    held: dict = {}
    for path in sorted(HERE.glob("rows-*-heldout-380-411.jsonl")):
        load(path, held)
    if any(k[2] == "front-iso" for k in held):
        report(held, "held-out seeds 380-411: front-iso - default", ["front-iso"], pooled=True)
        rival_gaps(held, "held-out seeds 380-411: UCB's lead", ["fkc-explore", "front-iso"])
        means(held, ["fkc-explore", "front-iso", "ucb"], "380-411")


if __name__ == "__main__":
    main()
