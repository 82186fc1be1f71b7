#!/bin/bash
# keep-floor (variant.py) on design seeds 200-215, every instance, two processes at a time;
# the default's rows are region-radius/'s, made on the same processor model. Run from the
# repository root; then `python .../keep-floor/summary.py`.
set -e
export FULL=1
here=docs/feedback-benchmark/keep-floor
source docs/feedback-benchmark/design_runs.sh
combos=$ALL_COMBOS
for name in ${VARIANTS:-keep-floor}; do
  design_runs $here/variant.py $name $here/rows-$name-design.jsonl
done
