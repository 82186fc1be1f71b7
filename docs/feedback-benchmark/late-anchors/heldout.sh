#!/bin/bash
# front-iso beside the default on fresh held-out seeds 380-411 (every instance but the UNet,
# see rule.md), UCB beside them on the six digits instances; two processes at a time. Run
# from the repository root after run.sh; then `python .../late-anchors/summary.py`.
set -e
export FULL=1
here=docs/feedback-benchmark/late-anchors
source docs/feedback-benchmark/design_runs.sh
for name in fkc-explore front-iso; do
  HALVES="380-395 396-411" combos=$ALL_COMBOS \
    design_runs $here/variant.py $name $here/rows-$name-heldout-380-411.jsonl
done
HALVES="380-395 396-411" combos=$DIGITS_COMBOS \
  design_runs $here/variant.py ucb $here/rows-ucb-heldout-380-411.jsonl
