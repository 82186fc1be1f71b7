#!/bin/bash
# The seven kept-pick rules (variant.py) on design seeds 200-215 over every instance they
# were measured on, two processes at a time, then -rr on 0s, 8s and 9s' held-out seeds 316-347.
# Run from the repository root; then `python docs/feedback-benchmark/mode-balance/summary.py`.
# The probes: starve.py 0,8,9 200-215 and 1,4,9 200-215; mean_shift.py 0,8,9 212 and 3,8 207
# at 0.2,0.3,0.35,0.4; sampler_balance.py LIKED 64 0-31 (0,8,9 3,8 0,4,7 1,4,9) and LIKED 256
# 0-31.
set -e
export FULL=1
here=docs/feedback-benchmark/mode-balance
source docs/feedback-benchmark/design_runs.sh
combos=$ALL_COMBOS
for variant in :regions-keep rr:regions-keep-rr least1:regions-keep-least1 \
    rr-merge:regions-keep-rr-merge region-draw:region-draw base-ratio:base-ratio \
    teach-draw:teach-draw; do
  arg=${variant%%:*} name=${variant##*:}
  design_runs $here/variant.py "$arg" $here/rows-$name-design.jsonl
done
for half in 316-331 332-347; do
  python $here/variant.py rr multimodal-3 0,8,9 $half > $here/rows-rr.part.$half &
done
wait
cat $here/rows-rr.part.* > $here/rows-regions-keep-rr-heldout-316-347.jsonl
rm $here/rows-rr.part.*
# The guided sample at 256 particles (the pool at 64): the default and UCB, design seeds.
combos="multimodal:3,8 multimodal:2,5 multimodal:0,6 multimodal-3:0,4,7 multimodal-3:1,4,9
multimodal-3:0,8,9"
for strategy in fkc-explore ucb; do
  name=$([ $strategy = ucb ] && echo n256-ucb || echo n256)
  design_runs "$here/particles.py 256" $strategy $here/rows-$name-design.jsonl
done
