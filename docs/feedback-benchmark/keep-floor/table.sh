#!/bin/bash
# README's held-out table under the new default (the floor): the default and its ablations
# re-run on held-out seeds 300-315, every instance and the digits UNet, two processes at a
# time; the other columns are variations/'s rows of the same seeds (the old default's are
# `-nofloor`'s). Run from the repository root; then `python .../keep-floor/table.py`.
set -e
export FULL=1
here=docs/feedback-benchmark/keep-floor
source docs/feedback-benchmark/design_runs.sh
for name in fkc-explore fkc-explore-uniform fkc-explore-lam0 fkc-explore-noclusters \
    fkc-explore-novariations; do
  HALVES="300-307 308-315" combos="$ALL_COMBOS digits-unet:8" \
    design_runs $here/variant.py $name $here/rows-$name-table-300-315.jsonl
done
