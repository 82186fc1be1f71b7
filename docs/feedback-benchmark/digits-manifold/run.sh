#!/bin/bash
# The off-manifold share of the smoothed-digits scenarios' hits, with the radius calibrated at
# the scenario's step count (fkc_align.manifold.smoothed_digits_reference): the default, its
# FKC ablations and the rivals on held-out seeds 300-315, two processes at a time. Run from the
# repository root; then `python docs/feedback-benchmark/digits-manifold/summary.py`.
set -e
export FULL=1
here=docs/feedback-benchmark/digits-manifold
for c in multimodal:3,8 multimodal-3:0,4,7 small-budget:3,8; do
  for s in fkc-explore fkc-explore-uniform fkc-explore-lam0 greedy ucb thompson random; do
    echo "${c%%:*} ${c##*:} $s"
  done
done | xargs -P 2 -L 1 bash -c "python -c \"import sys; sys.path.insert(0, 'docs/feedback-benchmark'); \
from design_rows import cpu_name, print_rows; \
print_rows('\$0', tuple(int(c) for c in '\$1'.split(',')), '300-315', '\$2', cpu=cpu_name())\" \
  > $here/rows.part.\$0.\$1.\$2"
cat $here/rows.part.* > $here/rows-heldout-300-315.jsonl && rm -f $here/rows.part.*
