#!/bin/bash
# The default's two ablations (-lam0, -uniform) on 48 held-out seeds of the three-class instances
# and of 2s and 5s, where the held-out run had them on 16 seeds or none: seeds 316-347 of 0s, 4s
# and 7s (rows.jsonl), 300-347 of the second instance (rows-other*.jsonl), fkc-align bench's own
# sizes. The default's rows on the same seeds: heldout*/rows-rerun.jsonl and
# heldout*/rows-seeds-316-347.jsonl. Run from the repository root:
#   bash docs/feedback-benchmark/ablations-48/run.sh && python docs/feedback-benchmark/ablations-48/summary.py
set -e
out=docs/feedback-benchmark/ablations-48
run=docs/feedback-benchmark/run.py
abl=fkc-explore-lam0,fkc-explore-uniform
export FULL=1
python "$run" "$out/rows.jsonl" 316-347 multimodal-3:$abl
LIKED=2,5 LIKED3=1,4,9 python "$run" "$out/rows-other.jsonl" 316-347 multimodal-3:$abl multimodal:$abl
LIKED=2,5 LIKED3=1,4,9 python "$run" "$out/rows-other-300-315.jsonl" 300-315 multimodal-3:$abl multimodal:$abl
