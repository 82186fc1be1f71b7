#!/bin/bash
# front (variant.py) beside the default on fresh held-out seeds 348-379, every instance, and on
# the digits UNet (348-363); UCB and Thompson beside them on the six digits instances. Two
# processes at a time. Run from the repository root after run.sh (see rule.md); then
# `python docs/feedback-benchmark/front-explore/summary.py`.
set -e
export FULL=1
here=docs/feedback-benchmark/front-explore
source docs/feedback-benchmark/design_runs.sh
for name in ${VARIANTS:-fkc-explore front}; do
  HALVES="348-363 364-379" combos=$ALL_COMBOS \
    design_runs $here/variant.py $name $here/rows-$name-heldout-348-379.jsonl
  HALVES="348-355 356-363" combos="digits-unet:8" \
    design_runs $here/variant.py $name $here/rows-$name-unet-heldout-348-363.jsonl
done
for name in ${RIVALS:-ucb thompson}; do
  HALVES="348-363 364-379" combos=$DIGITS_COMBOS \
    design_runs $here/variant.py $name $here/rows-$name-heldout-348-379.jsonl
done
