#!/bin/bash
# The candidate (CANDIDATE, rule.md) beside the default on fresh held-out seeds 412-443, every
# instance; UCB and Thompson beside them on the six digits instances; two processes at a time.
# Run from the repository root after run.sh; then `python .../keep-floor/summary.py`.
set -e
export FULL=1
here=docs/feedback-benchmark/keep-floor
source docs/feedback-benchmark/design_runs.sh
for name in fkc-explore ${CANDIDATE:-keep-floor}; do
  HALVES="412-427 428-443" combos=$ALL_COMBOS \
    design_runs $here/variant.py $name $here/rows-$name-heldout-412-443.jsonl
done
for name in ucb thompson; do
  HALVES="412-427 428-443" combos=$DIGITS_COMBOS \
    design_runs $here/variant.py $name $here/rows-$name-heldout-412-443.jsonl
done
