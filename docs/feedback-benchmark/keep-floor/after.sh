#!/bin/bash
# After the verdict (keep-floor became the default): on the same fresh seeds 412-443, the
# digits UNet for keep-floor (the new default, row for row) and the old default
# (fkc-explore-nofloor), and the new default's two FKC ablations (fkc-explore-uniform,
# fkc-explore-lam0) on the UNet and both rare-mode layouts. Two processes at a time; run from
# the repository root, then `python .../keep-floor/summary.py`.
set -e
export FULL=1
here=docs/feedback-benchmark/keep-floor
source docs/feedback-benchmark/design_runs.sh
for name in keep-floor fkc-explore-nofloor fkc-explore-uniform fkc-explore-lam0; do
  HALVES="412-427 428-443" combos="digits-unet:8" \
    design_runs $here/variant.py $name $here/rows-$name-unet-heldout-412-443.jsonl
done
for name in fkc-explore-uniform fkc-explore-lam0; do
  HALVES="412-427 428-443" combos="rare-mode:3,8 rare-between:3,8" \
    design_runs $here/variant.py $name $here/rows-$name-heldout-412-443.jsonl
done
