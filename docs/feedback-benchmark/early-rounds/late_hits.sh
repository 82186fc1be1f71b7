#!/bin/bash
# late_hits.py on held-out seeds 348-379 of four digits instances, two processes at a time;
# output in late-hits-348-379.txt. Run from the repository root.
set -e
export FULL=1
here=docs/feedback-benchmark/early-rounds
for c in multimodal-3:0,8,9 multimodal:2,5 multimodal:3,8 multimodal-3:1,4,9; do
  echo "${c%%:*} ${c##*:}"; done \
  | xargs -P 2 -L 1 bash -c "python $here/late_hits.py \"\$0\" \"\$1\" 348-379 \
      > $here/late.part.\$0.\$1"
cat $here/late.part.* > $here/late-hits-348-379.txt && rm -f $here/late.part.*
