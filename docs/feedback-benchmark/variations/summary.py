"""Paired differences against the default of the variations variants (``variant.py``): on the
design seeds 200-215 (the default's rows: ``strong-answers/rows-fkc-explore-design.jsonl``,
made on the same machine as these) and on held-out seeds 300-315 (``heldout.sh``): every
digits instance, the rare modes, the small budget, each digits metric pooled; then the UNet's
off-manifold share of hits and UCB's and Thompson's hit-rate lead.

    python docs/feedback-benchmark/variations/summary.py
"""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from design_rows import fmt, load, paired, report  # noqa: E402

from fkc_align.bench import interval  # noqa: E402


def rows_of(pattern: str, extra: list[Path]) -> dict:
    rows: dict = {}
    for path in [*extra, *sorted(HERE.glob(pattern))]:
        load(path, rows)
    return rows


def rival_gaps(rows: dict, title: str, variants: list[str]) -> None:
    """Per digits instance: each rival's hit rate minus each variant's, and coverage."""
    print(f"== {title}")
    insts = sorted({k[:2] for k in rows if k[0].startswith("multimodal")})
    for rival in ("ucb", "thompson"):
        for v in variants:
            for inst in insts:
                seeds = [k[3] for k in rows if k[:3] == (*inst, rival)
                         and (*inst, v, k[3]) in rows]
                if len(seeds) < 2:
                    continue
                cells = [f"{m} {fmt(interval([rows[(*inst, rival, s)][m] - rows[(*inst, v, s)][m] for s in seeds]))}"  # noqa: E501
                         for m in ("hit_rate", "coverage")]
                print(f"{rival} - {v} {inst[0]} {list(inst[1])} ({len(seeds)} seeds): "
                      + "; ".join(cells))


def off_manifold(rows: dict) -> None:
    print("== digits UNet: off-manifold share of the hits (runs with hits), hit rate")
    for v in sorted({k[2] for k in rows if k[0] == "digits-unet"}):
        got = [r for k, r in rows.items() if k[0] == "digits-unet" and k[2] == v]
        share = [r["off_manifold_share"] for r in got if r["off_manifold_share"] is not None]
        print(f"{v}: off-manifold {fmt(interval(share))} over {len(share)} runs with hits; "
              f"hit rate {fmt(interval([r['hit_rate'] for r in got]))}")


def ablations(held: dict, seeds: str = "300-315") -> None:
    """Each ablation (and greedy) minus the new default (var3's rows), per scenario, held out
    (``seeds``: the title's seed range)."""
    metrics = {"multimodal": ("hit_rate", "coverage", "balance", "distinct_nearest"),
               "multimodal-3": ("hit_rate", "coverage", "balance", "distinct_nearest"),
               "digits-unet": ("hit_rate", "off_manifold_share", "eval_hit_rate")}
    print(f"== held-out seeds {seeds}: ablation - the new default (var3)")
    for v in ("fkc-explore-uniform", "fkc-explore-lam0", "fkc-explore-noclusters", "greedy"):
        for inst in sorted({k[:2] for k in held}):
            seeds, diffs = paired(held, inst, v, "var3", metrics.get(
                inst[0], ("hit_rate", "found", "first_hit", "eval_hit_rate")))
            cells = [f"{m} {fmt(interval(d))}" for m, d in diffs.items() if len(d) > 1]
            if cells:
                print(f"{v} {inst[0]} {list(inst[1])} ({len(seeds)} seeds): " + "; ".join(cells))


def main() -> None:
    # the var* variants and UCB against the default before variations (regions-only's rows
    # are against var3: regions_only_summary.py)
    design = rows_of("rows-var*-design.jsonl",
                     [HERE.parent / "strong-answers" / "rows-fkc-explore-design.jsonl",
                      HERE / "rows-ucb-design.jsonl"])
    held = rows_of("rows-*-heldout-300-315.jsonl", [])
    cpus = sorted({r.get("cpu", "?") for r in [*design.values(), *held.values()]})
    print(f"== rows made on {cpus}")
    variants = sorted({k[2] for k in design} - {"fkc-explore", "ucb", "thompson"})
    for v in variants:
        report(design, f"design seeds 200-215: {v} - fkc-explore", [v], pooled=True)
    rival_gaps(design, "design seeds 200-215: the rivals' lead", ["fkc-explore", "var3"])
    for v in sorted({k[2] for k in held} - {"fkc-explore", "ucb", "thompson"}):
        report(held, f"held-out seeds 300-315: {v} - fkc-explore", [v], pooled=True)
    rival_gaps(held, "held-out seeds 300-315: the rivals' lead", ["fkc-explore", "var3"])
    off_manifold(held)
    ablations(held)
    # seeds 316-347 ran after the change: the library's default there is var3, and
    # -novariations the old default; named here as on seeds 300-315
    more = dict(held)
    for path in sorted(HERE.glob("rows-*-heldout-316-347.jsonl")):
        load(path, more, rename={"fkc-explore": "var3", "fkc-explore-novariations": "fkc-explore"})
    if len(more) > len(held):
        more = {k: r for k, r in more.items() if k[0].startswith("multimodal")
                and list(k[1]) not in ([3, 8],)}
        report(more, "held-out seeds 300-347: var3 - fkc-explore", ["var3"], pooled=True)
        rival_gaps(more, "held-out seeds 300-347: the rivals' lead", ["fkc-explore", "var3"])
        ablations(more, "300-347 (ablations-316-347.sh)")
    # the rare modes and the UNet: 316-347's default is the library's fkc-explore (var3)
    rare = {k: r for k, r in held.items() if not k[0].startswith("multimodal")}
    for path in sorted(HERE.glob("rows-*-rare-unet-316-347.jsonl")):
        load(path, rare, rename={"fkc-explore": "var3"})
    if any(k[3] >= 316 for k in rare):
        ablations(rare, "300-347 (ablations-rare-unet-316-347.sh)")
        off_manifold({k: r for k, r in rare.items()
                      if k[2] in ("var3", "fkc-explore-lam0", "fkc-explore-uniform")})
        for v in ("fkc-explore", "var3", "ucb", "thompson"):
            for inst in sorted({k[:2] for k in more}):
                got = [r for k, r in more.items() if k[:3] == (*inst, v)]
                cells = [f"{m} {fmt(interval([r[m] for r in got]))}"
                         for m in ("hit_rate", "coverage", "balance")]
                print(f"{v} {inst[0]} {list(inst[1])} ({len(got)} seeds): " + "; ".join(cells))


if __name__ == "__main__":
    main()
