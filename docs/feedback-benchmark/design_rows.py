"""Paired differences of experiment variants against the default on the design seeds: the
shared part of the experiments' ``summary.py`` scripts (ess-threshold/, heldout-third/).

Rows are keyed ``(scenario, liked, strategy, seed)``; a row's instance is its ``liked`` field
or, for rows without one, the folder's instance (``liked_of``); the mixture and small-budget
scenarios have none. Variant − baseline, mean ± 95% t-interval (``fkc_align.bench.interval``,
the bench's own); bold where the interval excludes 0.
"""

import json
import platform
import sys
from pathlib import Path

from fkc_align.bench import interval

BENCH = Path(__file__).parent
DIGITS = ("hit_rate", "coverage", "balance", "distinct_nearest", "eval_hit_rate")
OTHER = ("hit_rate", "found", "first_hit", "eval_hit_rate")
FIRST = {"multimodal": (3, 8), "multimodal-3": (0, 4, 7)}


def load(path: Path, rows: dict, liked_of: dict | None = None,
         rename: dict | None = None) -> dict:
    """Add the rows of ``path`` to ``rows``; ``rename`` maps strategy names (e.g. a variant
    that is the default itself to ``fkc-explore``)."""
    for line in open(path):
        r = json.loads(line)
        if "seed" not in r:
            continue
        if r["scenario"].startswith("multimodal"):
            liked = tuple(r["liked"]) if "liked" in r else liked_of[r["scenario"]]
        else:
            liked = ()
        strategy = (rename or {}).get(r["strategy"], r["strategy"])
        rows[(r["scenario"], liked, strategy, r["seed"])] = r
    return rows


def design_defaults() -> dict:
    """The default's rows on design seeds 200-215: the four digits instances and the rare
    modes (pick-variants/), the small budget (cold-start/)."""
    rows: dict = {}
    load(BENCH / "pick-variants" / "rows-design-200-215.jsonl", rows)
    return load(BENCH / "cold-start" / "rows-design.jsonl", rows, FIRST)


def design_base_rows() -> dict:
    """The design-seed rows (200-215) the experiments since ``front-explore/`` compare against,
    made on one processor model: the default's before the floor (``region-radius/``), ``front``'s
    (``fkc-explore-early``, ``front-explore/``) and UCB's (``variations/``)."""
    rows: dict = {}
    for path in (BENCH / "region-radius" / "rows-fkc-explore-design.jsonl",
                 BENCH / "front-explore" / "rows-front-design.jsonl",
                 BENCH / "variations" / "rows-ucb-design.jsonl"):
        load(path, rows)
    return rows


def current_default_heldout() -> dict:
    """The variations default's held-out rows, named ``fkc-explore`` (seeds 300-315: var3's
    rows; 316-347: the library default's), with UCB's and Thompson's on the same seeds, all
    made on the 2-core Intel Xeon (``variations/``)."""
    var = BENCH / "variations"
    rows = load(var / "rows-var3-heldout-300-315.jsonl", {}, rename={"var3": "fkc-explore"})
    for name in ("fkc-explore-heldout-316-347", "ucb-heldout-300-315", "ucb-heldout-316-347",
                 "thompson-heldout-300-315", "thompson-heldout-316-347"):
        load(var / f"rows-{name}.jsonl", rows)
    return rows


def fmt(d: dict) -> str:
    s = f"{d['mean']:+.3f} ± {d['ci95']:.3f}"
    return f"**{s}**" if d["ci95"] is not None and abs(d["mean"]) > d["ci95"] else s


def paired(rows: dict, inst: tuple, variant: str, base: str,
           metrics: tuple[str, ...]) -> tuple[list[int], dict[str, list[float]]]:
    """The seeds where instance ``inst`` (scenario, liked) has rows of both ``variant`` and
    ``base``, and per metric the paired differences ``variant − base`` over the seeds where
    both have a value."""
    seeds = [k[3] for k in rows if k[:3] == (*inst, variant) and (*inst, base, k[3]) in rows]
    diffs = {m: [rows[(*inst, variant, s)][m] - rows[(*inst, base, s)][m] for s in seeds
                 if rows[(*inst, variant, s)][m] is not None
                 and rows[(*inst, base, s)][m] is not None] for m in metrics}
    return seeds, diffs


