#!/bin/bash
# The whitened representations on the design seeds 200-215: the six digits instances, 3s 6s 9s
# and the small budget (the mixture scenarios have no digits features). Run from the
# repository root; rows in rows-MODE-design.jsonl.
set -e
COMBOS="$(source docs/feedback-benchmark/design_runs.sh; echo $DIGITS_COMBOS) multimodal-3:3,6,9 small-budget:3,8" \
  bash docs/feedback-benchmark/run_variants.sh whitened-features white1 white0.5
