"""The default against its two ablations on 48 held-out seeds (docs/feedback-benchmark.md).

    python docs/feedback-benchmark/ablations-48/summary.py

Ablation − default, paired over the seeds both have, mean ± 95% t-interval
(``fkc_align.bench.interval``, the bench's own); bold where the interval excludes 0. The
default's rows: ``heldout*/rows-rerun.jsonl`` (seeds 300-315) and
``heldout*/rows-seeds-316-347.jsonl``; the ablations': ``heldout/rows-ablations.jsonl`` (300-315
of the first instance) and this folder.
"""

import json
from pathlib import Path

from fkc_align.bench import interval

HERE = Path(__file__).parent
BENCH = HERE.parent
METRICS = ("hit_rate", "coverage", "balance", "distinct_nearest", "eval_hit_rate")
# (title, scenario, the default's row files, the ablations' row files)
CASES = (
    ("3s and 8s", "multimodal", ["heldout/rows-rerun.jsonl"], ["heldout/rows-ablations.jsonl"]),
    ("0s, 4s, 7s", "multimodal-3",
     ["heldout/rows-rerun.jsonl", "heldout/rows-seeds-316-347.jsonl"],
     ["heldout/rows-ablations.jsonl", "ablations-48/rows.jsonl"]),
    ("2s and 5s", "multimodal",
     ["heldout-other/rows-rerun.jsonl", "heldout-other/rows-seeds-316-347.jsonl"],
     ["ablations-48/rows-other-300-315.jsonl", "ablations-48/rows-other.jsonl"]),
    ("1s, 4s, 9s", "multimodal-3",
     ["heldout-other/rows-rerun.jsonl", "heldout-other/rows-seeds-316-347.jsonl"],
     ["ablations-48/rows-other-300-315.jsonl", "ablations-48/rows-other.jsonl"]),
)


def load(files: list[str], scenario: str, strategy: str) -> dict[int, dict]:
    out = {}
    for name in files:
        for line in open(BENCH / name):
            r = json.loads(line)
            if r.get("scenario") == scenario and r.get("strategy") == strategy:
                out[r["seed"]] = r
    return out


def fmt(d: dict, digits: int = 3) -> str:
    s = f"{d['mean']:+.{digits}f} ± {d['ci95']:.{digits}f}"
    return f"**{s}**" if abs(d["mean"]) > d["ci95"] else s


def main() -> None:
    head = ["instance", "ablation", "seeds", *(f"Δ {m}" for m in METRICS)]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for title, scenario, default_files, ablation_files in CASES:
        base = load(default_files, scenario, "fkc-explore")
        for ablation in ("fkc-explore-lam0", "fkc-explore-uniform"):
            rows = load(ablation_files, scenario, ablation)
            seeds = sorted(set(base) & set(rows))
            cells = [fmt(interval([rows[s][m] - base[s][m] for s in seeds]),
                         1 if m == "distinct_nearest" else 3) for m in METRICS]
            print(f"| {title} | {ablation.removeprefix('fkc-explore')} | {len(seeds)} | "
                  + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
