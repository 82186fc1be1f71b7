"""The held-out runs of docs/feedback-benchmark.md: ``fkc-align bench``'s own sizes with
``FULL=1`` (the current run), or sized down by the variables below (the earlier runs).

    python docs/feedback-benchmark/run.py OUT SEEDS SCENARIO:STRATEGY,... [SCENARIO:...]
    python docs/feedback-benchmark/run.py --summarise DIR ROWS.jsonl...   # bench.json/md, PNGs

Environment: ``FULL=1`` runs ``fkc-align bench``'s own sizes (``BN``, ``BS``, ``BE`` are then
ignored); ``BN`` digits particles (48), ``BS`` sampler steps (16; digits-unet keeps its
30), ``BE`` reward-training epochs (60, patience 10), ``LAM`` a ``lam_max`` for every scenario
(the sweep), ``LIKED`` / ``LIKED3`` / ``LAYOUT`` / ``TARGET`` another instance (e.g.
``LIKED=2,5``). Rows are appended to ``OUT`` (JSON lines) as runs end.
"""

import dataclasses
import json
import os
import sys

from fkc_align import bench


def sized(sc: bench.Scenario) -> bench.Scenario:
    if os.environ.get("FULL"):
        if "LAM" not in os.environ:
            return sc
        return dataclasses.replace(sc, run_options={**sc.run_options,
                                                    "lam_max": float(os.environ["LAM"])})
    n, steps = int(os.environ.get("BN", 48)), int(os.environ.get("BS", 16))
    opts = {**sc.run_options, "train_options": {"max_epochs": int(os.environ.get("BE", 60)),
                                                "patience": 10}}
    if "LAM" in os.environ:
        opts["lam_max"] = float(os.environ["LAM"])
    if sc.name == "digits-unet":
        return dataclasses.replace(sc, run_options=opts)
    return dataclasses.replace(sc, n_particles=n if sc.task_name != "rare-mode" else 64,
                               n_steps=steps, run_options=opts)


def instance() -> dict:
    """The benchmark instance named by ``LIKED``, ``LIKED3``, ``LAYOUT``, ``TARGET``."""
    env, out = os.environ, {}
    for key in ("LIKED", "LIKED3"):
        if key in env:
            out[key.lower()] = tuple(int(c) for c in env[key].split(","))
    for key in ("LAYOUT", "TARGET"):
        if key in env:
            out[key.lower()] = int(env[key])
    return out


def summarise(out_dir: str, files: list[str]) -> None:
    """``bench.json``, ``bench.md`` and the PNGs of the rows in ``files`` (latest row of a
    scenario, strategy and seed wins) into ``out_dir``."""
    rows = {}
    for path in files:
        for line in open(path):
            r = json.loads(line)
            rows[(r["scenario"], r["strategy"], r["seed"])] = r
    rows = list(rows.values())
    names = sorted({r["scenario"] for r in rows})
    scs = [sized(s) for s in bench.scenarios(**instance()) if s.name in names]
    order = [s for s in ("fkc-explore", "fkc-explore-uniform", "fkc-explore-lam0",
                         "fkc-explore-noclusters", "fkc-explore-nokeep", "fkc-explore-farthest",
                         "fkc-explore-sample", "fkc-explore-nodecay", "fkc-explore-regions",
                         "greedy", "ucb", "thompson", "random")
             if any(r["strategy"] == s for r in rows)]
    seeds = sorted({r["seed"] for r in rows})
    result = bench.assemble(rows, scs, seeds, {s: {"strategy": s} for s in order},
                            sum(r["wall_s"] for r in rows))
    for sc in result["scenarios"].values():  # each scenario's own strategies only
        sc["summary"] = {k: v for k, v in sc["summary"].items() if v["wall_s"]["n"]}
    bench.write(result, out_dir)
    print("\n".join(targets(result)))


def _f(e: dict) -> str:
    if e.get("mean") is None:
        return "-"
    return f"{e['mean']:.2f} ± {e['ci95']:.2f}" if e.get("ci95") is not None else \
        f"{e['mean']:.2f}"


