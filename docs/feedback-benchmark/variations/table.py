"""README's held-out table from this folder's rows (seeds 300-315, one machine): mean ± 95%
t-interval per strategy. The default is var3's rows (variations became the default; check.sh
shows the library's default gives them), ``-novariations`` the earlier default's, ``-early``
the variant ``fkc-explore-early`` (``front``'s rows in ../front-explore/, bit for bit the
library variant's).

    python docs/feedback-benchmark/variations/table.py
"""

import json
from pathlib import Path

from fkc_align.bench import interval

HERE = Path(__file__).parent
COLUMNS = {"fkc-explore": "var3", "-early": "front", "-novariations": "fkc-explore",
           "-uniform": "fkc-explore-uniform", "-lam0": "fkc-explore-lam0",
           "-noclusters": "fkc-explore-noclusters", "greedy": "greedy", "ucb": "ucb",
           "thompson": "thompson", "random": "random"}
ROWS = [  # (label, scenario, liked, metric)
    ("3s and 8s: both in the last two rounds", "multimodal", [3, 8], "coverage"),
    ("3s and 8s: balance (tilted target 0.87)", "multimodal", [3, 8], "balance"),
    ("3s and 8s: guided hit rate", "multimodal", [3, 8], "hit_rate"),
    ("0s, 4s, 7s: all three in the last two rounds", "multimodal-3", [0, 4, 7], "coverage"),
    ("0s, 4s, 7s: balance (tilted target 1.00)", "multimodal-3", [0, 4, 7], "balance"),
    ("0s, 4s, 7s: guided hit rate", "multimodal-3", [0, 4, 7], "hit_rate"),
    ("2s and 5s: guided hit rate", "multimodal", [2, 5], "hit_rate"),
    ("1s, 4s, 9s: balance (tilted target 0.95)", "multimodal-3", [1, 4, 9], "balance"),
    ("1s, 4s, 9s: guided hit rate", "multimodal-3", [1, 4, 9], "hit_rate"),
    ("0s, 8s, 9s: all three in the last two rounds", "multimodal-3", [0, 8, 9], "coverage"),
    ("0s, 8s, 9s: balance (tilted target 0.85)", "multimodal-3", [0, 8, 9], "balance"),
    ("rare outer mode: found", "rare-mode", None, "found"),
    ("rare outer mode: hit rate", "rare-mode", None, "hit_rate"),
    ("rare mode between common ones: found", "rare-between", None, "found"),
    ("small budget (confident 8, 2%): hit rate", "small-budget", None, "hit_rate"),
    ("digits UNet at λ 32 (confident 8): hit rate", "digits-unet", None, "hit_rate"),
    ("digits UNet at λ 32: hits off the data manifold", "digits-unet", None,
     "off_manifold_share"),
]


def load() -> dict:
    rows: dict = {}
    for path in [*HERE.glob("rows-*-heldout-300-315.jsonl"),
                 *(HERE.parent / "front-explore").glob("rows-front-posthoc*-300-315.jsonl")]:
        for line in open(path):
            r = json.loads(line)
            liked = r["liked"] if r["scenario"].startswith("multimodal") else None
            rows.setdefault((r["strategy"], r["scenario"], str(liked)), []).append(r)
    return rows


def cell(runs: list, metric: str) -> str:
    values = [r[metric] for r in runs if r[metric] is not None]
    if len(values) < 2:
        return "-"
    d = interval(values)
    n = f" ({len(values)})" if metric == "off_manifold_share" else ""
    return f"{d['mean']:.2f} ± {d['ci95']:.2f}{n}"


def main() -> None:
    rows = load()
    print("| scenario: metric (16 seeds) | " + " | ".join(f"`{c}`" for c in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for label, scenario, liked, metric in ROWS:
        cells = [cell(rows.get((name, scenario, str(liked)), []), metric)
                 for name in COLUMNS.values()]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
