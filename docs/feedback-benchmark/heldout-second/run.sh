#!/bin/bash
# The rare-mode and small-budget scenarios on a second instance nobody designed on (mode layout
# 1, target digit 5), held-out seeds 300-315, fkc-align bench's own sizes: the default, its
# ablations, the regions cold start and the baselines each target names. Run from the
# repository root; then summarise with
#   LAYOUT=1 TARGET=5 FULL=1 python docs/feedback-benchmark/run.py --summarise \
#       docs/feedback-benchmark/heldout-second docs/feedback-benchmark/heldout-second/rows.jsonl
set -e
out=docs/feedback-benchmark/heldout-second/rows.jsonl
export FULL=1 LAYOUT=1 TARGET=5
mine=fkc-explore,fkc-explore-lam0,fkc-explore-uniform
python docs/feedback-benchmark/run.py "$out" 300-315 \
  rare-mode:$mine,fkc-explore-noclusters,fkc-explore-regions,random \
  rare-between:$mine,fkc-explore-noclusters,fkc-explore-regions,random \
  small-budget:$mine,fkc-explore-regions,greedy,random
