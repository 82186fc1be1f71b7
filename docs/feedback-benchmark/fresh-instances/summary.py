"""Paired differences on the fresh instances (seeds 444-475): each rule and baseline against
the default run beside it, per instance and pooled over the four digits instances.

    python docs/feedback-benchmark/fresh-instances/summary.py
"""

import sys
from pathlib import Path

here = Path(__file__).parent
sys.path.insert(0, str(here.parent))

from design_rows import load, report  # noqa: E402

# rows without a ``liked`` field (run.py's) take their instance from the file they are in
LIKED = {"rows-a.jsonl": {"multimodal": (4, 9), "multimodal-3": (2, 3, 5)},
         "rows-b.jsonl": {"multimodal": (1, 7), "multimodal-3": (3, 6, 9)},
         "rows-c.jsonl": {}, "rows-regions.jsonl": {"multimodal-3": (3, 6, 9)},
         "rows-rad-max-gs.jsonl": {}}


def main() -> None:
    rows: dict = {}
    for name, liked_of in LIKED.items():
        if (here / name).exists():
            load(here / name, rows, liked_of)
    report(rows, "baselines − default", ["ucb", "thompson", "greedy", "random"], pooled=True)
    report(rows, "the default's FKC ablations − default",
           ["fkc-explore-uniform", "fkc-explore-lam0"])
    report(rows, "rules measured before on other instances − default",
           ["rad-max-gs", "fkc-explore-regions"], pooled=True)


if __name__ == "__main__":
    main()
