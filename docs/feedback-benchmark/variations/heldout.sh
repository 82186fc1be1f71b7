#!/bin/bash
# var3 beside the default, UCB and Thompson on held-out seeds 300-315, every instance of
# run.sh, and the digits UNet (needs diffusers): all on one machine. Run from the repository
# root after run.sh; then `python docs/feedback-benchmark/variations/summary.py`. It ran before
# variations became the default: its fkc-explore rows are the previous default's, which is
# fkc-explore-novariations now (name that instead of fkc-explore to reproduce them).
set -e
export FULL=1 HALVES="300-307 308-315"
here=docs/feedback-benchmark/variations
source docs/feedback-benchmark/design_runs.sh
combos="$ALL_COMBOS digits-unet:8"
for name in ${VARIANTS:-fkc-explore var3 ucb thompson}; do
  design_runs $here/variant.py $name $here/rows-$name-heldout-300-315.jsonl
done
