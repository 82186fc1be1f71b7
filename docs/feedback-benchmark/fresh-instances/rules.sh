#!/bin/bash
# After run.sh: two rules measured before on other instances, here on the fresh instances and
# seeds 444-475: region-radius/'s rad-max-gs (a region is visited only by an answer inside it;
# unvisited regions by gap x sqrt(size)) and the library's fkc-explore-regions (a cold start by
# regions). Run from the repository root.
set -e
export FULL=1
here=docs/feedback-benchmark/fresh-instances
for c in multimodal:4,9 multimodal-3:2,3,5 multimodal:1,7 multimodal-3:3,6,9; do
  for half in 444-459 460-475; do echo "${c%%:*} ${c##*:} $half"; done
done | xargs -P 2 -L 1 bash -c "python docs/feedback-benchmark/region-radius/variant.py \
  rad-max-gs \"\$0\" \"\$1\" \"\$2\" > $here/rows-gs.part.\$0.\$1.\$2"
cat $here/rows-gs.part.* > $here/rows-rad-max-gs.jsonl && rm -f $here/rows-gs.part.*
LIKED3=3,6,9 python docs/feedback-benchmark/run.py $here/rows-regions.jsonl 444-475 \
  multimodal-3:fkc-explore-regions
