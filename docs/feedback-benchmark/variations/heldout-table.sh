#!/bin/bash
# After variations became the default: the rest of README's held-out table on seeds 300-315,
# every instance of heldout.sh, on the machine of heldout.sh's rows. The new default's rows are
# var3's (rows-var3-heldout-300-315.jsonl) and -novariations' the old default's
# (rows-fkc-explore-heldout-300-315.jsonl); check.sh confirms both on a subset. Run from the
# repository root; then `python docs/feedback-benchmark/variations/table.py`.
set -e
export FULL=1 HALVES="300-307 308-315"
here=docs/feedback-benchmark/variations
source docs/feedback-benchmark/design_runs.sh
combos="$ALL_COMBOS digits-unet:8"
for name in ${VARIANTS:-fkc-explore-uniform fkc-explore-lam0 fkc-explore-noclusters greedy \
    random}; do
  design_runs $here/variant.py $name $here/rows-$name-heldout-300-315.jsonl
done
