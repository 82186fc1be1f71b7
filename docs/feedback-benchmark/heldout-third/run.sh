#!/bin/bash
# The multimodal scenarios on a third instance, drawn at random before any run (Python's
# random.Random(20261205), skipping the instances already used): 0s and 6s; 0s, 8s and 9s.
# Held-out seeds 300-315, fkc-align bench's own sizes, the default and the rivals the targets
# name. Run from the repository root; then summarise with
#   LIKED=0,6 LIKED3=0,8,9 FULL=1 python docs/feedback-benchmark/run.py --summarise \
#       docs/feedback-benchmark/heldout-third docs/feedback-benchmark/heldout-third/rows.jsonl
set -e
export FULL=1 LIKED=0,6 LIKED3=0,8,9
s=fkc-explore,greedy,ucb,thompson,random
python docs/feedback-benchmark/run.py docs/feedback-benchmark/heldout-third/rows.jsonl 300-315 \
  multimodal:$s multimodal-3:$s
# 32 more held-out seeds for the targets the first 16 missed (run after those)
python docs/feedback-benchmark/run.py docs/feedback-benchmark/heldout-third/rows-seeds-316-347.jsonl \
  316-347 multimodal:fkc-explore,ucb,thompson multimodal-3:fkc-explore,ucb,thompson