def _met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def targets(result: dict) -> list[str]:
    """Every target of the issue, with its numbers, as Markdown bullets."""
    sc, out = result["scenarios"], []
    for name in ("multimodal", "multimodal-3"):
        if name not in sc:
            continue
        s, ideal = sc[name]["summary"], sc[name].get("ideal_balance", 1.0)
        d = s["fkc-explore"]
        cov, hit, bal = d["coverage"], d["hit_rate"], d["balance"]
        out.append(f"- **{name}** ({cov['n']} seeds): coverage {_f(cov)} at hit rate {_f(hit)}: "
                   f"{_met(cov['mean'] >= 0.75 and hit['mean'] >= 0.6)}; balance {_f(bal)} "
                   f"against 0.6 × {ideal:.2f} = {0.6 * ideal:.2f}: "
                   f"{_met(bal['mean'] >= 0.6 * ideal)}")
        for rival in ("ucb", "thompson"):
            if rival in s:
                dh, dc = s[rival]["hit_rate"]["minus_fkc-explore"], \
                    s[rival]["coverage"]["minus_fkc-explore"]
                out.append(f"  - {rival} − default: hit rate {_f(dh)}, coverage {_f(dc)}: "
                           f"{_met(dh['mean'] <= 0.05 and dc['mean'] < 0)}")
        for abl in ("fkc-explore-uniform", "fkc-explore-lam0", "fkc-explore-noclusters",
                    "fkc-explore-nokeep", "fkc-explore-farthest", "fkc-explore-sample"):
            if abl in s:
                sig = [f"{m} {_f(s[abl][m]['minus_fkc-explore'])}" for m in bench.METRICS
                       if s[abl][m].get("minus_fkc-explore", {}).get("ci95") is not None
                       and abs(s[abl][m]["minus_fkc-explore"]["mean"])
                       > s[abl][m]["minus_fkc-explore"]["ci95"]]
                out.append(f"  - {abl} − default, intervals excluding 0: "
                           f"{'; '.join(sig) or 'none'}")
    for name in ("rare-mode", "rare-between"):
        if name in sc:
            d = sc[name]["summary"]["fkc-explore"]["found"]
            diff = d["minus_random"]
            out.append(f"- **{name}** ({d['n']} seeds): found {_f(d)}, blind (random) "
                       f"{_f(sc[name]['summary']['random']['found'])}, default − blind "
                       f"{_f(diff)}: {_met(diff['mean'] >= -0.1)}")
    if "small-budget" in sc:
        s = sc["small-budget"]["summary"]
        d = s["fkc-explore"]["hit_rate"]
        r, g = d["minus_random"], d["minus_greedy"]
        out.append(f"- **small-budget** ({d['n']} seeds): hit rate {_f(d)}; − random {_f(r)} "
                   f"(lower bound {r['mean'] - r['ci95']:.2f}), − greedy {_f(g)}: "
                   f"{_met(r['mean'] - r['ci95'] > 0 and g['mean'] >= -0.05)}")
        if "fkc-explore-nodecay" in s:
            out.append(f"  - fkc-explore-nodecay − default: hit rate "
                       f"{_f(s['fkc-explore-nodecay']['hit_rate']['minus_fkc-explore'])}")
    if "digits-unet" in sc:
        s = sc["digits-unet"]["summary"]
        d, g = s["fkc-explore"]["off_manifold_share"], s["greedy"]["off_manifold_share"]
        diff = d.get("minus_greedy", {})
        out.append(f"- **digits-unet** ({d['n']} seeds with hits): off-manifold share of the "
                   f"default's hits {_f(d)}, greedy's {_f(g)}, default − greedy {_f(diff)}: "
                   f"{_met(d['mean'] <= 0.05 and diff.get('mean', 1.0) < 0)}")
    return out


def main() -> None:
    if sys.argv[1] == "--summarise":
        summarise(sys.argv[2], sys.argv[3:])
        return
    out, seeds = sys.argv[1], sys.argv[2]
    a, b = map(int, seeds.split("-"))
    scs = {s.name: sized(s) for s in bench.scenarios(**instance())}
    with open(out, "a") as f:
        def on_row(row):
            f.write(json.dumps(row) + "\n")
            f.flush()

        for spec in sys.argv[3:]:
            name, strats = spec.split(":")
            bench.run_bench([scs[name]], list(range(a, b + 1)),
                            {s: {"strategy": s} for s in strats.split(",")}, jobs=2,
                            on_row=on_row, log=lambda m: None)


if __name__ == "__main__":
    main()
