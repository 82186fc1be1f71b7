#!/bin/bash
# feature-dims (variant.py) on design seeds 200-215, the digits instances and the small
# budget (the rare modes have no digits features), two processes at a time; the default's rows
# are keep-floor/'s (the library default since 4457ec4), made on the same processor model. Run from the repository root; then
# `python docs/feedback-benchmark/design_rows.py feature-dims`.
set -e
export FULL=1
here=docs/feedback-benchmark/feature-dims
source docs/feedback-benchmark/design_runs.sh
combos=${COMBOS:-"$DIGITS_COMBOS small-budget:3,8"}
for name in ${VARIANTS:-pca8 pca32 pca64}; do
  design_runs $here/variant.py $name $here/rows-$name-design.jsonl
done
