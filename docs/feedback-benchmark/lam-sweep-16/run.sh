#!/bin/bash
# The rows of the λ sweep (summary.py): the default strategy at fkc-align bench's own sizes,
# held-out seeds 300-315, lam_max set for every scenario; rows are appended as runs end.
# Run from the repository root with the package installed: bash docs/feedback-benchmark/lam-sweep-16/run.sh
# [OUT] (OUT: the folder of the rows, this one by default; lam-sweep-variations/ holds the
# sweep of the default with variations, made with OUT set to it).
set -e
out=${1:-docs/feedback-benchmark/lam-sweep-16}
run=docs/feedback-benchmark/run.py
export FULL=1
for lam in 8 4 16 2 32 1 0; do
  LAM=$lam python "$run" "$out/lam$lam.jsonl" 300-315 \
    multimodal:fkc-explore multimodal-3:fkc-explore small-budget:fkc-explore
  if [ "$lam" != 32 ]; then  # the mixtures' default is 4: 16 is already four times it
    LAM=$lam python "$run" "$out/lam$lam.jsonl" 300-315 rare-mode:fkc-explore rare-between:fkc-explore
  fi
  LIKED=2,5 LIKED3=1,4,9 LAM=$lam python "$run" "$out/other-lam$lam.jsonl" 300-315 \
    multimodal:fkc-explore multimodal-3:fkc-explore
done
