"""Paired differences of the ESS-threshold experiment against the default (threshold 0.5).

    python docs/feedback-benchmark/ess-threshold/summary.py

Design seeds: ``rows-design.jsonl`` here against the default's rows of the same seeds in
``pick-variants/rows-design-200-215.jsonl`` and ``cold-start/rows-design.jsonl`` (small budget);
held-out seeds, when ``rows-heldout.jsonl`` exists: against ``heldout*/rows-rerun.jsonl``.
Variant − default, mean ± 95% t-interval (``fkc_align.bench.interval``); bold where the
interval excludes 0.
"""

import json
from pathlib import Path

from fkc_align.bench import interval

HERE = Path(__file__).parent
BENCH = HERE.parent
DIGITS = ("hit_rate", "coverage", "balance", "distinct_nearest", "eval_hit_rate")
OTHER = ("hit_rate", "found", "first_hit", "eval_hit_rate")
FIRST = {"multimodal": (3, 8), "multimodal-3": (0, 4, 7)}
SECOND = {"multimodal": (2, 5), "multimodal-3": (1, 4, 9)}


def load(path: Path, rows: dict, liked_of: dict | None = None) -> dict:
    """``rows[(scenario, liked, strategy, seed)]``; rows without ``liked`` take
    ``liked_of[scenario]`` (the held-out folders name the instance), mixtures ``()``."""
    for line in open(path):
        r = json.loads(line)
        if "seed" not in r:
            continue
        if r["scenario"].startswith("multimodal"):
            liked = tuple(r["liked"]) if "liked" in r else liked_of[r["scenario"]]
        else:
            liked = ()
        rows[(r["scenario"], liked, r["strategy"], r["seed"])] = r
    return rows


def fmt(d: dict) -> str:
    s = f"{d['mean']:+.3f} ± {d['ci95']:.3f}"
    return f"**{s}**" if d["ci95"] is not None and abs(d["mean"]) > d["ci95"] else s


def report(rows: dict, title: str) -> None:
    variants = sorted({k[2] for k in rows if "@ess" in k[2]})
    print(f"== {title}")
    for inst in sorted({(k[0], k[1]) for k in rows if k[2] in variants}):
        metrics = DIGITS if inst[0].startswith("multimodal") else OTHER
        for v in variants:
            seeds = [k[3] for k in rows if (k[0], k[1], k[2]) == (*inst, v)
                     and (*inst, "fkc-explore", k[3]) in rows]
            cells = []
            for m in metrics:
                d = [rows[(*inst, v, s)][m] - rows[(*inst, "fkc-explore", s)][m] for s in seeds
                     if rows[(*inst, v, s)][m] is not None
                     and rows[(*inst, "fkc-explore", s)][m] is not None]
                if len(d) > 1:
                    cells.append(f"{m} {fmt(interval(d))}")
            print(f"{inst[0]} {list(inst[1])} {v} ({len(seeds)} seeds): " + "; ".join(cells))


def main() -> None:
    design: dict = {}
    load(BENCH / "pick-variants" / "rows-design-200-215.jsonl", design)
    load(BENCH / "cold-start" / "rows-design.jsonl", design, FIRST)
    load(HERE / "rows-design.jsonl", design)
    report(design, "design seeds 200-215")
    if (HERE / "rows-heldout.jsonl").exists():
        held: dict = {}
        load(BENCH / "heldout" / "rows-rerun.jsonl", held, FIRST)
        load(BENCH / "heldout-other" / "rows-rerun.jsonl", held, SECOND)
        load(HERE / "rows-heldout.jsonl", held)
        report(held, "held-out seeds 300-315")


if __name__ == "__main__":
    main()
