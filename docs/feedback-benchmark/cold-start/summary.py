"""Paired differences of the cold-start experiment (docs/feedback-benchmark.md, "Latest round").

    python docs/feedback-benchmark/cold-start/summary.py

Design seeds: ``rows-design.jsonl`` (and ``rows-small-budget-b48-b64.jsonl``, the small-budget
task at budgets 48 and 64, ``budgets.py``) here against the uniform cold start's rows in
``pick-variants/rows-design-*.jsonl``; held-out seeds: ``rows-heldout.jsonl`` against the
default's and the rivals' rows in ``heldout*/rows*.jsonl`` (a later file's row wins). Mean ±
95% t-interval over seeds (``fkc_align.bench.interval``, the bench's own).
"""

import json
from pathlib import Path

from fkc_align.bench import interval

HERE = Path(__file__).parent


def load(paths, rows=None):
    rows = {} if rows is None else rows
    for path in paths:
        for line in open(path):
            r = json.loads(line)
            liked = tuple(r.get("liked") or ())
            rows[(r["scenario"], liked, r["strategy"], r["seed"])] = r
    return rows


def held_out_rows():
    """The default's and rivals' held-out rows (no liked field there: the instance is the
    folder) and the regions rows."""
    rows = {}
    for folder, liked in (("heldout", {"multimodal": (3, 8), "multimodal-3": (0, 4, 7)}),
                          ("heldout-other", {"multimodal": (2, 5), "multimodal-3": (1, 4, 9)})):
        for name in ("rows.jsonl", "rows-rerun.jsonl", "rows-seeds-316-347.jsonl",
                     "digits-unet-seeds-316-331-rerun.jsonl"):
            path = HERE.parent / folder / name
            if not path.exists():
                continue
            for line in open(path):
                r = json.loads(line)
                lk = liked.get(r["scenario"], (3, 8))
                rows[(r["scenario"], lk, r["strategy"], r["seed"])] = r
    return load([HERE / "rows-heldout.jsonl"], rows)


def paired(rows, inst, a, b, metric, seeds):
    xs = [rows[(*inst, a, s)][metric] - rows[(*inst, b, s)][metric] for s in seeds
          if (*inst, a, s) in rows and (*inst, b, s) in rows
          and rows[(*inst, a, s)].get(metric) is not None
          and rows[(*inst, b, s)].get(metric) is not None]
    if not xs:
        return None
    d = interval(xs)
    return d["mean"], d["ci95"], d["n"]


def report(rows, pairs, seeds):
    insts = sorted({(k[0], k[1]) for k in rows})
    for inst in insts:
        digits = inst[0].startswith("multimodal")
        metrics = (("hit_rate", "coverage", "balance") if digits else
                   ("hit_rate", "found", "first_hit", "off_manifold_share"))
        for a, b in pairs:
            cells = []
            for m in metrics:
                d = paired(rows, inst, a, b, m, seeds)
                if d is not None:
                    cells.append(f"{m} {d[0]:+.3f} ± {d[1]:.3f} ({d[2]})")
            if cells:
                print(f"{inst[0]} {list(inst[1])}: {a} − {b}: " + "; ".join(cells))


def main():
    pv = HERE.parent / "pick-variants"
    design = load([pv / "rows-design-200-215.jsonl", pv / "rows-design-216-247.jsonl"])
    load([HERE / "rows-design.jsonl", HERE / "rows-small-budget-b48-b64.jsonl"], design)
    print("== design seeds 200-247")
    report(design, [("fkc-explore-regions", "fkc-explore"), ("fkc-explore@rrand", "fkc-explore"),
                    ("ucb@regions", "ucb"), ("ucb@regions", "fkc-explore-regions"),
                    ("cut375@regions", "fkc-explore"), ("eps15@regions", "fkc-explore")],
           range(200, 248))
    held = held_out_rows()
    print("== held-out seeds 300-347")
    report(held, [("fkc-explore-regions", "fkc-explore"), ("fkc-explore-regions", "greedy"),
                  ("fkc-explore", "greedy"), ("ucb", "fkc-explore-regions"),
                  ("ucb", "fkc-explore")], range(300, 348))


if __name__ == "__main__":
    main()
