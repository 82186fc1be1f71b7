"""README's held-out table under the new default (seeds 300-315, one machine): mean ± 95%
t-interval per strategy. The default and its ablations are this folder's rows
(``table.sh``: re-run with the kept picks' floor); ``-nofloor`` is the default before it
(variations/'s var3 rows, bit for bit ``fkc-explore-nofloor``), ``-early`` the variant
``fkc-explore-early`` (../front-explore/), and the baselines variations/'s rows of the same
seeds, which the floor does not touch.

    python docs/feedback-benchmark/keep-floor/table.py
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "variations"))

from table import ROWS, cell  # noqa: E402  (variations/table.py)

VAR = HERE.parent / "variations"
# column: (folder's rows, strategy name in them)
COLUMNS = {"fkc-explore": ("new", "fkc-explore"), "-nofloor": ("old", "var3"),
           "-early": ("old", "front"), "-novariations": ("new", "fkc-explore-novariations"),
           "-uniform": ("new", "fkc-explore-uniform"), "-lam0": ("new", "fkc-explore-lam0"),
           "-noclusters": ("new", "fkc-explore-noclusters"), "greedy": ("old", "greedy"),
           "ucb": ("old", "ucb"), "thompson": ("old", "thompson"),
           "random": ("old", "random")}


def load() -> dict:
    rows: dict = {}
    sources = {"new": sorted(HERE.glob("rows-*-table-300-315.jsonl")),
               "old": [*VAR.glob("rows-*-heldout-300-315.jsonl"),
                       *(HERE.parent / "front-explore").glob("rows-front-posthoc*-300-315.jsonl")]}
    for source, paths in sources.items():
        for path in paths:
            for line in open(path):
                r = json.loads(line)
                liked = r["liked"] if r["scenario"].startswith("multimodal") else None
                rows.setdefault((source, r["strategy"], r["scenario"], str(liked)), []).append(r)
    return rows


def main() -> None:
    rows = load()
    print("| scenario: metric (16 seeds) | " + " | ".join(f"`{c}`" for c in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for label, scenario, liked, metric in ROWS:
        cells = [cell(rows.get((*key, scenario, str(liked)), []), metric)
                 for key in COLUMNS.values()]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
