"""The feedback benchmark: does a strategy find what a user likes, all of it, with few answers?

Three kinds of scenario, each a :class:`Scenario` (a task built from parameters, so other
instances are one argument away):

- ``multimodal``: digits, the user likes every class in ``liked`` equally (reward capped, see
  :func:`fkc_align.tasks.digits_liked`); budget 64, k 8. Coverage: every liked class among the
  hits of the last two rounds; balance: the rarest liked class's share of the hits times the
  number of liked classes (1 = even, 0 = a class never hit).
- ``rare-mode``: a liked mode of about 1.5% of the base model's mass, far from the common
  modes, behind a decoy (:func:`fkc_align.tasks.rare_mode`); budget 48, k 8. Found: at least one
  query in the liked mode.
- ``small-budget``: digits, a hit is a confident ``target`` (p >= ``confidence``, about 2% of
  base samples); budget 32, k 8.

Every strategy runs on the same seeds (paired); per run it records: hit rate (over the queries
after the cold start), found and queries to the first hit (``budget + 1`` when never found),
coverage and balance of the liked modes, distinct nearest training points among the hits, the
share of hits off the data manifold (farther from every training image than the base model's
own samples are 99% of the time, :mod:`fkc_align.manifold`; ``manifold_radius`` overrides it)
and the returned reward model's quality: the hit rate of a fresh guided sample (an oracle
evaluation outside the budget). The summary gives each mean with a 95% t-interval over seeds and
the paired differences against greedy and random. ``fkc-align bench`` prints it and writes
``bench.json`` plus one PNG per scenario.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as _dt
import functools
import json
import math
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import tasks as _tasks
from .config import BENCH_STRATEGIES
from .loop import ActiveResult, evaluate_final_model, liked_mode_coverage, run_active

STRATEGIES: dict[str, dict[str, Any]] = {name: {"strategy": name} for name in BENCH_STRATEGIES}
# paired differences are taken against these (the default against its ablations and rivals)
BASELINES = ("greedy", "random", "fkc-explore")
DESIGN_SEEDS = range(0, 16)
HELD_OUT_SEEDS = range(100, 132)
METRICS = ("hit_rate", "found", "first_hit", "coverage", "balance", "distinct_nearest",
           "off_manifold_share", "eval_hit_rate")


@dataclass(frozen=True)
class Scenario:
    """One benchmark scenario: a task (by builder name and parameters) and its run settings."""

    name: str
    task_name: str
    task_params: dict[str, Any]
    budget: int
    k: int
    n_particles: int
    n_steps: int
    description: str
    manifold_radius: float | None = None
    run_options: dict[str, Any] = field(default_factory=dict)

    def task(self) -> _tasks.Task:
        return _build_task(self.task_name, tuple(sorted(
            (key, tuple(v) if isinstance(v, list) else v) for key, v in self.task_params.items())))


@functools.lru_cache(maxsize=8)
def _build_task(name: str, params: tuple) -> _tasks.Task:
    kwargs = {key: (list(v) if isinstance(v, tuple) else v) for key, v in params}
    if "liked" in kwargs:
        kwargs["liked"] = tuple(kwargs["liked"])
    return _tasks.TASKS[name](**kwargs)


# the UNet's base samples at 30 steps are off the manifold (see manifold.py) about as often as
# held-out real digits; at 20 steps several times as often
UNET_STEPS = 30
UNET_LAM = 32.0  # the digits-unet scenario's lam_max: strong enough to game the classifier


def scenarios(liked: tuple[int, ...] = (3, 8), layout: int = 0, target: int = 8,
              confidence: float = 0.9, quick: bool = False,
              liked3: tuple[int, ...] = (0, 4, 7)) -> list[Scenario]:
    """The six scenarios for one instance (liked classes, three liked classes, mode layout,
    rare target): multimodal, multimodal-3, rare-mode (an outer rare mode), rare-between (a
    rare mode between common ones), small-budget, digits-unet (a learned base model, with an
    off-manifold measure that does not trust the oracle).

    ``quick``: tiny settings (a smoke run in seconds, not a measurement), without digits-unet.
    """
    # N 64 / 96 and 20 steps, training capped at 150 epochs (patience 20): eight strategies
    # on five scenarios and 16 seeds within about an hour of 2 cores
    size = dict(n_particles=16, n_steps=6) if quick else dict(n_particles=64, n_steps=20)
    gmm_size = dict(n_particles=16, n_steps=6) if quick else dict(n_particles=96, n_steps=20)
    train = {"train_options": {"max_epochs": 10} if quick else
             {"max_epochs": 150, "patience": 20}}
    # a learned base model whose reward can be gamed; not in --quick (it needs diffusers and a
    # UNet call per step). At the task's lam_max 8 no strategy's hits leave the data manifold,
    # so the scenario guides at UNET_LAM, where maximising the classifier does
    unet = Scenario("digits-unet", "digits-unet", {"target": target, "confidence": confidence},
                    budget=32, k=8, n_particles=32, n_steps=UNET_STEPS,
                    description=f"digits UNet at lam_max {UNET_LAM:g}, a hit is a confident "
                    f"{target} (p >= {confidence}); off the manifold: farther than 99% of "
                    "held-out digits", run_options={**train, "lam_max": UNET_LAM})
    return [
        Scenario("multimodal", "digits-liked", {"liked": list(liked)},
                 budget=16 if quick else 64, k=8, **size,
                 description=f"digits, the user likes {sorted(liked)} equally (capped reward)",
                 run_options=train),
        Scenario("multimodal-3", "digits-liked", {"liked": list(liked3)},
                 budget=16 if quick else 64, k=8, **size,
                 description=f"digits, the user likes {sorted(liked3)} equally (capped reward)",
                 run_options=train),
        Scenario("rare-mode", "rare-mode", {"layout": layout},
                 budget=16 if quick else 48, k=8, **gmm_size,
                 description="a liked mode of 1.5% mass far from the common modes, behind a decoy",
                 run_options=train),
        Scenario("rare-between", "rare-mode", {"layout": layout, "between": True},
                 budget=16 if quick else 48, k=8, **gmm_size,
                 description="a liked mode of 1.5% mass between two common modes, and a decoy",
                 run_options=train),
        Scenario("small-budget", "digits", {"target": target, "confidence": confidence},
                 budget=16 if quick else 32, k=8, **size,
                 description=f"digits, a hit is a confident {target} (p >= {confidence})",
                 run_options=train),
    ] + ([] if quick else [unet])


def tilted_balance(task: _tasks.Task, lam: float, draws: int = 16, seed: int = 0) -> float:
    """The balance of the tilted target ``q0·exp(lam·r_z)`` of a digits-liked task, the ideal a
    run's balance is measured against: the rarest liked class's share of the target's liked
    mass times the number of liked classes.

    ``r_z`` is the true reward z-scored over base samples (what the reward network predicts);
    the mass comes from ``draws`` smoothed samples around every training image (the base model
    is exactly that mixture), weighted by ``exp(lam·r_z)``.
    """
    images, _ = _tasks.load_digits_data()
    gen = torch.Generator().manual_seed(seed)
    x = images.repeat(draws, 1, 1, 1)
    x = x + task.params["smoothing_std"] * torch.randn(x.shape, generator=gen)
    r = task.oracle(x).double()
    z = (r - r.mean()) / r.std()
    w = torch.exp(lam * (z - z.max()))
    mode = task.liked_mode(x)
    mass = torch.stack([w[mode == j].sum() for j in range(task.n_liked)])
    return float(mass.min() / mass.sum() * task.n_liked)


def _data_points(scenario: Scenario, task: _tasks.Task) -> tuple[torch.Tensor | None,
                                                                 float | None]:
    """The training points the base model was built from and the off-manifold radius
    (:mod:`fkc_align.manifold`): digits-unet: the UNet's 1500 training images and the 99%
    quantile of held-out real digits' nearest distances; the smoothed digits: every image and
    the 99% quantile of the base model's own unguided samples' nearest distances at the
    scenario's step count (``scenario.manifold_radius`` instead, when set); else
    ``(None, None)``."""
    from . import manifold

    if task.name == "digits-unet":
        return manifold.unet_reference()
    if task.name.startswith("digits"):
        train, radius = manifold.smoothed_digits_reference(
            float(task.params["smoothing_std"]), scenario.n_steps)
        return train, (radius if scenario.manifold_radius is None
                       else scenario.manifold_radius)
    return None, None


def run_metrics(scenario: Scenario, task: _tasks.Task, result: ActiveResult,
                evaluation: dict[str, Any]) -> dict[str, Any]:
    """The benchmark's numbers for one run (see the module docstring)."""
    order = torch.argsort(result.observed_answer_index)  # answer order (observed_* are ranked)
    x = result.observed_x[order]
    rnd = result.observed_round[order]
    hits = task.is_hit(x).cpu()
    guided = rnd > 0
    out: dict[str, Any] = {
        "hit_rate": float(hits[guided].float().mean()) if guided.any() else None,
        "found": float(hits.any()),
        "first_hit": float(int(torch.nonzero(hits)[0, 0]) + 1) if hits.any()
        else float(scenario.budget + 1),
        "eval_hit_rate": evaluation.get("eval_final_model_hit_rate"),
        "coverage": None, "balance": None, "distinct_nearest": None,
        "off_manifold_share": None,
    }
    if task.liked_mode is not None and task.n_liked >= 2:
        coverage, out["balance"] = liked_mode_coverage(task, x, rnd)
        out["coverage"] = float(coverage)
    data, radius = _data_points(scenario, task)
    if data is not None and hits.any():
        d = torch.cdist(x[hits].reshape(int(hits.sum()), -1).float(), data)
        near_d, near_i = d.min(1)
        out["distinct_nearest"] = float(len(set(near_i.tolist())))
        if radius is not None:
            out["off_manifold_share"] = float((near_d > radius).float().mean())
    return out


