#!/bin/bash
# The traces behind the floor (the default before it, design seeds 200-215): the runs whose
# last two rounds miss a liked class, and the liked classes never shown. Run from the
# repository root; outputs trace-*.txt here.
set -e
export FULL=1
here=docs/feedback-benchmark/keep-floor
python $here/trace_late.py multimodal-3 0,4,7 200-215 > $here/trace-late-0-4-7.txt &
python $here/trace_late.py multimodal 3,8 200-215 > $here/trace-late-3-8.txt
wait
python $here/trace_unshown.py multimodal-3 0,8,9 200-215 > $here/trace-unshown-0-8-9.txt &
python $here/trace_unshown.py multimodal-3 1,4,9 200-215 > $here/trace-unshown-1-4-9.txt
wait
