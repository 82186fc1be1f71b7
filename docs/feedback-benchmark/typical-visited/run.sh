#!/bin/bash
# The variants on the design seeds 200-215: first the fresh instance 3s 6s 9s (its rows moved
# to rows-*-design-3-6-9.jsonl, the default's beside them), then the nine instances of
# run_variants.sh (stopped on 2026-12-06 after the first part: the rule did not move 3s, 6s and
# 9s, the instance it was built for). Run from the repository root.
set -e
here=docs/feedback-benchmark/typical-visited
for v in fkc-explore typ1 typ2 typ1-gs; do
  COMBOS="multimodal-3:3,6,9" bash docs/feedback-benchmark/run_variants.sh typical-visited $v
  mv $here/rows-$v-design.jsonl $here/rows-$v-design-3-6-9.jsonl
done
bash docs/feedback-benchmark/run_variants.sh typical-visited typ1 typ2 typ1-gs
