#!/bin/bash
# rule.md's held-out run: the default and typ1-gs side by side on fresh seeds 476-507, the
# seven digits instances, both rare modes (layout 0) and the small budget. Run from the
# repository root; rows in rows-{fkc-explore,typ1-gs}-heldout-476-507.jsonl.
set -e
export FULL=1
here=docs/feedback-benchmark/typical-visited
source docs/feedback-benchmark/design_runs.sh
combos="$ALL_COMBOS multimodal-3:3,6,9"
for v in fkc-explore typ1-gs; do
  HALVES="476-491 492-507" design_runs $here/variant.py $v $here/rows-$v-heldout-476-507.jsonl
done
