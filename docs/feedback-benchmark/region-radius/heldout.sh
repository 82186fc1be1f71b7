#!/bin/bash
# rad-max and rad-max-gs (variant.py) on held-out seeds 300-315, every instance and the digits
# UNet, then 316-347 on the five multi-class instances; the default's rows on the same seeds
# are variations/'s (var3 on 300-315, fkc-explore on 316-347), made on the same processor
# model (the default's design rows here reproduce variations/rows-var3-design.jsonl, 144 of
# 144). Run from the repository root after run.sh; then
# `python docs/feedback-benchmark/region-radius/summary.py`.
set -e
export FULL=1
here=docs/feedback-benchmark/region-radius
source docs/feedback-benchmark/design_runs.sh
for name in ${VARIANTS:-rad-max rad-max-gs}; do
  HALVES="300-307 308-315" combos="$ALL_COMBOS digits-unet:8" \
    design_runs $here/variant.py $name $here/rows-$name-heldout-300-315.jsonl
  HALVES="316-331 332-347" \
    combos="multimodal:2,5 multimodal:0,6 multimodal-3:0,4,7 multimodal-3:1,4,9 multimodal-3:0,8,9" \
    design_runs $here/variant.py $name $here/rows-$name-heldout-316-347.jsonl
done
