"""Paired differences of the tilted-pool variants (``variant.py``) against the default on the
design seeds 200-215, and UCB's lead over each: the default's rows are ``keep-floor``'s
(``keep-floor/rows-keep-floor-design.jsonl``, the library default since 4457ec4), UCB's
``variations/rows-ucb-design.jsonl`` (one processor model); then, where they exist, the
held-out rows of ``heldout.sh``: each variant against the default run beside it, UCB's and
Thompson's lead over each, and each one's means against the bars.

    python docs/feedback-benchmark/pool-tilt/summary.py
"""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "variations"))

from design_rows import BENCH, load, means, report  # noqa: E402
from summary import rival_gaps  # noqa: E402  (variations/summary.py)

HELD = sys.argv[1] if len(sys.argv) > 1 else "444-475"


def main() -> None:
    rows = load(BENCH / "keep-floor" / "rows-keep-floor-design.jsonl", {},
                rename={"keep-floor": "fkc-explore"})
    load(BENCH / "variations" / "rows-ucb-design.jsonl", rows)
    for path in sorted(HERE.glob("rows-*-design.jsonl")):
        load(path, rows)
    variants = sorted({k[2] for k in rows} - {"fkc-explore", "ucb"})
    report(rows, "design seeds 200-215: variant - default", variants, pooled=True)
    rival_gaps(rows, "design seeds 200-215: UCB's lead", ["fkc-explore", *variants])
    means(rows, ["fkc-explore", *variants, "ucb"], "200-215", kind="design")
    held: dict = {}
    for path in sorted(HERE.glob(f"rows-*-heldout-{HELD}.jsonl")):
        load(path, held)
    tried = sorted({k[2] for k in held} - {"fkc-explore", "ucb", "thompson"})
    if tried:
        report(held, f"held-out seeds {HELD}: variant - default", tried, pooled=True)
        rival_gaps(held, f"held-out seeds {HELD}: UCB's and Thompson's lead",
                   ["fkc-explore", *tried])
        means(held, ["fkc-explore", *tried, "ucb", "thompson"], HELD)


if __name__ == "__main__":
    main()
