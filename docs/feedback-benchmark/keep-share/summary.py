"""Each keep-share variant against the default on the design seeds 200-215 (the default's
rows: keep-floor/ and, for 3s 6s 9s, typical-visited/; one processor model), then the means.

    python docs/feedback-benchmark/keep-share/summary.py > .../summary.txt
"""

import sys
from pathlib import Path

here = Path(__file__).parent
sys.path.insert(0, str(here.parent))

from design_rows import load, means, report  # noqa: E402

VARIANTS = ["share0.75", "share0.5"]


def main() -> None:
    rows = load(here.parent / "keep-floor" / "rows-keep-floor-design.jsonl", {},
                rename={"keep-floor": "fkc-explore"})
    load(here.parent / "typical-visited" / "rows-fkc-explore-design-3-6-9.jsonl", rows)
    for v in VARIANTS:
        load(here / f"rows-{v}-design.jsonl", rows)
    tried = {k[:2] for k in rows if k[2] in VARIANTS}
    rows = {k: r for k, r in rows.items() if k[:2] in tried}
    report(rows, "design seeds 200-215: variant - default", VARIANTS, pooled=True)
    means(rows, ["fkc-explore", *VARIANTS], "200-215", kind="design")


if __name__ == "__main__":
    main()