def report(rows: dict, title: str, variants: list[str], pooled: bool = False) -> None:
    """Per instance and variant, each metric's paired difference against ``fkc-explore``;
    ``pooled``: then each digits metric over every digits instance's runs."""
    print(f"== {title}")
    pool: dict = {}
    for inst in sorted({(k[0], k[1]) for k in rows if k[2] in variants}):
        digits = inst[0].startswith("multimodal")
        for v in variants:
            seeds, diffs = paired(rows, inst, v, "fkc-explore", DIGITS if digits else OTHER)
            cells = []
            for m, d in diffs.items():
                if len(d) > 1:
                    cells.append(f"{m} {fmt(interval(d))}")
                if digits:
                    pool.setdefault((v, m), []).extend(d)
            if seeds:
                print(f"{inst[0]} {list(inst[1])} {v} ({len(seeds)} seeds): " + "; ".join(cells))
    if pooled:
        for (v, m), d in pool.items():
            print(f"digits pooled {v} {m} ({len(d)} runs): {fmt(interval(d))}")


def cpu_name() -> str:
    """The processor's model name (Linux), or ``platform.processor()``: the loop's rows differ
    between processors, so a variant's rows and the default's are run on one machine."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


def scenario(name: str, liked: tuple[int, ...]):
    """The bench's scenario ``name`` of the instance with ``liked`` classes (two for
    ``multimodal``, three for ``multimodal-3``; unused by the other scenarios)."""
    from fkc_align import bench

    kw = {"multimodal-3": {"liked3": liked}, "multimodal": {"liked": liked}}.get(name, {})
    return next(s for s in bench.scenarios(**kw) if s.name == name)


def variant_rows(argv: list[str], strategies: dict) -> None:
    """An experiment's command line ``MODE SCENARIO LIKED SEEDS``: register ``strategies[MODE]``
    as ``MODE`` when it names one (else ``MODE`` is a built-in strategy, run as it is), then
    print its rows (:func:`print_rows`), each naming this machine's processor."""
    from fkc_align import strategies as S

    if argv[0] in strategies:
        S.register_strategy(argv[0], strategies[argv[0]], replace=True)
    print_rows(argv[1], tuple(int(c) for c in argv[2].split(",")), argv[3], argv[0],
               cpu=cpu_name())


def patched_rows(argv: list[str], prefix: str, patch) -> None:
    """An experiment's command line ``MODE SCENARIO LIKED SEEDS`` for a variant that changes
    the library in place: when ``MODE`` is ``prefix`` followed by a number, call
    ``patch(number)`` and print the default's rows named ``MODE``; else ``MODE`` is a built-in
    strategy, run as it is. Each row names this machine's processor."""
    mode, name, liked, seeds = argv
    liked_t = tuple(int(c) for c in liked.split(","))
    if mode.startswith(prefix):
        patch(float(mode[len(prefix):]))
        print_rows(name, liked_t, seeds, "fkc-explore", label=mode, cpu=cpu_name())
    else:
        print_rows(name, liked_t, seeds, mode, cpu=cpu_name())


def print_rows(name: str, liked: tuple[int, ...], seeds: str, strategy: str,
               label: str | None = None, options: dict | None = None, **extra) -> None:
    """Run ``strategy`` on scenario ``name`` for seeds ``A-B`` (one thread, as the bench's
    workers) and print one JSON row per run, named ``label`` and carrying ``liked`` and
    ``extra``; ``options`` are more ``run_active`` arguments (e.g. ``explore_lam``)."""
    import torch

    from fkc_align import bench

    torch.set_num_threads(1)
    sc = scenario(name, liked)
    a, b = (int(s) for s in seeds.split("-"))
    for seed in range(a, b + 1):
        row = bench.run_one(sc, strategy, {"strategy": strategy, **(options or {})}, seed)
        row["strategy"] = label or strategy
        print(json.dumps({**row, "liked": list(liked), **extra}), flush=True)


