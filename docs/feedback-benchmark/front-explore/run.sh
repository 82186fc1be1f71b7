#!/bin/bash
# front and cut (variant.py) on design seeds 200-215, every instance, two processes at a time;
# the default's rows on these seeds are region-radius/'s, made on the same processor model.
# Run from the repository root; then `python docs/feedback-benchmark/front-explore/summary.py`.
set -e
export FULL=1
here=docs/feedback-benchmark/front-explore
source docs/feedback-benchmark/design_runs.sh
combos=$ALL_COMBOS
for name in ${VARIANTS:-front cut}; do
  design_runs $here/variant.py $name $here/rows-$name-design.jsonl
done
