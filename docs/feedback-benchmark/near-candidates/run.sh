#!/bin/bash
# near-candidates (variant.py) on design seeds 200-215, every instance, two processes at a time;
# the default's rows are keep-floor/'s (the library default since 4457ec4), made on the same
# processor model. Run from the repository root; then
# `python docs/feedback-benchmark/design_rows.py near-candidates`.
set -e
export FULL=1
here=docs/feedback-benchmark/near-candidates
source docs/feedback-benchmark/design_runs.sh
combos=${COMBOS:-$ALL_COMBOS}
for name in ${VARIANTS:-near1 near2}; do
  design_runs $here/variant.py $name $here/rows-$name-design.jsonl
done
