#!/bin/bash
# The ESS-threshold experiment's rows (ess.py): thresholds 0.2 and 0.05 side by side (one
# process each), design seeds 200-215, every scenario but the UNet on both instances. Run from
# the repository root.
here=docs/feedback-benchmark/ess-threshold
seeds=200-215
out=$here/rows-design.jsonl
one() {
  for spec in "multimodal 3,8" "multimodal-3 0,4,7" "multimodal 2,5" "multimodal-3 1,4,9" \
              "rare-mode 3,8" "rare-between 3,8" "small-budget 3,8"; do
    python $here/ess.py "$1" $spec "$seeds"
  done > "$out.$1"
}
one 0.2 & one 0.05 & wait
cat "$out.0.2" "$out.0.05" >> "$out" && rm "$out.0.2" "$out.0.05"
