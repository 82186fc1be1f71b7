#!/bin/bash
# kernel-width (variant.py) on design seeds 200-215, every instance, two processes at a time;
# the default's rows are keep-floor/'s (the library default since 4457ec4), made on the same
# processor model. Run from the repository root; then
# `python docs/feedback-benchmark/design_rows.py kernel-width`.
set -e
export FULL=1
here=docs/feedback-benchmark/kernel-width
source docs/feedback-benchmark/design_runs.sh
combos=${COMBOS:-$ALL_COMBOS}
for name in ${VARIANTS:-h3 h4 h1.5}; do
  design_runs $here/variant.py $name $here/rows-$name-design.jsonl
done
