"""Issue 19's targets for the current default over every held-out seed it has rows for, on
this processor model: 300-315 and 316-347 (``variations/``) and the fresh 348-379
(``front-explore/``, run beside the `front` schedule). Per digits instance: the default's hit
rate, coverage and balance against their bars, and UCB's and Thompson's paired hit-rate lead;
the rare modes' found rate; the small budget's hit rate against greedy's and random's where
they ran on the same seeds. Each line names its seeds.

    python docs/feedback-benchmark/heldout-80/targets.py            # 80 seeds: targets.txt
    python docs/feedback-benchmark/heldout-80/targets.py --with-380  # 112: targets-112.txt

``--with-380`` adds the default's and UCB's rows on the fresh seeds 380-411 (``late-anchors/``,
run beside ``front-iso``; no Thompson there).
"""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from design_rows import BALANCE_BAR, current_default_heldout, fmt, load, paired  # noqa: E402

from fkc_align.bench import interval  # noqa: E402

VAR = HERE.parent / "variations"
FRONT = HERE.parent / "front-explore"
def all_rows(with_380: bool = False) -> dict:
    rows = current_default_heldout()
    for name in ("fkc-explore-rare-unet-316-347", "fkc-explore-small-budget-316-347",
                 "greedy-small-budget-316-347", "greedy-heldout-300-315",
                 "random-heldout-300-315"):
        load(VAR / f"rows-{name}.jsonl", rows)
    for name in ("fkc-explore", "ucb", "thompson"):
        load(FRONT / f"rows-{name}-heldout-348-379.jsonl", rows)
    load(FRONT / "rows-fkc-explore-unet-heldout-348-363.jsonl", rows)
    if with_380:
        for name in ("fkc-explore", "ucb"):
            load(HERE.parent / "late-anchors" / f"rows-{name}-heldout-380-411.jsonl", rows)
    return rows


def span(seeds: list[int]) -> str:
    return f"{len(seeds)} seeds, {min(seeds)}-{max(seeds)}"


def values(rows: dict, inst: tuple, name: str, metric: str) -> tuple[list[int], list[float]]:
    got = sorted((k[3], r[metric]) for k, r in rows.items()
                 if k[:3] == (*inst, name) and r[metric] is not None)
    return [s for s, _ in got], [v for _, v in got]


def main() -> None:
    rows = all_rows("--with-380" in sys.argv[1:])
    print("== the current default over its held-out seeds (mean ± 95% interval)")
    for inst in sorted({k[:2] for k in rows if k[0].startswith("multimodal")}):
        seeds, hit = values(rows, inst, "fkc-explore", "hit_rate")
        cells = [f"hit rate {fmt(interval(hit))}"]
        for metric, bar in (("coverage", 0.75), ("balance", BALANCE_BAR[inst[1]])):
            cells.append(f"{metric} {fmt(interval(values(rows, inst, 'fkc-explore', metric)[1]))}"
                         f" (bar {bar})")
        for rival in ("ucb", "thompson"):
            s, d = paired(rows, inst, rival, "fkc-explore", ("hit_rate",))
            cells.append(f"{rival} lead {fmt(interval(d['hit_rate']))} ({len(s)})")
        print(f"{inst[0]} {list(inst[1])} ({span(seeds)}): " + "; ".join(cells))
    for sc in ("rare-mode", "rare-between", "small-budget", "digits-unet"):
        inst = (sc, ())
        metric = "hit_rate" if sc == "small-budget" else "found"
        seeds, v = values(rows, inst, "fkc-explore", metric)
        cells = [f"{metric} {fmt(interval(v))}"]
        for rival in ("random", "greedy"):
            s, d = paired(rows, inst, "fkc-explore", rival, (metric,))
            if len(s) > 1:
                cells.append(f"− {rival} {fmt(interval(d[metric]))} ({span(s)})")
        if sc == "digits-unet":
            share = values(rows, inst, "fkc-explore", "off_manifold_share")[1]
            cells.append(f"off-manifold share {fmt(interval(share))} ({len(share)} runs "
                         f"with hits)")
        print(f"{sc} ({span(seeds)}): " + "; ".join(cells))


if __name__ == "__main__":
    main()
