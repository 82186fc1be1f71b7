"""Paired differences of ``guided-novel`` (``variant.py``) against the default on the design
seeds 200-215, with UCB's lead over each: the default's rows are
``region-radius/rows-fkc-explore-design.jsonl``, ``front``'s (``fkc-explore-early``)
``front-explore/rows-front-design.jsonl``, UCB's ``variations/rows-ucb-design.jsonl`` (one
processor model). Design seeds only: the variant was not taken to held-out seeds.

    python docs/feedback-benchmark/unanchored-draw/summary.py
"""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "variations"))

from design_rows import design_base_rows, load, report  # noqa: E402
from summary import rival_gaps  # noqa: E402  (variations/summary.py)


def main() -> None:
    rows = load(HERE / "rows-guided-novel-design.jsonl", design_base_rows())
    report(rows, "design seeds 200-215: variant - default", ["front", "guided-novel"],
           pooled=True)
    rival_gaps(rows, "design seeds 200-215: UCB's lead", ["fkc-explore", "front",
                                                           "guided-novel"])


if __name__ == "__main__":
    main()
