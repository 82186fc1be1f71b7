#!/bin/bash
# The new default's two ablations (-lam0: no guidance; -uniform: the guided SDE without the
# corrector) on held-out seeds 316-347 of the five multi-class instances, beside the default's
# rows of heldout-316-347.sh (same machine), so that the ablation target reads over 48 seeds
# with heldout-table.sh's 300-315. Run from the repository root; then
# `python docs/feedback-benchmark/variations/summary.py`.
set -e
export FULL=1 HALVES="316-331 332-347"
here=docs/feedback-benchmark/variations
source docs/feedback-benchmark/design_runs.sh
combos="multimodal:2,5 multimodal:0,6 multimodal-3:0,4,7 multimodal-3:1,4,9 multimodal-3:0,8,9"
for name in fkc-explore-lam0 fkc-explore-uniform; do
  design_runs $here/variant.py $name $here/rows-$name-heldout-316-347.jsonl
done
