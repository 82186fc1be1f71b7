#!/bin/bash
# After the verdict: the new default on the six digits instances over the held-out seeds
# 316-411 that the old default has rows for (variations/, front-explore/, late-anchors/), for
# the targets over every held-out seed (300-443 with table.sh's and heldout.sh's rows) and
# the floor's effect over 96 more paired seeds. Two processes at a time; run from the
# repository root, then `python .../keep-floor/targets.py`.
set -e
export FULL=1
here=docs/feedback-benchmark/keep-floor
source docs/feedback-benchmark/design_runs.sh
HALVES="316-331 332-347 348-363 364-379 380-395 396-411" combos=$DIGITS_COMBOS \
  design_runs $here/variant.py fkc-explore $here/rows-fkc-explore-more-316-411.jsonl