def run_one(scenario: Scenario, strategy: str, options: dict[str, Any], seed: int,
            backend: str = "auto") -> dict[str, Any]:
    """One run of one strategy on one seed, with its metrics and wall time."""
    task = scenario.task()
    t0 = time.perf_counter()
    res = run_active(task, budget=scenario.budget, k=scenario.k,
                     n_particles=scenario.n_particles, n_steps=scenario.n_steps, seed=seed,
                     progress=False, backend=backend, **{**scenario.run_options, **options})
    evaluation = evaluate_final_model(task, res, backend=backend)
    metrics = run_metrics(scenario, task, res, evaluation)
    return {"scenario": scenario.name, "strategy": strategy, "seed": seed,
            "wall_s": time.perf_counter() - t0, **metrics}


def _t95(n: int) -> float:
    """Two-sided 95% Student-t quantile for ``n - 1`` degrees of freedom."""
    if n < 2:
        return math.nan
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1))


def interval(values: list[float]) -> dict[str, Any]:
    """Mean, 95% t-interval half-width and count of the non-missing ``values``."""
    v = [float(a) for a in values if a is not None]
    n = len(v)
    if n == 0:
        return {"mean": None, "ci95": None, "n": 0}
    mean = sum(v) / n
    if n < 2:
        return {"mean": mean, "ci95": None, "n": n}
    sd = math.sqrt(sum((a - mean) ** 2 for a in v) / (n - 1))
    return {"mean": mean, "ci95": _t95(n) * sd / math.sqrt(n), "n": n}


