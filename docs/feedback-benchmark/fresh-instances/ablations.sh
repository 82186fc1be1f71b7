#!/bin/bash
# After run.sh: the default's two FKC ablations on the second instance's rare modes and small
# budget (where guidance and the weights show on the held-out seeds), fresh seeds 444-475.
set -e
export FULL=1
here=docs/feedback-benchmark/fresh-instances
A=fkc-explore-uniform,fkc-explore-lam0
LIKED=1,7 LIKED3=3,6,9 LAYOUT=2 TARGET=3 python docs/feedback-benchmark/run.py \
  $here/rows-c.jsonl 444-475 rare-mode:$A rare-between:$A small-budget:$A
