"""Run reports: report.json (settings, versions, per-round rows), report.png, best.png, a table."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import torch

from .loop import ActiveResult
from .store.durable_io import temp_path_for, write_file_atomic
from .tasks import Task

COLORS = {"fkc-explore": "tab:blue", "fkc-eps": "tab:green", "fkc": "tab:green",
          "greedy": "tab:orange", "random": "tab:gray"}
# who answered: a synthetic oracle (a reward function, a hit test) or a person (1-5 stars on
# fkc-align serve's page, stored as the reward stars - NEUTRAL_RATING)
ORACLES = ("synthetic", "person")
NEUTRAL_RATING = 3


def versions() -> dict[str, Any]:
    """Versions and machine facts recorded with every report."""
    import numpy
    import sklearn

    import fkc_kernels

    return {
        "fkc_kernels": fkc_kernels.__version__, "torch": torch.__version__,
        "numpy": numpy.__version__, "scikit_learn": sklearn.__version__,
        "python": sys.version.split()[0], "platform": platform.platform(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "backends": fkc_kernels.available_backends(),
    }


def _json_ready(value: Any) -> Any:
    """Replace NaN/inf by None so report.json stays strict JSON."""
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return None
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


def comparison(results: dict[str, ActiveResult]) -> dict[str, Any]:
    """Whether the first (main) strategy's mean true reward beats each other one.

    On the shown particles (last round and whole run) and, where :func:`evaluate_final_model`
    was run, on a fresh sample guided by the returned reward model (an oracle evaluation outside
    the budget).
    """
    if not results:
        return {}
    main_name = next(iter(results))
    main = results[main_name].summary
    out: dict[str, Any] = {}
    for name, res in results.items():
        if name == main_name:
            continue
        for key in ("final_mean_reward", "run_mean_reward", "eval_final_model_mean_reward"):
            a, b = main.get(key), res.summary.get(key)
            if a is not None and b is not None:
                out[f"{main_name}_{key}_above_{name}"] = bool(a > b)
    return out


def write_report(run_dir: str | Path, task: Task, results: dict[str, ActiveResult],
                 extra: dict[str, Any] | None = None,
                 oracle: str = "synthetic") -> dict[str, Any]:
    """Write report.json, report.png and best.png into ``run_dir``; return the JSON dict.

    ``results`` maps a strategy name to its result; the first is the main run (its settings
    head the report and best.png shows its particles). ``oracle``: ``"synthetic"`` (a reward
    function and hit test answered) or ``"person"`` (star ratings: the plots show stars, no hit
    rate). The files get the feedback file's permissions (0o644 less the umask).
    """
    if oracle not in ORACLES:
        raise ValueError(f"oracle: expected one of {ORACLES}, got {oracle!r}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    main = next(iter(results.values()))
    report = {
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "oracle_kind": oracle,
        "settings": main.settings,
        "versions": versions(),
        "runs": {name: {"settings": r.settings, "summary": r.summary, "rounds": r.rounds,
                        "run_dir": str(r.run_dir) if r.run_dir else None,
                        "tail_problem": r.tail_problem}
                 for name, r in results.items()},
        "comparison": comparison(results),
        **(extra or {}),
    }
    report = _json_ready(report)
    # every file through an exclusive temp file, renamed over the target: never half
    # written, and never written through a link planted at the target or a temp name
    write_file_atomic(run_dir / "report.json", json.dumps(report, indent=2).encode())
    _save_atomic(lambda p: plot_curves(results, p, title=_title(task, main, oracle),
                                       oracle=oracle), run_dir / "report.png")
    _save_atomic(lambda p: plot_best(task, main, p, oracle=oracle), run_dir / "best.png")
    return report


def _save_atomic(save, path: Path) -> None:
    tmp = temp_path_for(path)
    try:
        save(tmp)
        if tmp.stat().st_size > 0:  # plot_best draws nothing for tasks without a plot
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _title(task: Task, res: ActiveResult, oracle: str) -> str:
    s = res.settings
    run = f"budget {s['budget']}, k {s['k']}, N {s['n_particles']}, {s['strategy']}"
    if oracle == "person":  # the task's parameters describe its synthetic user, not this one
        return f"{task.name} rated by a person: {run}"
    params = ", ".join(f"{k}={v}" for k, v in task.params.items())
    return f"{task.name}({params}): {run}"


def plot_curves(results: dict[str, ActiveResult], path: Any, title: str = "",
                oracle: str = "synthetic") -> None:
    """Save :func:`curves_figure` as a PNG (``path``: a path or a binary file)."""
    _save(curves_figure(results, title, oracle), path)


def _save(fig, path: Any) -> None:
    import matplotlib.pyplot as plt

    try:
        fig.tight_layout()
        fig.savefig(path, dpi=110, format="png")
    finally:
        plt.close(fig)


def curves_figure(results: dict[str, ActiveResult], title: str = "",
                  oracle: str = "synthetic"):
    """Reward per round against queries spent, one line per strategy: the synthetic oracle's
    true reward, with a hit-rate panel when the task has a hit test, or a person's stars.
    Returns the matplotlib figure (the caller closes it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    person = oracle == "person"
    shift = NEUTRAL_RATING if person else 0.0
    has_hits = not person and any(row["hit_rate"] is not None
                                  for res in results.values() for row in res.rounds)
    fig, axes = plt.subplots(1, 2 if has_hits else 1, figsize=(10, 4) if has_hits else (6.4, 4),
                             squeeze=False)
    ax_r = axes[0][0]
    for name, res in results.items():
        q = [row["queries_used"] for row in res.rounds]
        color = COLORS.get(name)
        ax_r.plot(q, [row["mean_reward"] + shift for row in res.rounds], "o-", color=color,
                  label=f"{name} (mean of shown)")
        ax_r.plot(q, [row["best_reward_so_far"] + shift for row in res.rounds], ":",
                  color=color, label=f"{name} (best so far)")
        if has_hits:
            _plot_hits(axes[0][1], q, res.rounds, name, color)
    ax_r.set_xlabel("queries spent")
    if person:
        ax_r.set_ylim(0.8, 5.2)
        ax_r.set_ylabel(f"stars (reward + {NEUTRAL_RATING})")
        ax_r.set_title("a person's stars for the shown particles")
    else:
        ax_r.set_ylabel("true reward (synthetic oracle)")
        ax_r.set_title("true reward of the shown particles")
    ax_r.legend(fontsize=7)
    ax_r.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    return fig


def _plot_hits(ax, q: list[int], rows: list[dict[str, Any]], name: str, color) -> None:
    """The hit-rate panel: every shown particle and the exploitation picks, per round."""
    for key, style, label in (("hit_rate", "o-", "all shown"),
                              ("hit_rate_top", "s--", "exploitation picks")):
        values = [row[key] for row in rows]
        if any(v is not None for v in values):
            ax.plot(q, [v if v is not None else float("nan") for v in values], style,
                    color=color, alpha=1.0 if key == "hit_rate" else 0.7,
                    label=f"{name} ({label})")
    ax.set_xlabel("queries spent")
    ax.set_ylabel("hit rate")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("hit rate of the shown particles")
    ax.legend(fontsize=7)


def plot_best(task: Task, res: ActiveResult, path: Path, n_best: int = 32,
              oracle: str = "synthetic") -> None:
    """Save :func:`best_figure` as a PNG (nothing for a task without ``plot_particles``)."""
    if task.plot_particles is not None:
        _save(best_figure(task, res, n_best, oracle), path)


def best_figure(task: Task, res: ActiveResult, n_best: int = 32, oracle: str = "synthetic"):
    """Grid of the best particles found, each captioned with its rank, score (true reward, or a
    person's stars) and round (1 = the cold start), or the task's own plot of the observed
    ones (a point cloud). Returns the matplotlib figure (the caller closes it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, r = res.observed_x, res.observed_r
    if len(task.shape) == 1:  # a point cloud: show every observed particle
        sel_x, sel_r = x, r
    else:
        sel_x, sel_r = x[:n_best], r[:n_best]
    hits = task.is_hit(sel_x) if task.is_hit is not None else None
    fig = plt.figure(figsize=(8, max(2.0, 1.2 * ((len(sel_x) + 7) // 8))))
    task.plot_particles(fig, sel_x, sel_r, hits)
    person = oracle == "person"
    what = f"by {'a person' if person else 'the synthetic oracle'}'s score"
    if len(task.shape) > 1 and len(fig.axes) == len(sel_x):  # one panel a particle: captions
        rounds = res.observed_round[:len(sel_x)].tolist()
        for i, ax in enumerate(fig.axes):
            score = (f"{_stars(float(sel_r[i]))}" if person else
                     f"r {float(sel_r[i]):.2f}" + (" hit" if hits is not None and hits[i] else ""))
            ax.set_title(f"#{i + 1} {score}\nround {rounds[i] + 1}", fontsize=6)
        what += ": rank, " + ("stars" if person else "true reward") + ", round (1 = cold start)"
    fig.suptitle(f"best particles found ({res.settings['strategy']}) {what}", fontsize=9)
    return fig


def _stars(reward: float) -> str:
    stars = reward + NEUTRAL_RATING
    return f"{stars:g} star" + ("" if stars == 1 else "s")


def summary_table(results: dict[str, ActiveResult]) -> str:
    """A fixed-width table of the final-round and whole-run numbers, one row per strategy."""
    cols = [("strategy", "strategy", "{}"), ("queries", "queries_used", "{}"),
            ("last mean r", "final_mean_reward", "{:.3f}"), ("last hit", "final_hit_rate",
                                                              "{:.2f}"),
            ("last hit top", "final_hit_rate_top", "{:.2f}"),
            ("run mean r", "run_mean_reward", "{:.3f}"), ("run hit", "run_hit_rate", "{:.2f}"),
            ("best r", "best_reward", "{:.3f}"),
            ("liked covered†", "liked_coverage_last_two_rounds", "{}"),
            ("balance†", "liked_balance", "{:.2f}"),
            ("f_θ sample r*", "eval_final_model_mean_reward", "{:.3f}"),
            ("f_θ sample hit*", "eval_final_model_hit_rate", "{:.2f}"),
            ("wall s", "wall_time_s", "{:.0f}")]
    # columns no run has (e.g. coverage on a task with one liked mode) are left out
    cols = [c for c in cols if c[1] == "strategy"
            or any(res.summary.get(c[1]) is not None for res in results.values())]
    rows = [[c[0] for c in cols]]
    for name, res in results.items():
        s = dict(res.summary, strategy=name)
        rows.append([fmt.format(s[key]) if s.get(key) is not None else "-"
                     for _, key, fmt in cols])
    widths = [max(len(row[i]) for row in rows) for i in range(len(cols))]
    lines = [" | ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
             for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    if any(res.summary.get("liked_balance") is not None for res in results.values()):
        lines.append("† every liked class among the hits of the last two rounds; balance: the "
                     "rarest liked class's share of the guided hits x the number of liked "
                     "classes (1 = even)")
    if any(res.summary.get("eval_final_model_mean_reward") is not None
           for res in results.values()):
        lines.append("* evaluation outside the budget: the synthetic oracle on a fresh guided "
                     "sample under the returned f_θ (a real user would not pay for it)")
    return "\n".join(lines)