def summarise_runs(rows: list[dict[str, Any]], strategies: list[str]) -> dict[str, Any]:
    """Per strategy and metric: mean ± 95% interval; paired differences against the baselines
    (over the seeds where both strategies have the metric)."""
    by = {(r["strategy"], r["seed"]): r for r in rows}
    seeds = sorted({r["seed"] for r in rows})
    out: dict[str, Any] = {}
    for s in strategies:
        entry: dict[str, Any] = {}
        for m in METRICS:
            entry[m] = interval([by[(s, sd)][m] for sd in seeds if (s, sd) in by])
            for base in BASELINES:
                if base == s or base not in strategies:
                    continue
                diffs = [by[(s, sd)][m] - by[(base, sd)][m] for sd in seeds
                         if (s, sd) in by and (base, sd) in by
                         and by[(s, sd)][m] is not None and by[(base, sd)][m] is not None]
                entry[m][f"minus_{base}"] = interval(diffs)
        entry["wall_s"] = interval([by[(s, sd)]["wall_s"] for sd in seeds if (s, sd) in by])
        out[s] = entry
    return out


def _worker_init() -> None:
    torch.set_num_threads(1)


def run_bench(scenario_list: list[Scenario], seeds: list[int],
              strategies: dict[str, dict[str, Any]] | None = None, jobs: int = 1,
              backend: str = "auto", log: Callable[[str], None] = print,
              on_row: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run every strategy on every scenario and seed (``jobs`` processes); the JSON-ready result.

    ``on_row`` gets each run's metrics as it finishes (in completion order).
    """
    strategies = dict(STRATEGIES if strategies is None else strategies)
    # seed by seed, so that an interrupted run still has complete paired seeds
    work = [(sc, name, opts, seed) for seed in seeds for sc in scenario_list
            for name, opts in strategies.items()]
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    if jobs <= 1:
        _worker_init()
        for sc, name, opts, seed in work:
            rows.append(run_one(sc, name, opts, seed, backend))
            if on_row is not None:
                on_row(rows[-1])
    else:
        ctx = mp.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx,
                                    initializer=_worker_init) as pool:
            futures = [pool.submit(run_one, sc, name, opts, seed, backend)
                       for sc, name, opts, seed in work]
            for i, f in enumerate(cf.as_completed(futures)):
                rows.append(f.result())
                if on_row is not None:
                    on_row(rows[-1])
                if (i + 1) % max(1, len(work) // 10) == 0:
                    log(f"  {i + 1}/{len(work)} runs, {time.perf_counter() - t0:.0f} s")
    return assemble(rows, scenario_list, list(seeds), strategies, time.perf_counter() - t0)


def assemble(rows: list[dict[str, Any]], scenario_list: list[Scenario], seeds: list[int],
             strategies: dict[str, dict[str, Any]], wall_s: float) -> dict[str, Any]:
    """The JSON-ready benchmark result from per-run rows (e.g. read back from ``runs.jsonl``)."""
    result: dict[str, Any] = {"date": _dt.datetime.now(_dt.timezone.utc).isoformat(
        timespec="seconds"), "seeds": list(seeds), "strategies": strategies,
        "wall_s": wall_s, "machine": _machine(), "scenarios": {}}
    for sc in scenario_list:
        sc_rows = sorted((r for r in rows if r["scenario"] == sc.name),
                         key=lambda r: (r["strategy"], r["seed"]))
        result["scenarios"][sc.name] = {
            "description": sc.description, "task": sc.task_name, "task_params": sc.task_params,
            "budget": sc.budget, "k": sc.k, "n_particles": sc.n_particles,
            "n_steps": sc.n_steps, "summary": summarise_runs(sc_rows, list(strategies)),
            "runs": sc_rows}
        task = sc.task()
        if task.name == "digits-liked":
            lam = sc.run_options.get("lam_max", task.defaults["lam_max"])
            result["scenarios"][sc.name]["ideal_balance"] = tilted_balance(task, lam)
    return result


def _machine() -> dict[str, Any]:
    import platform

    return {"platform": platform.platform(), "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "processor": platform.processor()}


def _fmt(entry: dict[str, Any]) -> str:
    if entry.get("mean") is None:
        return "-"
    ci = entry.get("ci95")
    return f"{entry['mean']:.2f}" + (f" ± {ci:.2f}" if ci is not None else "")


def table(result: dict[str, Any], scenario: str) -> str:
    """A fixed-width table of one scenario's summary (mean ± 95% interval)."""
    sc = result["scenarios"][scenario]
    summary = sc["summary"]
    metrics = [m for m in METRICS if any(summary[s][m]["mean"] is not None for s in summary)]
    rows = [["strategy", *metrics]]
    for s, entry in summary.items():
        rows.append([s, *[_fmt(entry[m]) for m in metrics]])
    for base in BASELINES:
        for s, entry in summary.items():
            if f"minus_{base}" in entry[metrics[0]]:
                rows.append([f"{s} − {base}",
                             *[_fmt(entry[m].get(f"minus_{base}", {})) for m in metrics]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    head = (f"{scenario}: {sc['description']}; budget {sc['budget']}, k {sc['k']}, "
            f"N {sc['n_particles']}, {len(result['seeds'])} seeds")
    return head + "\n" + "\n".join(lines)


def markdown(result: dict[str, Any]) -> str:
    """The summary as Markdown tables (one per scenario), with the machine and date."""
    m = result["machine"]
    out = [f"Measured {result['date']} on {m['platform']} ({m['cpu_count']} CPUs, torch "
           f"{m['torch']}); seeds {result['seeds'][0]}-{result['seeds'][-1]} "
           f"({len(result['seeds'])}, paired); {result['wall_s']:.0f} s wall in all.", ""]
    for name, sc in result["scenarios"].items():
        summary = sc["summary"]
        metrics = [k for k in METRICS if any(summary[s][k]["mean"] is not None
                                             for s in summary)]
        out.append(f"### {name}: {sc['description']}")
        out.append("")
        ideal = (f"; the tilted target's own balance {sc['ideal_balance']:.2f}"
                 if sc.get("ideal_balance") is not None else "")
        out.append(f"budget {sc['budget']}, k {sc['k']}, N {sc['n_particles']}, "
                   f"{sc['n_steps']} steps; mean ± 95% interval over seeds{ideal}")
        out.append("")
        out.append("| strategy | " + " | ".join(metrics) + " |")
        out.append("|---" * (len(metrics) + 1) + "|")
        for s, entry in summary.items():
            out.append(f"| {s} | " + " | ".join(_fmt(entry[k]) for k in metrics) + " |")
        for base in BASELINES:
            for s, entry in summary.items():
                if f"minus_{base}" in entry[metrics[0]]:
                    out.append(f"| {s} − {base} | " + " | ".join(
                        _fmt(entry[k].get(f"minus_{base}", {})) for k in metrics) + " |")
        out.append("")
    return "\n".join(out)


def plot(result: dict[str, Any], scenario: str, path: Path) -> None:
    """One panel per metric: each strategy's mean with its 95% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = result["scenarios"][scenario]["summary"]
    metrics = [m for m in METRICS if any(summary[s][m]["mean"] is not None for s in summary)]
    cols = 4
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    names = list(summary)
    for ax, m in zip(axes.flat, metrics, strict=False):
        means = [summary[s][m]["mean"] if summary[s][m]["mean"] is not None else math.nan
                 for s in names]
        errs = [summary[s][m]["ci95"] or 0.0 for s in names]
        ax.bar(range(len(names)), means, yerr=errs, capsize=3,
               color=["tab:blue", "tab:green", "tab:orange", "tab:gray", "tab:purple",
                      "tab:red"][:len(names)])
        ax.set_xticks(range(len(names)), names, rotation=30, fontsize=7)
        ax.set_title(m, fontsize=9)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    sc = result["scenarios"][scenario]
    fig.suptitle(f"{scenario}: {sc['description']} (mean ± 95% CI, "
                 f"{len(result['seeds'])} seeds)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(result: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """``bench.json``, ``bench.md`` and ``<scenario>.png`` per scenario into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "bench.json", out_dir / "bench.md"]
    paths[0].write_text(json.dumps(result, indent=1))
    paths[1].write_text(markdown(result))
    for name in result["scenarios"]:
        p = out_dir / f"{name}.png"
        plot(result, name, p)
        paths.append(p)
    return paths