# 0.6 × the ideal balance of the tilted target, per digits instance (docs/feedback-benchmark.md);
# the coverage bar is 0.75
BALANCE_BAR = {(3, 8): 0.52, (2, 5): 0.59, (0, 6): 0.60, (0, 4, 7): 0.60, (1, 4, 9): 0.57,
               (0, 8, 9): 0.51}


def means(rows: dict, names: list[str], seeds: str = "348-379", kind: str = "held-out") -> None:
    """Each strategy's mean ± 95% interval per instance: the digits' hit rate, coverage and
    balance (against the bars: coverage 0.75, balance ``BALANCE_BAR``), the rare modes' found
    and the small budget's hit rate; ``kind`` names the seeds in the title."""
    print(f"== {kind} seeds {seeds}: means (coverage bar 0.75; balance bar in brackets)")
    for inst in sorted({k[:2] for k in rows}):
        metrics = (("hit_rate", "coverage", "balance") if inst[0].startswith("multimodal")
                   else ("found", "hit_rate"))
        for name in names:
            got = [r for k, r in rows.items() if k[:2] == inst and k[2] == name]
            if not got:
                continue
            cells = [f"{m} {fmt(interval([r[m] for r in got if r[m] is not None]))}"
                     for m in metrics]
            bar = f" [{BALANCE_BAR[inst[1]]}]" if inst[1] in BALANCE_BAR else ""
            print(f"{inst[0]} {list(inst[1])}{bar} {name} ({len(got)} runs): " + "; ".join(cells))


def design_summary(folder: Path, held: str) -> None:
    """An experiment folder's summary: its variants' rows (``rows-*-design.jsonl``) against the
    library default's on the design seeds 200-215 (``keep-floor``'s rows, the default since
    4457ec4) and UCB's (``variations/``; one processor model), UCB's lead over each and the
    means against the bars; then, where the folder has them, its held-out rows
    (``rows-*-heldout-HELD.jsonl``): each variant against the default run beside it, UCB's and
    Thompson's lead over each, and the means."""
    sys.path.insert(0, str(BENCH / "variations"))
    from summary import rival_gaps  # variations/summary.py

    rows = load(BENCH / "keep-floor" / "rows-keep-floor-design.jsonl", {},
                rename={"keep-floor": "fkc-explore"})
    load(BENCH / "variations" / "rows-ucb-design.jsonl", rows)
    for path in sorted(folder.glob("rows-*-design.jsonl")):
        load(path, rows)
    variants = sorted({k[2] for k in rows} - {"fkc-explore", "ucb"})
    report(rows, "design seeds 200-215: variant - default", variants, pooled=True)
    rival_gaps(rows, "design seeds 200-215: UCB's lead", ["fkc-explore", *variants])
    means(rows, ["fkc-explore", *variants, "ucb"], "200-215", kind="design")
    rows = {}
    for path in sorted(folder.glob(f"rows-*-heldout-{held}.jsonl")):
        load(path, rows)
    tried = sorted({k[2] for k in rows} - {"fkc-explore", "ucb", "thompson"})
    if tried:
        report(rows, f"held-out seeds {held}: variant - default", tried, pooled=True)
        rival_gaps(rows, f"held-out seeds {held}: UCB's and Thompson's lead",
                   ["fkc-explore", *tried])
        means(rows, ["fkc-explore", *tried, "ucb", "thompson"], held)


