#!/bin/bash
# The default and the strong-answer variant (variant.py) on design seeds 200-215 over every
# instance the kept-pick rules were measured on, two processes at a time, on one machine (the
# rows depend on the processor). Run from the repository root; then
# `python docs/feedback-benchmark/strong-answers/summary.py`.
set -e
export FULL=1
here=docs/feedback-benchmark/strong-answers
source docs/feedback-benchmark/design_runs.sh
combos=$ALL_COMBOS
for name in ${VARIANTS:-fkc-explore strong16}; do
  design_runs $here/variant.py $name $here/rows-$name-design.jsonl
done
