#!/bin/bash
# The default and the region-radius variants (variant.py) on design seeds 200-215, every
# instance, two processes at a time, on one machine. Run from the repository root; then
# `python docs/feedback-benchmark/region-radius/summary.py` (its output: summary.txt).
set -e
export FULL=1
here=docs/feedback-benchmark/region-radius
source docs/feedback-benchmark/design_runs.sh
combos=$ALL_COMBOS
for name in ${VARIANTS:-fkc-explore rad-max rad-med rad-max-only rad-med-only}; do
  design_runs $here/variant.py $name $here/rows-$name-design.jsonl
done
