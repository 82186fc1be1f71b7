#!/bin/bash
# Instances no session designed on, on fresh seeds 444-475 (never used before), the bench's own
# sizes. Run from the repository root; rows are appended to this folder's rows-*.jsonl.
set -e
export FULL=1
here=docs/feedback-benchmark/fresh-instances
run=docs/feedback-benchmark/run.py
S=fkc-explore,ucb,thompson,greedy,random
LIKED=4,9 LIKED3=2,3,5 python $run $here/rows-a.jsonl 444-475 multimodal:$S multimodal-3:$S
LIKED=1,7 LIKED3=3,6,9 LAYOUT=2 TARGET=3 python $run $here/rows-b.jsonl 444-475 \
  multimodal:$S multimodal-3:$S rare-mode:fkc-explore,ucb,random \
  rare-between:fkc-explore,ucb,random small-budget:fkc-explore,greedy,random
