#!/bin/bash
# kinds.py on held-out seeds 300-315 of the six digits instances, two processes at a time;
# output in kinds-heldout-300-315.txt. Run from the repository root.
set -e
export FULL=1
here=docs/feedback-benchmark/variations
for c in multimodal:3,8 multimodal:2,5 multimodal:0,6 multimodal-3:0,4,7 multimodal-3:1,4,9 \
    multimodal-3:0,8,9; do echo "${c%%:*} ${c##*:}"; done \
  | xargs -P 2 -L 1 bash -c "python $here/kinds.py \"\$0\" \"\$1\" 300-315 > $here/kinds.part.\$0.\$1"
cat $here/kinds.part.* > $here/kinds-heldout-300-315.txt && rm -f $here/kinds.part.*
