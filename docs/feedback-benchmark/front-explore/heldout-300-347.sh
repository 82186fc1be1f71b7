#!/bin/bash
# After the adoption rule's verdict (rule.md): front on held-out seeds 300-315 (every
# instance) and 316-347 (the five multi-class instances), paired with the default's rows of
# variations/ (same processor model), for an 80-seed estimate of what it costs. Not part of
# the rule. Run from the repository root; then `python .../front-explore/summary.py`.
set -e
export FULL=1
here=docs/feedback-benchmark/front-explore
source docs/feedback-benchmark/design_runs.sh
HALVES="300-307 308-315" combos=$ALL_COMBOS \
  design_runs $here/variant.py front $here/rows-front-posthoc-300-315.jsonl
HALVES="316-331 332-347" \
  combos="multimodal:2,5 multimodal:0,6 multimodal-3:0,4,7 multimodal-3:1,4,9 multimodal-3:0,8,9" \
  design_runs $here/variant.py front $here/rows-front-posthoc-316-347.jsonl
