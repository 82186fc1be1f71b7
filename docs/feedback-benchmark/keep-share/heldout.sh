#!/bin/bash
# rule.md's held-out run: the default and share0.75 side by side on fresh seeds 508-539, the
# seven digits instances, both rare modes (layout 0) and the small budget. Run from the
# repository root; rows in rows-{fkc-explore,share0.75}-heldout-508-539.jsonl.
set -e
export FULL=1
here=docs/feedback-benchmark/keep-share
source docs/feedback-benchmark/design_runs.sh
combos="$ALL_COMBOS multimodal-3:3,6,9"
for v in fkc-explore share0.75; do
  HALVES="508-523 524-539" design_runs $here/variant.py $v $here/rows-$v-heldout-508-539.jsonl
done
