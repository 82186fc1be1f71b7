#!/bin/bash
# keep-nopool (variant.py) on design seeds 200-215, every instance, then held-out seeds
# 300-315 (every instance and the UNet) and 316-347 (the five multi-class instances), two
# processes at a time; the default's rows on the same seeds are region-radius/'s (design) and
# variations/'s (held out), made on the same processor model. Run from the repository root;
# then `python docs/feedback-benchmark/keep-candidates/summary.py`. The held-out part was
# stopped after the design rows showed a loss (docs/feedback-benchmark.md); its rows are not kept.
set -e
export FULL=1
here=docs/feedback-benchmark/keep-candidates
source docs/feedback-benchmark/design_runs.sh
combos=$ALL_COMBOS design_runs $here/variant.py keep-nopool $here/rows-keep-nopool-design.jsonl
HALVES="300-307 308-315" combos="$ALL_COMBOS digits-unet:8" \
  design_runs $here/variant.py keep-nopool $here/rows-keep-nopool-heldout-300-315.jsonl
HALVES="316-331 332-347" \
  combos="multimodal:2,5 multimodal:0,6 multimodal-3:0,4,7 multimodal-3:1,4,9 multimodal-3:0,8,9" \
  design_runs $here/variant.py keep-nopool $here/rows-keep-nopool-heldout-316-347.jsonl
