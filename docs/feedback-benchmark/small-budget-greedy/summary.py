"""The small budget on held-out seeds 316-443: each strategy's hit rate and how often it finds a
hit, and the default against greedy and random, paired (mean ± 95% interval; per 32 seeds and
over all 128).

    python docs/feedback-benchmark/small-budget-greedy/summary.py > .../summary.txt
"""

import json
import sys
from pathlib import Path

here = Path(__file__).parent
sys.path.insert(0, str(here.parent))

from design_rows import fmt  # noqa: E402

from fkc_align.bench import interval  # noqa: E402

NAMES = ("fkc-explore", "greedy", "random")
RANGES = ((316, 347), (348, 379), (380, 411), (412, 443), (316, 443))


def main() -> None:
    rows = {}
    for name in NAMES:
        for line in open(here / f"rows-{name}-316-443.jsonl"):
            r = json.loads(line)
            rows[(name, r["seed"])] = r
    for a, b in RANGES:
        seeds = [s for s in range(a, b + 1) if all((n, s) in rows for n in NAMES)]
        cells = [f"{n} hit rate {fmt(interval([rows[(n, s)]['hit_rate'] for s in seeds]))}, "
                 f"found {fmt(interval([rows[(n, s)]['found'] for s in seeds]))}"
                 for n in NAMES]
        print(f"seeds {a}-{b} ({len(seeds)}): " + "; ".join(cells))
        for rival in ("greedy", "random"):
            d = [rows[("fkc-explore", s)]["hit_rate"] - rows[(rival, s)]["hit_rate"]
                 for s in seeds]
            print(f"  default - {rival}: hit rate {fmt(interval(d))}")


if __name__ == "__main__":
    main()
