#!/bin/bash
# The default and the variations variants (variant.py) on design seeds 200-215 over every
# instance the kept-pick rules were measured on, two processes at a time, on one machine (the
# rows depend on the processor; the default's rows are strong-answers/'s, made on the same
# machine). Run from the repository root; then
# `python docs/feedback-benchmark/variations/summary.py`.
set -e
export FULL=1
here=docs/feedback-benchmark/variations
source docs/feedback-benchmark/design_runs.sh
combos=$ALL_COMBOS
for name in ${VARIANTS:-var2 var2-half}; do
  design_runs $here/variant.py $name $here/rows-$name-design.jsonl
done
