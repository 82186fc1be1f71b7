#!/bin/bash
# The small budget (a confident 8, budget 32) on held-out seeds 316-443: the default, greedy and
# random side by side, the bench's own sizes. Run from the repository root; rows in
# rows-STRATEGY-316-443.jsonl, `summary.py` prints summary.txt.
set -e
export FULL=1
here=docs/feedback-benchmark/small-budget-greedy
source docs/feedback-benchmark/design_runs.sh
combos="small-budget:8"
for s in fkc-explore greedy random; do
  HALVES="316-347 348-379 380-411 412-443" design_runs $here/builtin.py $s $here/rows-$s-316-443.jsonl
done
