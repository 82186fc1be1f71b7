#!/bin/bash
# The small budget on held-out seeds 316-347: the new default and greedy (the target reads the
# default against greedy over 48 seeds), on the machine of heldout.sh's rows.
set -e
export FULL=1 HALVES="316-331 332-347"
here=docs/feedback-benchmark/variations
source docs/feedback-benchmark/design_runs.sh
combos="small-budget:8"
for name in fkc-explore greedy; do
  design_runs $here/variant.py $name $here/rows-$name-small-budget-316-347.jsonl
done
