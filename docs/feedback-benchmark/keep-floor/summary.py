"""Paired differences of ``keep-floor`` and ``front-floor`` (``variant.py``) against the
default, and of ``front-floor`` against ``fkc-explore-early`` (``front``), on the design seeds
200-215: the default's rows are ``region-radius/rows-fkc-explore-design.jsonl``, ``front``'s
``front-explore/rows-front-design.jsonl``, UCB's ``variations/rows-ucb-design.jsonl`` (one
processor model); then, where they exist, the held-out rows of ``heldout.sh`` (fresh seeds
412-443): each variant against the default run beside it, UCB's lead over each, and each
one's means against the bars; then the runs made after the verdict (``after.sh``): the digits
UNet for ``keep-floor`` (the new default) and the old default (``fkc-explore-nofloor``), and
the new default's FKC ablations against it on the UNet and both rare modes.

    python docs/feedback-benchmark/keep-floor/summary.py
"""

import sys
from pathlib import Path

from fkc_align.bench import interval

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "variations"))

from design_rows import OTHER, design_base_rows, fmt, load, means, report  # noqa: E402
from summary import off_manifold, rival_gaps  # noqa: E402  (variations/summary.py)

VARIANTS = ["keep-floor", "front-floor"]
HELD = "412-443"


def main() -> None:
    rows = design_base_rows()
    for path in sorted(HERE.glob("rows-*-design.jsonl")):
        load(path, rows)
    present = [v for v in VARIANTS if any(k[2] == v for k in rows)]
    report(rows, "design seeds 200-215: variant - default", ["front", *present], pooled=True)
    if "front-floor" in present:
        as_base = {(k[0], k[1], "fkc-explore" if k[2] == "front" else k[2], k[3]): r
                   for k, r in rows.items() if k[2] in ("front", "front-floor")}
        report(as_base, "design seeds 200-215: front-floor - front", ["front-floor"],
               pooled=True)
    rival_gaps(rows, "design seeds 200-215: UCB's lead", ["fkc-explore", "front", *present])
    held: dict = {}
    for path in sorted(HERE.glob(f"rows-*-heldout-{HELD}.jsonl")):
        load(path, held)
    tried = [v for v in VARIANTS if any(k[2] == v for k in held)]
    if tried:
        report(held, f"held-out seeds {HELD}: variant - default", tried, pooled=True)
        rival_gaps(held, f"held-out seeds {HELD}: UCB's and Thompson's lead",
                   ["fkc-explore", *tried])
        means(held, ["fkc-explore", *tried, "ucb", "thompson"], HELD)
    after_verdict(held)


def after_verdict(held: dict) -> None:
    """The new default (``keep-floor``'s rows) as the base: the old default and the FKC
    ablations against it on the digits UNet and the rare modes; the UNet's off-manifold share."""
    names = ("fkc-explore-nofloor", "fkc-explore-uniform", "fkc-explore-lam0")
    base = {(k[0], k[1], "fkc-explore", k[3]): r for k, r in held.items()
            if k[2] == "keep-floor"}
    base.update({k: r for k, r in held.items() if k[2] in names})
    if not any(k[0] == "digits-unet" for k in base):
        return
    report(base, f"held-out seeds {HELD}, after the verdict: strategy - the new default",
           list(names))
    unet = {k: r for k, r in held.items() if k[0] == "digits-unet"}
    off_manifold(unet)
    for v in names:
        seeds = [k[3] for k in base if k[:3] == ("digits-unet", (), v)
                 and ("digits-unet", (), "fkc-explore", k[3]) in base]
        d = [base[("digits-unet", (), v, s)]["off_manifold_share"]
             - base[("digits-unet", (), "fkc-explore", s)]["off_manifold_share"] for s in seeds
             if base[("digits-unet", (), v, s)]["off_manifold_share"] is not None
             and base[("digits-unet", (), "fkc-explore", s)]["off_manifold_share"] is not None]
        if len(d) > 1:
            print(f"digits-unet {v} - new default: off_manifold_share {fmt(interval(d))} "
                  f"({len(d)} seeds where both hit); {', '.join(OTHER)} above")


if __name__ == "__main__":
    main()
