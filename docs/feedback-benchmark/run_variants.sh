#!/bin/bash
# bash docs/feedback-benchmark/run_variants.sh FOLDER VARIANT...: FOLDER/variant.py's VARIANTs
# on the design seeds 200-215, every instance of $COMBOS (default: all nine), two processes at
# a time, each into FOLDER/rows-VARIANT-design.jsonl; then
# `python docs/feedback-benchmark/design_rows.py FOLDER` compares them with the library
# default's rows of keep-floor/ (made on the same processor model). Run from the repository
# root.
set -e
export FULL=1
here=docs/feedback-benchmark/$1
shift
source docs/feedback-benchmark/design_runs.sh
combos=${COMBOS:-$ALL_COMBOS}
for name in "$@"; do
  design_runs $here/variant.py $name $here/rows-$name-design.jsonl
done
