#!/bin/bash
# The new default (variations), the old one (-novariations), UCB and Thompson on held-out seeds
# 316-347 of the five multi-class instances where the targets were read over 48 seeds, on the
# machine of heldout.sh's rows. Run from the repository root after heldout.sh; then
# `python docs/feedback-benchmark/variations/summary.py`.
set -e
export FULL=1 HALVES="316-331 332-347"
here=docs/feedback-benchmark/variations
source docs/feedback-benchmark/design_runs.sh
combos="multimodal:2,5 multimodal:0,6 multimodal-3:0,4,7 multimodal-3:1,4,9 multimodal-3:0,8,9"
for name in ${VARIANTS:-fkc-explore fkc-explore-novariations ucb thompson}; do
  design_runs $here/variant.py $name $here/rows-$name-heldout-316-347.jsonl
done
