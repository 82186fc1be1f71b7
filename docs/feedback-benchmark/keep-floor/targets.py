"""Issue 19's targets for the new default (the kept picks' floor) over every held-out seed it
has rows for, on this processor model: 300-315 (``table.sh``), 316-411 (``more.sh``; the six
digits instances) and the fresh 412-443 (``heldout.sh``, ``keep-floor``'s rows, bit for bit the
library default's). Per digits instance: hit rate, coverage and balance against their bars,
the floor's paired effect against the old default on the same seeds (``fkc-explore-nofloor``:
the rows of ../heldout-80/ and of ``heldout.sh``), and UCB's and Thompson's paired lead; the
rare modes' found rate, the small budget's hit rate against greedy's and random's, the UNet's
hits off the manifold. Each line names its seeds.

    python docs/feedback-benchmark/keep-floor/targets.py   # targets.txt
"""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "heldout-80"))

from design_rows import BALANCE_BAR, fmt, load, paired  # noqa: E402
from targets import all_rows, span, values  # noqa: E402  (heldout-80/targets.py)

from fkc_align.bench import interval  # noqa: E402

NEW = "fkc-explore"
OLD = "nofloor"


def rows_both() -> dict:
    """The old default's rows named ``nofloor``, the new default's ``fkc-explore``, UCB's,
    Thompson's, greedy's and random's as they are."""
    old = all_rows(with_380=True)
    load(HERE / "rows-fkc-explore-heldout-412-443.jsonl", old)
    rows = {(k[0], k[1], OLD if k[2] == "fkc-explore" else k[2], k[3]): r
            for k, r in old.items()}
    for name in ("ucb", "thompson"):
        load(HERE / f"rows-{name}-heldout-412-443.jsonl", rows)
    load(HERE / "rows-fkc-explore-table-300-315.jsonl", rows)
    load(HERE / "rows-fkc-explore-more-316-411.jsonl", rows)
    for name in ("heldout", "unet-heldout"):
        load(HERE / f"rows-keep-floor-{name}-412-443.jsonl", rows, rename={"keep-floor": NEW})
    return rows


def digits(rows: dict) -> None:
    print("== the new default over its held-out seeds (mean ± 95% interval; paired: new − old, "
          "rival − new)")
    pooled: dict = {}
    for inst in sorted({k[:2] for k in rows if k[0].startswith("multimodal")}):
        seeds, hit = values(rows, inst, NEW, "hit_rate")
        cells = [f"hit rate {fmt(interval(hit))}"]
        for metric, bar in (("coverage", 0.75), ("balance", BALANCE_BAR[inst[1]])):
            cells.append(f"{metric} {fmt(interval(values(rows, inst, NEW, metric)[1]))}"
                         f" (bar {bar})")
        s, d = paired(rows, inst, NEW, OLD, ("hit_rate", "coverage", "balance"))
        for m, v in d.items():
            pooled.setdefault(m, []).extend(v)
        cells.append("floor: " + ", ".join(f"{m} {fmt(interval(v))}" for m, v in d.items())
                     + f" ({len(s)})")
        for rival in ("ucb", "thompson"):
            s, d = paired(rows, inst, rival, NEW, ("hit_rate",))
            cells.append(f"{rival} lead {fmt(interval(d['hit_rate']))} ({span(s)})")
        print(f"{inst[0]} {list(inst[1])} ({span(seeds)}): " + "; ".join(cells))
    for m, v in pooled.items():
        print(f"digits pooled floor {m} ({len(v)} runs): {fmt(interval(v))}")


def others(rows: dict) -> None:
    for sc in ("rare-mode", "rare-between", "small-budget", "digits-unet"):
        inst = (sc, ())
        metric = "hit_rate" if sc == "small-budget" else "found"
        seeds, v = values(rows, inst, NEW, metric)
        cells = [f"{metric} {fmt(interval(v))}"]
        for rival in ("random", "greedy"):
            s, d = paired(rows, inst, NEW, rival, (metric,))
            if len(s) > 1:
                cells.append(f"− {rival} {fmt(interval(d[metric]))} ({span(s)})")
        if sc == "digits-unet":
            share = values(rows, inst, NEW, "off_manifold_share")[1]
            cells.append(f"off-manifold share {fmt(interval(share))} ({len(share)} runs "
                         f"with hits)")
        print(f"{sc} ({span(seeds)}): " + "; ".join(cells))


if __name__ == "__main__":
    both = rows_both()
    digits(both)
    others(both)