def variants_summary(folder: Path, variants: list[str]) -> None:
    """Print ``variants``' rows (``folder/rows-VARIANT-design.jsonl``) against the library
    default's on the design seeds 200-215 (``keep-floor``'s rows and, for 3s 6s 9s,
    ``typical-visited``'s; one processor model), on the instances the variants ran: the paired
    differences, pooled over the digits instances, then the means."""
    rows = load(BENCH / "keep-floor" / "rows-keep-floor-design.jsonl", {},
                rename={"keep-floor": "fkc-explore"})
    load(BENCH / "typical-visited" / "rows-fkc-explore-design-3-6-9.jsonl", rows)
    for v in variants:
        load(folder / f"rows-{v}-design.jsonl", rows)
    tried = {k[:2] for k in rows if k[2] in variants}
    rows = {k: r for k, r in rows.items() if k[:2] in tried}
    report(rows, "design seeds 200-215: variant - default", variants, pooled=True)
    means(rows, ["fkc-explore", *variants], "200-215", kind="design")


def rule_verdict(folder: Path, variant: str, seeds: str) -> None:
    """A held-out run's verdict under the experiments' five-part adoption rule (their
    ``rule.md``): ``variant`` − ``fkc-explore`` on ``folder/rows-{both}-heldout-SEEDS.jsonl``,
    per instance and pooled over the digits instances, the bars each meets (coverage 0.75,
    balance ``BALANCE_BAR`` and 0.57 for 3s 6s 9s), then each condition."""
    bars = {**BALANCE_BAR, (3, 6, 9): 0.57}
    rows: dict = {}
    for v in ("fkc-explore", variant):
        load(folder / f"rows-{v}-heldout-{seeds}.jsonl", rows)

    def mean(inst, strategy, metric):
        vals = [r[metric] for k, r in rows.items() if k[:3] == (*inst, strategy)]
        return sum(vals) / len(vals)

    pool, ok3 = {m: [] for m in ("hit_rate", "coverage", "balance")}, True
    for inst in sorted({(k[0], k[1]) for k in rows}):
        digits = inst[0].startswith("multimodal")
        metrics = ("hit_rate", "coverage", "balance") if digits else ("hit_rate", "found")
        used, diffs = paired(rows, inst, variant, "fkc-explore", metrics)
        line = f"{inst[0]} {list(inst[1])} ({len(used)} seeds): " + "; ".join(
            f"{m} {fmt(interval(d))}" for m, d in diffs.items())
        if digits:
            for m in pool:
                pool[m] += diffs[m]
            for m, bar in (("coverage", 0.75), ("balance", bars[inst[1]])):
                d, v = mean(inst, "fkc-explore", m), mean(inst, variant, m)
                line += f" | {m} {d:.2f} -> {v:.2f} (bar {bar})"
                ok3 = ok3 and not d >= bar > v
        else:
            line += (f" | found {mean(inst, 'fkc-explore', 'found'):.3f} -> "
                     f"{mean(inst, variant, 'found'):.3f}")
        print(line)
    iv = {m: interval(d) for m, d in pool.items()}
    for m in pool:
        print(f"pooled digits {m} ({len(pool[m])} runs): {fmt(iv[m])}")
    found = {n: sum(paired(rows, (n, ()), variant, "fkc-explore", ("found",))[1]["found"])
             for n in ("rare-mode", "rare-between")}
    small = interval(paired(rows, ("small-budget", ()), variant, "fkc-explore",
                            ("hit_rate",))[1]["hit_rate"])
    print("1 pooled coverage up, interval above 0:",
          iv["coverage"]["mean"] - iv["coverage"]["ci95"] > 0)
    print("2 hit rate down <= 0.01, balance down <= 0.02:",
          iv["hit_rate"]["mean"] >= -0.01 and iv["balance"]["mean"] >= -0.02)
    print("3 no instance falls under a bar the default meets:", ok3)
    print("4 each rare mode found in at most two runs fewer:",
          all(v >= -2 for v in found.values()), found)
    print("5 small budget hit rate down <= 0.03:", small["mean"] >= -0.03, fmt(small))


if __name__ == "__main__":
    # python docs/feedback-benchmark/design_rows.py FOLDER [HELD-OUT SEEDS]: design_summary
    design_summary(BENCH / sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "444-475")
