#!/bin/bash
# The new default and its two ablations on held-out seeds 316-347 of the scenarios where the
# ablations' 16-seed losses were read: the two rare-mode layouts and the digits UNet, so that
# the ablation target reads over 48 seeds there too (with heldout-table.sh's 300-315). Run from
# the repository root; then `python docs/feedback-benchmark/variations/summary.py`.
set -e
export FULL=1 HALVES="316-331 332-347"
here=docs/feedback-benchmark/variations
source docs/feedback-benchmark/design_runs.sh
combos="rare-mode:3,8 rare-between:3,8 digits-unet:8"
for name in fkc-explore fkc-explore-lam0 fkc-explore-uniform; do
  design_runs $here/variant.py $name $here/rows-$name-rare-unet-316-347.jsonl
done
