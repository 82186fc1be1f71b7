"""The λ sweep of docs/feedback-benchmark.md on 16 held-out seeds: tables and ``lam-sweep.png``.

    bash docs/feedback-benchmark/lam-sweep-16/run.sh        # the rows (about 25 min, 2 cores)
    python docs/feedback-benchmark/lam-sweep-16/summary.py  # the tables, the figure

Both take a folder (``run.sh OUT``, ``summary.py OUT``) for another sweep's rows, tables and
figure: ``lam-sweep-variations/`` holds the sweep of the default with variations of the liked
answers (this folder's rows are the default before them, ``fkc-explore-novariations`` now).

The default strategy (``fkc-explore``) at ``fkc-align bench``'s own sizes with ``lam_max`` set
for every scenario (``LAM``): ``lam<λ>.jsonl`` holds the first instance (3s and 8s, 0s 4s 7s,
the rare modes, the small budget), ``other-lam<λ>.jsonl`` the second (2s and 5s; 1s, 4s and
9s). Per λ: mean ± 95% t-interval over the seeds, and the paired difference against the task's
own default ``lam_max`` (8 for digits, 4 for the mixtures) on the same seeds
(``fkc_align.bench.interval``, the bench's own).
"""

import json
import math
import sys
from pathlib import Path

from fkc_align.bench import interval

HERE = Path(__file__).parent
LAMS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
# (scenario, instance file prefix, title, the task's default lam_max, metrics shown)
DIGITS = ("hit_rate", "coverage", "balance", "distinct_nearest", "eval_hit_rate")
CASES = (
    ("multimodal", "lam", "3s and 8s", 8.0, DIGITS),
    ("multimodal-3", "lam", "0s, 4s, 7s", 8.0, DIGITS),
    ("multimodal", "other-lam", "2s and 5s", 8.0, DIGITS),
    ("multimodal-3", "other-lam", "1s, 4s, 9s", 8.0, DIGITS),
    ("small-budget", "lam", "small budget", 8.0, ("hit_rate", "found", "eval_hit_rate")),
    ("rare-mode", "lam", "rare mode, outer", 4.0,
     ("hit_rate", "found", "first_hit", "eval_hit_rate")),
    ("rare-between", "lam", "rare mode, between", 4.0,
     ("hit_rate", "found", "first_hit", "eval_hit_rate")),
)
# a difference against the default worth a bold face: its interval excludes 0
PAIRED = ("hit_rate", "coverage", "balance", "found", "eval_hit_rate")


def load(folder: Path, prefix: str, scenario: str) -> dict[float, dict[int, dict]]:
    """``{λ: {seed: row}}`` of one scenario of one instance, from the rows in ``folder``."""
    out: dict[float, dict[int, dict]] = {}
    for lam in LAMS:
        path = folder / f"{prefix}{lam:g}.jsonl"
        if not path.exists():
            continue
        for line in open(path):
            r = json.loads(line)
            if r["scenario"] == scenario:
                out.setdefault(lam, {})[r["seed"]] = r
    return out


def cell(values: list) -> str:
    d = interval(values)
    if d["mean"] is None:
        return "-"
    return f"{d['mean']:.2f}" if d["ci95"] is None else f"{d['mean']:.2f} ± {d['ci95']:.2f}"


def paired(rows: dict, lam: float, base: float, metric: str) -> dict:
    seeds = sorted(set(rows[lam]) & set(rows.get(base, {})))
    return interval([rows[lam][s][metric] - rows[base][s][metric] for s in seeds
                     if rows[lam][s].get(metric) is not None
                     and rows[base][s].get(metric) is not None])


def table(title: str, rows: dict, base: float, metrics: tuple) -> list[str]:
    """One Markdown table: a row per λ, each metric's mean ± interval, then the paired
    differences against ``base`` (bold where the interval excludes 0)."""
    diffs = [m for m in metrics if m in PAIRED]
    head = ["λ_max", "seeds", *metrics, *(f"Δ {m}" for m in diffs)]
    out = [f"**{title}** (the task's default λ_max {base:g})", "",
           "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for lam in sorted(rows):
        vals = [cell([r.get(m) for r in rows[lam].values()]) for m in metrics]
        ds = []
        for m in diffs:
            d = paired(rows, lam, base, m) if lam != base else {"mean": None}
            if d["mean"] is None or d["ci95"] is None:
                ds.append("-")
                continue
            s = f"{d['mean']:+.3f} ± {d['ci95']:.3f}"
            ds.append(f"**{s}**" if abs(d["mean"]) > d["ci95"] else s)
        out.append(f"| {lam:g} | {len(rows[lam])} | " + " | ".join(vals + ds) + " |")
    return out + [""]


def figure(data: list, path: Path) -> None:
    """A row of panels per scenario: each metric's mean and 95% interval against λ_max."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = max(len(c[4]) for c in CASES)
    fig, axes = plt.subplots(len(data), cols, figsize=(2.6 * cols, 2.0 * len(data)),
                             squeeze=False)
    for row_axes, (title, rows, base, metrics) in zip(axes, data, strict=True):
        lams = sorted(rows)
        xs = list(range(len(lams)))
        for ax, m in zip(row_axes, metrics, strict=False):
            stats = [interval([r.get(m) for r in rows[lam].values()]) for lam in lams]
            means = [s["mean"] if s["mean"] is not None else math.nan for s in stats]
            errs = [s["ci95"] or 0.0 for s in stats]
            ax.errorbar(xs, means, yerr=errs, marker="o", ms=3, capsize=2)
            if base in lams:
                ax.axvline(lams.index(base), color="gray", lw=0.8, ls=":")
            ax.set_xticks(xs, [f"{lam:g}" for lam in lams], fontsize=7)
            ax.tick_params(axis="y", labelsize=7)
            ax.set_title(f"{title}: {m}", fontsize=8)
        for ax in row_axes[len(metrics):]:
            ax.axis("off")
    fig.suptitle("fkc-explore against λ_max (dotted: the task's default), held-out seeds "
                 "300-315, mean ± 95% CI", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str]) -> None:
    folder = Path(argv[0]) if argv else HERE
    data, lines = [], []
    for scenario, prefix, title, base, metrics in CASES:
        rows = load(folder, prefix, scenario)
        if rows:
            data.append((title, rows, base, metrics))
            lines += table(title, rows, base, metrics)
    print("\n".join(lines))
    figure(data, folder / "lam-sweep.png")


if __name__ == "__main__":
    main(sys.argv[1:])
