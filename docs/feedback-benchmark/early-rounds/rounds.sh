#!/bin/bash
# rounds.py and discover.py on the six digits instances, seeds $SEEDS (default: design seeds
# 200-215), two processes at a time; output in rounds-$SEEDS.txt and discover-$SEEDS.txt.
# Run from the repository root, then `python docs/feedback-benchmark/early-rounds/summary.py`.
set -e
export FULL=1
here=docs/feedback-benchmark/early-rounds
seeds=${SEEDS:-200-215}
for script in rounds discover; do
  for c in multimodal:3,8 multimodal:2,5 multimodal:0,6 multimodal-3:0,4,7 multimodal-3:1,4,9 \
      multimodal-3:0,8,9; do echo "${c%%:*} ${c##*:}"; done \
    | xargs -P 2 -L 1 bash -c "python $here/$script.py \"\$0\" \"\$1\" $seeds \
        > $here/$script.part.\$0.\$1"
  cat $here/$script.part.* > $here/$script-$seeds.txt && rm -f $here/$script.part.*
done
